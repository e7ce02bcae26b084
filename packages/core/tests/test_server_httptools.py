"""``BoundedHttpToolsProtocol``: uvicorn's httptools parser with h11's 16 KiB bound on
the request head, against a real uvicorn server on loopback (raw sockets: the attacks
are malformed on purpose), and ``mastra-ee serve`` running it."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from mastra.core.server import BoundedHttpToolsProtocol
from mastra.core.server._httptools import MAX_PIPELINED, MAX_REQUEST_HEAD
from mastra.core.testing.reference import ServeProcess, reference_serve_env
from mastra.core.testing.servers import free_port


async def _echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Answers the body length and the number of request headers."""
    if scope["type"] != "http":
        return
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body", False):
            break
    body = f"{size} {len(scope['headers'])}".encode()
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"%d" % len(body))]}
    )
    await send({"type": "http.response.body", "body": body})


@contextmanager
def _running(http: Any) -> Iterator[int]:
    """A uvicorn server with protocol ``http`` in a thread; yields its port."""
    port = free_port()
    config = uvicorn.Config(
        _echo, host="127.0.0.1", port=port, http=http, log_level="critical", lifespan="off"
    )
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=asyncio.run, args=(instance.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not instance.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        instance.should_exit = True
        thread.join(10)


@pytest.fixture(params=["bounded", "h11"])
def server(request: pytest.FixtureRequest) -> Iterator[tuple[int, str]]:
    """Our protocol, and h11 for comparison."""
    with _running(BoundedHttpToolsProtocol if request.param == "bounded" else "h11") as port:
        yield port, request.param


_GET_HEAD = b"GET / HTTP/1.1\r\nHost: x\r\n"
_HEADER_LINE = b"X-Fill: " + b"a" * 1000 + b"\r\n"


def _flood(port: int, head: bytes, piece: bytes, total: int) -> tuple[int, bytes]:
    """Send ``head`` then ``piece`` until ``total`` bytes or the server hangs up: the
    bytes it took and its answer."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(head)
            while sent < total:
                sock.sendall(piece)
                sent += len(piece)
        except OSError:  # reset or broken pipe: the server closed the connection
            pass
        sock.settimeout(5)
        answer = b""
        try:
            while chunk := sock.recv(4096):
                answer += chunk
        except OSError:
            pass
    return sent, answer


def _refused(answer: bytes, parser: str) -> bool:
    status = b"431" if parser == "bounded" else b"400"  # h11's refusal is a plain 400
    return answer.startswith(b"HTTP/1.1 " + status)


def test_an_endless_header_block_is_refused_early(server: tuple[int, str]) -> None:
    port, parser = server
    sent, answer = _flood(port, _GET_HEAD, _HEADER_LINE, 50_000_000)
    assert _refused(answer, parser), answer[:80]
    assert sent < 10_000_000  # the server hung up long before (uvicorn's httptools took all 50 MB)


def test_one_endless_header_value_is_refused_early(server: tuple[int, str]) -> None:
    port, parser = server
    sent, answer = _flood(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Fill: ", b"a" * 4096, 50_000_000)
    assert _refused(answer, parser), answer[:80]
    assert sent < 10_000_000


def test_an_endless_request_line_is_refused_early(server: tuple[int, str]) -> None:
    port, parser = server
    sent, answer = _flood(port, b"GET /", b"a" * 4096, 50_000_000)
    assert _refused(answer, parser), answer[:80]
    assert sent < 10_000_000


def _response(sock: socket.socket) -> bytes:
    """One whole response from a kept-alive connection (head, then Content-Length bytes)."""
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = int(
        next(
            line.split(b":")[1] for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
        )
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head + b"\r\n\r\n" + body


_CHUNKED_HEAD = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n"


def test_an_endless_trailer_section_is_refused_early(server: tuple[int, str]) -> None:
    port, parser = server
    sent, answer = _flood(port, _CHUNKED_HEAD, _HEADER_LINE, 50_000_000)
    if parser == "bounded":
        assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    assert sent < 10_000_000


def test_one_endless_trailer_value_is_refused_early(server: tuple[int, str]) -> None:
    port, parser = server
    sent, answer = _flood(port, _CHUNKED_HEAD + b"X-Fill: ", b"a" * 4096, 50_000_000)
    if parser == "bounded":
        assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
    assert sent < 10_000_000


def test_trailers_never_join_the_request_headers(server: tuple[int, str]) -> None:
    """uvicorn's httptools protocol appended trailer fields to ``scope["headers"]`` after
    the app had it: a trailer ``X-Forwarded-Host`` showed up as a header to code reading
    headers after the body. Small trailers are accepted and dropped."""
    port, _ = server
    trailers = b"Host: evil.example\r\nX-Forwarded-Host: evil.example\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(_CHUNKED_HEAD + trailers)
        answer = _response(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    assert answer.endswith(b"\r\n\r\n3 2")  # body length, headers: host, transfer-encoding


def test_a_body_of_many_small_chunks_written_one_by_one_is_served(server: tuple[int, str]) -> None:
    port, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for _ in range(3000):
            sock.sendall(b"a\r\n")  # each chunk-size line on its own, then its data
            sock.sendall(b"0123456789\r\n")
        sock.sendall(b"0\r\n\r\n")
        answer = _response(sock)
    assert answer.startswith(b"HTTP/1.1 200"), answer[:80]
    assert answer.endswith(b"\r\n\r\n30000 2")


def test_a_head_under_the_bound_and_a_large_body_are_served(server: tuple[int, str]) -> None:
    port, _ = server
    fill = [(f"x-fill-{i}", "b" * 1000) for i in range((MAX_REQUEST_HEAD - 2048) // 1012)]
    body = b"c" * 1_000_000  # sent with its head in the first chunks: never counted as head
    r = httpx.post(f"http://127.0.0.1:{port}/", headers=fill, content=body, timeout=30)
    assert r.status_code == 200
    size, count = r.text.split()
    assert int(size) == len(body) and int(count) >= len(fill)


def test_pipelined_requests_after_a_large_body_are_all_answered(server: tuple[int, str]) -> None:
    """A request's body and the next request's head in one chunk: the head is not
    charged with the body's bytes."""
    port, _ = server
    body = b"d" * 200_000
    post = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body) + body
    gets = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * 20
    last = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(post + gets + post + last)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 200") == 23, answer[:200]
    assert answer.count(b"\r\n\r\n%d 2" % len(body)) == 2  # host, content-length


