"""Model JSON shapes (SPEC 2): camelCase keys, millisecond UTC timestamps, omitted Nones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from mastra.core.ee.models import (
    AuditActor,
    AuditEvent,
    AuditFilter,
    EEUser,
    Pagination,
    Session,
    format_timestamp,
)
from pydantic import ValidationError


def test_user_json_is_camel_case_and_drops_none() -> None:
    user = EEUser(id="u1", email="a@b.c", avatar_url="https://x/a.png", metadata={"role": "admin"})
    assert user.to_json() == {
        "id": "u1",
        "email": "a@b.c",
        "avatarUrl": "https://x/a.png",
        "metadata": {"role": "admin"},
    }
    assert user.public_json() == {"id": "u1", "email": "a@b.c", "avatarUrl": "https://x/a.png"}


def test_models_accept_both_spellings() -> None:
    assert EEUser.model_validate({"id": "u", "avatarUrl": "x"}).avatar_url == "x"
    assert EEUser(id="u", avatar_url="y").avatar_url == "y"


def test_timestamps_are_utc_with_milliseconds_and_z() -> None:
    moment = datetime(2026, 3, 1, 13, 0, 0, 123456, tzinfo=timezone(timedelta(hours=1)))
    assert format_timestamp(moment) == "2026-03-01T12:00:00.123Z"
    # Naive values (SQLite drops tzinfo) are read as UTC.
    assert format_timestamp(datetime(2026, 3, 1, 12, 0)) == "2026-03-01T12:00:00.000Z"


def test_session_secret_never_in_repr_or_public_form() -> None:
    now = datetime.now(UTC)
    session = Session(id="secret-token-value", user_id="u", created_at=now, expires_at=now, handle="h1")
    assert "secret-token-value" not in repr(session)
    assert session.to_json()["expiresAt"].endswith("Z")


def test_audit_event_round_trips_through_json() -> None:
    event = AuditEvent(
        id="e1",
        seq=1,
        timestamp=datetime(2026, 3, 1, 12, tzinfo=UTC),
        actor=AuditActor(type="user", id="u1", user_agent="ua"),
        action="auth.sign-in",
        outcome="success",
        prev_hash="0" * 64,
        hash="f" * 64,
    )
    data = event.to_json()
    assert data["prevHash"] == "0" * 64 and data["actor"]["userAgent"] == "ua"
    assert AuditEvent.model_validate(data) == event


@pytest.mark.parametrize("bad", [{"type": "robot", "id": "x"}, {"id": "x"}])
def test_invalid_actor_is_a_validation_error(bad: dict[str, str]) -> None:
    with pytest.raises(ValidationError):
        AuditActor.model_validate(bad)


def test_pagination_bounds() -> None:
    assert Pagination().per_page == 50
    with pytest.raises(ValidationError):
        Pagination(per_page=501)
    with pytest.raises(ValidationError):
        Pagination(page=-1)
    assert AuditFilter.model_validate({"actionPrefix": "auth."}).action_prefix == "auth."
