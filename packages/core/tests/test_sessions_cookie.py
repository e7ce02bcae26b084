"""CookieSessionProvider specifics (SPEC 8.1, 8.3, S8, S17): header formats, naming,
secrets, rotation, value format, metadata cap, registry options."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from mastra.core.ee.crypto import sha256_hex
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.sessions import CookieSessionProvider, MemorySessionRegistry, SQLSessionRegistry
from mastra.core.ee.settings import Settings
from mastra.core.testing.sessions import FakeClock, cookie_pairs, request_with_cookies

SECRET = "cookie-test-secret-0123456789-abcdefghijk"
OLD_SECRET = "an-older-secret-that-is-long-enough-00000"
SHORT_TEXT = "Session secret must be at least 32 bytes (256 bits) for AES-256-GCM encryption"
VALUE_RE = re.compile(r"^v1\.[0-9a-f]{8}\.[A-Za-z0-9_-]+$")


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("MASTRA_AUTH_SECRET", "MASTRA_PUBLIC_URL", "MASTRA_DATABASE_URL", "MASTRA_ENV", "MASTRA_DEV"):
        monkeypatch.delenv(var, raising=False)


def options(**overrides: Any) -> ProviderOptions:
    settings_kwargs = overrides.pop("settings", {})
    settings = Settings(_env_file=None, **settings_kwargs)  # type: ignore[call-arg]
    return ProviderOptions({"registry": "memory", **overrides}, settings)


def provider(clock: FakeClock | None = None, **kwargs: Any) -> CookieSessionProvider:
    kwargs.setdefault("registry", MemorySessionRegistry())
    return CookieSessionProvider(secret=kwargs.pop("secret", SECRET), clock=clock or FakeClock(), **kwargs)


def kid_for(secret: str) -> str:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mastra-session", info=b"aes-256-gcm").derive(
        secret.encode()
    )
    return hashlib.sha256(key).hexdigest()[:8]


# -- Set-Cookie / clear formats (8.1) -----------------------------------------------------


async def test_dev_set_and_clear_headers_exact() -> None:
    p = CookieSessionProvider.from_options(options(secret=SECRET))
    session = await p.create_session("u1")
    assert p.get_session_headers(session) == [
        ("set-cookie", f"mastra_session={session.id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200")
    ]
    assert p.get_clear_session_headers() == [
        ("set-cookie", "mastra_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0")
    ]


async def test_production_uses_host_prefix_and_secure() -> None:
    p = CookieSessionProvider.from_options(options(secret=SECRET, settings={"env": "production"}))
    session = await p.create_session("u1")
    assert p.get_session_headers(session) == [
        (
            "set-cookie",
            f"__Host-mastra_session={session.id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200; Secure",
        )
    ]
    assert p.get_clear_session_headers() == [
        ("set-cookie", "__Host-mastra_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Secure")
    ]
    # The unprefixed name is not read in production (a subdomain could plant it).
    assert p.get_session_id_from_request(request_with_cookies({"mastra_session": session.id})) is None
    assert (
        p.get_session_id_from_request(request_with_cookies({"__Host-mastra_session": session.id}))
        == session.id
    )


async def test_production_with_domain_uses_secure_prefix() -> None:
    p = CookieSessionProvider.from_options(
        options(secret=SECRET, cookie_domain="example.com", cookie_name="app_sess", settings={"env": "prod"})
    )
    session = await p.create_session("u1")
    assert p.get_session_headers(session) == [
        (
            "set-cookie",
            f"__Secure-app_sess={session.id}; Path=/; HttpOnly; SameSite=Lax; Max-Age=43200; "
            "Domain=example.com; Secure",
        )
    ]
    assert p.get_clear_session_headers() == [
        (
            "set-cookie",
            "__Secure-app_sess=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0; Domain=example.com; Secure",
        )
    ]


async def test_https_public_url_makes_dev_cookie_secure() -> None:
    p = CookieSessionProvider.from_options(
        options(secret=SECRET, settings={"public_url": "https://app.test"})
    )
    session = await p.create_session("u1")
    ((_, header),) = p.get_session_headers(session)
    assert header.startswith("mastra_session=") and header.endswith("; Max-Age=43200; Secure")


async def test_max_age_counts_down_to_absolute_expiry() -> None:
    clock = FakeClock()
    p = provider(clock)
    session = await p.create_session("u1")
    clock.advance(1000)
    refreshed = await p.refresh_session(session.id)
    assert refreshed is not None
    ((_, header),) = p.get_session_headers(refreshed)
    assert header.endswith("; Max-Age=42200")


@pytest.mark.parametrize("bad", ["bad name", "a;b", "x=y", ""])
def test_invalid_cookie_name_is_a_configuration_error(bad: str) -> None:
    if bad == "":
        # Empty falls back to the default name.
        assert (
            CookieSessionProvider.from_options(options(secret=SECRET, cookie_name="")).cookie.name
            == "mastra_session"
        )
        return
    with pytest.raises(ConfigurationError):
        CookieSessionProvider.from_options(options(secret=SECRET, cookie_name=bad))


def test_invalid_cookie_domain_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError):
        CookieSessionProvider.from_options(options(secret=SECRET, cookie_domain="evil.com; Path=/x"))


# -- secrets (8.3) ---------------------------------------------------------------------


@pytest.mark.parametrize("secret", ["", "x" * 31, "short"])
def test_short_option_secret_raises_exact_text(secret: str) -> None:
    with pytest.raises(ValueError) as info:
        CookieSessionProvider.from_options(options(secret=secret, settings={"auth_secret": secret or None}))
    assert str(info.value) == SHORT_TEXT


def test_missing_secret_raises_exact_text() -> None:
    with pytest.raises(ValueError, match=re.escape(SHORT_TEXT)):
        CookieSessionProvider.from_options(options())


def test_short_previous_secret_raises_exact_text() -> None:
    with pytest.raises(ValueError, match=re.escape(SHORT_TEXT)):
        CookieSessionProvider.from_options(options(secret=SECRET, previous_secrets="tooshort"))


async def test_mastra_auth_secret_is_the_fallback() -> None:
    p = CookieSessionProvider.from_options(options(settings={"auth_secret": SECRET}))
    q = CookieSessionProvider(secret=SECRET, registry=p.registry)
    session = await p.create_session("u1")
    assert (await q.validate_session(session.id)) is not None
    assert p.sealer.current_kid == kid_for(SECRET)


async def test_option_secret_wins_over_mastra_auth_secret() -> None:
    p = CookieSessionProvider.from_options(options(secret=SECRET, settings={"auth_secret": OLD_SECRET}))
    assert p.sealer.current_kid == kid_for(SECRET)


@pytest.mark.parametrize(
    "previous", [[OLD_SECRET], OLD_SECRET, json.dumps([OLD_SECRET]), f" {OLD_SECRET} , "]
)
async def test_rotation_unseals_old_and_reseals_with_current(previous: Any) -> None:
    registry = MemorySessionRegistry()
    old = CookieSessionProvider(secret=OLD_SECRET, registry=registry)
    rotated = CookieSessionProvider.from_options(options(secret=SECRET, previous_secrets=previous))
    rotated.registry = registry
    new_only = CookieSessionProvider(secret=SECRET, registry=registry)

    session = await old.create_session("u1")
    assert session.id.split(".")[1] == kid_for(OLD_SECRET)
    assert await rotated.validate_session(session.id) is not None
    assert await new_only.validate_session(session.id) is None

    refreshed = await rotated.refresh_session(session.id)
    assert refreshed is not None
    assert refreshed.id.split(".")[1] == kid_for(SECRET)
    assert await new_only.validate_session(refreshed.id) is not None
    # Sealing never uses a previous key.
    fresh = await rotated.create_session("u2")
    assert fresh.id.split(".")[1] == kid_for(SECRET)


# -- value format (8.3) ------------------------------------------------------------------


async def test_value_format_and_plaintext() -> None:
    p = provider()
    session = await p.create_session("user-42", {"sso": "workos", "ip": "203.0.113.9", "userAgent": "UA/1"})
    assert VALUE_RE.match(session.id)
    _, kid, body = session.id.split(".")
    assert kid == kid_for(SECRET)
    blob = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=b"mastra-session", info=b"aes-256-gcm").derive(
        SECRET.encode()
    )
    raw = AESGCM(key).decrypt(blob[:12], blob[12:], b"mastra_session")  # AAD = cookie name
    assert b", " not in raw and b": " not in raw  # compact JSON
    data = json.loads(raw)
    assert set(data) == {"sid", "uid", "iat", "exp", "last", "meta"}
    assert data["uid"] == "user-42"
    assert data["exp"] - data["iat"] == 43200 and data["last"] == data["iat"]
    assert data["meta"] == {"sso": "workos"}  # ip / userAgent live in the registry only
    # sid is the 256-bit secret; the registry knows only its hash.
    assert len(base64.urlsafe_b64decode(data["sid"] + "=")) == 32
    record = await p.registry.find_by_token_hash(sha256_hex(data["sid"]))  # type: ignore[union-attr]
    assert record is not None and record.handle == session.handle and record.handle != data["sid"]
    assert record.ip == "203.0.113.9" and record.user_agent == "UA/1"


async def test_aad_binds_the_value_to_the_cookie_name() -> None:
    registry = MemorySessionRegistry()
    a = CookieSessionProvider(secret=SECRET, registry=registry, cookie_name="mastra_session")
    b = CookieSessionProvider(secret=SECRET, registry=registry, cookie_name="mastra_oidc_session")
    session = await a.create_session("u1")
    assert await a.validate_session(session.id) is not None
    assert await b.validate_session(session.id) is None


async def test_registry_revocation_kills_a_valid_seal() -> None:
    p = provider()
    session = await p.create_session("u1")
    payload = p.unseal(session.id)
    assert payload is not None
    await p.registry.revoke_by_token_hash(sha256_hex(payload.sid), p.now())  # type: ignore[union-attr]
    assert await p.validate_session(session.id) is None


async def test_an_opened_value_is_decrypted_once_and_still_checked_every_time() -> None:
    """A browser presents one cookie on every request: its seal is opened once, while
    the registry row (revocation) and the times are checked on every validation."""
    clock = FakeClock()
    p = provider(clock, idle_timeout=600)
    opened: list[str] = []
    unseal_json = p.sealer.unseal_json

    def counting(value: str, *, aad: str = "") -> Any:
        opened.append(value)
        return unseal_json(value, aad=aad)

    p.sealer.unseal_json = counting  # type: ignore[method-assign]
    session = await p.create_session("u1", {"team": "a"})
    assert await p.validate_session(session.id) is not None
    assert await p.validate_session(session.id) is not None
    assert opened == [session.id]
    mine = p.unseal(session.id)
    assert mine is not None
    mine.uid, mine.meta["team"] = "someone-else", "b"  # a caller's copy, not the remembered one
    again = await p.validate_session(session.id)
    assert again is not None and again.user_id == "u1" and again.metadata == {"team": "a"}
    clock.advance(601)  # idle timeout: the remembered seal does not keep it alive
    assert await p.validate_session(session.id) is None
    live = await p.create_session("u2")
    assert await p.validate_session(live.id) is not None
    await p.destroy_session(live.id)  # revoked in the registry: refused at once
    assert await p.validate_session(live.id) is None
    assert opened == [session.id, live.id]


async def test_user_mismatch_is_rejected() -> None:
    p = provider()
    session = await p.create_session("u1")
    payload = p.unseal(session.id)
    assert payload is not None
    payload.uid = "someone-else"
    forged = p.seal(payload)  # correctly sealed, but the registry row belongs to u1
    assert await p.validate_session(forged) is None


async def test_sealed_expiry_is_enforced_even_if_registry_row_lives() -> None:
    clock = FakeClock()
    p = provider(clock)
    session = await p.create_session("u1")
    payload = p.unseal(session.id)
    assert payload is not None
    payload.exp = payload.iat + 10
    short = p.seal(payload)
    clock.advance(11)
    assert await p.validate_session(short) is None
    assert await p.validate_session(session.id) is not None


async def test_unknown_sid_is_rejected() -> None:
    p = provider()
    session = await p.create_session("u1")
    payload = p.unseal(session.id)
    assert payload is not None
    payload.sid = "A" * 43
    assert await p.validate_session(p.seal(payload)) is None


# -- metadata cap (S8: name + value < 4096) ---------------------------------------------


async def test_oversized_metadata_is_dropped_largest_first(caplog: pytest.LogCaptureFixture) -> None:
    p = provider()
    with caplog.at_level(logging.WARNING, logger="mastra.ee.sessions"):
        session = await p.create_session("u1", {"idToken": "x" * 5000, "sso": "oidc"})
    assert len(f"mastra_session={session.id}".encode()) < 4096
    assert session.metadata == {"sso": "oidc"}
    validated = await p.validate_session(session.id)
    assert validated is not None and validated.metadata == {"sso": "oidc"}
    assert "idToken" in caplog.text and "x" * 50 not in caplog.text


async def test_metadata_that_fits_is_kept_whole() -> None:
    p = provider()
    token = "t" * 2500  # an ID token of realistic size
    session = await p.create_session("u1", {"idToken": token})
    assert session.metadata == {"idToken": token}
    assert len(f"mastra_session={session.id}".encode()) < 4096


async def test_user_id_too_large_for_a_cookie_fails_clearly() -> None:
    p = provider()
    with pytest.raises(ValueError, match="4096"):
        await p.create_session("u" * 4000)
    assert await p.list_sessions("u" * 4000) == []  # the row was revoked again


# -- registry option -------------------------------------------------------------------


async def test_registry_none_in_dev_is_seal_only() -> None:
    p = CookieSessionProvider.from_options(options(secret=SECRET, registry="none", settings={"dev": True}))
    assert p.registry is None
    session = await p.create_session("u1")
    assert session.handle is None
    assert await p.validate_session(session.id) is not None
    assert await p.list_sessions("u1") == []
    assert await p.revoke_user_sessions("u1") == 0


@pytest.mark.parametrize("env", [{"env": "production"}, {"env": "prod", "dev": False}])
def test_registry_none_in_production_is_refused(env: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError, match="only allowed in development"):
        CookieSessionProvider.from_options(options(secret=SECRET, registry="none", settings=env))


def test_default_registry_is_sql_on_the_project_database(sqlite_url: str) -> None:
    p = CookieSessionProvider.from_options(
        options(secret=SECRET, registry=None, settings={"database_url": sqlite_url})
    )
    assert isinstance(p.registry, SQLSessionRegistry)
    assert p.registry.database_url == sqlite_url


def test_unknown_registry_is_refused() -> None:
    with pytest.raises(ConfigurationError, match="Unknown session registry"):
        CookieSessionProvider.from_options(options(secret=SECRET, registry="redis"))


@pytest.mark.parametrize("value", ["abc", 0, -5, True, "1.5"])
def test_bad_timeouts_are_configuration_errors(value: Any) -> None:
    with pytest.raises(ConfigurationError):
        CookieSessionProvider.from_options(options(secret=SECRET, idle_timeout=value))


def test_timeouts_from_env_strings() -> None:
    p = CookieSessionProvider.from_options(
        options(secret=SECRET, idle_timeout="600", absolute_timeout="7200")
    )
    assert (p.idle_timeout, p.absolute_timeout) == (600, 7200)


# -- reading the cookie ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc%2Bdef", "abc+def"),
        ("plain.value-1", "plain.value-1"),
        ("bad%zzescape", "bad%zzescape"),
        ("trailing%", "trailing%"),
        ("half%4", "half%4"),
        ("latin%E9only", "latin%E9only"),  # not UTF-8 once decoded
        ('"quoted"', "quoted"),
    ],
)
def test_session_id_percent_decoding(raw: str, expected: str) -> None:
    p = provider()
    assert p.get_session_id_from_request(request_with_cookies(f"other=1; mastra_session={raw}")) == expected


def test_empty_cookie_is_no_session() -> None:
    p = provider()
    assert p.get_session_id_from_request(request_with_cookies("mastra_session=")) is None
    assert p.get_session_id_from_request(None) is None


async def test_session_survives_a_round_trip_through_headers() -> None:
    p = provider()
    session = await p.create_session("u1")
    pairs = cookie_pairs(p.get_session_headers(session))
    assert pairs == {"mastra_session": session.id}