def test_a_flood_of_pipelined_requests_is_cut_off() -> None:
    """httptools parses every request of a read at once and uvicorn queued each one: a
    connection that pipelines small requests without reading the answers made the server
    hold thousands (measured +210 MB for 6.5 MB sent). Past :data:`MAX_PIPELINED` queued
    requests the connection gets 400 and is closed."""
    request = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"
    with (
        _running(BoundedHttpToolsProtocol) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        try:
            for _ in range(100):
                sock.sendall(request * 2000)  # 54 KB a write
        except OSError:  # the server closed the connection
            pass
        answer = b""
        try:  # until the server hangs up, or it has answered more than the bound allows
            while (chunk := sock.recv(65536)) and answer.count(b"HTTP/1.1 200") <= MAX_PIPELINED + 1:
                answer += chunk
        except OSError:
            pass
    assert answer.count(b"HTTP/1.1 200") <= MAX_PIPELINED + 1
    assert b"HTTP/1.1 400 Bad Request" in answer


def test_pipelined_requests_up_to_the_bound_are_all_answered(server: tuple[int, str]) -> None:
    port, _ = server
    requests = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" * MAX_PIPELINED
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(requests + b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.count(b"HTTP/1.1 200") == MAX_PIPELINED + 1


@pytest.mark.parametrize(
    ("target", "served"),
    [
        (b"GET http://evil.example/x HTTP/1.1", False),  # absolute form: its authority overrides Host
        (b"CONNECT evil.example:443 HTTP/1.1", False),
        (b"OPTIONS * HTTP/1.1", True),
        (b"GET /x?y=http://z HTTP/1.1", True),
    ],
)
def test_only_origin_form_targets_reach_the_app(target: bytes, served: bool) -> None:
    with (
        _running(BoundedHttpToolsProtocol) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(target + b"\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200" if served else b"HTTP/1.1 400"), answer[:80]


@pytest.mark.slow
def test_serve_refuses_an_endless_header_block(tmp_path: Path) -> None:
    """``mastra-ee serve`` runs the bounded protocol (it ran uvicorn's default, which
    took every byte of the flood and never answered)."""
    env = reference_serve_env(MASTRA_AUTH_SECRET="serve-httptools-secret-0123456789abcdef")
    with ServeProcess(tmp_path, env) as served:
        sent, answer = _flood(served.port, _GET_HEAD, _HEADER_LINE, 50_000_000)
        assert answer.startswith(b"HTTP/1.1 431"), answer[:80]
        assert sent < 10_000_000
        assert httpx.get(served.url + "/api/auth/capabilities", timeout=30).status_code == 200


# Request-smuggling and framing vectors the parser must refuse outright (400, nothing
# reaches the app). h11 also refuses most; it accepted the first two (it lets
# Transfer-Encoding win over Content-Length) and bare LF line endings.
_MALFORMED = {
    "content-length and transfer-encoding": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
    b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "folded transfer-encoding": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding:\r\n chunked\r\n\r\n"
    b"3\r\nabc\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n",
    "bare LF": b"GET /smuggled HTTP/1.1\nHost: x\n\n",
    "two different content-lengths": b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
    b"Content-Length: 40\r\n\r\nabc",
    "space before the colon": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n"
    b"Content-Length: 3\r\n\r\nabc",
    "unknown transfer-coding": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n"
    b"3\r\nabc\r\n0\r\n\r\n",
    "NUL in a header": b"GET /smuggled HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n",
    "bad chunk": b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n",
}


@pytest.mark.parametrize("raw", list(_MALFORMED.values()), ids=list(_MALFORMED))
def test_malformed_framing_is_refused_before_the_app(raw: bytes) -> None:
    with (
        _running(BoundedHttpToolsProtocol) as port,
        socket.create_connection(("127.0.0.1", port), timeout=10) as sock,
    ):
        sock.sendall(raw)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:80]
    assert answer.count(b"HTTP/1.1") == 1  # one refusal, no request answered
