"""Names and emails that could hide or reorder text are refused at the HTTP layer
(S26, finding 9 of the attack review), before they reach a provider or the audit log."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastra.core.ee.models import AuditFilter, Pagination
from mastra.core.testing.reference import reference_app, reference_settings

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"
UNSAFE = ["\x1b[31mred", "evil\u202egnp.exe", "zero\u200bwidth", "line\u2028break", "bell\x07", "del\x7f"]


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url))


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def all_events(app: Any) -> list[Any]:
    page = await app.state.mastra_ee.auth.audit_storage.list(AuditFilter(), Pagination(per_page=500))
    return list(page.events)


@pytest.mark.parametrize("bad", UNSAFE)
async def test_sign_up_refuses_unsafe_names(app: Any, bad: str) -> None:
    async with client_for(app) as c:
        r = await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "ann@example.com", "password": PASSWORD, "name": bad},
            headers=ORIGIN,
        )
    assert r.status_code == 400
    assert r.json()["error"].startswith("Name must not contain ")
    assert await app.state.mastra_ee.auth.user.count_users() == 0
    [event] = await all_events(app)
    assert event.action == "auth.sign-up" and event.outcome == "failure"
    assert event.metadata["reason"] == "unsafe_name"
    assert bad not in event.model_dump_json()


@pytest.mark.parametrize("bad", UNSAFE)
async def test_sign_up_refuses_unsafe_emails(app: Any, bad: str) -> None:
    email = f"{bad.replace(' ', '')}@example.com"
    async with client_for(app) as c:
        r = await c.post(
            "/api/auth/credentials/sign-up", json={"email": email, "password": PASSWORD}, headers=ORIGIN
        )
    assert r.status_code == 400
    assert r.json()["error"].startswith("Email must not contain ")
    assert await app.state.mastra_ee.auth.user.count_users() == 0
    assert all(email not in e.model_dump_json() for e in await all_events(app))


@pytest.mark.parametrize("path", ["/api/auth/credentials/sign-in", "/api/auth/credentials/password-reset"])
@pytest.mark.parametrize("bad", UNSAFE)
async def test_sign_in_and_reset_request_refuse_unsafe_emails_before_auditing(
    app: Any, path: str, bad: str
) -> None:
    email = f"x{bad.replace(' ', '')}@example.com"
    body: dict[str, str] = {"email": email}
    if path.endswith("sign-in"):
        body["password"] = PASSWORD
    async with client_for(app) as c:
        r = await c.post(path, json=body, headers=ORIGIN)
    assert r.status_code == 400
    assert r.json()["error"] == "Invalid request"
    message = r.json()["issues"][0]["message"]
    assert "must not contain" in message or "should match pattern" in message  # U+2028 is whitespace
    assert await all_events(app) == []


async def test_reset_request_validates_the_email_shape_like_sign_in(app: Any) -> None:
    async with client_for(app) as c:
        r = await c.post(
            "/api/auth/credentials/password-reset", json={"email": "not an email"}, headers=ORIGIN
        )
    assert r.status_code == 400
    assert await all_events(app) == []


async def test_visible_unicode_names_are_kept(app: Any) -> None:
    async with client_for(app) as c:
        r = await c.post(
            "/api/auth/credentials/sign-up",
            json={"email": "zoe@example.com", "password": PASSWORD, "name": "Zoë 山田\u3000Ἀθηνᾶ"},
            headers=ORIGIN,
        )
    assert r.status_code == 201, r.text
