"""Who is calling: the authentication of one request (SPEC 9.2, 8.1).

The credentials are read once (:class:`~mastra.core.ee.request_auth.RequestCredentials`:
the bearer token, ``?apiKey=`` where allowed, the session cookie) and kept on the
request, so a user provider resolving the cookie reuses the session validated here: the
session registry is read at most once per request. Then ``auth.authenticate`` (token
first, then the cookie; disabled users refused), one transparent refresh of a session
that no longer validates, the presented session (``request.state.session``) and, on
protected routes, the sliding refresh.

:class:`~._pipeline.AuthPipeline` is the only caller: it adds the cache, the roles and
permissions and the authorization answers.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.requests import Request

from ..ee.crypto import parse_cookie_header
from ..ee.db import is_database_outage
from ..ee.errors import AuthError, ProviderUnavailable
from ..ee.interfaces import maybe_await
from ..ee.models import EEUser, Session, utcnow
from ..ee.permissions import compile_permissions
from ..ee.request_auth import RequestCredentials

if TYPE_CHECKING:
    from ..ee.provider import MastraAuthProvider

__all__ = ["SLIDE_AFTER", "Caller", "authenticate"]

logger = logging.getLogger("mastra.server")

_DECISIONS_KEPT = 64

#: SPEC 8.1: a session last refreshed longer ago than this is slid forward.
SLIDE_AFTER = timedelta(seconds=60)


@dataclass
class Caller:
    """What the pipeline learned about who is calling."""

    user: EEUser | None = None
    token: str | None = field(default=None, repr=False)  # a credential: never in logs
    session: Session | None = None
    session_id: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)  # Set-Cookie from refreshes
    roles: list[str] = field(default_factory=list)
    permissions: list[str] = field(default_factory=list)
    #: Permissions are enforced for this caller (an RBAC slot, licensed); otherwise the
    #: server runs in auth-only mode and every permission is granted.
    rbac: bool = False
    request: Request | None = None  # the request copy carrying refreshed cookies
    #: The credential could not be checked (identity provider unreachable): refusals
    #: are 503, not 401 — the client has nothing to fix by signing in again.
    unavailable: ProviderUnavailable | None = None
    #: Why a presented API key was refused (its own 401 body, or 429): the answer.
    refusal: AuthError | None = None
    #: The API key that authenticated (``mastra.core.ee.api_keys.ApiKey``), if any.
    api_key: Any = None
    #: The key's scopes: permissions are then what both the owner's grants
    #: (``owner_permissions``) and the scopes cover; ``permissions`` shows that list.
    scopes: list[str] | None = None
    owner_permissions: list[str] = field(default_factory=list)
    #: ``holds`` answers for the lists they were decided on (those very lists:
    #: ``permissions``, ``owner_permissions``, ``scopes``): a cached caller serves many
    #: requests for the same few routes in its short life.
    _decisions: tuple[Any, Any, Any, dict[tuple[str, ...], bool]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def holds(self, wanted: Sequence[str]) -> bool:
        """Any of ``wanted`` is among the caller's permissions (the section 4 matcher);
        for an API key, among the owner's current permissions and the key's scopes."""
        memo = self._decisions
        if (
            memo is None
            or memo[0] is not self.permissions
            or memo[1] is not self.owner_permissions
            or memo[2] is not self.scopes
        ):
            memo = self._decisions = (self.permissions, self.owner_permissions, self.scopes, {})
        key = tuple(wanted)
        found = memo[3].get(key)
        if found is None:
            found = self._decide(key)
            if len(memo[3]) < _DECISIONS_KEPT:  # derived permissions of odd paths: bounded
                memo[3][key] = found
        return found

    def _decide(self, wanted: tuple[str, ...]) -> bool:
        if self.scopes is None:
            return compile_permissions(self.permissions).allows_any(wanted)
        owner, scoped = compile_permissions(self.owner_permissions), compile_permissions(self.scopes)
        return any(owner.allows(w) and scoped.allows(w) for w in wanted)

    def scoped(self, permission: str) -> bool:
        """An API key's scopes cover ``permission`` (always true without a key)."""
        return self.scopes is None or compile_permissions(self.scopes).allows(permission)

    def may(self, permission: str) -> bool:
        """``permission`` is granted (SPEC 11.1): without enforced permissions (auth-only
        mode) the owner side counts as ``*``, but an API key's scopes always bind."""
        if not self.rbac:
            return self.scoped(permission)
        return self.holds((permission,))

    def may_any(self, wanted: Sequence[str]) -> bool:
        """Any of ``wanted`` is granted, as :meth:`may`."""
        return any(self.may(permission) for permission in wanted)


