"""Conformance suite for ``ISessionProvider`` (SPEC 3.2, 8.1, S1–S3, S8).

Subclass :class:`SessionProviderConformance` in a test module and supply an async or
sync ``provider`` fixture. Class flags describe optional behaviour:

* ``supports_listing`` — the provider is a
  :class:`~mastra.core.ee.interfaces.SupportsSessionListing`; when ``False`` the suite
  checks that it is not one (the host would offer session management otherwise);
* ``controls_clock`` — the provider reads time from the suite's ``clock`` fixture
  (a :class:`FakeClock`, pass it as the provider's ``clock``). A provider whose session
  lifetimes belong to its identity provider sets ``False`` and says why in
  ``clock_skip_reason``: the four expiry tests then show as skipped with that reason;
* ``idle_timeout`` / ``absolute_timeout`` — what the fixture configured;
* ``preserves_metadata`` — ``validate_session`` returns the metadata given at creation.

Override the ``user_ids`` fixture when sessions need real users (e.g. a user table),
and :meth:`~SessionProviderConformance.new_session` when only a login at the identity
provider creates a session (WorkOS, Mastra Cloud, OIDC).

Example::

    class TestMine(SessionProviderConformance):
        @pytest.fixture
        def provider(self, clock):
            return MySessionProvider(clock=clock)
"""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from starlette.requests import Request

from ..ee.interfaces import ISessionProvider, SupportsSessionListing
from ..ee.models import Session
from ._clock import FakeClock

__all__ = ["FakeClock", "SessionProviderConformance", "cookie_pairs", "request_with_cookies"]

START = datetime(2026, 3, 1, 12, 0, 0, tzinfo=UTC)


def cookie_pairs(headers: list[tuple[str, str]]) -> dict[str, str]:
    """``name -> value`` of every ``Set-Cookie`` header (what a browser would send back)."""
    pairs: dict[str, str] = {}
    for key, value in headers:
        if key.lower() != "set-cookie":
            continue
        name, _, rest = value.partition("=")
        pairs[name.strip()] = rest.split(";", 1)[0]
    return pairs


def request_with_cookies(cookies: dict[str, str] | str | None = None, **headers: str) -> Request:
    """A Starlette request carrying ``cookies`` (a dict or a raw ``Cookie`` header)."""
    raw = cookies if isinstance(cookies, str) else "; ".join(f"{k}={v}" for k, v in (cookies or {}).items())
    items = [(b"host", b"testserver")]
    if raw:
        items.append((b"cookie", raw.encode("latin-1")))
    items.extend((k.replace("_", "-").lower().encode(), v.encode("latin-1")) for k, v in headers.items())
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/",
        "query_string": b"",
        "headers": items,
        "scheme": "http",
        "server": ("testserver", 80),
        "client": ("127.0.0.1", 1234),
    }
    return Request(scope)


def _garbage_ids() -> list[str]:
    return [
        "x",
        "null",
        "v1.deadbeef.AAAA",
        "v1..",
        "%",
        "\x00",
        "💥",
        secrets.token_urlsafe(32),
        "a" * 5000,
        "v2." + secrets.token_urlsafe(40),
    ]


_CLOCK_TESTS = (
    "test_idle_expiry",
    "test_refresh_slides_idle_window",
    "test_refresh_never_passes_absolute_expiry",
    "test_expired_session_not_listed",
)


def _skipped(name: str, reason: str) -> Any:
    """A stand-in for a suite test the provider cannot run: reported as skipped with
    ``reason``, so the gap shows in every test run instead of the test vanishing."""

    @pytest.mark.skip(reason=reason)
    def test(self: Any) -> None:
        raise AssertionError("skipped")

    test.__name__ = test.__qualname__ = name
    return test


