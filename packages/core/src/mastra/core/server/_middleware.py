"""The auth middleware (SPEC 9.2): a pure ASGI middleware, no per-request task hops.

Order: CORS preflight → route match → CSRF → authentication (protected paths) →
request validation → permission → ACL → handler. Who the caller is and what they may
do is the app's :class:`~._pipeline.AuthPipeline`'s answer (the one path it shares with
``require_permission`` and the studio); what it learns lands in ``request.state``
(``user``, ``token``, ``roles``, ``permissions``, ``session``) for handlers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ee.request_auth import request_credentials
from ._origin import is_allowed_origin, normalise_origin, origin_of
from ._paths import compile_patterns, matches_any, relative_to_prefix
from ._pipeline import remember_caller
from ._responses import BodyError, error_response, parse_body, parse_query, validation_response
from ._spec import UNSAFE_METHODS, ApiRoute

if TYPE_CHECKING:
    from ._authn import Caller
    from ._context import EEContext

__all__ = ["AuthMiddleware"]

_CORS_METHODS = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
_CORS_HEADERS = "Authorization, Content-Type, X-Requested-With"
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


def _in_namespace(rel: str) -> bool:
    return any(rel == ns or rel.startswith(ns + "/") for ns in _OWN_NAMESPACES)


class _Reject(Exception):
    def __init__(self, response: Any) -> None:
        self.response = response


class AuthMiddleware:
    """Add with ``app.add_middleware(AuthMiddleware, ctx=ctx)`` (``mount_ee`` does it)."""

    def __init__(self, app: ASGIApp, ctx: EEContext | None = None) -> None:
        self.app = app
        self._ctx = ctx
        self._patterns: tuple[Any, Any] | None = None

    def _context(self, scope: Scope) -> EEContext:
        if self._ctx is None:
            self._ctx = scope["app"].state.mastra_ee
        return self._ctx

    def _compiled(self, ctx: EEContext) -> tuple[Any, Any]:
        if self._patterns is None:
            auth = ctx.settings.auth
            self._patterns = (compile_patterns(auth.public), compile_patterns(auth.protected))
        return self._patterns

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ctx = self._context(scope)
        request = Request(scope, receive)
        extra: list[tuple[bytes, bytes]] = []
        origin = request.headers.get("origin")
        if origin:
            trusted = _is_trusted(origin, ctx)
            if request.method == "OPTIONS" and "access-control-request-method" in request.headers:
                await _preflight(trusted, origin, scope, receive, send)
                return
            if trusted:
                extra += [
                    (b"access-control-allow-origin", origin.encode("latin-1")),
                    (b"access-control-allow-credentials", b"true"),
                    (b"vary", b"Origin"),
                ]
        try:
            scope, receive = await self._guard(ctx, request, scope, receive, extra)
        except _Reject as rejected:
            rejected.response.raw_headers.extend(extra)
            await rejected.response(scope, receive, send)
            return
        started = False

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                if extra:
                    message = dict(message)
                    message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except BodyTooLarge:
            if started:
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
    ) -> tuple[Scope, Receive]:
        path: str = scope["path"]
        method: str = scope["method"]
        prefix = ctx.prefix
        public_patterns, protected_patterns = self._compiled(ctx)
        rel = relative_to_prefix(path, prefix)

        route: ApiRoute | None = None
        if rel is not None:
            extra.append(_NOSNIFF)
            route, _ = ctx.table.match(method, rel)
            if _in_namespace(rel):
                extra.append(_NO_STORE)
                if route is None:
                    raise _Reject(_unmatched(ctx, rel))
            if route is not None:
                receive = _cap_body(request, receive, route.max_body)
        elif not matches_any(protected_patterns, method, path):
            return scope, receive  # outside the prefix: public unless configured otherwise

        # CSRF (S15): cookie-carrying unsafe requests, and the credential routes always.
        if method in UNSAFE_METHODS and (route is None or route.csrf_checked):
            needs = "cookie" in request.headers or (route is not None and route.csrf_without_cookie)
            if needs and not _origin_ok(request, ctx):
                raise _Reject(error_response("Forbidden", 403, message="Cross-origin request rejected"))

        check_path = rel if rel is not None else path
        public = ctx.auth.user is None or self._is_public(
            route, method, check_path, path, public_patterns, protected_patterns
        )
        caller: Caller | None = None
        if not public:
            caller = await ctx.pipeline.identify(request)
            if caller.user is None:
                raise _Reject((await ctx.pipeline.unauthenticated(caller)).response())
            remember_caller(scope, caller)
            extra += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in caller.headers]
            if caller.request is not None and caller.request is not request:
                # A transparent refresh: the handler sees the renewed cookies (and the
                # credentials read for them), not the expired ones.
                scope = {**scope, "headers": caller.request.scope["headers"]}
                request = Request(scope, receive)
                renewed = request_credentials(caller.request)
                if renewed is not None:
                    renewed.attach(request)

        if route is not None and (route.body is not None or route.query is not None):
            receive = await _validate(route, request, scope, receive)

        if caller is not None:
            denied = await ctx.pipeline.check_route(request, caller, route, method, check_path)
            if denied is not None:
                raise _Reject(denied.response())
        return scope, receive

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


def _is_trusted(origin: str, ctx: EEContext) -> bool:
    candidate = normalise_origin(origin)
    return candidate is not None and any(
        normalise_origin(t) == candidate for t in ctx.settings.trusted_origins
    )


def _origin_ok(request: Request, ctx: EEContext) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        origin = origin_of(request.headers.get("referer"))
    return is_allowed_origin(origin, request, ctx.settings)


async def _preflight(trusted: bool, origin: str, scope: Scope, receive: Receive, send: Send) -> None:
    from starlette.responses import Response

    if not trusted:
        response: Any = error_response("Forbidden", 403, message="Origin not allowed")
    else:
        response = Response(status_code=204)
        response.raw_headers.extend(
            [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"access-control-allow-methods", _CORS_METHODS.encode()),
                (b"access-control-allow-headers", _CORS_HEADERS.encode()),
                (b"access-control-max-age", b"600"),
                (b"vary", b"Origin"),
            ]
        )
    await response(scope, receive, send)


def _unmatched(ctx: EEContext, rel: str) -> Any:
    allowed = ctx.table.allowed_methods(rel)
    if allowed:
        return error_response("Method not allowed", 405, headers=[("allow", ", ".join(allowed))])
    return error_response("Not found", 404)


def _cap_body(request: Request, receive: Receive, limit: int) -> Receive:
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise _Reject(_too_large())  # refused before a byte is read
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
