"""The provider behind the real server app: browser-style login, refresh, roles, logout."""

from __future__ import annotations

from typing import Any

import httpx
from workos_emulator import browser_login

ORG = "org_01EMULATED"


async def test_capabilities_show_the_workos_button(http: httpx.AsyncClient) -> None:
    body = (await http.get("/api/auth/capabilities")).json()
    assert body["enabled"] is True
    assert body["login"]["type"] == "sso"
    assert body["login"]["sso"] == {"provider": "workos", "text": "Sign in", "url": "/api/auth/sso/login"}
    assert "user" not in body


async def test_login_me_roles_and_admin_portal_flag(http: httpx.AsyncClient, emulator: Any) -> None:
    user = emulator.add_user("ann@example.com", "Ann", "Lee")
    emulator.add_membership(user["id"], ORG, ["admin"])
    done = await browser_login(http, emulator, user["id"])
    assert done.status_code == 302
    assert done.headers["location"] == "http://127.0.0.1:4111/agents"
    set_cookies = done.headers.get_list("set-cookie")
    session_cookie = next(c for c in set_cookies if c.startswith("wos_session="))
    assert session_cookie.endswith("Path=/; HttpOnly; SameSite=Lax") and "Max-Age" not in session_cookie

    me = (await http.get("/api/auth/me")).json()
    assert me["id"] == user["id"] and me["name"] == "Ann Lee"
    assert me["roles"] == ["admin"] and me["permissions"] == ["*"]
    caps = (await http.get("/api/auth/capabilities")).json()
    assert caps["capabilities"]["sso"] is True and caps["capabilities"]["rbac"] is True
    assert caps["access"] == {"roles": ["admin"], "permissions": ["*"]}
    assert caps["workos"] == {"adminPortal": True}
    assert {r["id"] for r in caps["availableRoles"]} == {"member"}

    portal = await http.get("/api/auth/workos/admin-portal", params={"intent": "dsync"})
    assert portal.status_code == 200 and portal.json()["url"].startswith("https://setup.workos.test/")
    assert emulator.portal_links[-1] == {
        "organization": ORG,
        "intent": "dsync",
        "return_url": "http://127.0.0.1:4111/",
    }
    bad = await http.get("/api/auth/workos/admin-portal", params={"intent": "root"})
    assert bad.status_code == 400


async def test_member_cannot_open_the_admin_portal(http: httpx.AsyncClient, emulator: Any) -> None:
    user = emulator.add_user("mem@example.com")
    emulator.add_membership(user["id"], ORG, ["member"])
    await browser_login(http, emulator, user["id"])
    denied = await http.get("/api/auth/workos/admin-portal")
    assert denied.status_code == 403
    assert denied.json()["message"] == "Missing required permission: settings:write"
    caps = (await http.get("/api/auth/capabilities")).json()
    assert "workos" not in caps


async def test_expired_access_token_is_refreshed_transparently(
    http: httpx.AsyncClient, emulator: Any
) -> None:
    user = emulator.add_user("exp@example.com")
    emulator.add_membership(user["id"], ORG, ["member"])
    emulator.access_token_ttl = -10
    await browser_login(http, emulator, user["id"])
    old = http.cookies.get("wos_session")
    emulator.access_token_ttl = 300
    response = await http.get("/api/auth/me")
    assert response.json()["id"] == user["id"]
    new = http.cookies.get("wos_session")
    assert new and new != old
    assert (await http.get("/api/auth/me")).json()["id"] == user["id"]


async def test_logout_revokes_and_the_old_cookie_is_refused(http: httpx.AsyncClient, emulator: Any) -> None:
    user = emulator.add_user("bye@example.com")
    emulator.add_membership(user["id"], ORG, ["member"])
    await browser_login(http, emulator, user["id"])
    stolen = http.cookies.get("wos_session")
    out = await http.post("/api/auth/logout")
    assert out.status_code == 200
    body = out.json()
    assert body["success"] is True and "/user_management/sessions/logout?session_id=" in body["redirectTo"]
    assert any(c.startswith("wos_session=;") and "Max-Age=0" in c for c in out.headers.get_list("set-cookie"))
    assert all(s["status"] == "revoked" for s in emulator.sessions.values())
    http.cookies.clear()
    http.cookies.set("wos_session", stolen)
    replay = await http.get("/api/agents")
    assert replay.status_code == 401
    assert replay.json() == {"error": "Invalid or expired token", "message": "Invalid or expired token"}


async def test_workos_down_callback_redirects_with_a_clear_error(
    http: httpx.AsyncClient, emulator: Any
) -> None:
    user = emulator.add_user("down@example.com")
    emulator.add_membership(user["id"], ORG, ["member"])
    await browser_login(http, emulator, user["id"])  # an existing session
    emulator.login_as = user["id"]
    http2 = httpx.AsyncClient(transport=http._transport, base_url="http://127.0.0.1:4111")
    start = await http2.get("/api/auth/sso/login")
    async with httpx.AsyncClient() as idp:
        callback = (await idp.get(start.json()["url"])).headers["location"]
    emulator.down = True
    failed = await http2.get(callback)
    assert failed.status_code == 302
    assert "error=provider_unavailable" in failed.headers["location"]
    await http2.aclose()
    # the existing sealed session keeps working while WorkOS is down
    me = await http.get("/api/auth/me")
    assert me.json()["id"] == user["id"]


async def test_bearer_access_token_authenticates_api_calls(http: httpx.AsyncClient, emulator: Any) -> None:
    user = emulator.add_user("api@example.com")
    emulator.add_membership(user["id"], ORG, ["member"])
    token = emulator.mint_access_token(emulator.start_session(user["id"], ORG))
    me = await http.get("/api/auth/me", headers={"authorization": f"Bearer {token}"})
    assert me.json()["id"] == user["id"]
    bad = await http.get("/api/agents", headers={"authorization": "Bearer nope"})
    assert bad.status_code == 401


async def test_id_token_bearer_gets_401(http: httpx.AsyncClient, emulator: Any) -> None:
    """S24 through the server: an ID-token-shaped JWT as ``Authorization: Bearer`` reads and
    revokes nothing, while the user's browser session stays live."""
    user = emulator.add_user("victim@example.com")
    emulator.add_membership(user["id"], ORG, ["admin"])
    assert (await browser_login(http, emulator, user["id"])).status_code == 302
    [sid] = [s for s, v in emulator.sessions.items() if v["user_id"] == user["id"]]
    id_token = emulator.mint_id_token(sid, nonce="n-0123456789")
    cookies = http.cookies
    http.cookies = httpx.Cookies()
    try:
        bearer = {"Authorization": f"Bearer {id_token}"}
        assert (await http.get("/api/auth/sessions", headers=bearer)).status_code == 401
        assert (await http.delete("/api/auth/sessions", headers=bearer)).status_code == 401
        assert (await http.get("/api/auth/me", headers=bearer)).json() is None
    finally:
        http.cookies = cookies
    assert (await http.get("/api/auth/me")).json()["id"] == user["id"]
    assert emulator.sessions[sid]["status"] == "active"
