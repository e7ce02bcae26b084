"""End-to-end: "Preview as role" in the user menu and the account page's password change
(SPEC 11.3, S5), in Chromium against the real app."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"
EVERY_SECTION = ["Overview", "Agents", "Workflows", "Tools", "Logs", "Audit log", "Settings"]
VIEWER_SECTIONS = ["Overview", "Agents", "Workflows", "Tools", "Logs"]


async def sign_in(page: Any, studio: Any, email: str, password: str = PASSWORD) -> None:
    await page.goto(studio.page_url("login"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("[data-user-menu-trigger]")).to_be_visible()


async def open_menu(page: Any) -> Any:
    # After a script-driven navigation the trigger shows before boot.js has wired it up;
    # module scripts have run by DOMContentLoaded.
    await page.wait_for_load_state("domcontentloaded")
    await page.locator("[data-user-menu-trigger]").click()
    return page.locator("[data-user-menu-panel]")


async def test_owner_previews_as_viewer_across_pages_and_goes_back(
    studio: Any, new_page: Any, shot: Any
) -> None:
    s = studio()
    s.sign_up("owner@example.com", "Olive Owner")
    s.sign_up("viewer@example.com", "Vic Viewer")
    page = await new_page()
    await sign_in(page, s, "owner@example.com")
    nav = page.get_by_role("navigation", name="Main").get_by_role("link")
    await expect(nav).to_have_text(EVERY_SECTION)

    panel = await open_menu(page)
    roles = panel.get_by_role("group", name="Preview as role").get_by_role("button")
    # availableRoles leaves out roles holding the admin bypass (the owner's own).
    await expect(roles).to_have_text(["Admin", "Member", "Viewer"])
    await shot(page, "preview-menu")
    await roles.filter(has_text="Viewer").click()

    banner = page.locator("[data-preview-banner]")
    await expect(banner.locator("[data-preview-banner-text]")).to_have_text("Previewing as Viewer")
    await expect(banner).to_have_attribute("title", re.compile("server still checks your own permissions"))
    await expect(nav).to_have_text(VIEWER_SECTIONS)
    await shot(page, "preview-as-viewer")

    # The choice survives navigation: pages and buttons render as the viewer's.
    await page.get_by_role("navigation", name="Main").get_by_role("link", name="Agents").click()
    await expect(page).to_have_url(s.page_url("agents"))
    await expect(banner).to_be_visible()
    await expect(page.get_by_role("button", name="New agent")).to_have_count(0)
    await expect(page.get_by_role("button", name="Run agent")).to_have_attribute(
        "title", "You don't have permission to execute agents"
    )
    await page.goto(s.page_url("settings"))
    await expect(page).to_have_url(s.page_url())  # redirected to the first permitted page
    await page.goto(s.page_url("audit"))
    await expect(page.get_by_role("heading", name="Access Denied")).to_be_visible()
    panel = await open_menu(page)
    await expect(panel.locator('[data-preview-role="viewer"]')).to_have_attribute("aria-pressed", "true")
    await page.keyboard.press("Escape")

    await banner.get_by_role("button", name="Back to my view").click()
    await expect(page.get_by_role("heading", name="Audit Logs")).to_be_visible()
    await expect(banner).to_have_count(0)
    await expect(nav).to_have_text(EVERY_SECTION)
    await page.goto(s.page_url("agents"))
    await expect(page.get_by_role("button", name="New agent")).to_have_count(1)


async def test_viewer_has_no_preview_control(studio: Any, new_page: Any) -> None:
    s = studio()
    s.sign_up("owner@example.com")
    s.sign_up("viewer@example.com", "Vic Viewer")
    page = await new_page()
    await sign_in(page, s, "viewer@example.com")
    panel = await open_menu(page)
    await expect(panel.get_by_role("button", name="Sign out")).to_be_visible()
    await expect(panel.get_by_text("Preview as role")).to_have_count(0)
    # A hand-made preview cookie changes nothing for a non-admin and is dropped.
    await page.context.add_cookies([{"name": "mastra_studio_preview", "value": "owner", "url": s.url}])
    await page.goto(s.page_url("settings"))
    await expect(page).to_have_url(s.page_url())
    await expect(page.locator("[data-preview-banner]")).to_have_count(0)
    await page.wait_for_function("!document.cookie.includes('mastra_studio_preview')")


async def test_sign_out_ends_the_preview(studio: Any, new_page: Any) -> None:
    s = studio()
    s.sign_up("owner@example.com", "Olive Owner")
    page = await new_page()
    await sign_in(page, s, "owner@example.com")
    panel = await open_menu(page)
    await panel.locator('[data-preview-role="member"]').click()
    await expect(page.locator("[data-preview-banner-text]")).to_have_text("Previewing as Member")
    panel = await open_menu(page)
    await panel.get_by_role("button", name="Sign out").click()
    await expect(page).to_have_url(re.compile(r"/login"))
    await sign_in(page, s, "owner@example.com")
    await expect(page.locator("[data-preview-banner]")).to_have_count(0)
    nav = page.get_by_role("navigation", name="Main").get_by_role("link")
    await expect(nav).to_have_text(EVERY_SECTION)


async def test_change_password_form(studio: Any, new_page: Any, shot: Any, request: Any) -> None:
    s = studio()
    s.sign_up("owner@example.com", "Olive Owner")
    elsewhere = s.api()  # another device of the same user
    request.addfinalizer(elsewhere.close)
    assert elsewhere.post(
        "/auth/credentials/sign-in", json={"email": "owner@example.com", "password": PASSWORD}
    ).is_success
    page = await new_page()
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.url.endswith("/change-password") else None)
    await sign_in(page, s, "owner@example.com")
    panel = await open_menu(page)
    await panel.get_by_role("link", name="Change password").click()
    await expect(page).to_have_url(s.page_url("account"))

    form = page.locator("[data-password-change-form]")
    error = form.locator("[data-form-error]")
    submit = form.locator("[data-submit]")
    new_password = "a brand new passphrase"
    await form.get_by_label("Current password").fill(PASSWORD)
    await form.get_by_label("New password", exact=True).fill(new_password)
    await form.get_by_label("Confirm new password").fill("something else entirely")
    await submit.click()
    await expect(error).to_have_text("The new passwords do not match.")
    assert posts == []  # caught before any request

    await form.get_by_label("Current password").fill("not my password")
    await form.get_by_label("Confirm new password").fill(new_password)
    await submit.click()
    await expect(error).to_have_text("Invalid password")
    await expect(submit).to_be_enabled()
    await shot(page, "account-wrong-password")

    await form.get_by_label("Current password").fill(PASSWORD)
    release = asyncio.Event()

    async def hold(route: Any) -> None:  # keep the request pending until the button is checked
        await release.wait()
        await route.continue_()

    await page.route("**/auth/credentials/change-password", hold)
    async with page.expect_response(lambda r: r.url.endswith("/change-password")) as answer:
        await submit.click()
        await expect(submit).to_be_disabled()
        await expect(submit).to_have_text("Changing password...")
        release.set()
    assert (await answer.value).status == 200
    status = form.locator("[data-form-status]")
    await expect(status).to_have_text("Your password was changed. Your other sessions were signed out.")
    await expect(error).to_be_hidden()
    await shot(page, "account-password-changed")

    # This browser stays signed in; the other session is gone; the new password works.
    await page.goto(s.page_url())
    await expect(page.get_by_role("heading", name="Welcome, Olive Owner")).to_be_visible()
    assert elsewhere.get("/auth/me").json() is None
    with s.api() as fresh:
        signed_in = fresh.post(
            "/auth/credentials/sign-in", json={"email": "owner@example.com", "password": new_password}
        )
        assert signed_in.is_success