def _request_with_cookies(request: Request, headers: list[tuple[str, str]]) -> Request:
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


async def authenticate(
    auth: MastraAuthProvider,
    request: Request,
    credentials: RequestCredentials,
    *,
    refresh: bool = True,
    sliding: bool = False,
) -> Caller:
    """Authenticate with ``credentials`` (read from ``request``); on failure try one
    transparent refresh; optionally slide the session. Never raises for a provider error."""
    credentials.attach(request)
    caller = Caller(token=credentials.token, session_id=credentials.session_id, request=request)
    user = await _user(auth, request, credentials.token)
    if user is None and refresh and credentials.session_id and auth.supports_refresh:
        user = await _refreshed(auth, caller, credentials)
    if user is None:
        return caller
    caller.user = user
    if caller.session is None and credentials.session_id:
        try:
            session = await credentials.session()  # already validated if the provider asked
        except Exception:
            session = None
        if session is not None and session.user_id == user.id:
            caller.session = session
    if sliding and caller.session is not None and auth.supports_refresh:
        await _slide(auth, caller)
    return caller


async def _user(auth: MastraAuthProvider, request: Request, token: str | None) -> EEUser | None:
    try:
        return await auth.authenticate(request, token)
    except ProviderUnavailable:
        raise  # not "unauthenticated": the pipeline answers 503
    except Exception as exc:
        if is_database_outage(exc):
            # The session registry or user table cannot be read: the credential is
            # unknown, not wrong — 503, never a sign-out.
            logger.error("database unavailable while authenticating: %s", exc)
            raise ProviderUnavailable() from exc
        logger.warning("user provider failed to authenticate a request", exc_info=True)
        return None


async def _refreshed(
    auth: MastraAuthProvider, caller: Caller, credentials: RequestCredentials
) -> EEUser | None:
    """SPEC 9.2: refresh the presented session and authenticate again with its new cookies."""
    sessions = auth.session
    if sessions is None or caller.request is None or credentials.session_id is None:
        return None
    try:
        renewed = await sessions.refresh_session(credentials.session_id)
        if renewed is None:
            return None
        headers = await _session_headers(auth, renewed)
        retry = _request_with_cookies(caller.request, headers)
        # The renewed session is valid by construction: hand it on instead of reading it again.
        RequestCredentials(
            token=credentials.token, sessions=sessions, session_id=renewed.id, session=renewed
        ).attach(retry)
        user = await _user(auth, retry, credentials.token)
    except Exception:
        logger.info("transparent session refresh failed", exc_info=True)
        return None
    if user is not None:
        caller.headers.extend(headers)
        caller.session = renewed
        caller.session_id = renewed.id
        caller.request = retry
    return user


async def _session_headers(auth: MastraAuthProvider, session: Session) -> list[tuple[str, str]]:
    return list(await maybe_await(auth.session.get_session_headers(session))) if auth.session else []


async def _slide(auth: MastraAuthProvider, caller: Caller) -> None:
    session, sessions = caller.session, auth.session
    if session is None or sessions is None or caller.session_id is None:
        return
    last = session.last_seen_at or session.created_at
    if utcnow() - last <= SLIDE_AFTER:
        return
    try:
        renewed = await sessions.refresh_session(caller.session_id)
    except Exception:
        logger.info("sliding session refresh failed", exc_info=True)
        return
    if renewed is not None:
        caller.headers.extend(await _session_headers(auth, renewed))
        caller.session = renewed
        caller.session_id = renewed.id
