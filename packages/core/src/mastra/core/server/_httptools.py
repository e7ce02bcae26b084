"""uvicorn's httptools (llhttp) protocol with a bound on the request head.

uvicorn's h11 protocol refuses a request line plus headers over 16 KiB (h11's
``max_incomplete_event_size``); its httptools protocol has no such bound: it appends
the URL and every header to Python objects for as long as the client sends them, so one
connection streaming an endless header block grows the worker's memory without limit
(measured: 200 MB of headers, 220 MB of RSS and no answer). httptools parses a request in
C for about half of h11's cost, so ``serve`` uses it with the bound put back here:
:class:`BoundedHttpToolsProtocol`, which answers ``431`` and closes the connection once a
head passes :data:`MAX_REQUEST_HEAD` bytes.

Bytes are counted per ``data_received`` chunk while the head of a request is incomplete
after the chunk was parsed, so a chunk that completes the head (and carries body bytes)
is never counted. The bound is exact for a head that starts a chunk; one that starts
mid-chunk, after a pipelined request, may pass it by at most that one chunk (asyncio
reads at most 256 KiB at a time). A chunked body's trailer section is bounded the same
way, and its fields are dropped (uvicorn appended them to the scope's headers).

Two more differences from h11 are closed here: httptools parses all the pipelined
requests of a read at once, so the queue per connection is bounded and reading pauses
until it drains; and it reduces an absolute-form target to its path, so such targets
are refused (see ``on_headers_complete``).
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["MAX_PIPELINED", "MAX_REQUEST_HEAD", "BoundedHttpToolsProtocol"]

#: h11's default, what uvicorn's h11 protocol enforces: request line plus headers.
MAX_REQUEST_HEAD = 16 * 1024
#: Requests parsed ahead of their turn on one connection (pipelining) before 400 and close.
MAX_PIPELINED = 32

_TOO_LARGE = b"Request header fields too large"
_RESPONSE_431 = b"".join(
    [
        b"HTTP/1.1 431 Request Header Fields Too Large\r\n",
        b"content-type: text/plain; charset=utf-8\r\n",
        b"content-length: " + str(len(_TOO_LARGE)).encode("ascii") + b"\r\n",
        b"connection: close\r\n",
        b"\r\n",
        _TOO_LARGE,
    ]
)


class _Refused(Exception):
    """Raised from a parser callback: httptools stops, uvicorn answers 400 and closes."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """``uvicorn.Config(app, http=BoundedHttpToolsProtocol)``: httptools with h11's
    16 KiB bound on the request head (431 and close past it), at most
    :data:`MAX_PIPELINED` requests queued per connection and origin-form targets only
    (400 and close otherwise)."""

    max_request_head = MAX_REQUEST_HEAD
    max_pipelined = MAX_PIPELINED

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_head = True  # until the head of the current request has been parsed
        self._head_bytes = 0  # of the head, or of a chunked body's trailer section
        self._completed = False  # a request ended inside the chunk being parsed
        self._body_in_read = False  # body bytes came out of the chunk being parsed
        self._after_chunk_header = False  # no body since the last chunk header: trailers?

    def data_received(self, data: bytes) -> None:
        self._completed = self._body_in_read = False
        super().data_received(data)
        if self._completed:
            return
        if self._in_head:
            self._head_bytes += len(data)
        elif self._after_chunk_header and not self._body_in_read:
            # A read with no body byte after a chunk header: the trailer section of a
            # chunked body (httptools buffers a trailer value until it ends), or a
            # chunk-size line; both are bounded like a head.
            self._head_bytes += len(data)
        else:
            return
        if self._head_bytes > self.max_request_head and not self.transport.is_closing():
            self.logger.warning("Request head over %d bytes refused (431).", self.max_request_head)
            self.transport.write(_RESPONSE_431)
            self.transport.close()

    def on_header(self, name: bytes, value: bytes) -> None:
        # httptools reports a chunked body's trailer fields here too, after the app has
        # the scope: uvicorn would append them to ``scope["headers"]`` (a trailer
        # ``X-Forwarded-Host`` would appear as a header to code reading headers late).
        # ASGI has no request trailers: they are dropped.
        if self._in_head:
            super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._head_bytes = 0
        if not self.url.startswith(b"/") and self.url != b"*":
            # An absolute-form target (``GET http://other/x``) names its own authority,
            # which overrides Host for a proxy or cache (RFC 9112 3.2.2), while uvicorn
            # keeps only the path: the Host guard would vouch for the wrong name. A server
            # (not a proxy) receives origin-form; h11 kept the whole URL as the path (404).
            raise _Refused("request target is not in origin form")
        super().on_headers_complete()
        if len(self.pipeline) > self.max_pipelined:
            # httptools parses every request of a read at once and uvicorn queues each
            # (h11 parsed one at a time): without a bound, one connection of small
            # pipelined requests queued thousands (measured: 6.5 MB sent, +210 MB held).
            raise _Refused("too many pipelined requests")

    def on_response_complete(self) -> None:
        super().on_response_complete()  # resumes reading, even with requests still queued
        if self.pipeline:
            self.flow.pause_reading()  # the queue drains before more is read

    def on_chunk_header(self) -> None:
        self._after_chunk_header = True

    def on_body(self, body: bytes) -> None:
        self._body_in_read = True
        self._after_chunk_header = False
        self._head_bytes = 0
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_head = self._completed = True
        self._after_chunk_header = False
        super().on_message_complete()
