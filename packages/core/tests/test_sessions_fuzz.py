"""Bad input never breaks session handling (SPEC 8.3): malformed cookie values of every
class return ``None``; hypothesis checks that arbitrary text never raises."""

from __future__ import annotations

import asyncio
import base64
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mastra.core.ee.crypto import Sealer
from mastra.core.ee.sessions import CookieSessionProvider, MemorySessionProvider, MemorySessionRegistry
from mastra.core.testing.sessions import request_with_cookies

SECRET = "fuzz-test-secret-0123456789-abcdefghijklm"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

PROVIDER = CookieSessionProvider(secret=SECRET, registry=MemorySessionRegistry())
KID = PROVIDER.sealer.current_kid
VALID = asyncio.run(PROVIDER.create_session("fuzz-user")).id
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def validate(provider: object, value: str) -> object:
    async def run() -> object:
        result = await provider.validate_session(value)  # type: ignore[attr-defined]
        if isinstance(provider, MemorySessionProvider):
            await provider.aclose()
        return result

    return asyncio.run(run())


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _flip_last(value: str) -> str:
    return value[:-1] + ("A" if value[-1] != "A" else "B")


BAD_VALUES = {
    "random bytes": os.urandom(64).decode("latin-1"),
    "wrong version": "v2" + VALID[2:],
    "no version": VALID.split(".", 1)[1],
    "truncated": VALID[: len(VALID) // 2],
    "short blob": f"v1.{KID}.{_b64(os.urandom(20))}",
    "unknown kid": f"v1.00000000.{VALID.split('.')[2]}",
    "bad base64": f"v1.{KID}.!!!not*base64!!!",
    "padded base64": VALID + "==",
    "tampered tag": _flip_last(VALID),
    "extra part": VALID + ".x",
    "too long": f"v1.{KID}." + "A" * 5000,
    "other key": Sealer("another-secret-of-sufficient-length-0000").seal_json(
        {"sid": "x"}, aad="mastra_session"
    ),
    "right key wrong aad": PROVIDER.sealer.seal_json({"sid": "x", "uid": "u"}, aad="other_cookie"),
    "sealed non-object": PROVIDER.sealer.seal_json([1, 2, 3], aad="mastra_session"),
    "sealed wrong types": PROVIDER.sealer.seal_json(
        {"sid": "x", "uid": "u", "iat": "1", "exp": True, "last": 1, "meta": {}}, aad="mastra_session"
    ),
    "sealed huge time": PROVIDER.sealer.seal_json(
        {"sid": "x", "uid": "u", "iat": 10**30, "exp": 10**30, "last": 10**30, "meta": {}},
        aad="mastra_session",
    ),
    "sealed non-json": PROVIDER.sealer.seal(b"\xff\xfe not json", aad="mastra_session"),
    "empty": "",
}


@pytest.mark.parametrize("name", sorted(BAD_VALUES))
def test_bad_cookie_classes_return_none(name: str) -> None:
    value = BAD_VALUES[name]
    assert PROVIDER.unseal(value) is None
    assert validate(PROVIDER, value) is None

    async def refresh_and_destroy() -> object:
        await PROVIDER.destroy_session(value)
        return await PROVIDER.refresh_session(value)

    assert asyncio.run(refresh_and_destroy()) is None
    assert validate(PROVIDER, VALID) is not None  # bad input never revoked the real session


def test_valid_cookie_baseline() -> None:
    # The corpus above only means something if the untouched value does validate.
    assert validate(PROVIDER, VALID) is not None


@FAST
@given(st.text(max_size=6000))
def test_unseal_of_arbitrary_text_returns_none(value: str) -> None:
    assert PROVIDER.unseal(value) is None


@FAST
@given(st.binary(max_size=600))
def test_validate_of_arbitrary_bytes_returns_none(raw: bytes) -> None:
    assert validate(PROVIDER, raw.decode("latin-1")) is None


@FAST
@given(st.text(alphabet=B64, max_size=400))
def test_well_formed_looking_values_return_none(body: str) -> None:
    assert PROVIDER.unseal(f"v1.{KID}.{body}") is None


@FAST
@given(st.integers(min_value=0, max_value=len(VALID) - 1), st.sampled_from(B64 + ".%="))
def test_any_single_character_change_is_rejected(index: int, char: str) -> None:
    mutated = VALID[:index] + char + VALID[index + 1 :]
    if mutated == VALID:
        return
    assert PROVIDER.unseal(mutated) is None


@FAST
@given(st.text(max_size=200))
def test_memory_provider_rejects_arbitrary_text(value: str) -> None:
    assert validate(MemorySessionProvider(), value) is None


@FAST
@given(st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=300))
def test_reading_any_cookie_header_never_raises(header: str) -> None:
    result = PROVIDER.get_session_id_from_request(request_with_cookies(header))
    assert result is None or isinstance(result, str)


@FAST
@given(st.text(min_size=1, max_size=80))
def test_percent_encoded_value_round_trips(value: str) -> None:
    from urllib.parse import quote

    encoded = quote(value, safe="")
    assert PROVIDER.get_session_id_from_request(request_with_cookies(f"mastra_session={encoded}")) == value
