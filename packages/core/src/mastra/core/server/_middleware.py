"""The auth middleware (SPEC 9.2): a pure ASGI middleware, no per-request task hops.

Order: CORS preflight → route match → CSRF → authentication (protected paths) →
request validation → permission → ACL → handler. Who the caller is and what they may
do is the app's :class:`~._pipeline.AuthPipeline`'s answer (the one path it shares with
``require_permission`` and the studio); what it learns lands in ``request.state``
(``user``, ``token``, ``roles``, ``permissions``, ``session``) for handlers. The CORS
rules are :mod:`._cors`'s.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ee.request_auth import request_credentials
from ._cors import allow_headers, answer_preflight, cors_applies, is_trusted, merge_headers, probe_answer
from ._dispatch import remember_route
from ._metrics import find_metrics
from ._origin import is_allowed_origin, origin_of
from ._paths import compile_patterns, matches_any, relative_to_prefix
from ._pipeline import remember_caller
from ._request import IndexedRequest
from ._responses import BodyError, error_response, parse_body, parse_query, validation_response
from ._spec import UNSAFE_METHODS, ApiRoute

if TYPE_CHECKING:
    from ._authn import Caller
    from ._context import EEContext
    from ._metrics import Metrics

__all__ = ["AuthMiddleware"]

_NO_STORE = (b"cache-control", b"no-store")
_NOSNIFF = (b"x-content-type-options", b"nosniff")
# Path namespaces the EE API owns under the prefix: unknown paths there are 404 for
# everybody (an authenticated caller must not learn "403" for a route that is not there).
_OWN_NAMESPACES = ("/auth", "/audit")


class BodyTooLarge(Exception):
    """Raised by the capped ``receive`` once a body passes its route's ``max_body``."""


def _capped(receive: Receive, limit: int) -> Receive:
    """``receive`` that counts body bytes and stops at ``limit`` (S25): a handler that
    reads the whole body (a webhook checking a signature) never holds more."""
    size = 0

    async def capped() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise BodyTooLarge
        return message

    return capped


def _too_large() -> Any:
    return error_response("Request body too large", 413)


_OWN_SUBPATHS = tuple(ns + "/" for ns in _OWN_NAMESPACES)


def _in_namespace(rel: str) -> bool:
    return rel.startswith(_OWN_SUBPATHS) or rel in _OWN_NAMESPACES


class _Reject(Exception):
    def __init__(self, response: Any) -> None:
        self.response = response


