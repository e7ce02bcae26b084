"""Better Auth's HTTP API in embedded mode and the password change route (issue 11, S5,
S7, S15, S21): one set of flows behind two dialects, over the real server app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from mastra.auth.better.plugin import plugin as better_plugin
from mastra.core.ee.plugins import PluginRegistry, build_auth

from .conftest import make_settings

ORIGIN = "http://localhost"
PASSWORD = "a good password"
NEW_PASSWORD = "a better password"
COOKIE = "better-auth.session_token"


def _app(database_url: str, **auth: Any) -> Any:
    from mastra.core.server import create_app

    settings = make_settings(
        database_url,
        auth={
            "user": "better",
            "credentials": "better",
            "session": "better",
            "rbac": "static",
            "audit_storage": "sql",
            **auth,
        },
    )
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(better_plugin, "better")
    return create_app(settings, auth=build_auth(settings, registry), registry=registry, reset_delay=0.01)


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return _app(sqlite_url)


def _client(app: Any, origin: str = ORIGIN) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url=ORIGIN, headers={"origin": origin}
    )


async def _sign_up(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    r = await client.post("/api/auth/sign-up/email", json={"email": email, "password": password, "name": "N"})
    assert r.status_code == 200, r.text
    return r


async def _events(owner: httpx.AsyncClient, action: str) -> list[dict[str, Any]]:
    r = await owner.get("/api/audit", params={"action": action, "perPage": 500})
    assert r.status_code == 200, r.text
    return list(r.json()["events"])


async def test_better_auth_shapes_and_cookie(app: Any) -> None:
    async with _client(app) as client:
        r = await _sign_up(client, "Ann@Example.com")
        body = r.json()
        assert set(body) == {"token", "user"} and len(body["token"]) == 32
        assert set(body["user"]) == {
            "id",
            "email",
            "name",
            "image",
            "emailVerified",
            "createdAt",
            "updatedAt",
        }
        assert body["user"]["email"] == "ann@example.com"
        assert r.headers["set-cookie"].startswith(f"{COOKIE}=")
        session = (await client.get("/api/auth/get-session")).json()
        assert session["user"]["id"] == body["user"]["id"]
        assert session["session"]["userId"] == body["user"]["id"]
        assert (await client.get("/api/auth/me")).json()["email"] == "ann@example.com"
        listed = (await client.get("/api/auth/list-sessions")).json()
        assert [s["id"] for s in listed] == [session["session"]["id"]]
        assert (await client.post("/api/auth/sign-out")).json() == {"success": True}
        assert (await client.get("/api/auth/get-session")).json() is None
        assert (await client.get("/api/auth/me")).json() is None

        wrong = await client.post(
            "/api/auth/sign-in/email", json={"email": "ann@example.com", "password": "x" * 9}
        )
        assert (wrong.status_code, wrong.json()) == (
            401,
            {
                "code": "INVALID_EMAIL_OR_PASSWORD",
                "message": "Invalid email or password",
                "error": "Invalid email or password",
            },
        )
        r = await client.get("/api/auth/list-sessions")
        assert (r.status_code, r.json()["code"]) == (401, "UNAUTHORIZED")
        r = await client.post(
            "/api/auth/sign-up/email", json={"email": "b@example.com", "password": "short", "name": "B"}
        )
        assert (r.status_code, r.json()["code"]) == (400, "PASSWORD_TOO_SHORT")
        assert r.json()["message"] == "Password must be at least 8 characters"
        r = await client.post(
            "/api/auth/sign-up/email", json={"email": "ann@example.com", "password": PASSWORD, "name": "A"}
        )
        assert (r.status_code, r.json()["code"]) == (422, "FAILED_TO_CREATE_USER")
        r = await client.post("/api/auth/sign-in/email", json={"email": "ann@example.com"})
        assert (r.status_code, r.json()["code"]) == (400, "VALIDATION_ERROR")


async def test_credentials_session_is_seen_by_get_session(app: Any) -> None:
    async with _client(app) as client:
        r = await client.post(
            "/api/auth/credentials/sign-up", json={"email": "c@example.com", "password": PASSWORD}
        )
        assert r.status_code == 201
        seen = (await client.get("/api/auth/get-session")).json()
        assert seen["user"]["email"] == "c@example.com"


async def test_mixed_attempts_share_the_rate_limits(app: Any) -> None:
    async with _client(app) as owner, _client(app) as client:
        await _sign_up(owner, "owner@example.com")
        await _sign_up(client, "victim@example.com")
        client.cookies.clear()
        wrong = {"email": "victim@example.com", "password": "wrong password 1"}
        for path in ["/api/auth/credentials/sign-in", "/api/auth/sign-in/email"] * 2 + [
            "/api/auth/sign-in/email"
        ]:
            assert (await client.post(path, json=wrong)).status_code == 401
        # The account limit (5 per 5 minutes) is full whichever dialect asks.
        for path in ("/api/auth/sign-in/email", "/api/auth/credentials/sign-in"):
            r = await client.post(path, json={"email": "victim@example.com", "password": PASSWORD})
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert r.json()["message"] == "Too many attempts. Try again later."
        r = await client.post("/api/auth/sign-in/email", json=wrong)
        assert (
            r.json()["code"] == "TOO_MANY_REQUESTS" and r.headers["x-retry-after"] == r.headers["retry-after"]
        )
        events = await _events(owner, "auth.sign-in")
        refused = [e["metadata"]["reason"] for e in events if e["outcome"] == "failure"]
        assert refused == ["rate_limited"] * 3 + ["invalid_credentials"] * 5
        assert all(e["actor"]["email"] == "victim@example.com" for e in events if e["outcome"] == "failure")
        assert PASSWORD not in str(events) and "wrong password 1" not in str(events)


async def test_cross_origin_posts_are_refused(app: Any) -> None:
    async with _client(app, origin="https://evil.example") as evil:
        for path, body in (
            ("/api/auth/sign-in/email", {"email": "a@example.com", "password": PASSWORD}),
            ("/api/auth/sign-up/email", {"email": "a@example.com", "password": PASSWORD, "name": "A"}),
            ("/api/auth/request-password-reset", {"email": "a@example.com"}),
            ("/api/auth/change-password", {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
            (
                "/api/auth/credentials/change-password",
                {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD},
            ),
        ):
            r = await evil.post(path, json=body, headers={"sec-fetch-site": "cross-site"})
            assert r.status_code == 403, (path, r.text)


@pytest.mark.parametrize(
    ("path", "ok_body"),
    [
        ("/api/auth/credentials/change-password", {"success": True}),
        ("/api/auth/change-password", None),  # {"token", "user"}
    ],
)
async def test_change_password_keeps_the_caller_and_revokes_the_rest(
    app: Any, path: str, ok_body: Any
) -> None:
    async with _client(app) as caller, _client(app) as other:
        await _sign_up(caller, "pat@example.com")
        r = await other.post(
            "/api/auth/sign-in/email", json={"email": "pat@example.com", "password": PASSWORD}
        )
        assert r.status_code == 200
        old_caller_cookie = caller.cookies[COOKIE]

        r = await caller.post(path, json={"currentPassword": "not the password", "newPassword": NEW_PASSWORD})
        assert r.status_code == 400
        assert r.json()["message"] == "Invalid password"
        r = await caller.post(path, json={"currentPassword": PASSWORD, "newPassword": "password"})
        assert (r.status_code, r.json()["message"]) == (400, "Password is too common")

        r = await caller.post(path, json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
        assert r.status_code == 200, r.text
        if ok_body is not None:
            assert r.json() == ok_body
        else:
            assert len(r.json()["token"]) == 32 and r.json()["user"]["email"] == "pat@example.com"
        assert caller.cookies[COOKIE] != old_caller_cookie  # a fresh session
        assert (await caller.get("/api/auth/me")).json()["email"] == "pat@example.com"
        assert (await other.get("/api/auth/me")).json() is None  # S5: every other session revoked
        async with _client(app) as stale:
            stale.cookies.set(COOKIE, old_caller_cookie)
            assert (await stale.get("/api/auth/me")).json() is None
        assert len((await caller.get("/api/auth/list-sessions")).json()) == 1

        bad = await other.post(
            "/api/auth/sign-in/email", json={"email": "pat@example.com", "password": PASSWORD}
        )
        assert bad.status_code == 401
        good = await other.post(
            "/api/auth/credentials/sign-in", json={"email": "pat@example.com", "password": NEW_PASSWORD}
        )
        assert good.status_code == 200

        events = await _events(caller, "auth.password-change")
        assert [(e["outcome"], e["metadata"].get("reason")) for e in events] == [
            ("success", None),
            ("failure", "password_policy"),
            ("failure", "invalid_password"),
        ]
        assert all(e["actor"]["email"] == "pat@example.com" for e in events)
        assert PASSWORD not in str(events) and NEW_PASSWORD not in str(events)


async def test_wrong_current_password_counts_against_the_limits(app: Any) -> None:
    async with _client(app) as client:
        await _sign_up(client, "lim@example.com")
        wrong = {"currentPassword": "not the password", "newPassword": NEW_PASSWORD}
        for path in ["/api/auth/credentials/change-password", "/api/auth/change-password"] * 2 + [
            "/api/auth/change-password"
        ]:
            assert (await client.post(path, json=wrong)).status_code == 400
        r = await client.post("/api/auth/credentials/change-password", json=wrong)
        assert (r.status_code, r.json()["error"]) == (429, "Too many attempts. Try again later.")
        assert int(r.headers["retry-after"]) > 0
        r = await client.post("/api/auth/change-password", json=wrong)
        assert (r.status_code, r.json()["code"]) == (429, "TOO_MANY_REQUESTS")
        reasons = [e["metadata"]["reason"] for e in await _events(client, "auth.password-change")]
        assert reasons == ["rate_limited"] * 2 + ["invalid_password"] * 5


async def test_change_password_needs_a_session(app: Any) -> None:
    async with _client(app) as client:
        body = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
        r = await client.post("/api/auth/credentials/change-password", json=body)
        assert r.status_code == 401 and "message" in r.json()
        r = await client.post("/api/auth/change-password", json=body)
        assert (r.status_code, r.json()["code"]) == (401, "UNAUTHORIZED")


async def test_an_api_key_never_acts_as_a_browser_session(app: Any) -> None:
    """A key (even scoped ``*``) reaches neither password change nor Better Auth's session
    API: those act on the person's sign-in, which a key must not read, kill or replace
    with a cookie (its scopes bind only on our own routes)."""
    async with _client(app) as owner:
        r = await _sign_up(owner, "kay@example.com")
        user_id = r.json()["user"]["id"]
        keys = app.state.mastra_ee.auth.api_keys
        key = (await keys.create_key("user", user_id, name="all", scopes=["*"])).secret
        change = {"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
        async with _client(app, origin=ORIGIN) as machine:
            machine.headers["x-api-key"] = key
            r = await machine.post("/api/auth/credentials/change-password", json=change)
            assert (r.status_code, r.json()["error"]) == (403, "API keys cannot change passwords"), r.text
            assert "set-cookie" not in r.headers
            for method, path, body in [
                ("POST", "/api/auth/change-password", change),
                ("GET", "/api/auth/list-sessions", None),
                ("POST", "/api/auth/revoke-session", {"token": "x"}),
                ("POST", "/api/auth/update-user", {"name": "Mallory"}),
            ]:
                r = await machine.request(method, path, json=body)
                assert (r.status_code, r.json()["code"]) == (401, "UNAUTHORIZED"), (path, r.text)
                assert "set-cookie" not in r.headers
            assert (await machine.get("/api/auth/get-session")).json() is None  # a key is no session
            assert (await machine.get("/api/auth/me")).json()["id"] == user_id  # the key works
        session = (await owner.get("/api/auth/get-session")).json()
        assert session["user"]["name"] == "N"  # unchanged, still signed in
        sign_in = {"email": "kay@example.com", "password": PASSWORD}
        assert (await owner.post("/api/auth/sign-in/email", json=sign_in)).status_code == 200


async def test_remote_mode_does_not_serve_the_better_auth_api(sqlite_url: str) -> None:
    """Outside embedded mode the Better Auth paths are 404: the Better Auth server speaks
    for itself."""
    remote = {"better": {"mode": "remote", "base_url": "http://127.0.0.1:9/api/auth"}}
    app = _app(sqlite_url, options=remote)
    async with _client(app) as client:
        for method, path in (("GET", "/api/auth/get-session"), ("POST", "/api/auth/sign-in/email")):
            r = await client.request(method, path, json={})
            assert (r.status_code, r.json()["code"]) == (404, "NOT_FOUND")


async def test_update_user_and_revoke_session(app: Any) -> None:
    async with _client(app) as client, _client(app) as second:
        await _sign_up(client, "upd@example.com")
        await second.post("/api/auth/sign-in/email", json={"email": "upd@example.com", "password": PASSWORD})
        r = await client.post(
            "/api/auth/update-user", json={"name": "New Name", "image": "https://x.example/a.png"}
        )
        assert r.json() == {"status": True}
        user = (await client.get("/api/auth/get-session")).json()["user"]
        assert (user["name"], user["image"]) == ("New Name", "https://x.example/a.png")
        assert (await client.get("/api/auth/me")).json()["name"] == "New Name"
        for bad, code in (
            ({"email": "x@example.com"}, "EMAIL_CAN_NOT_BE_UPDATED"),
            ({"image": "javascript:alert(1)"}, "VALIDATION_ERROR"),
            ({"name": "evil\u202egnp"}, "VALIDATION_ERROR"),
            ({}, "BAD_REQUEST"),
        ):
            r = await client.post("/api/auth/update-user", json=bad)
            assert (r.status_code, r.json()["code"]) == (400, code)
        mine = (await client.get("/api/auth/get-session")).json()["session"]["id"]
        others = [s["token"] for s in (await client.get("/api/auth/list-sessions")).json() if s["id"] != mine]
        assert len(others) == 1
        assert (await client.post("/api/auth/revoke-session", json={"token": others[0]})).json() == {
            "status": True
        }
        assert (await second.get("/api/auth/get-session")).json() is None
        assert [e["metadata"] for e in await _events(client, "auth.user-update")] == [
            {"fields": ["image", "name"]}
        ]
        assert len(await _events(client, "auth.session-revoke")) == 1


async def test_password_reset_through_better_auth_paths(sqlite_url: str) -> None:
    outbox: list[tuple[str, str]] = []

    async def sender(email: str, url: str) -> None:
        outbox.append((email, url))

    app = _app(sqlite_url, options={"better": {"reset_sender": sender}})
    async with _client(app) as client:
        await _sign_up(client, "reset@example.com")
        r = await client.post(
            "/api/auth/request-password-reset",
            json={"email": "reset@example.com", "redirectTo": "/studio/reset-password"},
        )
        assert r.json() == {
            "status": True,
            "message": "If this email exists in our system, check your email for the reset link",
        }
        r = await client.post(
            "/api/auth/request-password-reset",
            json={"email": "reset@example.com", "redirectTo": "https://evil.example/"},
        )
        assert (r.status_code, r.json()["code"]) == (403, "INVALID_REDIRECT_URL")
        for _ in range(50):
            if outbox:
                break
            import asyncio

            await asyncio.sleep(0.02)
        ((_email, url),) = outbox
        assert url.startswith(ORIGIN + "/studio/reset-password?token=")
        token = url.split("token=", 1)[1]
        r = await client.post("/api/auth/reset-password", json={"token": "nope", "newPassword": NEW_PASSWORD})
        assert (r.status_code, r.json()["code"]) == (400, "INVALID_TOKEN")
        r = await client.post("/api/auth/reset-password", json={"token": token, "newPassword": NEW_PASSWORD})
        assert r.json() == {"status": True}
        assert (await client.get("/api/auth/get-session")).json() is None  # S5
        stages = [e["metadata"]["stage"] for e in await _events_as_new_owner(client, NEW_PASSWORD)]
        assert stages.count("confirm") == 2 and stages.count("request") == 1


async def _events_as_new_owner(client: httpx.AsyncClient, password: str) -> list[dict[str, Any]]:
    r = await client.post(
        "/api/auth/sign-in/email", json={"email": "reset@example.com", "password": password}
    )
    assert r.status_code == 200
    return await _events(client, "auth.password-reset")


async def test_embedded_default_cookie_sessions(sqlite_url: str) -> None:
    """``session = cookie`` (the embedded default): the Better Auth paths work on the core's
    session cookie; no bearer token is handed out (the session is not Better Auth's)."""
    app = _app(sqlite_url, session="cookie")
    async with _client(app) as client, _client(app) as other:
        created = (await _sign_up(client, "cook@example.com")).json()
        assert created["token"] is None and "mastra_session" in client.cookies
        assert (await client.get("/api/auth/get-session")).json()["user"]["email"] == "cook@example.com"
        await other.post("/api/auth/sign-in/email", json={"email": "cook@example.com", "password": PASSWORD})
        assert len((await client.get("/api/auth/list-sessions")).json()) == 2
        r = await client.post(
            "/api/auth/change-password", json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
        )
        assert r.status_code == 200 and r.json()["token"] is None
        assert (await client.get("/api/auth/me")).json()["email"] == "cook@example.com"
        assert (await other.get("/api/auth/get-session")).json() is None
        assert (await client.post("/api/auth/sign-out")).json() == {"success": True}
        assert (await client.get("/api/auth/me")).json() is None


async def test_change_password_is_in_the_openapi_document(app: Any) -> None:
    async with _client(app) as client:
        doc = (await client.get("/api/openapi.json")).json()
    operation = doc["paths"]["/api/auth/credentials/change-password"]["post"]
    assert set(operation["responses"]) >= {"200", "400", "401", "403", "404", "429"}
    sign_in = doc["paths"]["/api/auth/sign-in/email"]["post"]
    assert (sign_in["summary"], sign_in["tags"]) == ("Better Auth: sign in with email", ["better-auth"])


async def test_sign_up_with_a_refused_image_creates_no_account(app: Any) -> None:
    async with _client(app) as client:
        r = await client.post(
            "/api/auth/sign-up/email",
            json={"email": "img@example.com", "password": PASSWORD, "name": "N", "image": "javascript:x"},
        )
        assert (r.status_code, r.json()["code"]) == (400, "VALIDATION_ERROR")
        assert "set-cookie" not in r.headers
    assert await app.state.mastra_ee.auth.user.count_users() == 0
