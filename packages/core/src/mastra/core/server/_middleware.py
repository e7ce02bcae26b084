"""The auth middleware (SPEC 9.2): a pure ASGI middleware, no per-request task hops.

Order: CORS preflight → route match → CSRF → authentication (protected paths) →
request validation → permission → ACL → handler. Everything it learns about the
caller lands in ``request.state`` (``user``, ``token``, ``roles``, ``permissions``,
``session``) for handlers and ``require_permission``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..ee.crypto import parse_cookie_header
from ..ee.interfaces import maybe_await
from ..ee.license import is_feature_licensed
from ..ee.models import AuditResource, ResourceIdentifier
from ..ee.permissions import compile_permissions, derive_permission, effective_permission
from ._audit import record
from ._authn import AuthOutcome, authenticate_request, extract_token, rbac_access
from ._origin import is_allowed_origin, origin_of
from ._paths import compile_patterns, matches_any, relative_to_prefix
from ._responses import BodyError, error_response, parse_body, parse_query, validation_response
from ._spec import UNSAFE_METHODS, ApiRoute

if TYPE_CHECKING:
    from ._context import EEContext

__all__ = ["AuthMiddleware"]

logger = logging.getLogger("mastra.server")

_ACL_TYPES = {"agents": "agent", "workflows": "workflow", "tools": "tool"}
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
        outcome: AuthOutcome | None = None
        if not public:
            outcome = await self._authenticate(ctx, request)
            state = scope.setdefault("state", {})
            state.update(
                user=outcome.user,
                token=outcome.token,
                roles=outcome.roles,
                permissions=outcome.permissions,
                session=outcome.session,
            )
            state["mastra_auth"] = outcome
            extra += [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in outcome.headers]
            if outcome.request is not None and outcome.request is not request:
                scope = {**scope, "headers": outcome.request.scope["headers"]}
                request = Request(scope, receive)

        if route is not None and (route.body is not None or route.query is not None):
            receive = await _validate(route, request, scope, receive)

        if outcome is not None and outcome.user is not None:
            await self._authorize(ctx, request, route, method, check_path, outcome)
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

    async def _authenticate(self, ctx: EEContext, request: Request) -> AuthOutcome:
        cache = ctx.auth_cache
        key = cache.key(request, extract_token(request, ctx)) if cache.ttl > 0 else ""
        if not key:
            return await self._authenticate_uncached(ctx, request)
        cached = cache.get(key)
        if cached is not None:
            return cached
        pending = cache.pending(key)
        if pending is not None:
            # Another request is authenticating the same credentials: share its result
            # (a failure, or a revocation meanwhile, sends us through our own check).
            shared = await asyncio.shield(pending)
            if shared is not None:
                return shared
        generation = cache.generation
        future = cache.begin(key)
        shared = None
        try:
            outcome = await self._authenticate_uncached(ctx, request)
            shared = cache.shareable(outcome)
            if shared is not None:
                cache.put(key, shared, generation)
        finally:
            if future is not None:
                cache.finish(key, future, shared if generation == cache.generation else None)
        return outcome

    async def _authenticate_uncached(self, ctx: EEContext, request: Request) -> AuthOutcome:
        try:
            outcome = await authenticate_request(ctx, request, sliding=True)
        except Exception:
            logger.warning("authentication failed with an error", exc_info=True)
            outcome = AuthOutcome()
        if outcome.user is None:
            headers: list[tuple[str, str]] = []
            if outcome.session_id and ctx.auth.session is not None:
                try:
                    headers = list(await maybe_await(ctx.auth.session.get_clear_session_headers()))
                except Exception:
                    headers = []
            raise _Reject(error_response("Invalid or expired token", 401, headers=headers))
        access = await rbac_access(ctx, outcome.user)
        if access is not None:
            outcome.roles, outcome.permissions = access
        return outcome

    async def _authorize(
        self,
        ctx: EEContext,
        request: Request,
        route: ApiRoute | None,
        method: str,
        rel: str,
        outcome: AuthOutcome,
    ) -> None:
        auth = ctx.auth
        user = outcome.user
        assert user is not None
        segments = rel.strip("/").split("/")
        if auth.rbac is not None and is_feature_licensed(auth, "rbac"):
            required = effective_permission(
                route.permission if route is not None else None,
                method,
                rel,
                requires_auth=route.requires_auth if route is not None else True,
            )
            if required:
                wanted = [required] if isinstance(required, str) else list(required)
                if not compile_permissions(outcome.permissions).allows_any(wanted):
                    text = " or ".join(wanted)
                    await record(
                        request,
                        "authz.denied",
                        "denied",
                        user=user,
                        resource=AuditResource(
                            type=segments[0] or "route", id=segments[1] if len(segments) > 1 else rel
                        ),
                        metadata={"permission": text, "method": method, "path": request.url.path},
                    )
                    raise _Reject(
                        error_response("Forbidden", 403, message=f"Missing required permission: {text}")
                    )
        if auth.acl is not None and len(segments) >= 2 and segments[0] in _ACL_TYPES and segments[1]:
            if not is_feature_licensed(auth, "acl"):
                return
            kind = _ACL_TYPES[segments[0]]
            derived = derive_permission(method, rel) or "x:read"
            action = derived.split(":", 2)[1]
            resource = ResourceIdentifier(type=kind, id=segments[1])
            try:
                allowed = bool(await auth.acl.can_access(user, resource, action))
            except Exception:
                logger.warning("ACL provider failed", exc_info=True)
                allowed = False
            if not allowed:
                await record(
                    request,
                    "authz.denied",
                    "denied",
                    user=user,
                    resource=AuditResource(type=kind, id=segments[1]),
                    metadata={
                        "resource": f"{kind}:{segments[1]}",
                        "method": method,
                        "path": request.url.path,
                    },
                )
                raise _Reject(
                    error_response("Forbidden", 403, message=f"Access denied to {kind} '{segments[1]}'")
                )


def _is_trusted(origin: str, ctx: EEContext) -> bool:
    from ._origin import normalise_origin

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


def cookie_names(request: Request) -> set[str]:
    return set(parse_cookie_header(request.headers.get("cookie")))
