"""Server-side studio behaviour (SPEC 11.2-11.4) through the real app over ASGI:
guard redirects, permission-gated navigation, security headers, escaping, base paths."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from mastra.core.ee.models import AuditActor, AuditEventInput, EEUser
from mastra.core.ee.permissions import compile_permissions
from mastra.core.server import Caller
from mastra.core.studio import CSP, safe_local_path
from mastra.core.studio._preview import RolePreview
from mastra.core.studio._viewer import Viewer
from mastra.core.testing.reference import ReferenceUser, reference_app, reference_settings

PASSWORD = "correct horse battery"


def make_client(app: Any, base_url: str = "http://localhost") -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


async def sign_up(client: httpx.AsyncClient, email: str, *, prefix: str = "/api") -> dict[str, Any]:
    origin = str(client.base_url).rstrip("/")
    r = await client.post(
        f"{prefix}/auth/credentials/sign-up",
        json={"email": email, "password": PASSWORD, "name": email.split("@")[0].title()},
        headers={"origin": origin},
    )
    assert r.status_code == 201, r.text
    return dict(r.json()["user"])


def studio_config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="mastra-studio-config">(.*?)</script>', html, re.S)
    assert match, "config block missing"
    return dict(json.loads(match.group(1)))


def nav_slugs(html: str) -> list[str]:
    return re.findall(r'data-nav="([^"]+)"', html)


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return reference_app(reference_settings(sqlite_url))


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as c:
        yield c


# -- guard -------------------------------------------------------------------------------


async def test_guard_redirects_page_requests_to_login_with_the_path(client: httpx.AsyncClient) -> None:
    r = await client.get("/audit?outcome=failure")
    assert r.status_code == 302
    location = r.headers["location"]
    assert location.startswith("/login?redirect=")
    assert unquote(location.split("redirect=", 1)[1]) == "/audit?outcome=failure"
    assert r.headers["cache-control"] == "no-store"


async def test_login_page_renders_for_anonymous_and_redirects_when_signed_in(
    client: httpx.AsyncClient,
) -> None:
    r = await client.get("/login?redirect=/agents")
    assert r.status_code == 200
    config = studio_config(r.text)
    assert config["redirect"] == "/agents" and config["mode"] == "signin"
    assert "Loading..." in r.text  # the capabilities-loading state comes first
    await sign_up(client, "owner@example.com")
    r = await client.get("/login?redirect=/agents")
    assert r.status_code == 302 and r.headers["location"] == "/agents"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/x", "//evil.example", "/\\evil.example", "javascript:alert(1)", "/ok\r\nx", ""],
)
async def test_open_redirect_targets_are_sent_home(client: httpx.AsyncClient, target: str) -> None:
    await sign_up(client, "owner@example.com")
    r = await client.get("/login", params={"redirect": target})
    assert r.status_code == 302 and r.headers["location"] == "/"


def test_safe_local_path_rules() -> None:
    assert safe_local_path("/audit?x=1#h", "/s/") == "/audit?x=1#h"
    for bad in (None, "", "audit", "//x", "/\\x", "http://x/", "/a\tb", "/a\x7f"):
        assert safe_local_path(bad, "/s/") == "/s/"


async def test_signup_route_and_mode_query(client: httpx.AsyncClient) -> None:
    assert studio_config((await client.get("/signup")).text)["mode"] == "signup"
    assert studio_config((await client.get("/login?mode=signup")).text)["mode"] == "signup"


# -- error banner ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "text"),
    [
        ("error=invalid_state", "Your sign-in link expired or was already used. Please try again."),
        ("error=sso_not_configured", "Single sign-on is not configured."),
        ("error=access_denied", "Sign-in was cancelled."),
        ("error=weird_code", "Sign-in failed (weird_code)"),
        ("error_description=Tenant+is+suspended", "Tenant is suspended"),
    ],
)
async def test_error_banner_maps_known_codes(client: httpx.AsyncClient, query: str, text: str) -> None:
    html = (await client.get(f"/login?{query}")).text
    banner = re.search(r"data-error-banner>.*?<span>(.*?)</span>", html, re.S)
    assert banner and banner.group(1) == text


async def test_error_banner_is_always_html_escaped(client: httpx.AsyncClient) -> None:
    payload = '<img src=x onerror=alert(1)>"'
    for key in ("error", "error_description"):
        html = (await client.get("/login", params={key: payload})).text
        assert "<img src=x" not in html
        assert "&lt;img src=x onerror=alert(1)&gt;" in html


async def test_config_block_cannot_be_closed_by_user_data(client: httpx.AsyncClient) -> None:
    origin = {"origin": "http://localhost"}
    evil = "</script><script>alert(1)</script>"
    r = await client.post(
        "/api/auth/credentials/sign-up",
        json={"email": "x@example.com", "password": PASSWORD, "name": evil},
        headers=origin,
    )
    assert r.status_code == 201
    html = (await client.get("/")).text
    assert evil not in html
    assert studio_config(html)["authenticated"] is True


# -- security headers and CSP hygiene ----------------------------------------------------


async def test_html_responses_carry_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/login", "/signup", "/forgot-password", "/reset-password?token=t", "/does-not-exist"):
        r = await client.get(path)
        assert r.headers["content-security-policy"] == CSP, path
        assert CSP == "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert "strict-transport-security" not in r.headers  # dev
    assert (await client.get("/login")).headers["referrer-policy"] == "same-origin"
    # The reset link carries a one-time token: no Referer at all from that page.
    assert (await client.get("/reset-password?token=t")).headers["referrer-policy"] == "no-referrer"


async def test_pages_contain_no_inline_script_or_style(client: httpx.AsyncClient, app: Any) -> None:
    await sign_up(client, "owner@example.com")
    for path in (
        "/",
        "/agents",
        "/workflows",
        "/tools",
        "/logs",
        "/settings",
        "/audit",
        "/sessions",
        "/api-keys",
        "/login",
    ):
        r = await client.get(path, follow_redirects=False)
        html = r.text
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert 'type="application/json"' in tag or " src=" in tag, (path, tag)
        assert not re.search(r"<style\b", html), path
        assert not re.search(r"\sstyle=", html), path
        assert not re.search(r"\son[a-z]+=", html), path
        assert "http://" not in re.sub(r'"publicUrl": "[^"]*"', "", html) or path == "/settings", path


async def test_static_assets_are_served_locally_with_nosniff(client: httpx.AsyncClient) -> None:
    for name, kind in (("client.js", "javascript"), ("studio.css", "text/css"), ("favicon.svg", "svg")):
        r = await client.get(f"/_studio/static/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"]
        assert r.headers["x-content-type-options"] == "nosniff"
    assert (await client.get("/_studio/static/../__init__.py")).status_code == 404


async def test_production_adds_hsts(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_EE_LICENSE", "L" * 40)
    settings = reference_settings(sqlite_url, env="production", public_url="https://studio.example")
    async with make_client(reference_app(settings), "https://studio.example") as c:
        r = await c.get("/login")
        assert r.headers["strict-transport-security"] == "max-age=31536000"
        assert (await c.get("/_studio/static/client.js")).headers[
            "strict-transport-security"
        ] == "max-age=31536000"


# -- navigation and permission gating ----------------------------------------------------


async def test_owner_sees_every_section(client: httpx.AsyncClient) -> None:
    await sign_up(client, "owner@example.com")
    html = (await client.get("/")).text
    assert nav_slugs(html) == ["home", "agents", "workflows", "tools", "logs", "audit", "settings"]
    assert "Owner@Example.Com" not in html and "owner@example.com" in html
    assert '<li class="chip">owner</li>' in html


async def test_script_driven_buttons_are_disabled_until_their_script_runs(client: httpx.AsyncClient) -> None:
    # A click that lands before boot.js has wired the menu would do nothing (a flake in
    # CI under load, and a dead button for a user on a slow link); boot.js enables them.
    await sign_up(client, "owner@example.com")
    html = (await client.get("/")).text
    for marker in ("data-user-menu-trigger", "data-nav-toggle"):
        tag = re.search(rf"<button[^>]*{marker}[^>]*>", html)
        assert tag is not None and " disabled " in tag.group(0), marker
    boot = (await client.get("/_studio/static/boot.js")).text
    assert "trigger.disabled = false" in boot and "toggle.disabled = false" in boot


async def test_viewer_sees_only_permitted_links_and_is_redirected(app: Any) -> None:
    async with make_client(app) as owner, make_client(app) as viewer:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        html = (await viewer.get("/")).text
        assert nav_slugs(html) == ["home", "agents", "workflows", "tools", "logs"]
        assert 'href="/audit"' not in html and 'href="/settings"' not in html
        # A page whose permission is missing redirects to the first permitted page.
        r = await viewer.get("/settings")
        assert r.status_code == 302 and r.headers["location"] == "/"
        r = await viewer.get("/tools")
        assert r.status_code == 200
        # The audit page has its own denied state (SPEC 11.4).
        r = await viewer.get("/audit")
        assert r.status_code == 403
        assert "Access Denied" in r.text and "You don't have permission to view audit logs." in r.text
        assert "audit.js" not in r.text
        # Viewers have agents:read but not write/execute: actions hidden or disabled.
        html = (await viewer.get("/agents")).text
        assert 'data-action="write"' not in html
        assert "You don't have permission to execute agents" in html


async def test_user_without_studio_read_gets_the_no_access_page(app: Any) -> None:
    async with make_client(app) as owner, make_client(app) as other:
        await sign_up(owner, "owner@example.com")
        user = await sign_up(other, "nobody@example.com")
        await app.state.mastra_ee.auth.user.set_user_role(user["id"], "nobody")
        for path in ("/", "/agents", "/no-access"):
            r = await other.get(path)
            assert r.status_code == 403
            assert "No Access" in r.text
            assert (
                "You don't have permission to access any resources in Mastra Studio. "
                "Contact your administrator for access." in r.text
            )
            assert nav_slugs(r.text) == []
            assert "data-sign-out" in r.text  # the user menu stays usable


async def test_auth_disabled_renders_everything(sqlite_url: str) -> None:
    settings = reference_settings(
        sqlite_url, auth={"user": None, "credentials": None, "session": None, "rbac": None}
    )
    async with make_client(reference_app(settings)) as c:
        r = await c.get("/settings")
        assert r.status_code == 200
        assert studio_config(r.text)["authEnabled"] is False
        assert len(nav_slugs(r.text)) == 7
        assert "data-user-menu" not in r.text and ">Sign in<" not in r.text
        # API paths that fall through to the studio answer JSON, not an HTML page.
        r = await c.get("/api/definitely-not-a-route")
        assert r.status_code == 404 and r.json() == {"error": "Not found", "message": "Not found"}


async def test_no_login_method_shows_authentication_required(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url, auth={"credentials": None})
    async with make_client(reference_app(settings)) as c:
        r = await c.get("/agents")
        assert r.status_code == 401
        assert "Authentication Required" in r.text
        assert "Add the authorization header that Studio needs to reach your Mastra server." in r.text
        assert "Save Headers" in r.text
        assert studio_config(r.text)["guard"] == "headers"


# -- base path and API prefix ------------------------------------------------------------


async def test_base_path_and_prefix_are_honoured_and_never_doubled(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url, studio_base_path="/studio/", api_prefix="custom-api/")
    async with make_client(reference_app(settings)) as c:
        r = await c.get("/studio/audit?x=1")
        assert r.status_code == 302
        assert r.headers["location"] == "/studio/login?redirect=/studio/audit%3Fx%3D1"
        html = (await c.get("/studio/login")).text
        config = studio_config(html)
        assert config["apiPrefix"] == "/custom-api" and config["basePath"] == "/studio/"
        assert 'href="/studio/_studio/static/studio.css"' in html
        assert (await c.get("/studio/_studio/static/login.js")).status_code == 200
        await sign_up(c, "owner@example.com", prefix="/custom-api")
        html = (await c.get("/studio/")).text
        hrefs = re.findall(r'href="([^"]+)"', html)
        assert "/studio/audit" in hrefs and "/studio/sessions" in hrefs
        assert all(h.startswith("/studio/") or h.startswith("#") for h in hrefs), hrefs
        assert not any("//" in h for h in hrefs)
        r = await c.get("/studio/login?redirect=/studio/agents")
        assert r.headers["location"] == "/studio/agents"
        r = await c.get("/studio/login?redirect=//evil.example")
        assert r.headers["location"] == "/studio/"


# -- audit page and chain status ---------------------------------------------------------


async def test_audit_page_and_chain_status(app: Any, client: httpx.AsyncClient) -> None:
    assert (await client.get("/_studio/chain-status")).status_code == 401
    await sign_up(client, "owner@example.com")
    html = (await client.get("/audit")).text
    assert "Audit Logs" in html and "Review authentication and system events" in html
    for column in ("Time", "Actor", "Action", "Resource", "Outcome"):
        assert f'<th scope="col">{column}</th>' in html
    assert "Export JSON" in html and "Export CSV" in html
    storage = app.state.mastra_ee.auth.audit_storage
    for i in range(3):
        await storage.append(
            AuditEventInput(actor=AuditActor(type="system", id="cli"), action=f"test.e{i}", outcome="success")
        )
    r = await client.get("/_studio/chain-status")
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    body = r.json()
    assert body["ok"] is True and body["count"] == body["lastSeq"] >= 4
    # Tamper with a stored event: the verdict names the first broken one.
    victim = storage._events[1]
    storage._events[1] = victim.model_copy(update={"action": "auth.forged"})
    body = (await client.get("/_studio/chain-status")).json()
    assert body["ok"] is False and body["brokenSeq"] == victim.seq and body["brokenId"] == victim.id


async def test_chain_status_requires_audit_read(app: Any) -> None:
    async with make_client(app) as owner, make_client(app) as viewer:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        r = await viewer.get("/_studio/chain-status")
        assert r.status_code == 403
        assert r.json() == {"error": "Forbidden", "message": "Missing required permission: audit:read"}


async def test_unlicensed_production_shows_audit_unavailable(sqlite_url: str) -> None:
    # No explicit RBAC (it would refuse to start unlicensed); audit storage stays selected.
    settings = reference_settings(
        sqlite_url, env="production", public_url="https://studio.example", auth={"rbac": None}
    )
    async with make_client(reference_app(settings), "https://studio.example") as c:
        await sign_up(c, "owner@example.com")
        r = await c.get("/audit")
        assert r.status_code == 200 and 'data-state="audit-unavailable"' in r.text
        assert 'data-nav="audit"' not in r.text
        r = await c.get("/_studio/chain-status")
        assert r.status_code == 403
        assert r.json()["message"] == "The audit log API requires a valid EE license"


async def test_reset_password_page_keeps_token_out_of_links(client: httpx.AsyncClient) -> None:
    html = (await client.get("/reset-password?token=abc123")).text
    assert studio_config(html)["resetToken"] == "abc123"
    assert "abc123" not in re.sub(r'<script type="application/json".*?</script>', "", html, flags=re.S)


# -- preview as role (SPEC 11.3) and the account page ----------------------------------------

PREVIEW = "mastra_studio_preview"


async def test_owner_previewing_a_role_sees_what_that_role_sees(app: Any) -> None:
    async with make_client(app) as owner, make_client(app) as viewer:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        own = (await owner.get("/")).text
        assert studio_config(own)["preview"] == {"available": True, "cookie": PREVIEW, "roleId": None}
        assert "data-preview-menu" in own and "data-preview-banner" not in own
        owner.cookies.set(PREVIEW, "viewer")
        html = (await owner.get("/")).text
        assert nav_slugs(html) == nav_slugs((await viewer.get("/")).text)
        assert "Previewing as Viewer" in html and "data-preview-exit" in html
        config = studio_config(html)
        assert config["preview"]["roleId"] == "viewer" and "audit:read" not in config["permissions"]
        assert "data-preview-menu" in html  # still an admin: can switch or go back
        r = await owner.get("/settings")
        assert r.status_code == 302 and r.headers["location"] == "/"
        r = await owner.get("/audit")
        assert r.status_code == 403 and "Access Denied" in r.text
        html = (await owner.get("/agents")).text
        assert 'data-action="write"' not in html and "You don't have permission to execute agents" in html
        # Pages only: the API still answers with the owner's own permissions.
        assert (await owner.get("/api/audit")).status_code == 200


async def test_a_preview_cookie_never_grants_more(app: Any) -> None:
    async with make_client(app) as owner, make_client(app) as viewer:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        before = (await viewer.get("/")).text
        assert studio_config(before)["preview"]["available"] is False
        assert "data-preview-menu" not in before
        for role in ("owner", "admin", "*"):
            viewer.cookies.set(PREVIEW, role)
            html = (await viewer.get("/")).text
            assert nav_slugs(html) == ["home", "agents", "workflows", "tools", "logs"]
            assert "data-preview-banner" not in html and studio_config(html)["preview"]["roleId"] is None
            r = await viewer.get("/settings")
            assert r.status_code == 302 and r.headers["location"] == "/"
            assert (await viewer.get("/audit")).status_code == 403
        # An admin naming a role the catalog does not list keeps their own view.
        owner.cookies.set(PREVIEW, "no-such-role")
        html = (await owner.get("/")).text
        assert "data-preview-banner" not in html and "audit" in nav_slugs(html)


def test_a_preview_only_narrows_the_callers_own_permissions() -> None:
    caller = Caller(user=EEUser(id="u1"), permissions=["studio:read", "agents:read"], rbac=True)
    everything = RolePreview("root", "Root", compile_permissions(["*"]))
    viewer = Viewer(auth_enabled=True, login_available=True, caller=caller, preview=everything)
    assert viewer.can("agents:read") and not viewer.can("settings:read")
    narrow = RolePreview("r", "R", compile_permissions(["studio:read"]))
    viewer = Viewer(auth_enabled=True, login_available=True, caller=caller, preview=narrow)
    assert viewer.can("studio:read") and not viewer.can("agents:read")


async def test_account_page_offers_password_change_only_when_supported(app: Any, sqlite_url: str) -> None:
    async with make_client(app) as owner:
        await sign_up(owner, "owner@example.com")
        r = await owner.get("/account")
        assert r.status_code == 200 and studio_config(r.text)["passwordChange"] is True
        assert "data-password-change-form" in r.text and "account.js" in r.text
        assert "data-account-link" in (await owner.get("/")).text
    async with make_client(app) as anonymous:
        r = await anonymous.get("/account")
        assert r.status_code == 302 and r.headers["location"].startswith("/login?redirect=")
    # Without a credentials provider (a token-only user) there is no password to change.
    tokens = reference_app(reference_settings(sqlite_url, auth={"credentials": None}))
    reference = tokens.state.mastra_ee.auth.user
    reference.users["u1"] = ReferenceUser("u1", "t@example.com", "Toni", "00:00", "owner")
    reference.add_api_key("token-1", "u1")
    async with make_client(tokens) as c:
        r = await c.get("/account", headers={"authorization": "Bearer token-1"})
        assert r.status_code == 200 and studio_config(r.text)["passwordChange"] is False
        assert "data-password-change-form" not in r.text and "account.js" not in r.text
        assert "Password change not available" in r.text and "data-account-link" not in r.text


# -- API keys page (issue #15) -----------------------------------------------------------------


def account_nav(html: str) -> list[str]:
    return re.findall(r'data-account-nav="([^"]+)"', html)


async def test_api_keys_page_is_linked_for_signed_in_users(app: Any) -> None:
    async with make_client(app) as anonymous:
        r = await anonymous.get("/api-keys")
        assert r.status_code == 302 and r.headers["location"] == "/login?redirect=/api-keys"
        assert account_nav((await anonymous.get("/login")).text) == []
    async with make_client(app) as owner, make_client(app) as viewer:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        for c in (owner, viewer):
            html = (await c.get("/")).text
            assert account_nav(html) == ["api-keys"] and 'href="/api-keys"' in html
            assert "api-keys" not in nav_slugs(html)  # its own "Account" section, not the main nav
            r = await c.get("/api-keys")
            assert r.status_code == 200 and 'src="/_studio/static/api-keys.js"' in r.text
            assert re.search(r'data-account-nav="api-keys" aria-current="page"', r.text)
            for marker in ("data-create-key", "data-key-dialog", "data-secret-dialog", "data-confirm-dialog"):
                assert marker in r.text, marker
        assert (await owner.get("/_studio/static/api-keys.js")).status_code == 200


async def test_service_accounts_section_needs_users_write(app: Any) -> None:
    async with make_client(app) as owner, make_client(app) as viewer:
        await sign_up(owner, "owner@example.com")
        await sign_up(viewer, "viewer@example.com")
        html = (await owner.get("/api-keys")).text
        assert studio_config(html)["apiKeys"] == {"enabled": True, "serviceAccounts": True}
        assert "data-service-accounts" in html and "data-account-dialog" in html
        html = (await viewer.get("/api-keys")).text
        assert studio_config(html)["apiKeys"] == {"enabled": True, "serviceAccounts": False}
        assert "data-service-accounts" not in html and "data-account-dialog" not in html
        # An owner previewing the viewer's role sees the viewer's page.
        owner.cookies.set(PREVIEW, "viewer")
        assert "data-service-accounts" not in (await owner.get("/api-keys")).text


async def test_api_keys_page_without_a_provider(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url, auth={"api_keys": "off"})
    async with make_client(reference_app(settings)) as c:
        await sign_up(c, "owner@example.com")
        assert account_nav((await c.get("/")).text) == []
        r = await c.get("/api-keys")
        assert r.status_code == 200 and 'data-state="api-keys-unavailable"' in r.text
        assert "api-keys.js" not in r.text and "data-secret-dialog" not in r.text
        assert studio_config(r.text)["apiKeys"] == {"enabled": False, "serviceAccounts": False}


async def test_api_keys_script_keeps_the_secret_out_of_storage_and_urls(client: httpx.AsyncClient) -> None:
    script = (await client.get("/_studio/static/api-keys.js")).text
    for forbidden in ("localStorage", "sessionStorage", "location.", "history.", "document.cookie"):
        assert forbidden not in script, forbidden
    # The copy-once dialog is emptied whichever way it closes (Done, Escape).
    for event in ("cancel", "close"):
        assert f'secretDialog.addEventListener("{event}", forgetSecret)' in script
