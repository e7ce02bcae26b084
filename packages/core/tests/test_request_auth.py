"""``mastra.core.ee.request_auth``: the one bearer-token parser (SPEC 9.2 token sources)
and the request's credentials, read once by the host and shared with the providers."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from mastra.core.ee.request_auth import (
    RequestCredentials,
    bearer_token,
    presented_session,
    request_credentials,
)
from mastra.core.ee.sessions import MemorySessionProvider
from mastra.core.testing.sessions import cookie_pairs
from starlette.requests import Request


def request(method: str = "GET", query: str = "", **headers: str) -> Request:
    raw = [(k.replace("_", "-").encode(), v.encode("latin-1")) for k, v in headers.items()]
    return Request(
        {"type": "http", "method": method, "path": "/", "query_string": query.encode(), "headers": raw}
    )


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Bearer abc", "abc"),
        ("bearer   abc  ", "abc"),
        ("BEARER abc", "abc"),
        ("Bearer ", None),
        ("Bearer", None),
        ("Basic abc", None),
        ("Token abc", None),
    ],
)
def test_bearer_header(header: str, expected: str | None) -> None:
    assert bearer_token(request(authorization=header)) == expected


def test_api_key_only_when_enabled_and_only_for_get_and_head() -> None:
    assert bearer_token(request(query="apiKey=k1")) is None  # off unless the host enables it
    assert bearer_token(request(query="apiKey=k1"), query_token=True) == "k1"
    assert bearer_token(request("HEAD", query="apiKey=k1"), query_token=True) == "k1"
    assert bearer_token(request("POST", query="apiKey=k1"), query_token=True) is None
    assert bearer_token(request(query="apiKey="), query_token=True) is None
    # The header wins over the query string.
    assert bearer_token(request(query="apiKey=k1", authorization="Bearer h1"), query_token=True) == "h1"


class CountingReads:
    def __init__(self, provider: MemorySessionProvider) -> None:
        assert provider.registry is not None
        self.original = provider.registry.find_by_token_hash
        self.calls = 0
        provider.registry.find_by_token_hash = self  # type: ignore[method-assign]

    async def __call__(self, token_hash: str) -> Any:
        self.calls += 1
        return await self.original(token_hash)


@pytest.fixture
async def sessions() -> AsyncIterator[MemorySessionProvider]:
    provider = MemorySessionProvider()
    yield provider
    await provider.aclose()


async def signed_in(sessions: MemorySessionProvider) -> Request:
    session = await sessions.create_session("u1")
    cookies = cookie_pairs(sessions.get_session_headers(session))
    return request(cookie="; ".join(f"{k}={v}" for k, v in cookies.items()))


async def test_outside_the_host_the_provider_reads_the_cookie_itself(sessions: MemorySessionProvider) -> None:
    req = await signed_in(sessions)
    assert request_credentials(req) is None
    found = await presented_session(req, sessions)
    assert found is not None and found.user_id == "u1"
    assert await presented_session(request(), sessions) is None  # no cookie, no session


async def test_credentials_kept_on_the_request_validate_the_session_once(
    sessions: MemorySessionProvider,
) -> None:
    req = await signed_in(sessions)
    reads = CountingReads(sessions)
    credentials = await RequestCredentials.read(req, sessions)
    credentials.attach(req)
    assert request_credentials(Request(req.scope)) is credentials  # any Request over the scope
    first = await presented_session(req, sessions)  # the provider asks
    second = await credentials.session()  # the host asks
    assert first is second and first is not None and first.user_id == "u1"
    assert reads.calls == 1


async def test_credentials_read_for_another_provider_are_not_reused(sessions: MemorySessionProvider) -> None:
    other = MemorySessionProvider()
    try:
        req = await signed_in(sessions)
        (await RequestCredentials.read(req, other)).attach(req)  # read through another slot
        found = await presented_session(req, sessions)
        assert found is not None and found.user_id == "u1"
    finally:
        await other.aclose()
