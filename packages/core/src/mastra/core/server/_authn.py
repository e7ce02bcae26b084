"""Resolve the user of a request: token sources, transparent refresh, sliding refresh.

Shared by the middleware, ``/auth/me``, ``/auth/capabilities``, logout and
``require_permission`` so every entry point authenticates the same way (SPEC 9.2).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from starlette.requests import Request

from ..ee.crypto import parse_cookie_header, sha256_hex
from ..ee.interfaces import maybe_await
from ..ee.license import is_feature_licensed
from ..ee.models import EEUser, Session, utcnow

if TYPE_CHECKING:
    from ._context import EEContext

__all__ = ["AuthCache", "AuthOutcome", "authenticate_request", "extract_token", "rbac_access"]

logger = logging.getLogger("mastra.server")

#: SPEC 8.1: a session last refreshed longer ago than this is slid forward.
SLIDE_AFTER = timedelta(seconds=60)

# Session validations already done while authenticating the current request. The user
# provider (through the bound session slot) and the middleware both validate the same
# cookie; with the memo the registry is read once per request, not twice.
_validated: ContextVar[dict[str, Session | None] | None] = ContextVar(
    "mastra_validated_sessions", default=None
)


def install_session_memo(provider: Any) -> None:
    """Wrap ``provider.validate_session`` with the per-request memo (idempotent)."""
    original = getattr(provider, "validate_session", None)
    if original is None or getattr(original, "_mastra_memo", False):
        return

    async def validate_session(session_id: str) -> Session | None:
        memo = _validated.get()
        if memo is None:
            return cast("Session | None", await original(session_id))
        if session_id in memo:
            return memo[session_id]
        result = cast("Session | None", await original(session_id))
        memo[session_id] = result
        return result

    validate_session._mastra_memo = True  # type: ignore[attr-defined]
    try:
        provider.validate_session = validate_session
    except AttributeError:  # slotted or read-only provider: no memo, still correct
        pass


@dataclass
class AuthOutcome:
    user: EEUser | None = None
    token: str | None = None
    session: Session | None = None
    session_id: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)  # Set-Cookie from refreshes
    roles: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    request: Request | None = None  # the request copy carrying refreshed cookies


def extract_token(request: Request, ctx: EEContext) -> str | None:
    """``Authorization: Bearer`` first; ``?apiKey=`` only for GET/HEAD when enabled."""
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    if (
        request.scope.get("query_string")
        and ctx.settings.query_token_enabled
        and request.method in {"GET", "HEAD"}
    ):
        query_token = request.query_params.get("apiKey")
        if query_token:
            return query_token
    return None


def _session_id(ctx: EEContext, request: Request) -> str | None:
    provider = ctx.auth.session
    if provider is None or not hasattr(provider, "get_session_id_from_request"):
        return None
    try:
        sid = provider.get_session_id_from_request(request)
    except Exception:
        return None
    return sid or None


def _pairs_from_set_cookie(headers: list[tuple[str, str]]) -> dict[str, str | None]:
    pairs: dict[str, str | None] = {}
    for name, value in headers:
        if name.lower() != "set-cookie":
            continue
        first, _, attributes = value.partition(";")
        cookie, sep, cookie_value = first.strip().partition("=")
        if not sep or not cookie:
            continue
        expired = "max-age=0" in attributes.replace(" ", "").lower()
        pairs[cookie] = None if expired else cookie_value
    return pairs


def request_with_cookies(request: Request, headers: list[tuple[str, str]]) -> Request:
    """A copy of ``request`` whose ``Cookie`` header carries the new ``Set-Cookie`` pairs."""
    cookies: dict[str, str] = dict(parse_cookie_header(request.headers.get("cookie")))
    for name, value in _pairs_from_set_cookie(headers).items():
        if value is None:
            cookies.pop(name, None)
        else:
            cookies[name] = value
    raw = [(k, v) for k, v in request.scope["headers"] if k != b"cookie"]
    if cookies:
        raw.append((b"cookie", "; ".join(f"{k}={v}" for k, v in cookies.items()).encode("latin-1")))
    scope = dict(request.scope)
    scope["headers"] = raw
    return Request(scope, request.receive)


async def _authenticate(ctx: EEContext, request: Request, token: str | None) -> EEUser | None:
    try:
        return await ctx.auth.authenticate(request, token)
    except Exception:
        logger.warning("user provider failed to authenticate a request", exc_info=True)
        return None


async def _session_headers(ctx: EEContext, session: Session) -> list[tuple[str, str]]:
    return list(await maybe_await(ctx.auth.session.get_session_headers(session)))


async def authenticate_request(
    ctx: EEContext, request: Request, *, refresh: bool = True, sliding: bool = False
) -> AuthOutcome:
    """Authenticate; on failure try one transparent refresh; optionally slide the session."""
    marker = _validated.set({})
    try:
        return await _authenticate_request(ctx, request, refresh=refresh, sliding=sliding)
    finally:
        _validated.reset(marker)


async def _authenticate_request(
    ctx: EEContext, request: Request, *, refresh: bool, sliding: bool
) -> AuthOutcome:
    token = extract_token(request, ctx)
    outcome = AuthOutcome(token=token, request=request)
    outcome.session_id = _session_id(ctx, request)
    user = await _authenticate(ctx, request, token)
    if user is None and refresh and outcome.session_id and ctx.auth.supports_refresh:
        try:
            renewed = await ctx.auth.session.refresh_session(outcome.session_id)
            if renewed is not None:
                headers = await _session_headers(ctx, renewed)
                retry = request_with_cookies(request, headers)
                user = await _authenticate(ctx, retry, token)
                if user is not None:
                    outcome.headers.extend(headers)
                    outcome.session = renewed
                    outcome.session_id = renewed.id
                    outcome.request = retry
        except Exception:
            logger.info("transparent session refresh failed", exc_info=True)
    if user is None:
        return outcome
    outcome.user = user
    if outcome.session is None and outcome.session_id and ctx.auth.session is not None:
        try:
            session = await ctx.auth.session.validate_session(outcome.session_id)
        except Exception:
            session = None
        if session is not None and session.user_id == user.id:
            outcome.session = session
    if sliding and outcome.session is not None and ctx.auth.supports_refresh:
        await _slide(ctx, outcome)
    return outcome


async def _slide(ctx: EEContext, outcome: AuthOutcome) -> None:
    session = outcome.session
    assert session is not None
    last = session.last_seen_at or session.created_at
    if utcnow() - last <= SLIDE_AFTER:
        return
    try:
        renewed = await ctx.auth.session.refresh_session(outcome.session_id)
    except Exception:
        logger.info("sliding session refresh failed", exc_info=True)
        return
    if renewed is not None:
        outcome.headers.extend(await _session_headers(ctx, renewed))
        outcome.session = renewed
        outcome.session_id = renewed.id


def rbac_active(ctx: EEContext) -> bool:
    return ctx.auth.rbac is not None and is_feature_licensed(ctx.auth, "rbac")


async def rbac_access(ctx: EEContext, user: EEUser) -> tuple[list[str], list[str]] | None:
    """``(roles, permissions)`` when RBAC is active; ``None`` otherwise or on error."""
    if not rbac_active(ctx):
        return None
    try:
        roles = list(await ctx.auth.rbac.get_roles(user))
        permissions = list(await ctx.auth.rbac.get_permissions(user))
    except Exception:
        logger.warning("RBAC provider failed for user %s", user.id, exc_info=True)
        return None
    return roles, permissions


class AuthCache:
    """A short-lived cache of successful authentications, keyed by credential hash.

    Revocation: this process clears the cache on every sign-out, session revoke,
    password reset and role change it performs, so those take effect at once; a
    revocation made by *another* process (CLI, second server) is honoured within
    ``ttl`` seconds. ``ttl=0`` disables caching (the registry is read per request).

    Concurrent misses for one key share a single authentication (:meth:`pending` /
    :meth:`begin` / :meth:`finish`): when an entry expires under load, the requests
    that arrive meanwhile wait for the one registry read in flight instead of each
    reading the registry. :meth:`clear` forgets the reads in flight too, and a read
    that started before a :meth:`clear` is neither cached nor shared afterwards.
    """

    def __init__(self, ttl: float = 0.0, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: OrderedDict[str, tuple[float, AuthOutcome]] = OrderedDict()
        self._inflight: dict[str, asyncio.Future[AuthOutcome | None]] = {}
        self._generation = 0

    @staticmethod
    def key(request: Request, token: str | None) -> str:
        return sha256_hex(f"{token or ''}\x00{request.headers.get('cookie', '')}")

    @property
    def generation(self) -> int:
        """Bumped by :meth:`clear`; pass the value read before authenticating to :meth:`put`."""
        return self._generation

    def get(self, key: str) -> AuthOutcome | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._entries.pop(key, None)
            return None
        return entry[1]

    def shareable(self, outcome: AuthOutcome) -> AuthOutcome | None:
        """The copy of a successful outcome other requests may reuse (``None`` if none).

        Never one that has to set cookies; the copy drops ``request`` so a reuser keeps
        its own request headers.
        """
        if self.ttl <= 0 or outcome.user is None or outcome.headers:
            return None
        return replace(outcome, request=None)

    def put(self, key: str, outcome: AuthOutcome, generation: int | None = None) -> None:
        if self.ttl <= 0 or outcome.headers:
            return  # never cache a response that has to set cookies
        if generation is not None and generation != self._generation:
            return  # a revocation happened while this was being authenticated
        self._entries[key] = (time.monotonic() + self.ttl, outcome)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def pending(self, key: str) -> asyncio.Future[AuthOutcome | None] | None:
        """The authentication in flight for ``key`` on this event loop, if any."""
        future = self._inflight.get(key)
        if future is None or future.done() or future.get_loop() is not asyncio.get_running_loop():
            return None
        return future

    def begin(self, key: str) -> asyncio.Future[AuthOutcome | None] | None:
        """Register this request as the one authenticating ``key`` (when caching)."""
        if self.ttl <= 0:
            return None
        future: asyncio.Future[AuthOutcome | None] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        return future

    def finish(
        self, key: str, future: asyncio.Future[AuthOutcome | None], shared: AuthOutcome | None
    ) -> None:
        """Hand ``shared`` (or ``None``: authenticate yourselves) to the waiters."""
        if self._inflight.get(key) is future:
            del self._inflight[key]
        if not future.done():
            future.set_result(shared)

    def clear(self) -> None:
        self._generation += 1
        self._entries.clear()
        inflight, self._inflight = self._inflight, {}
        for future in inflight.values():
            if not future.done() and not future.get_loop().is_closed():
                future.get_loop().call_soon_threadsafe(_release, future)


def _release(future: asyncio.Future[AuthOutcome | None]) -> None:
    if not future.done():
        future.set_result(None)


def public_user(user: EEUser) -> dict[str, Any]:
    return user.public_json()