class AuthMiddleware:
    """Add with ``app.add_middleware(AuthMiddleware, ctx=ctx)`` (``mount_ee`` does it)."""

    def __init__(self, app: ASGIApp, ctx: EEContext | None = None, *, cors: bool = True) -> None:
        self.app = app
        self._ctx = ctx
        self._cors = cors  # ``False``: the host app's own CORS middleware answers everything
        self._patterns: tuple[Any, Any] | None = None
        self._prefix: str | None = None
        # The app whose metrics were looked up, and what was found (read once per app).
        self._metrics_app: Any = None
        self._metrics: Metrics | None = None

    def _context(self, scope: Scope) -> EEContext:
        if self._ctx is None:
            self._ctx = scope["app"].state.mastra_ee
        return self._ctx

    def _compiled(self, ctx: EEContext) -> tuple[Any, Any]:
        if self._patterns is None:
            auth = ctx.settings.auth
            self._patterns = (compile_patterns(auth.public), compile_patterns(auth.protected))
        return self._patterns

    def _api_prefix(self, ctx: EEContext) -> str:
        # Read once, like the patterns: the settings of a running app do not change.
        if self._prefix is None:
            self._prefix = ctx.prefix
        return self._prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app = scope.get("app")
        if app is not self._metrics_app:
            self._metrics_app, self._metrics = app, find_metrics(app) if app is not None else None
        metrics = self._metrics
        if metrics is None:
            await self._handle(scope, receive, send)
        else:
            await metrics.observe(scope, receive, send, self._handle)

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        ctx = self._context(scope)
        request = IndexedRequest(scope, receive)
        extra: list[tuple[bytes, bytes]] = []
        origin = request.headers.get("origin")
        preflight = request.headers.get("access-control-request-method")
        is_preflight = bool(origin) and request.method == "OPTIONS" and preflight is not None
        if origin and self._cors:
            method = preflight.upper() if is_preflight and preflight else request.method
            if cors_applies(scope["path"], method, self._api_prefix(ctx)):
                trusted = is_trusted(origin, ctx)
                if is_preflight:
                    await answer_preflight(trusted, origin, allow_headers(ctx), scope, receive, send)
                    return
                if trusted:
                    extra += [
                        (b"access-control-allow-origin", origin.encode("latin-1")),
                        (b"access-control-allow-credentials", b"true"),
                        (b"vary", b"Origin"),
                    ]
        if is_preflight:
            # Not ours to answer (``cors=False`` or a host path): the host's CORS
            # middleware does. A preflight carries no credentials and changes nothing.
            await self.app(scope, receive, send)
            return
        try:
            scope, receive, route = await self._guard(ctx, request, scope, receive, extra)
        except _Reject as rejected:
            rejected.response.raw_headers.extend(extra)
            await rejected.response(scope, receive, send)
            return
        downstream = _Downstream(send, extra, with_message=route is not None and route.source == "plugin")
        sender: Send = downstream.send
        if extra and scope["path"] == "/" and request.method in {"GET", "HEAD"}:
            sender = probe_answer(sender)
        try:
            await self.app(scope, receive, sender)
        except BodyTooLarge:
            if downstream.started:
                raise
            response = _too_large()
            response.raw_headers.extend(extra)
            await response(scope, receive, send)

    # -- the pipeline ----------------------------------------------------------------

    async def _guard(
        self,
        ctx: EEContext,
        request: Request,
        scope: Scope,
        receive: Receive,
        extra: list[tuple[bytes, bytes]],
    ) -> tuple[Scope, Receive, ApiRoute | None]:
        path: str = scope["path"]
        method: str = scope["method"]
        prefix = self._api_prefix(ctx)
        public_patterns, protected_patterns = self._compiled(ctx)
        rel = relative_to_prefix(path, prefix)

        route: ApiRoute | None = None
        if rel is not None:
            extra.append(_NOSNIFF)
            route, _ = ctx.table.match(method, rel)
            if route is not None:
                remember_route(scope, route)  # the router takes it instead of matching again
            if _in_namespace(rel):
                extra.append(_NO_STORE)
                if route is None:
                    raise _Reject(_unmatched(ctx, rel))
            if route is not None:
                receive = _cap_body(request, receive, route.max_body)
        elif not matches_any(protected_patterns, method, path):
            return scope, receive, None  # outside the prefix: public unless configured otherwise

        # CSRF (S15): cookie-carrying unsafe requests, and the credential routes always,
        # unless nothing says "browser": a request with none of the headers a browser
        # sends (a script, Node ``fetch`` on a server) cannot be forged by a web page.
        if method in UNSAFE_METHODS and (route is None or route.csrf_checked) and _from_browser(request):
            needs = "cookie" in request.headers or (route is not None and route.csrf_without_cookie)
            if needs and not _origin_ok(request, ctx):
                raise _Reject(error_response("Forbidden", 403, message="Cross-origin request rejected"))

        check_path = rel if rel is not None else path
        public = ctx.auth.user is None or self._is_public(
            route, method, check_path, path, public_patterns, protected_patterns
        )
        caller: Caller | None = None
        if not public:
            caller = ctx.pipeline.cached(request) or await ctx.pipeline.identify(request)
            if caller.user is None:
                raise _Reject((await ctx.pipeline.unauthenticated(caller)).response())
            remember_caller(scope, caller)
            if caller.headers:
                extra += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in caller.headers]
            if caller.request is not None and caller.request is not request:
                # A transparent refresh: the handler sees the renewed cookies (and the
                # credentials read for them), not the expired ones.
                scope = {**scope, "headers": caller.request.scope["headers"]}
                request = IndexedRequest(scope, receive)
                renewed = request_credentials(caller.request)
                if renewed is not None:
                    renewed.attach(request)

        if route is not None and (route.body is not None or route.query is not None):
            receive = await _validate(route, request, scope, receive)

        if caller is not None and not ctx.pipeline.passes_route(caller, route, method, check_path):
            denied = await ctx.pipeline.check_route(request, caller, route, method, check_path)
            if denied is not None:
                raise _Reject(denied.response())
        return scope, receive, route

    def _is_public(
        self,
        route: ApiRoute | None,
        method: str,
        rel: str,
        full: str,
        public_patterns: Any,
        protected_patterns: Any,
    ) -> bool:
        if matches_any(protected_patterns, method, rel, full):
            return False
        if route is not None and not route.requires_auth:
            return True
        if rel in {"", "/"} or rel == "/system" or rel.startswith("/system/"):
            return True
        return matches_any(public_patterns, method, rel, full)


