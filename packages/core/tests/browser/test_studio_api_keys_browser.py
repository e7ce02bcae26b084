"""End-to-end: the studio's "API keys" page (issue #15) in Chromium against the real app.

A key is created with a scope; the copy-once dialog shows it in full exactly once; after
the dialog closes and the page reloads, neither the page nor its HTML holds it again.
The key works as a bearer from httpx within its scope only, rotation swaps it for a new
one shown once, and revoking refuses it."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from mastra.core.ee.api_keys import API_KEY_PATTERN
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"


async def sign_in(page: Any, studio: Any, email: str) -> None:
    await page.goto(studio.page_url("login"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page.locator("[data-user-menu-trigger]")).to_be_visible()


def bearer(studio: Any, key: str) -> httpx.Client:
    prefix = studio.app.state.mastra_ee.settings.normalised_api_prefix
    return httpx.Client(base_url=f"{studio.url}{prefix}", headers={"authorization": f"Bearer {key}"})


async def storage_and_url(page: Any) -> str:
    """Everything the page could keep across a reload, as one string."""
    return str(
        await page.evaluate(
            "() => JSON.stringify([location.href, document.cookie, Object.entries(localStorage),"
            " Object.entries(sessionStorage)])"
        )
    )


async def read_secret_dialog(page: Any) -> str:
    dialog = page.get_by_role("dialog", name="Copy your new API key")
    await expect(dialog).to_be_visible()
    await expect(dialog).to_contain_text("This key will not be shown again")
    secret = (await dialog.locator("[data-secret-value]").text_content() or "").strip()
    assert re.fullmatch(API_KEY_PATTERN, secret), secret
    return secret


async def close_secret_dialog(page: Any, secret: str) -> None:
    await page.get_by_role("dialog", name="Copy your new API key").get_by_role("button", name="Done").click()
    await expect(page.get_by_role("dialog", name="Copy your new API key")).to_be_hidden()
    assert secret not in await page.content()
    assert secret not in await storage_and_url(page)


async def test_a_key_is_shown_once_works_in_scope_rotates_and_revokes(
    studio: Any, new_page: Any, shot: Any
) -> None:
    s = studio()
    s.sign_up("owner@example.com", "Olive Owner")
    page = await new_page()
    await page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=s.url)
    await sign_in(page, s, "owner@example.com")

    # Reachable from the navigation's "Account" section.
    await page.get_by_role("navigation", name="Account").get_by_role("link", name="API keys").click()
    await expect(page).to_have_url(s.page_url("api-keys"))
    await expect(page.get_by_text("No keys yet.")).to_be_visible()
    await expect(page.get_by_role("heading", name="Service accounts")).to_be_visible()

    # Create: name and one scope from the caller's vocabulary; errors come back inline.
    await page.get_by_role("button", name="Create key").click()
    form = page.get_by_role("dialog", name="Create API key")
    await form.get_by_label("Name").fill("deploy bot")
    await form.get_by_role("button", name="Create key").click()
    await expect(form.locator("[data-key-form-error]")).to_have_text("Choose at least one scope.")
    await form.get_by_role("checkbox", name="users:read", exact=True).check()
    await form.get_by_label("Expires in (days)").fill("9999")
    await form.get_by_role("button", name="Create key").click()
    await expect(form.locator("[data-key-form-error]")).to_contain_text(
        "expiresInDays: An API key may live at most"
    )
    await form.get_by_label("Expires in (days)").fill("30")
    await shot(page, "api-keys-create")
    await form.get_by_role("button", name="Create key").click()

    secret = await read_secret_dialog(page)
    await shot(page, "api-keys-copy-once")
    await page.get_by_role("button", name="Copy").click()
    await expect(page.locator("[data-secret-status]")).to_have_text("Copied to the clipboard.")
    assert await page.evaluate("() => navigator.clipboard.readText()") == secret
    await close_secret_dialog(page, secret)

    row = page.locator("[data-keys-table] tbody tr")
    await expect(row).to_have_count(1)
    await expect(row.locator("td").nth(0)).to_have_text("deploy bot")
    await expect(row.locator("td").nth(2)).to_have_text("users:read")
    await expect(row.locator("[data-status]")).to_have_text("Active")
    key_id = secret.split("_")[2]
    await expect(row.locator("code")).to_contain_text(key_id)

    # Never again: not after a reload, not in the server's HTML.
    await page.reload()
    await expect(row.locator("[data-status]")).to_have_text("Active")
    assert secret not in await page.content()
    assert secret not in await storage_and_url(page)
    html = await (await page.request.get(s.page_url("api-keys"))).text()
    assert secret not in html
    assert "deploy bot" not in html  # the list arrives by API, never in the HTML

    # The key works as a bearer within its scope only.
    with bearer(s, secret) as c:
        assert c.get("/auth/users").status_code == 200
        r = c.get("/audit")
        assert r.status_code == 403, r.text

    # Rotate with no grace: a new key shown once; the old one stops at once.
    await row.get_by_role("button", name="Rotate deploy bot").click()
    confirm = page.get_by_role("dialog", name='Rotate "deploy bot"?')
    await expect(confirm.get_by_label("Keep the old key working for")).to_have_value("0")
    await confirm.get_by_role("button", name="Rotate key").click()
    rotated = await read_secret_dialog(page)
    assert rotated != secret
    await close_secret_dialog(page, rotated)
    statuses = page.locator("[data-keys-table] [data-status]")
    await expect(statuses).to_have_count(2)  # the replaced key stays listed, no longer active
    await expect(page.locator('[data-keys-table] [data-status="active"]')).to_have_count(1)
    with bearer(s, secret) as c:
        assert c.get("/auth/users").status_code == 401
    with bearer(s, rotated) as c:
        assert c.get("/auth/users").status_code == 200

    # Revoke, with confirmation: the key gets 401.
    active = page.locator("[data-keys-table] tbody tr").filter(has=page.locator('[data-status="active"]'))
    await expect(active).to_have_count(1)
    await active.get_by_role("button", name="Revoke deploy bot").click()
    confirm = page.get_by_role("dialog", name='Revoke "deploy bot"?')
    await expect(confirm).to_contain_text("cannot be undone")
    await confirm.get_by_role("button", name="Revoke key").click()
    await expect(confirm).to_be_hidden()
    await expect(page.locator('[data-keys-table] [data-status="active"]')).to_have_count(0)
    with bearer(s, rotated) as c:
        r = c.get("/auth/users")
        assert r.status_code == 401 and r.json()["error"] == "Invalid API key"
    await shot(page, "api-keys-revoked")
    assert rotated not in await page.content()


async def test_service_account_keys_from_the_studio(studio: Any, new_page: Any, shot: Any) -> None:
    s = studio()
    s.sign_up("owner@example.com", "Olive Owner")
    s.sign_up("viewer@example.com", "Vic Viewer")
    page = await new_page()
    await sign_in(page, s, "viewer@example.com")
    await page.goto(s.page_url("api-keys"))
    await expect(page.get_by_role("heading", name="Your keys")).to_be_visible()
    await expect(page.get_by_role("heading", name="Service accounts")).to_have_count(0)  # no users:write

    page = await new_page()
    await sign_in(page, s, "owner@example.com")
    await page.goto(s.page_url("api-keys"))
    await page.get_by_role("button", name="New service account").click()
    dialog = page.get_by_role("dialog", name="New service account")
    await dialog.get_by_label("Name").fill("ci-bot")
    await dialog.get_by_role("checkbox", name="Viewer", exact=True).check()
    await dialog.get_by_role("button", name="Create service account").click()
    account = page.locator("[data-accounts-table] tbody tr")
    await expect(account).to_have_count(1)
    await expect(account.locator("td").nth(1)).to_have_text("viewer")

    # Its keys: scopes are checked against the account's roles, the refusal shows inline.
    panel = page.locator("[data-account-keys]")
    await expect(panel.get_by_role("heading", name="Keys of ci-bot")).to_be_visible()
    await panel.get_by_role("button", name="Create key").click()
    form = page.get_by_role("dialog", name="Create API key")
    await form.get_by_label("Name").fill("pipeline")
    await form.get_by_role("checkbox", name="users:write", exact=True).check()
    await form.get_by_role("button", name="Create key").click()
    await expect(form.locator("[data-key-form-error]")).to_contain_text("users:write")
    await form.get_by_role("checkbox", name="users:write", exact=True).uncheck()
    await form.get_by_role("checkbox", name="agents:read", exact=True).check()
    await form.get_by_role("button", name="Create key").click()
    secret = await read_secret_dialog(page)
    await shot(page, "api-keys-service-account")
    await close_secret_dialog(page, secret)
    await expect(panel.locator("[data-keys-table] [data-status]")).to_have_text("Active")

    with bearer(s, secret) as c:
        me = c.get("/auth/me").json()
        assert me["id"].startswith("sa_") and me["name"] == "ci-bot"
        assert c.get("/auth/permission-patterns").status_code == 200
        assert c.get("/auth/users").status_code == 403
    # Disabled: its keys stop at once; deleted (with confirmation): for good.
    await account.get_by_role("button", name="Disable").click()
    await expect(account.get_by_role("button", name="Enable")).to_be_visible()
    with bearer(s, secret) as c:
        r = c.get("/auth/permission-patterns")
        assert r.status_code == 401 and r.json()["message"] == "The API key's owner is disabled"
    await account.get_by_role("button", name="Delete ci-bot").click()
    confirm = page.get_by_role("dialog", name='Delete the service account "ci-bot"?')
    await confirm.get_by_role("button", name="Delete service account").click()
    await expect(page.get_by_text("No service accounts yet.")).to_be_visible()
    await expect(panel).to_be_hidden()
    assert secret not in await page.content()
