"""Conformance suite for ``IApiKeyProvider`` (docs/api-keys.md) and service accounts.

Subclass :class:`ApiKeyProviderConformance` and supply a ``provider`` fixture built
with the suite's ``clock`` (a :class:`FakeClock`) as its clock. Class flags:

* ``controls_clock`` — the provider reads time from ``clock``; a provider whose keys
  expire at a remote service sets ``False`` (the expiry and last-use tests skip);
* ``default_ttl`` / ``max_ttl`` — what the fixture configured (90 and 365 days by default);
* ``environment`` — the ``<env>`` the fixture's keys carry.

Service account tests run for providers that are
:class:`~mastra.core.ee.interfaces.SupportsServiceAccounts`.

Example::

    class TestMine(ApiKeyProviderConformance):
        @pytest.fixture
        def provider(self, clock):
            return MyApiKeyProvider(clock=clock)
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest

from ..ee.api_keys import ApiKey, ApiKeyRefusal, format_key, looks_like_api_key, parse_key
from ..ee.interfaces import IApiKeyProvider, SupportsServiceAccounts
from ._clock import FakeClock

__all__ = ["ApiKeyProviderConformance", "FakeClock"]

SCOPES = ["agents:read", "workflows:execute"]


def _refused(result: ApiKey | ApiKeyRefusal, *reasons: str) -> None:
    assert isinstance(result, ApiKeyRefusal), f"expected a refusal, got {result!r}"
    assert result.reason in reasons, f"refused as {result.reason}, expected one of {reasons}"


def _accepted(result: ApiKey | ApiKeyRefusal) -> ApiKey:
    assert isinstance(result, ApiKey), f"expected the key, got {result!r}"
    return result


class ApiKeyProviderConformance:
    controls_clock = True
    default_ttl = timedelta(days=90)
    max_ttl = timedelta(days=365)
    environment = "dev"

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock()

    def _needs_clock(self) -> None:
        if not self.controls_clock:
            pytest.skip("the provider's key lifetimes are not on the suite's clock")

    async def _key(self, provider: Any, owner: str = "user-1", **options: Any) -> tuple[str, ApiKey]:
        options.setdefault("name", "ci")
        options.setdefault("scopes", SCOPES)
        created = await provider.create_key("user", owner, **options)
        return created.secret, created.key

    # -- issuing -----------------------------------------------------------------------

    async def test_is_an_api_key_provider(self, provider: Any) -> None:
        assert isinstance(provider, IApiKeyProvider)

    async def test_created_key_has_the_documented_format(self, provider: Any) -> None:
        text, key = await self._key(provider)
        assert looks_like_api_key(text)
        parts = parse_key(text)
        assert parts is not None and parts.key_id == key.id and parts.environment == self.environment
        assert text.startswith(f"mk_{self.environment}_{key.id}_")
        assert key.display_prefix == f"mk_{self.environment}_{key.id}"
        assert key.owner_type == "user" and key.owner_id == "user-1" and key.scopes == SCOPES

    async def test_the_secret_is_never_returned_again(self, provider: Any) -> None:
        text, key = await self._key(provider)
        secret = parse_key(text).secret  # type: ignore[union-attr]
        again = await provider.get_key(key.id)
        listed = await provider.list_keys("user", "user-1")
        verified = _accepted(await provider.verify(text, "127.0.0.1"))
        for record in (again, *listed, verified):
            assert secret not in record.model_dump_json()
        assert [k.id for k in listed] == [key.id]

    async def test_each_key_is_new(self, provider: Any) -> None:
        first, a = await self._key(provider)
        second, b = await self._key(provider)
        assert first != second and a.id != b.id

    async def test_scopes_follow_the_permission_grammar(self, provider: Any) -> None:
        for scopes in (["agents"], ["Agents:read"], ["agents:read: x"], []):
            with pytest.raises(ValueError):
                await self._key(provider, scopes=scopes)

    async def test_list_keys_is_per_owner(self, provider: Any) -> None:
        _, mine = await self._key(provider, owner="alice")
        await self._key(provider, owner="bob")
        assert [k.id for k in await provider.list_keys("user", "alice")] == [mine.id]
        assert await provider.list_keys("user", "nobody") == []
        assert await provider.get_key("0000000000000000") is None

    async def test_default_lifetime_and_operator_maximum(self, provider: Any) -> None:
        self._needs_clock()
        _, key = await self._key(provider)
        assert key.expires_at - key.created_at == self.default_ttl
        _, short = await self._key(provider, ttl=timedelta(days=7))
        assert short.expires_at - short.created_at == timedelta(days=7)
        with pytest.raises(ValueError):
            await self._key(provider, ttl=self.max_ttl + timedelta(days=1))
        with pytest.raises(ValueError):
            await self._key(provider, ttl=timedelta(0))

    # -- verifying -------------------------------------------------------------------------

    async def test_a_created_key_verifies(self, provider: Any) -> None:
        text, key = await self._key(provider)
        verified = _accepted(await provider.verify(text, "203.0.113.9"))
        assert verified.id == key.id and verified.owner_id == "user-1" and verified.scopes == SCOPES

    @pytest.mark.parametrize(
        "garbage",
        ["", "mk_", "x", "Bearer", "mk_dev_short", "💥", "\x00", "a" * 5000, "mk_DEV_" + "A" * 70],
    )
    async def test_malformed_text_is_refused(self, provider: Any, garbage: str) -> None:
        _refused(await provider.verify(garbage, "127.0.0.1"), "malformed")

    async def test_a_wrong_checksum_is_malformed(self, provider: Any) -> None:
        text, _ = await self._key(provider)
        last = "A" if text[-1] != "A" else "B"
        _refused(await provider.verify(text[:-1] + last, "127.0.0.1"), "malformed")

    async def test_an_unknown_key_id_is_refused(self, provider: Any) -> None:
        text, _ = await self._key(provider)
        parts = parse_key(text)
        assert parts is not None
        forged = format_key(parts.environment, "Z" * 16, parts.secret)
        _refused(await provider.verify(forged, "127.0.0.1"), "unknown")

    async def test_a_wrong_secret_is_refused(self, provider: Any) -> None:
        text, key = await self._key(provider)
        await provider.verify(text, "127.0.0.1")  # a cached verification must not help
        forged = format_key(self.environment, key.id, "a" * 43)
        _refused(await provider.verify(forged, "127.0.0.1"), "wrong_secret", "unknown")

    async def test_another_environment_is_refused(self, provider: Any) -> None:
        text, key = await self._key(provider)
        parts = parse_key(text)
        assert parts is not None
        other = "test" if self.environment != "test" else "live"
        _refused(await provider.verify(format_key(other, key.id, parts.secret), "127.0.0.1"), "unknown")

    async def test_expired_key_is_refused(self, provider: Any, clock: FakeClock) -> None:
        self._needs_clock()
        text, _ = await self._key(provider, ttl=timedelta(days=1))
        _accepted(await provider.verify(text, "127.0.0.1"))
        clock.advance(timedelta(days=1).total_seconds() + 1)
        _refused(await provider.verify(text, "127.0.0.1"), "expired")

    async def test_revoked_key_is_refused_at_once(self, provider: Any) -> None:
        text, key = await self._key(provider)
        _accepted(await provider.verify(text, "127.0.0.1"))  # cached, then revoked
        assert await provider.revoke(key.id) is True
        _refused(await provider.verify(text, "127.0.0.1"), "revoked")
        assert await provider.revoke(key.id) is False
        assert await provider.revoke("0000000000000000") is False
        record = await provider.get_key(key.id)
        assert record is not None and record.revoked_at is not None

    async def test_ip_allow_list(self, provider: Any) -> None:
        text, key = await self._key(provider, ip_allowlist=["10.1.0.0/16", "2001:db8::/32", "192.0.2.7"])
        assert key.ip_allowlist == ["10.1.0.0/16", "2001:db8::/32", "192.0.2.7/32"]
        for ip in ("10.1.2.3", "2001:db8::1", "192.0.2.7"):
            _accepted(await provider.verify(text, ip))
        for refused_ip in ("10.2.0.1", "192.0.2.8", "::1", None, "not-an-ip"):
            _refused(await provider.verify(text, refused_ip), "ip_not_allowed")

    async def test_a_bad_cidr_is_refused(self, provider: Any) -> None:
        with pytest.raises(ValueError):
            await self._key(provider, ip_allowlist=["10.0.0.0/33"])

    async def test_last_use_is_written_at_most_once_a_minute(self, provider: Any, clock: FakeClock) -> None:
        self._needs_clock()
        text, key = await self._key(provider)
        assert key.last_used_at is None
        await provider.verify(text, "198.51.100.1")
        first = await provider.get_key(key.id)
        assert first is not None and first.last_used_at == clock() and first.last_used_ip == "198.51.100.1"
        clock.advance(30)
        await provider.verify(text, "198.51.100.2")
        same = await provider.get_key(key.id)
        assert same is not None and same.last_used_at == first.last_used_at
        assert same.last_used_ip == "198.51.100.1"
        clock.advance(31)
        await provider.verify(text, "198.51.100.3")
        later = await provider.get_key(key.id)
        assert later is not None and later.last_used_at == clock() and later.last_used_ip == "198.51.100.3"

    # -- rotation ----------------------------------------------------------------------------

    async def test_rotation_with_a_grace_period(self, provider: Any, clock: FakeClock) -> None:
        self._needs_clock()
        old_text, old = await self._key(provider, ip_allowlist=["10.0.0.0/8"])
        _accepted(await provider.verify(old_text, "10.0.0.1"))
        rotated = await provider.rotate(old.id, grace=timedelta(hours=1))
        assert rotated is not None and rotated.key.id != old.id and rotated.secret != old_text
        new = rotated.key
        assert (new.owner_id, new.name, new.scopes, new.ip_allowlist) == (
            old.owner_id,
            old.name,
            old.scopes,
            old.ip_allowlist,
        )
        _accepted(await provider.verify(rotated.secret, "10.0.0.1"))
        clock.advance(3599)
        _accepted(await provider.verify(old_text, "10.0.0.1"))
        clock.advance(2)
        _refused(await provider.verify(old_text, "10.0.0.1"), "expired", "revoked")
        _accepted(await provider.verify(rotated.secret, "10.0.0.1"))
        assert await provider.rotate(old.id, grace=timedelta(hours=1)) is None  # already replaced

    async def test_rotation_without_grace_refuses_the_old_key_at_once(self, provider: Any) -> None:
        old_text, old = await self._key(provider)
        _accepted(await provider.verify(old_text, "127.0.0.1"))
        rotated = await provider.rotate(old.id, grace=timedelta(0))
        assert rotated is not None
        _refused(await provider.verify(old_text, "127.0.0.1"), "revoked", "expired")
        _accepted(await provider.verify(rotated.secret, "127.0.0.1"))
        assert await provider.rotate("0000000000000000") is None

    async def test_a_revoked_key_cannot_be_rotated(self, provider: Any) -> None:
        _, key = await self._key(provider)
        await provider.revoke(key.id)
        assert await provider.rotate(key.id, grace=timedelta(hours=1)) is None

    async def test_concurrent_rotations_have_one_winner(self, provider: Any) -> None:
        _, old = await self._key(provider)
        results = await asyncio.gather(*(provider.rotate(old.id, grace=timedelta(hours=1)) for _ in range(4)))
        winners = [result for result in results if result is not None]
        assert len(winners) == 1, f"{len(winners)} rotations of one key succeeded"
        keys = {key.id: key for key in await provider.list_keys("user", "user-1")}
        assert set(keys) == {old.id, winners[0].key.id}, "a losing rotation left a key behind"
        assert keys[old.id].replaced_by == winners[0].key.id
        _accepted(await provider.verify(winners[0].secret, "127.0.0.1"))

    async def test_a_key_revoked_while_rotating_leaves_no_unlinked_successor(self, provider: Any) -> None:
        _, old = await self._key(provider)
        rotated, revoked = await asyncio.gather(
            provider.rotate(old.id, grace=timedelta(hours=1)), provider.revoke(old.id)
        )
        assert revoked is True
        keys = {key.id: key for key in await provider.list_keys("user", "user-1")}
        if rotated is None:  # the revocation came first: nothing was issued
            assert set(keys) == {old.id}
        else:  # the rotation came first: its successor is linked and shown to the owner
            assert set(keys) == {old.id, rotated.key.id} and keys[old.id].replaced_by == rotated.key.id
        assert await provider.revoke(old.id) is False

    async def test_concurrent_revocations_report_one_revocation(self, provider: Any) -> None:
        _, key = await self._key(provider)
        results = await asyncio.gather(*(provider.revoke(key.id) for _ in range(4)))
        assert sorted(results) == [False, False, False, True]

    # -- service accounts ---------------------------------------------------------------------

    def _accounts(self, provider: Any) -> Any:
        if not isinstance(provider, SupportsServiceAccounts):
            pytest.skip("the provider has no service accounts")
        return provider

    async def test_service_account_keys(self, provider: Any) -> None:
        accounts = self._accounts(provider)
        account = await accounts.create_service_account("ci-bot", ["viewer"], created_by="admin-1")
        assert account.roles == ["viewer"] and account.created_by == "admin-1" and not account.disabled
        assert [a.id for a in await accounts.list_service_accounts()] == [account.id]
        created = await provider.create_key("service_account", account.id, name="deploy", scopes=["*"])
        verified = _accepted(await provider.verify(created.secret, "127.0.0.1"))
        assert (verified.owner_type, verified.owner_id) == ("service_account", account.id)
        assert [k.id for k in await provider.list_keys("service_account", account.id)] == [verified.id]

    async def test_a_disabled_service_account_stops_its_keys_at_once(self, provider: Any) -> None:
        accounts = self._accounts(provider)
        account = await accounts.create_service_account("ci-bot", ["viewer"])
        created = await provider.create_key("service_account", account.id, name="deploy", scopes=["*"])
        _accepted(await provider.verify(created.secret, "127.0.0.1"))
        disabled = await accounts.update_service_account(account.id, disabled=True)
        assert disabled is not None and disabled.disabled
        _refused(await provider.verify(created.secret, "127.0.0.1"), "owner_disabled")
        with pytest.raises(ValueError):
            await provider.create_key("service_account", account.id, name="more", scopes=["*"])
        await accounts.update_service_account(account.id, disabled=False, roles=["member"])
        _accepted(await provider.verify(created.secret, "127.0.0.1"))
        fetched = await accounts.get_service_account(account.id)
        assert fetched is not None and fetched.roles == ["member"]

    async def test_a_deleted_service_account_stops_its_keys_for_good(self, provider: Any) -> None:
        accounts = self._accounts(provider)
        account = await accounts.create_service_account("ci-bot", ["viewer"])
        created = await provider.create_key("service_account", account.id, name="deploy", scopes=["*"])
        _accepted(await provider.verify(created.secret, "127.0.0.1"))
        assert await accounts.delete_service_account(account.id) is True
        _refused(await provider.verify(created.secret, "127.0.0.1"), "revoked", "owner_disabled")
        assert await accounts.get_service_account(account.id) is None
        assert await accounts.list_service_accounts() == []
        assert await accounts.delete_service_account(account.id) is False
        assert await accounts.update_service_account(account.id, disabled=False) is None

    async def test_service_accounts_need_a_name_and_a_role(self, provider: Any) -> None:
        accounts = self._accounts(provider)
        with pytest.raises(ValueError):
            await accounts.create_service_account(" ", ["viewer"])
        with pytest.raises(ValueError):
            await accounts.create_service_account("bot", [])
        with pytest.raises(ValueError):
            await provider.create_key("service_account", "sa_missing", name="x", scopes=["*"])