# A browser attaches at least one of these to every cross-site request a page can make.
_BROWSER_HEADERS = ("cookie", "origin", "referer", "sec-fetch-site")


def _from_browser(request: Request) -> bool:
    return any(name in request.headers for name in _BROWSER_HEADERS)


def _origin_ok(request: Request, ctx: EEContext) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        origin = origin_of(request.headers.get("referer"))
    return is_allowed_origin(origin, request, ctx.settings)


class _Downstream:
    """The ``send`` the app below answers through (one wrapper, not one per concern):
    ``extra`` headers join the response start, and for a plugin route (``with_message``)
    a JSON error body lacking ``message`` gets one (SPEC 9: every error under the prefix
    carries ``message``, whoever wrote the handler). Only such error responses are held
    back, and they are small; everything else streams through."""

    __slots__ = ("_chunks", "_extra", "_held", "_send", "_with_message", "started")

    def __init__(self, send: Send, extra: list[tuple[bytes, bytes]], *, with_message: bool) -> None:
        self._send = send
        self._extra = extra
        self._with_message = with_message
        self._held: Message | None = None
        self._chunks: list[bytes] = []
        self.started = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            if self._extra:
                message = {**message, "headers": merge_headers(message.get("headers", []), self._extra)}
            if self._with_message and message["status"] >= 400:
                content_type = dict(message.get("headers", [])).get(b"content-type", b"")
                if content_type.startswith(b"application/json"):
                    self._held = message
                    return
        elif self._held is not None and message["type"] == "http.response.body":
            self._chunks.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            start, body = self._held, _add_message(b"".join(self._chunks))
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(body)).encode()))
            self.started = True
            await self._send({**start, "headers": headers})
            message = {"type": "http.response.body", "body": body, "more_body": False}
        self.started = True  # the response has begun: a late 413 can no longer replace it
        await self._send(message)


def _add_message(raw: bytes) -> bytes:
    try:
        body = json.loads(raw)
    except ValueError:
        return raw
    if not isinstance(body, dict) or "message" in body or not isinstance(body.get("error"), str):
        return raw
    return json.dumps({**body, "message": body["error"]}, separators=(",", ":")).encode()


def _unmatched(ctx: EEContext, rel: str) -> Any:
    allowed = ctx.table.allowed_methods(rel)
    if allowed:
        return error_response("Method not allowed", 405, headers=[("allow", ", ".join(allowed))])
    return error_response("Not found", 404)


def _cap_body(request: Request, receive: Receive, limit: int) -> Receive:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Reject(_too_large())  # refused before a byte is read
    # Counted even when no header announces a body: an ASGI middleware above this one
    # (request decompression in a host app) may deliver a body without either.
    return _capped(receive, limit)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        try:
            message = await receive()
        except BodyTooLarge:
            raise _Reject(_too_large()) from None
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


async def _validate(route: ApiRoute, request: Request, scope: Scope, receive: Receive) -> Receive:
    """Parse the body/query model into ``request.state``; replay the body downstream."""
    state = scope.setdefault("state", {})
    try:
        if route.query is not None:
            state["mastra_query"] = parse_query(request, route.query)
        if route.body is None:
            return receive
        body = await _read_body(receive)
        state["mastra_body"] = parse_body(body, route.body)
    except BodyError as exc:
        raise _Reject(validation_response(exc.issues)) from None
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
