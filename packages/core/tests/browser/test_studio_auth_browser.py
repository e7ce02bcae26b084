"""End-to-end: sign-up, sign-out, sign-in, login states, SSO, redirects, gating (SPEC 11.2-11.3)."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"


async def sign_in(page: Any, email: str, password: str = PASSWORD) -> None:
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()


async def test_sign_up_sign_out_and_sign_in(studio: Any, new_page: Any, shot: Any) -> None:
    s = studio()
    page = await new_page()
    await page.goto(s.page_url())
    await expect(page).to_have_url(re.compile(r"/login\?redirect=/$"))
    await expect(page.get_by_role("heading", name="Sign in to Mastra Studio")).to_be_visible()
    await expect(page.locator(".divider")).to_have_count(0)  # credentials only: no divider
    await expect(page.get_by_placeholder("you@example.com")).to_be_focused()
    await shot(page, "login-credentials")

    await page.get_by_role("button", name="Sign up").click()
    await expect(page.get_by_role("heading", name="Create your account")).to_be_visible()
    await expect(page).to_have_url(re.compile(r"/signup\?redirect="))
    await page.get_by_placeholder("Your name").fill("Olive Owner")
    await page.get_by_label("Email").fill("owner@example.com")
    await expect(page.get_by_placeholder("Create a password")).to_be_visible()
    await page.get_by_label("Password").fill(PASSWORD)
    await shot(page, "signup")
    await page.get_by_role("button", name="Create account").click()

    await expect(page.get_by_role("heading", name="Welcome, Olive Owner")).to_be_visible()
    await expect(page).to_have_url(s.page_url())
    menu = page.locator("[data-user-menu-trigger]")
    await expect(menu).to_contain_text("Olive Owner")
    await expect(page.locator(".avatar-initials")).to_have_text("OO")
    await menu.click()
    panel = page.locator("[data-user-menu-panel]")
    await expect(panel).to_contain_text("owner@example.com")
    await expect(panel.locator(".chip")).to_have_text(["owner"])
    await shot(page, "overview-owner-menu")
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login\?redirect=/$"))

    await sign_in(page, "owner@example.com", "not the password")
    error = page.locator("[data-form-error]")
    await expect(error).to_have_text("Invalid email or password")
    await expect(error).to_have_attribute("role", "alert")
    await expect(page.get_by_label("Password")).to_be_focused()
    await shot(page, "login-wrong-password")
    await sign_in(page, "owner@example.com")
    await expect(page.get_by_role("heading", name="Welcome, Olive Owner")).to_be_visible()


async def test_redirect_back_to_the_requested_page_and_open_redirects_go_home(
    studio: Any, new_page: Any
) -> None:
    s = studio()
    s.sign_up("owner@example.com")
    page = await new_page()
    await page.goto(s.page_url("audit?outcome=failure"))
    await expect(page).to_have_url(s.page_url("login?redirect=" + quote("/audit?outcome=failure", safe="/")))
    await sign_in(page, "owner@example.com")
    await expect(page).to_have_url(s.page_url("audit?outcome=failure"))
    await expect(page.get_by_role("heading", name="Audit Logs")).to_be_visible()

    for evil in ("https://evil.example/steal", "//evil.example/x", "/\\evil.example"):
        other = await new_page()
        await other.goto(s.page_url("login?redirect=" + quote(evil, safe="")))
        await sign_in(other, "owner@example.com")
        await expect(other).to_have_url(s.page_url())
        assert "evil.example" not in other.url


async def test_viewer_sees_no_admin_links_and_gets_the_denied_state(
    studio: Any, new_page: Any, shot: Any
) -> None:
    s = studio()
    s.sign_up("owner@example.com")
    s.sign_up("viewer@example.com", "Vic Viewer")
    page = await new_page()
    await page.goto(s.page_url("login"))
    await sign_in(page, "viewer@example.com")
    nav = page.get_by_role("navigation", name="Main")
    # SPEC 4.5: the default viewer reads agents, workflows, tools and logs (not settings, audit)
    await expect(nav.get_by_role("link")).to_have_text(["Overview", "Agents", "Workflows", "Tools", "Logs"])
    await shot(page, "overview-viewer")
    await page.goto(s.page_url("audit"))
    await expect(page.get_by_role("heading", name="Access Denied")).to_be_visible()
    await expect(page.get_by_text("You don't have permission to view audit logs.")).to_be_visible()
    await shot(page, "audit-access-denied")
    await page.goto(s.page_url("settings"))
    await expect(page).to_have_url(s.page_url())
    await page.goto(s.page_url("agents"))
    run = page.get_by_role("button", name="Run agent")
    await expect(run).to_be_disabled()
    await expect(run).to_have_attribute("title", "You don't have permission to execute agents")
    await expect(page.get_by_role("button", name="New agent")).to_have_count(0)
    await shot(page, "agents-viewer")

    s.set_role("viewer@example.com", "nobody")
    await page.goto(s.page_url())
    await expect(page.get_by_role("heading", name="No Access")).to_be_visible()
    await shot(page, "no-access")
    await page.locator("[data-user-menu-trigger]").click()
    await page.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login"))


async def test_login_states_sso_only_both_and_sign_up_disabled(studio: Any, new_page: Any, shot: Any) -> None:
    sso_only = studio(sso=True, credentials=False)
    page = await new_page()
    await page.goto(sso_only.page_url("login"))
    await expect(page.get_by_role("button", name="Sign in with Loopback SSO")).to_be_visible()
    await expect(page.get_by_label("Email")).to_have_count(0)
    await expect(page.locator(".divider")).to_have_count(0)
    await expect(page.get_by_role("button", name="Sign up")).to_have_count(0)
    await shot(page, "login-sso-only")

    both = studio(sso=True, auth={"login_description": "Use your company account"})
    page = await new_page()
    await page.goto(both.page_url("login"))
    await expect(page.get_by_role("separator")).to_have_text("or continue with")
    await expect(page.get_by_label("Email")).to_be_visible()
    await expect(page.locator("[data-login-description]")).to_have_text("Use your company account")
    await shot(page, "login-both")

    closed = studio(auth={"options": {"reference": {"sign_up_enabled": False}}})
    page = await new_page()
    await page.goto(closed.page_url("signup"))
    await expect(page.get_by_role("heading", name="Sign in to Mastra Studio")).to_be_visible()
    await expect(page.get_by_role("button", name="Sign up")).to_have_count(0)
    await expect(page.get_by_placeholder("Your name")).to_have_count(0)


async def test_auth_not_configured_and_authentication_required(studio: Any, new_page: Any, shot: Any) -> None:
    off = studio(auth={"user": None, "credentials": None, "session": None, "rbac": None})
    page = await new_page()
    await page.goto(off.page_url("login"))
    await expect(page.get_by_role("heading", name="Authentication is not configured")).to_be_visible()
    await shot(page, "login-not-configured")
    await page.goto(off.page_url("settings"))
    await expect(page.get_by_role("heading", name="Settings")).to_be_visible()

    token_only = studio(credentials=False)
    page = await new_page()
    await page.goto(token_only.page_url("agents"))
    await expect(page.get_by_role("heading", name="Authentication Required")).to_be_visible()
    await page.get_by_label("Value").fill("Bearer not-a-real-token")
    await page.get_by_role("button", name="Save Headers").click()
    await expect(page.locator("[data-header-error]")).to_have_text("The server did not accept these headers.")
    assert await page.evaluate("localStorage.getItem('mastra.studio.headers')") == (
        '{"Authorization":"Bearer not-a-real-token"}'
    )
    await shot(page, "authentication-required")


async def test_sso_round_trip_error_banner_and_retry_keeps_the_target(
    studio: Any, new_page: Any, shot: Any
) -> None:
    s = studio(sso=True)
    assert s.idp is not None
    s.idp.deny = True
    page = await new_page()
    await page.goto(s.page_url("logs"))
    await page.get_by_role("button", name="Sign in with Loopback SSO").click()
    await expect(page).to_have_url(re.compile(r"/login\?error=access_denied&redirect=%2Flogs"))
    await expect(page.locator("[data-error-banner]")).to_have_text("Sign-in was cancelled.")
    await shot(page, "login-sso-error")

    s.idp.deny = False
    await page.get_by_role("button", name="Sign in with Loopback SSO").click()
    await expect(page).to_have_url(s.page_url("logs"))
    await expect(page.get_by_role("heading", name="Logs", exact=True)).to_be_visible()
    await expect(page.locator("[data-user-menu-trigger]")).to_contain_text("Sam Sso")


async def test_error_banner_never_renders_markup(studio: Any, new_page: Any) -> None:
    s = studio()
    page = await new_page()
    await page.goto(s.page_url("login?error_description=" + quote("<img src=x onerror=window.pwned=1>")))
    banner = page.locator("[data-error-banner]")
    await expect(banner).to_have_text("<img src=x onerror=window.pwned=1>")
    await expect(banner.locator("img")).to_have_count(0)
    assert await page.evaluate("window.pwned") is None


async def test_keyboard_use_and_small_screens(studio: Any, new_page: Any, shot: Any) -> None:
    s = studio()
    s.sign_up("owner@example.com")
    page = await new_page()
    await page.goto(s.page_url("login"))
    await expect(page.get_by_label("Email")).to_be_focused()
    await page.keyboard.type("owner@example.com")
    await page.keyboard.press("Tab")
    await expect(page.get_by_label("Password")).to_be_focused()
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await expect(page.get_by_role("heading", name="Welcome, Owner@Example.Com")).to_be_visible()

    trigger = page.locator("[data-user-menu-trigger]")
    # Rendered disabled until boot.js has run; a disabled button takes no focus (CI: the
    # Enter went nowhere on a busy machine).
    await expect(trigger).to_be_enabled()
    await trigger.focus()
    await expect(trigger).to_be_focused()
    await page.keyboard.press("Enter")
    await expect(trigger).to_have_attribute("aria-expanded", "true")
    await expect(page.get_by_role("link", name="Your sessions", exact=True)).to_be_focused()
    await page.keyboard.press("Escape")
    await expect(trigger).to_have_attribute("aria-expanded", "false")
    await expect(trigger).to_be_focused()

    mobile = await new_page(viewport={"width": 390, "height": 844})
    await mobile.goto(s.page_url("login"))
    await mobile.get_by_label("Email").fill("owner@example.com")
    await mobile.get_by_label("Password").fill(PASSWORD)
    await mobile.get_by_role("button", name="Sign in", exact=True).click()
    toggle = mobile.get_by_role("button", name="Toggle navigation")
    await expect(toggle).to_be_visible()
    await expect(mobile.get_by_role("link", name="Audit log", exact=True)).not_to_be_in_viewport()
    await shot(mobile, "overview-mobile")
    await toggle.click()
    await expect(mobile.get_by_role("link", name="Audit log", exact=True)).to_be_in_viewport()
    await shot(mobile, "overview-mobile-nav-open")
