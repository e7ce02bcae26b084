"""Conformance suite for ``ICredentialsProvider`` (SPEC 3.4, 9.4, S6, S18, S19, S26).

Subclass :class:`CredentialsProviderConformance` and supply fixtures:

* ``provider`` — a credentials provider with sign-up enabled over an empty store;
* ``signup_disabled_provider`` — the same provider type configured with sign-up off;
* ``reset_outbox`` — a list that receives ``(email, url)`` for every reset link the
  provider delivers (only when ``supports_reset``).

Hooks to override where the provider needs help from the test:

* ``async disable_user(provider, user_id)`` — make a user disabled/banned;
* ``async expire_reset_tokens(provider)`` — make every outstanding reset token expired.

A provider that is a :class:`~mastra.core.ee.interfaces.SupportsPasswordChange`
also runs the password-change cases (the others skip them).

Class flags: ``supports_reset`` (the provider is a
:class:`~mastra.core.ee.interfaces.SupportsPasswordReset`),
``validates_email`` (the provider itself rejects malformed addresses; otherwise only
the HTTP layer does), ``reset_returns_user_id`` (remote providers may not know it).
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from ..ee.errors import (
    InvalidCredentials,
    InvalidResetToken,
    PasswordPolicyError,
    SignUpDisabled,
    SignUpFailed,
)
from ..ee.interfaces import (
    ICredentialsProvider,
    SupportsPasswordChange,
    SupportsPasswordReset,
    SupportsSignUpToggle,
)
from ..ee.models import CredentialsResult

__all__ = ["CredentialsProviderConformance", "reset_token_from_url"]

PASSWORD = "correct horse battery"  # noqa: S105 - a test fixture value
# The policy's inclusive bounds with passwords it would otherwise accept (not
# repeated, not common): 8 characters, 128 ASCII bytes, 128 bytes of 2-byte characters.
EIGHT_CHARACTERS = "kV9#qL2m"
MAX_ASCII = "Correct-Horse-7" * 8 + "Battery!"
MAX_MULTIBYTE = "éà" * 32
RESET_URL = "http://127.0.0.1:4111/reset-password"


def reset_token_from_url(url: str) -> str:
    tokens = parse_qs(urlsplit(url).query).get("token")
    assert tokens, f"no token in reset url {url!r}"
    return tokens[0]


class CredentialsProviderConformance:
    supports_reset: bool = True
    validates_email: bool = True
    reset_returns_user_id: bool = True
    #: max/min ratio allowed between the median unknown-email and wrong-password timings
    timing_ratio: float = 4.0

    # -- hooks ----------------------------------------------------------------------------

    async def disable_user(self, provider: Any, user_id: str) -> None:
        raise NotImplementedError("override disable_user() for this provider")

    async def expire_reset_tokens(self, provider: Any) -> None:
        raise NotImplementedError("override expire_reset_tokens() for this provider")

    # -- helpers --------------------------------------------------------------------------

    @staticmethod
    async def _sign_up(provider: Any, email: str, password: str = PASSWORD, name: str | None = None) -> Any:
        result = await provider.sign_up(email, password, name, None)
        assert isinstance(result, CredentialsResult)
        return result.user

    @staticmethod
    async def _sign_in(provider: Any, email: str, password: str) -> None:
        assert isinstance(await provider.sign_in(email, password, None), CredentialsResult)

    @staticmethod
    async def _fails(provider: Any, email: str, password: str) -> InvalidCredentials:
        with pytest.raises(InvalidCredentials) as caught:
            await provider.sign_in(email, password, None)
        return caught.value

    async def _reset_link(self, provider: Any, outbox: list[tuple[str, str]], email: str) -> str:
        before = len(outbox)
        assert await provider.request_password_reset(email, RESET_URL) is None
        assert len(outbox) == before + 1
        delivered_to, url = outbox[-1]
        assert delivered_to == email.strip().lower()
        assert url.startswith(RESET_URL)
        return reset_token_from_url(url)

    def _need_reset(self, provider: Any) -> None:
        assert isinstance(provider, SupportsPasswordReset) is self.supports_reset
        if not self.supports_reset:
            pytest.skip("provider declares no password reset")

    # -- sign-up ----------------------------------------------------------------------------

    async def test_is_a_credentials_provider(self, provider: Any) -> None:
        assert isinstance(provider, ICredentialsProvider)
        assert isinstance(provider, SupportsPasswordReset) is self.supports_reset

    async def test_sign_up_normalises_email_and_defaults_name(self, provider: Any) -> None:
        user = await self._sign_up(provider, "  Ann.Conformance@Example.COM ")
        assert user.id
        assert user.email == "ann.conformance@example.com"
        assert user.name == "ann.conformance"

    async def test_sign_up_keeps_given_name(self, provider: Any) -> None:
        user = await self._sign_up(provider, "named@example.com", name="Named Person")
        assert user.name == "Named Person"

    async def test_duplicate_email_is_refused(self, provider: Any) -> None:
        await self._sign_up(provider, "dup@example.com")
        with pytest.raises(SignUpFailed) as caught:
            await provider.sign_up("DUP@example.com ", PASSWORD, None, None)
        assert caught.value.message == "Failed to create account"

    async def test_concurrent_duplicate_sign_ups_create_one_account(self, provider: Any) -> None:
        results = await asyncio.gather(
            *(provider.sign_up("race@example.com", PASSWORD, None, None) for _ in range(4)),
            return_exceptions=True,
        )
        created = [r for r in results if isinstance(r, CredentialsResult)]
        refused = [r for r in results if isinstance(r, SignUpFailed)]
        assert len(created) == 1 and len(refused) == 3, results

    @pytest.mark.parametrize(
        ("password", "message"),
        [
            ("", "Password must be at least 8 characters"),
            ("short", "Password must be at least 8 characters"),
            ("ｐａｓｓ", "Password must be at least 8 characters"),
            ("x" * 129, "Password must be at most 128 characters"),
            # 43 characters that NFKC-expand to 129 ("ﬃ" -> "ffi"): the policy counts NFKC.
            ("ﬃ" * 43, "Password must be at most 128 characters"),
            ("y" * 5000, "Password must be at most 128 characters"),
            # 65 characters but 129 UTF-8 bytes: the byte limit counts NFKC UTF-8 too.
            ("éà" * 32 + "x", "Password must be at most 128 bytes"),
            ("密码安全" * 11, "Password must be at most 128 bytes"),
            # S26: blank, one repeated character, or among the 10,000 most common.
            ("\u3000" * 8, "Password must not be only whitespace"),
            (" " * 12, "Password must not be only whitespace"),
            ("aaaaaaaa", "Password must not be a single repeated character"),
            ("7" * 20, "Password must not be a single repeated character"),
            ("password", "Password is too common"),
            ("Password", "Password is too common"),
            ("ｐａｓｓｗｏｒｄ", "Password is too common"),
            ("12345678", "Password is too common"),
            ("iloveyou", "Password is too common"),
        ],
    )
    async def test_password_policy(self, provider: Any, password: str, message: str) -> None:
        with pytest.raises(PasswordPolicyError) as caught:
            await provider.sign_up("policy@example.com", password, None, None)
        assert caught.value.message == message
        assert caught.value.status == 400

    async def test_policy_bounds_are_inclusive(self, provider: Any) -> None:
        for email, password in (
            ("eight@example.com", EIGHT_CHARACTERS),
            ("max@example.com", MAX_ASCII),
            ("max-bytes@example.com", MAX_MULTIBYTE),
        ):
            await self._sign_up(provider, email, password)
            await provider.sign_in(email, password, None)

    async def test_policy_refusal_creates_no_account(self, provider: Any) -> None:
        with pytest.raises(PasswordPolicyError):
            await provider.sign_up("common@example.com", "password", None, None)
        await self._sign_up(provider, "common@example.com")  # the address is still free

    @pytest.mark.parametrize(
        "name",
        [
            "evil\u202egnp.exe",  # right-to-left override
            "Ann\u2066Lee\u2069",  # isolate
            "Ann\x00",
            "Ann\x1b[31mLee",  # ANSI escape
            "Ann\u200bLee",  # zero-width space
            "Ann\u2028Lee",  # line separator
        ],
    )
    async def test_name_with_control_or_format_characters_is_refused(self, provider: Any, name: str) -> None:
        with pytest.raises(SignUpFailed) as caught:
            await provider.sign_up("unsafe-name@example.com", PASSWORD, name, None)
        assert caught.value.status == 400
        assert caught.value.message.startswith("Name must not contain ")
        await self._sign_up(provider, "unsafe-name@example.com", name="Ann Lee")  # nothing was created

    @pytest.mark.parametrize(
        "email", ["ann\u202e@example.com", "ann\u200b@example.com", "ann\x07@example.com"]
    )
    async def test_email_with_control_or_format_characters_is_refused(
        self, provider: Any, email: str
    ) -> None:
        with pytest.raises(SignUpFailed) as caught:
            await provider.sign_up(email, PASSWORD, None, None)
        assert caught.value.status == 400
        assert caught.value.message.startswith("Email must not contain ")
        await self._fails(provider, email, PASSWORD)

    async def test_names_in_other_scripts_are_kept(self, provider: Any) -> None:
        user = await self._sign_up(provider, "intl@example.com", name="Zoë محمد 李小龙")
        assert user.name == "Zoë محمد 李小龙"

    async def test_malformed_email_is_refused(self, provider: Any) -> None:
        for email in ("not-an-email", "a@b", "two@@example.com", "sp ace@example.com", "@example.com"):
            if self.validates_email:  # otherwise only the HTTP layer checks the syntax
                with pytest.raises(SignUpFailed):
                    await provider.sign_up(email, PASSWORD, None, None)
            await self._fails(provider, email, PASSWORD)

    async def test_sign_up_disabled(self, signup_disabled_provider: Any) -> None:
        provider = signup_disabled_provider  # stays ``Any``: the check below narrows only its argument
        assert isinstance(signup_disabled_provider, SupportsSignUpToggle)
        assert provider.is_sign_up_enabled() is False
        with pytest.raises(SignUpDisabled) as caught:
            await provider.sign_up("nobody@example.com", PASSWORD, None, None)
        assert caught.value.status == 403

    async def test_sign_up_enabled_by_default(self, provider: Any) -> None:
        if isinstance(provider, SupportsSignUpToggle):  # absent = enabled (SPEC 3.4)
            assert provider.is_sign_up_enabled() is True

    # -- sign-in ----------------------------------------------------------------------------

    async def test_sign_in_with_normalised_email(self, provider: Any) -> None:
        user = await self._sign_up(provider, "carol@example.com")
        result = await provider.sign_in("  CAROL@Example.com", PASSWORD, None)
        assert isinstance(result, CredentialsResult)
        assert result.user.id == user.id
        assert result.user.email == "carol@example.com"
        assert all(isinstance(c, str) for c in result.cookies)

    async def test_password_is_nfkc_normalised(self, provider: Any) -> None:
        await self._sign_up(provider, "nfkc@example.com", "staple 4321")
        await provider.sign_in("nfkc@example.com", "ｓｔａｐｌｅ　４３２１", None)

    async def test_password_is_never_trimmed(self, provider: Any) -> None:
        await self._sign_up(provider, "spaces@example.com", "  spaced password  ")
        await self._fails(provider, "spaces@example.com", "spaced password")
        await provider.sign_in("spaces@example.com", "  spaced password  ", None)

    async def test_unknown_email_and_wrong_password_look_the_same(self, provider: Any) -> None:
        await self._sign_up(provider, "dave@example.com")
        wrong = await self._fails(provider, "dave@example.com", PASSWORD + "!")
        unknown = await self._fails(provider, "nobody@example.com", PASSWORD)
        assert (wrong.message, wrong.status, wrong.code) == (unknown.message, unknown.status, unknown.code)
        assert wrong.message == "Invalid email or password" and wrong.status == 401

    async def test_bad_password_inputs_are_invalid_credentials(self, provider: Any) -> None:
        await self._sign_up(provider, "erin@example.com")
        for password in ("", " ", "\x00", PASSWORD[:-1], PASSWORD + "\n", "p" * 5000):
            await self._fails(provider, "erin@example.com", password)

    async def test_disabled_user_is_indistinguishable(self, provider: Any) -> None:
        user = await self._sign_up(provider, "frank@example.com")
        await self.disable_user(provider, user.id)
        disabled = await self._fails(provider, "frank@example.com", PASSWORD)
        unknown = await self._fails(provider, "nobody@example.com", PASSWORD)
        assert (disabled.message, disabled.status, disabled.code) == (
            unknown.message,
            unknown.status,
            unknown.code,
        )

    async def test_unknown_email_costs_a_password_hash(self, provider: Any) -> None:
        """S6: the unknown-email path runs a dummy hash, so timings are comparable."""
        await self._sign_up(provider, "timing@example.com")

        async def measure(email: str) -> float:
            start = time.perf_counter()
            with pytest.raises(InvalidCredentials):
                await provider.sign_in(email, PASSWORD + "x", None)
            return time.perf_counter() - start

        await measure("warmup@example.com")
        known: list[float] = []
        unknown: list[float] = []
        for _ in range(5):
            known.append(await measure("timing@example.com"))
            unknown.append(await measure("nobody-timing@example.com"))
        ratio = statistics.median(known) / statistics.median(unknown)
        assert 1 / self.timing_ratio < ratio < self.timing_ratio, (known, unknown)

    # -- password reset ---------------------------------------------------------------------

    async def test_reset_for_unknown_email_is_silent(self, provider: Any, reset_outbox: list[Any]) -> None:
        self._need_reset(provider)
        assert await provider.request_password_reset("ghost@example.com", RESET_URL) is None
        assert reset_outbox == []

    async def test_reset_flow(self, provider: Any, reset_outbox: list[Any]) -> None:
        self._need_reset(provider)
        user = await self._sign_up(provider, "grace@example.com")
        token = await self._reset_link(provider, reset_outbox, "Grace@Example.com")
        returned = await provider.reset_password(token, "brand new password")
        if self.reset_returns_user_id:
            assert returned == user.id
        await self._fails(provider, "grace@example.com", PASSWORD)
        await provider.sign_in("grace@example.com", "brand new password", None)
        # Single use.
        with pytest.raises(InvalidResetToken):
            await provider.reset_password(token, "another new password")

    async def test_reset_token_concurrent_use_succeeds_once(
        self, provider: Any, reset_outbox: list[Any]
    ) -> None:
        self._need_reset(provider)
        await self._sign_up(provider, "heidi@example.com")
        token = await self._reset_link(provider, reset_outbox, "heidi@example.com")
        results = await asyncio.gather(
            *(provider.reset_password(token, f"concurrent password {i}") for i in range(3)),
            return_exceptions=True,
        )
        assert sum(isinstance(r, str) for r in results) == 1, results
        assert sum(isinstance(r, InvalidResetToken) for r in results) == 2, results

    async def test_garbage_reset_tokens(self, provider: Any) -> None:
        self._need_reset(provider)
        for token in ("x", "", "null", "💥", "a" * 5000, "../../etc"):
            with pytest.raises(InvalidResetToken) as caught:
                await provider.reset_password(token, "brand new password")
            assert caught.value.message == "Invalid or expired reset token"

    async def test_expired_reset_token(self, provider: Any, reset_outbox: list[Any]) -> None:
        self._need_reset(provider)
        await self._sign_up(provider, "ivan@example.com")
        token = await self._reset_link(provider, reset_outbox, "ivan@example.com")
        await self.expire_reset_tokens(provider)
        with pytest.raises(InvalidResetToken):
            await provider.reset_password(token, "brand new password")
        await provider.sign_in("ivan@example.com", PASSWORD, None)

    async def test_reset_enforces_policy(self, provider: Any, reset_outbox: list[Any]) -> None:
        self._need_reset(provider)
        await self._sign_up(provider, "judy@example.com")
        token = await self._reset_link(provider, reset_outbox, "judy@example.com")
        with pytest.raises(PasswordPolicyError):
            await provider.reset_password(token, "short")
        await provider.sign_in("judy@example.com", PASSWORD, None)

    async def test_reset_token_survives_a_policy_refusal(
        self, provider: Any, reset_outbox: list[Any]
    ) -> None:
        """The policy runs before the token is consumed, so the user can pick another password."""
        self._need_reset(provider)
        await self._sign_up(provider, "kim@example.com")
        token = await self._reset_link(provider, reset_outbox, "kim@example.com")
        with pytest.raises(PasswordPolicyError) as caught:
            await provider.reset_password(token, "password")
        assert caught.value.message == "Password is too common"
        await provider.reset_password(token, "brand new password")
        await provider.sign_in("kim@example.com", "brand new password", None)

    # -- password change (S5) -----------------------------------------------------------------

    async def test_password_change(self, provider: Any) -> None:
        if not isinstance(provider, SupportsPasswordChange):  # ``provider`` stays ``Any`` below
            pytest.skip("provider declares no password change")
        user = await self._sign_up(provider, "leo@example.com")
        with pytest.raises(InvalidCredentials):
            await provider.change_password(user.id, PASSWORD + "!", "brand new password")
        with pytest.raises(PasswordPolicyError) as caught:
            await provider.change_password(user.id, PASSWORD, "password")
        assert caught.value.message == "Password is too common"
        await self._sign_in(provider, "leo@example.com", PASSWORD)  # refusals changed nothing
        await provider.change_password(user.id, PASSWORD, "brand new password")
        await self._fails(provider, "leo@example.com", PASSWORD)
        await self._sign_in(provider, "leo@example.com", "brand new password")
