"""CORS for the EE API (SPEC 9.2): trusted origins only, with credentials, only under
the API prefix and for the server root (the reference Studio probes ``GET /`` from its
own origin first). The host app's own CORS middleware keeps every other path, and where
both answer, ours wins: two ``Access-Control-Allow-Origin`` headers make browsers refuse
the response.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send

from ._origin import normalise_origin
from ._paths import relative_to_prefix
from ._responses import error_response

if TYPE_CHECKING:
    from ._context import EEContext

__all__ = ["allow_headers", "answer_preflight", "cors_applies", "is_trusted", "merge_headers", "probe_answer"]

_CORS_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
# The reference Studio sends the last two on every call (SPEC 9.2).
_CORS_HEADERS = (
    "Authorization",
    "Content-Type",
    "X-Requested-With",
    "x-api-key",
    "x-mastra-client-type",
    "x-mastra-dev-playground",
)
# Response headers our CORS owns on the paths it answers: a host middleware's copies are
# dropped there, as two ``Access-Control-Allow-Origin`` headers make browsers refuse both.
_CORS_OWNED = frozenset({b"access-control-allow-origin", b"access-control-allow-credentials"})


def is_trusted(origin: str, ctx: EEContext) -> bool:
    candidate = normalise_origin(origin)
    return candidate is not None and any(
        normalise_origin(t) == candidate for t in ctx.settings.trusted_origins
    )


_PROBE_BODY = b'{"status":"ok"}'


def probe_answer(send: Send) -> Send:
    """The reference Studio's first request is ``fetch(<server>/)`` from its own origin and
    needs a 2xx. ``fetch`` follows a redirect (our studio's ``/`` → ``/login``) to a page
    without CORS and fails, so a redirect answer to a trusted origin's ``GET /`` becomes
    ``200 {"status":"ok"}``; any other answer passes unchanged."""
    replaced = False

    async def wrapped(message: Message) -> None:
        nonlocal replaced
        if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
            replaced = True
            dropped = {b"location", b"content-length", b"content-type"}
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in dropped]
            headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(_PROBE_BODY))]
            message = {**message, "status": 200, "headers": headers}
        elif replaced and message["type"] == "http.response.body":
            if message.get("more_body"):
                return
            message = {"type": "http.response.body", "body": _PROBE_BODY}
        await send(message)

    return wrapped


def cors_applies(path: str, method: str, prefix: str) -> bool:
    """CORS is ours under the prefix and for ``GET /`` (the reference Studio probes the
    server root from its own origin first); the host app's CORS keeps the rest."""
    return relative_to_prefix(path, prefix) is not None or (path == "/" and method in {"GET", "HEAD"})


def allow_headers(ctx: EEContext) -> str:
    extra = [
        h for h in ctx.settings.cors_allow_headers if h.lower() not in {c.lower() for c in _CORS_HEADERS}
    ]
    return ", ".join([*_CORS_HEADERS, *extra])


def merge_headers(
    headers: list[tuple[bytes, bytes]], extra: list[tuple[bytes, bytes]]
) -> list[tuple[bytes, bytes]]:
    """``headers`` plus ``extra``; when ``extra`` carries our CORS answer, the inner
    response's own CORS headers give way and ``Vary`` values are merged into one header."""
    if not any(name == b"access-control-allow-origin" for name, _ in extra):
        return [*headers, *extra]
    vary: list[bytes] = []
    merged: list[tuple[bytes, bytes]] = []
    inner = [(name, value) for name, value in headers if name.lower() not in _CORS_OWNED]
    for name, value in [*inner, *extra]:
        if name.lower() != b"vary":
            merged.append((name, value))
            continue
        for item in (v.strip() for v in value.split(b",")):
            if item and item.lower() not in {seen.lower() for seen in vary}:
                vary.append(item)
    merged.append((b"vary", b", ".join(vary)))
    return merged


async def answer_preflight(
    trusted: bool, origin: str, allow_headers: str, scope: Scope, receive: Receive, send: Send
) -> None:
    if not trusted:
        response: Any = error_response("Forbidden", 403, message="Origin not allowed")
    else:
        response = Response(status_code=204)
        response.raw_headers.extend(
            [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-allow-methods", _CORS_METHODS.encode()),
                (b"access-control-allow-headers", allow_headers.encode("latin-1")),
                (b"access-control-max-age", b"600"),
                (b"vary", b"Origin"),
            ]
        )
    await response(scope, receive, send)
