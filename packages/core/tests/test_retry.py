"""The one retry policy for outbound calls (``mastra.core.ee.retry``), against a real
HTTP peer on loopback: transient failures (5xx, 429, network) are retried with bounded
attempts and time; any other 4xx is the answer at once."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest
import stamina
from mastra.core.ee.retry import RetryPolicy, TransientResponse, is_transient_error, is_transient_status
from mastra.core.testing.servers import BackgroundServer, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route


class Peer:
    """Answers the scripted statuses in order, then 200."""

    def __init__(self) -> None:
        self.script: list[int] = []
        self.requests = 0

    async def endpoint(self, request: Request) -> PlainTextResponse:
        self.requests += 1
        status = self.script.pop(0) if self.script else 200
        return PlainTextResponse(str(status), status_code=status)


@pytest.fixture
def peer() -> Iterator[tuple[Peer, str]]:
    state = Peer()
    with BackgroundServer(Starlette(routes=[Route("/", state.endpoint)])) as server:
        yield state, server.url


@pytest.fixture
def no_waits() -> Iterator[None]:
    """Stamina's test mode: no backoff sleeps, the configured attempts kept."""
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


async def get(client: httpx.AsyncClient, url: str) -> httpx.Response:
    response = await client.get(url)
    if is_transient_status(response.status_code):
        raise TransientResponse(response.status_code, response)
    return response


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_transient_answer_then_success_is_retried(
    peer: tuple[Peer, str], no_waits: None, status: int
) -> None:
    state, url = peer
    state.script = [status, status]
    async with httpx.AsyncClient() as client:
        response = await RetryPolicy(attempts=3).call(lambda: get(client, url), transient=is_transient_error)
    assert response.status_code == 200 and state.requests == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_client_errors_are_not_retried(peer: tuple[Peer, str], no_waits: None, status: int) -> None:
    state, url = peer
    state.script = [status]
    async with httpx.AsyncClient() as client:
        response = await RetryPolicy(attempts=5).call(lambda: get(client, url), transient=is_transient_error)
    assert response.status_code == status and state.requests == 1


async def test_attempts_are_bounded(peer: tuple[Peer, str], no_waits: None) -> None:
    state, url = peer
    state.script = [503] * 10
    async with httpx.AsyncClient() as client:
        with pytest.raises(TransientResponse) as last:
            await RetryPolicy(attempts=4).call(lambda: get(client, url), transient=is_transient_error)
    assert state.requests == 4
    assert last.value.status == 503 and last.value.response.text == "503"


async def test_network_errors_are_retried_then_raised(no_waits: None) -> None:
    calls = 0
    url = f"http://127.0.0.1:{free_port()}/"  # nothing listens there

    async def attempt() -> httpx.Response:
        nonlocal calls
        calls += 1
        async with httpx.AsyncClient() as client:
            return await client.get(url)

    with pytest.raises(httpx.ConnectError):
        await RetryPolicy(attempts=3).call(attempt, transient=is_transient_error)
    assert calls == 3


async def test_a_request_httpx_refuses_to_send_is_not_retried(peer: tuple[Peer, str], no_waits: None) -> None:
    state, url = peer
    calls = 0

    async def attempt() -> httpx.Response:
        nonlocal calls
        calls += 1
        async with httpx.AsyncClient() as client:
            return await client.get(url, headers={"x-token": "a\nb"})

    with pytest.raises(httpx.LocalProtocolError):
        await RetryPolicy(attempts=3).call(attempt, transient=is_transient_error)
    assert calls == 1 and state.requests == 0


async def test_total_time_is_bounded(peer: tuple[Peer, str]) -> None:
    """Real waits (no test mode): many attempts allowed, but no attempt starts after
    ``total_timeout``."""
    state, url = peer
    state.script = [503] * 1000
    policy = RetryPolicy(attempts=1000, total_timeout=0.4, wait_initial=0.05, wait_max=0.1)
    started = time.monotonic()
    async with httpx.AsyncClient() as client:
        with pytest.raises(TransientResponse):
            await policy.call(lambda: get(client, url), transient=is_transient_error)
    elapsed = time.monotonic() - started
    assert 0.4 <= elapsed < 1.5
    assert 2 <= state.requests < 20  # waits of 0.05-0.2 s each, with jitter


def test_policy_refuses_meaningless_bounds() -> None:
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError):
        RetryPolicy(total_timeout=0)
    with pytest.raises(ValueError):
        RetryPolicy(wait_initial=2, wait_max=1)
