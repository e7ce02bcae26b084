"""What a request presents to authenticate, read once: its bearer token and its session.

The host (``mastra.core.server``) reads the ``Authorization`` header and the session
cookie of a request once, into a :class:`RequestCredentials` it keeps on the request,
and validates the presented session at most once. A user provider resolving the
cookie's user asks :func:`presented_session` instead of reading the cookie and
validating it a second time::

    async def get_current_user(self, request):
        session = await presented_session(request, self.auth.session)
        return await self.get_user(session.user_id) if session else None

Called outside the server (a provider used on its own, a test) the request carries
nothing, and :func:`presented_session` reads the cookie and validates it itself: the
same answer, one read either way.

:func:`bearer_token` is the one parser of ``Authorization: Bearer`` (and of the
``?apiKey=`` fallback, SPEC 9.2) for the host and the providers alike.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .interfaces import ISessionProvider, maybe_await

if TYPE_CHECKING:
    from starlette.requests import HTTPConnection

    from .models import Session

__all__ = ["RequestCredentials", "bearer_token", "presented_session", "request_credentials"]

# A key of the ASGI scope, so every ``Request`` built over the same scope sees it.
_SCOPE_KEY = "mastra.credentials"
_QUERY_TOKEN_METHODS = frozenset({"GET", "HEAD"})


def bearer_token(request: HTTPConnection, *, query_token: bool = False) -> str | None:
    """``Authorization: Bearer <t>``; else, when ``query_token`` is on and the request is a
    GET or HEAD, ``?apiKey=<t>``. ``None`` when neither carries a non-empty token."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if (
        query_token
        and request.scope.get("method") in _QUERY_TOKEN_METHODS
        and request.scope.get("query_string")
    ):
        return request.query_params.get("apiKey") or None
    return None


class RequestCredentials:
    """The bearer token and session id one request presents, and its session, validated
    by ``sessions`` (the composed session slot) the first time it is asked for."""

    def __init__(
        self,
        *,
        token: str | None,
        sessions: ISessionProvider | None,
        session_id: str | None,
        session: Session | None = None,
    ) -> None:
        self.token = token
        self.sessions = sessions
        self.session_id = session_id
        self._session = session
        self._validated = session is not None  # a session handed in is valid by construction

    @classmethod
    async def read(
        cls, request: HTTPConnection, sessions: ISessionProvider | None, *, token: str | None = None
    ) -> RequestCredentials:
        """Read the session cookie through ``sessions`` (a provider error reads as no
        cookie); ``token`` is the request's :func:`bearer_token`, parsed by the caller."""
        session_id: str | None = None
        if sessions is not None:
            try:
                session_id = await maybe_await(sessions.get_session_id_from_request(request))  # type: ignore[arg-type]
            except Exception:
                session_id = None
        return cls(token=token, sessions=sessions, session_id=session_id or None)

    async def session(self) -> Session | None:
        """The presented session if it is valid; the registry is asked once per request."""
        if not self._validated:
            if self.sessions is not None and self.session_id:
                self._session = await self.sessions.validate_session(self.session_id)
            self._validated = True
        return self._session

    def attach(self, request: HTTPConnection) -> None:
        """Keep these credentials on ``request`` for the providers it is handed to."""
        request.scope[_SCOPE_KEY] = self


def request_credentials(request: HTTPConnection) -> RequestCredentials | None:
    """The credentials the host read for ``request``, or ``None`` outside the host."""
    found = getattr(request, "scope", {}).get(_SCOPE_KEY)
    return found if isinstance(found, RequestCredentials) else None


async def presented_session(request: HTTPConnection, sessions: ISessionProvider) -> Session | None:
    """The valid session ``request`` presents to ``sessions``, or ``None``.

    Inside the server this is the session the host already read (validated at most once
    per request); elsewhere the cookie is read and validated here.
    """
    credentials = request_credentials(request)
    if credentials is None or credentials.sessions is not sessions:
        credentials = await RequestCredentials.read(request, sessions)
    return await credentials.session()