class SessionProviderConformance:
    supports_listing: bool = True
    controls_clock: bool = True
    #: Why the provider's session lifetimes cannot follow the suite's clock (required
    #: when ``controls_clock`` is ``False``).
    clock_skip_reason: str = ""
    preserves_metadata: bool = True
    idle_timeout: int = 1800
    absolute_timeout: int = 43200

    @pytest.fixture
    def clock(self) -> FakeClock:
        return FakeClock(START)

    @pytest.fixture
    def user_ids(self) -> tuple[str, str]:
        return ("user-1", "user-2")

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not cls.controls_clock:
            if not cls.clock_skip_reason:
                raise TypeError(f"{cls.__name__}: controls_clock = False needs a clock_skip_reason")
            for name in _CLOCK_TESTS:
                setattr(cls, name, _skipped(name, cls.clock_skip_reason))

    # -- hooks ----------------------------------------------------------------------

    async def new_session(self, provider: Any, user_id: str, metadata: dict[str, Any]) -> Session:
        """A new session of ``user_id``: ``provider.create_session`` unless overridden
        by a provider whose sessions only a login at its identity provider creates."""
        session: Session = await provider.create_session(user_id, metadata)
        return session

    # -- helpers ------------------------------------------------------------------

    def _need_listing(self, provider: Any) -> bool:
        assert isinstance(provider, SupportsSessionListing) is self.supports_listing
        return self.supports_listing

    # -- create / validate ----------------------------------------------------------

    async def test_is_a_session_provider(self, provider: Any) -> None:
        assert isinstance(provider, ISessionProvider)
        assert isinstance(provider, SupportsSessionListing) is self.supports_listing

    async def test_create_returns_valid_session(self, provider: Any, user_ids: tuple[str, str]) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        assert isinstance(session, Session)
        assert session.user_id == user_ids[0]
        assert isinstance(session.id, str) and session.id
        assert session.created_at.tzinfo is not None
        assert session.created_at < session.expires_at
        assert session.expires_at <= session.created_at + timedelta(seconds=self.absolute_timeout)
        validated = await provider.validate_session(session.id)
        assert validated is not None
        assert validated.user_id == user_ids[0]
        assert validated.handle == session.handle

    async def test_metadata_is_kept(self, provider: Any, user_ids: tuple[str, str]) -> None:
        session = await self.new_session(provider, user_ids[0], {"sso": "conformance"})
        validated = await provider.validate_session(session.id)
        assert validated is not None
        if self.preserves_metadata:
            assert validated.metadata.get("sso") == "conformance"

    async def test_ids_and_handles_are_unique(self, provider: Any, user_ids: tuple[str, str]) -> None:
        sessions = [await self.new_session(provider, user_ids[0], {}) for _ in range(8)]
        assert len({s.id for s in sessions}) == 8
        handles = [s.handle for s in sessions if s.handle is not None]
        assert len(set(handles)) == len(handles)
        # >= 128 bits: a base64/hex encoding of 16 bytes is at least 22 characters.
        assert all(len(s.id) >= 22 for s in sessions)
        assert all(len(h) >= 32 for h in handles)

    async def test_garbage_ids_are_rejected(self, provider: Any, user_ids: tuple[str, str]) -> None:
        for garbage in _garbage_ids():
            assert await provider.validate_session(garbage) is None
            assert await provider.refresh_session(garbage) is None
            await provider.destroy_session(garbage)  # must not raise

    async def test_tampered_id_is_rejected(self, provider: Any, user_ids: tuple[str, str]) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        middle = len(session.id) // 2
        flipped = "A" if session.id[middle] != "A" else "B"
        tampered = session.id[:middle] + flipped + session.id[middle + 1 :]
        assert await provider.validate_session(tampered) is None
        assert await provider.validate_session(session.id[:-2]) is None
        assert await provider.validate_session(session.id + "A") is None

    # -- cookies ------------------------------------------------------------------

    async def test_session_headers_round_trip(self, provider: Any, user_ids: tuple[str, str]) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        headers = provider.get_session_headers(session)
        assert headers and all(k.lower() == "set-cookie" for k, _ in headers)
        for _, value in headers:
            attributes = [a.strip() for a in value.split(";")[1:]]
            assert "HttpOnly" in attributes and "Path=/" in attributes and "SameSite=Lax" in attributes
            assert len(value.split(";", 1)[0].encode()) < 4096
        request = request_with_cookies(cookie_pairs(headers))
        session_id = provider.get_session_id_from_request(request)
        assert session_id is not None
        validated = await provider.validate_session(session_id)
        assert validated is not None and validated.user_id == user_ids[0]

    async def test_no_cookie_means_no_session_id(self, provider: Any) -> None:
        assert provider.get_session_id_from_request(request_with_cookies()) is None
        assert provider.get_session_id_from_request(request_with_cookies({"other": "value"})) is None

    async def test_clear_headers_expire_every_cookie(self, provider: Any, user_ids: tuple[str, str]) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        set_names = set(cookie_pairs(provider.get_session_headers(session)))
        clear = provider.get_clear_session_headers()
        assert clear
        cleared = cookie_pairs(clear)
        assert set_names <= set(cleared)
        assert all(value == "" for value in cleared.values())
        assert all("Max-Age=0" in value for _, value in clear)

    # -- destroy / refresh ----------------------------------------------------------

    async def test_destroy_is_final_and_idempotent(self, provider: Any, user_ids: tuple[str, str]) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        await provider.destroy_session(session.id)
        assert await provider.validate_session(session.id) is None
        assert await provider.refresh_session(session.id) is None
        await provider.destroy_session(session.id)
        assert await provider.validate_session(session.id) is None

    async def test_refresh_keeps_the_session(self, provider: Any, user_ids: tuple[str, str]) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        refreshed = await provider.refresh_session(session.id)
        assert refreshed is not None
        assert refreshed.user_id == user_ids[0]
        assert refreshed.created_at == session.created_at
        assert refreshed.handle == session.handle
        validated = await provider.validate_session(refreshed.id)
        assert validated is not None and validated.user_id == user_ids[0]
        await provider.destroy_session(refreshed.id)
        assert await provider.validate_session(refreshed.id) is None
        assert await provider.validate_session(session.id) is None

    # -- time (S3) ------------------------------------------------------------------

    async def test_idle_expiry(self, provider: Any, clock: FakeClock, user_ids: tuple[str, str]) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        clock.advance(self.idle_timeout - 1)
        assert await provider.validate_session(session.id) is not None
        clock.advance(2)
        assert await provider.validate_session(session.id) is None
        assert await provider.refresh_session(session.id) is None

    async def test_refresh_slides_idle_window(
        self, provider: Any, clock: FakeClock, user_ids: tuple[str, str]
    ) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        clock.advance(self.idle_timeout - 120)
        refreshed = await provider.refresh_session(session.id)
        assert refreshed is not None
        assert refreshed.last_seen_at is not None and refreshed.last_seen_at > session.created_at
        clock.advance(240)  # past the original idle expiry, inside the slid one
        assert await provider.validate_session(refreshed.id) is not None

    async def test_refresh_never_passes_absolute_expiry(
        self, provider: Any, clock: FakeClock, user_ids: tuple[str, str]
    ) -> None:
        session = await self.new_session(provider, user_ids[0], {})
        absolute = session.created_at + timedelta(seconds=self.absolute_timeout)
        step = max(61, self.idle_timeout // 2)
        current = session
        while clock() + timedelta(seconds=step) <= absolute:
            clock.advance(step)
            refreshed = await provider.refresh_session(current.id)
            assert refreshed is not None
            assert refreshed.expires_at <= absolute
            current = refreshed
        clock.current = absolute + timedelta(seconds=1)
        assert await provider.validate_session(current.id) is None
        assert await provider.refresh_session(current.id) is None

    async def test_expired_session_not_listed(
        self, provider: Any, clock: FakeClock, user_ids: tuple[str, str]
    ) -> None:
        if not self._need_listing(provider):
            return
        await self.new_session(provider, user_ids[0], {})
        clock.advance(self.idle_timeout + 1)
        assert await provider.list_sessions(user_ids[0]) == []

    # -- listing and revocation (optional) ---------------------------------------------

    async def test_list_sessions_hides_secrets(self, provider: Any, user_ids: tuple[str, str]) -> None:
        if not self._need_listing(provider):
            return
        mine = [
            await self.new_session(
                provider, user_ids[0], {"ip": "203.0.113.9", "userAgent": "conformance/1"}
            ),
            await self.new_session(
                provider, user_ids[0], {"ip": "203.0.113.10", "userAgent": "conformance/2"}
            ),
        ]
        await self.new_session(provider, user_ids[1], {})
        listed = await provider.list_sessions(user_ids[0])
        assert {s.handle for s in listed} == {s.handle for s in mine}
        dumped = json.dumps([s.to_json() for s in listed])
        for session in mine:
            assert session.id not in dumped
        for item in listed:
            assert item.id == item.handle
            assert item.user_id == user_ids[0]
        by_handle = {s.handle: s for s in listed}
        assert by_handle[mine[0].handle].metadata == {"ip": "203.0.113.9", "userAgent": "conformance/1"}

    async def test_revoke_session(self, provider: Any, user_ids: tuple[str, str]) -> None:
        if not self._need_listing(provider):
            return
        session = await self.new_session(provider, user_ids[0], {})
        assert session.handle
        assert await provider.revoke_session(user_ids[1], session.handle) is False
        assert await provider.validate_session(session.id) is not None
        assert await provider.revoke_session(user_ids[0], "0" * 32) is False
        assert await provider.revoke_session(user_ids[0], session.handle) is True
        assert await provider.validate_session(session.id) is None
        assert await provider.revoke_session(user_ids[0], session.handle) is False
        assert await provider.list_sessions(user_ids[0]) == []

    async def test_revoke_user_sessions(self, provider: Any, user_ids: tuple[str, str]) -> None:
        if not self._need_listing(provider):
            return
        mine = [await self.new_session(provider, user_ids[0], {}) for _ in range(3)]
        theirs = await self.new_session(provider, user_ids[1], {})
        assert await provider.revoke_user_sessions(user_ids[0], except_handle=mine[0].handle) == 2
        assert await provider.validate_session(mine[0].id) is not None
        assert await provider.validate_session(mine[1].id) is None
        assert await provider.validate_session(mine[2].id) is None
        assert await provider.validate_session(theirs.id) is not None
        assert await provider.revoke_user_sessions(user_ids[0]) == 1
        assert await provider.validate_session(mine[0].id) is None
        assert await provider.revoke_user_sessions(user_ids[0]) == 0
