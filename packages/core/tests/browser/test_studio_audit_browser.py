"""End-to-end: the audit log page and the sessions page (SPEC 11.3-11.4)."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PASSWORD = "correct horse battery"
CSV_HEADER = [
    "id",
    "timestamp",
    "actorType",
    "actorId",
    "actorEmail",
    "action",
    "resourceType",
    "resourceId",
    "outcome",
    "duration",
]


async def sign_in(page: Any, studio: Any, email: str, target: str = "") -> None:
    await page.goto(studio.page_url(f"login?redirect=/{target}"))
    await page.get_by_label("Email").fill(email)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in", exact=True).click()
    await expect(page).to_have_url(studio.page_url(target))


def seed_events(s: Any) -> None:
    """Real events through the API: failures, a denial and plenty of successes."""
    with s.api() as anonymous:
        for _ in range(3):
            r = anonymous.post(
                "/auth/credentials/sign-in", json={"email": "owner@example.com", "password": "nope-nope"}
            )
            assert r.status_code == 401
    s.sign_up("viewer@example.com", "Vic Viewer")
    with s.api() as viewer:
        assert (
            viewer.post(
                "/auth/credentials/sign-in", json={"email": "viewer@example.com", "password": PASSWORD}
            ).status_code
            == 200
        )
        assert viewer.get("/audit").status_code == 403  # → authz.denied
    for _ in range(24):
        with s.api() as c:
            assert (
                c.post(
                    "/auth/credentials/sign-in", json={"email": "owner@example.com", "password": PASSWORD}
                ).status_code
                == 200
            )


def audit_total(s: Any, **params: str) -> int:
    with s.api() as c:
        assert (
            c.post(
                "/auth/credentials/sign-in", json={"email": "owner@example.com", "password": PASSWORD}
            ).status_code
            == 200
        )
        page = c.get("/audit", params={"perPage": "1", **params}).json()
        return int(page["pagination"]["total"])


async def test_audit_page_filters_scroll_detail_export_chart_and_refresh(
    studio: Any, new_page: Any, shot: Any
) -> None:
    s = studio()
    s.sign_up("owner@example.com", "Olive Owner")
    seed_events(s)
    total = audit_total(s) + 1  # + the browser's own sign-in below
    page = await new_page()
    await sign_in(page, s, "owner@example.com", "audit")
    rows = page.locator("[data-audit-rows] tr")
    await expect(rows).to_have_count(25)
    await expect(page.locator("[data-chain-status]")).to_have_text(
        re.compile(r"^Hash chain verified up to event \d+ \(\d+ events checked\)$")
    )
    chart = page.locator("svg.chart-svg")
    await expect(chart).to_have_attribute("data-total", re.compile(r"^\d+$"))
    assert int(await chart.get_attribute("data-total") or 0) >= total
    await expect(chart.locator("rect.bar-failure")).not_to_have_count(0)
    await shot(page, "audit")

    # Infinite scroll: the sentinel pulls the next page of 25.
    await page.locator("[data-sentinel]").scroll_into_view_if_needed()
    await expect(rows).to_have_count(total)
    await expect(page.locator("[data-all-loaded]")).to_have_text("All events loaded")

    # Filters: outcome, then action prefix; each restarts at page 0.
    await page.get_by_label("Outcome").select_option("failure")
    await expect(rows).to_have_count(3)
    for outcome in await rows.evaluate_all("rows => rows.map(r => r.dataset.outcome)"):
        assert outcome == "failure"
    await shot(page, "audit-filtered-failures")
    async with page.expect_download() as info:
        await page.get_by_role("button", name="Export CSV").click()
    download = await info.value
    assert re.fullmatch(r"audit-export-\d{8}T\d{6}Z\.csv", download.suggested_filename)
    text = Path(await download.path()).read_text(encoding="utf-8")
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == CSV_HEADER and len(parsed) == 4
    assert {row[8] for row in parsed[1:]} == {"failure"} and {row[5] for row in parsed[1:]} == {
        "auth.sign-in"
    }

    await page.get_by_role("button", name="Reset").click()
    await expect(rows).to_have_count(25)
    await page.get_by_label("Action prefix", exact=True).select_option("authz.")
    await expect(rows).to_have_count(1)
    await expect(rows.first).to_have_attribute("data-outcome", "denied")
    await page.get_by_label("Action prefix", exact=True).select_option("custom")
    await page.get_by_label("Custom action prefix").fill("nothing.")
    await expect(page.locator("[data-empty]")).to_have_text("No audit events found for applied filters")
    await page.get_by_role("button", name="Reset").click()
    await expect(rows).to_have_count(25)

    async with page.expect_download() as info:
        await page.get_by_role("button", name="Export JSON").click()
    exported = json.loads(Path(await (await info.value).path()).read_text(encoding="utf-8"))
    assert len(exported) >= total and exported[0]["seq"] > exported[-1]["seq"]

    # From after To is refused before any request.
    await page.get_by_label("From", exact=True).fill("2030-01-02")
    await page.get_by_label("To", exact=True).fill("2030-01-01")
    await expect(page.locator("[data-filter-error]")).to_have_text(
        "The From date must be on or before the To date."
    )
    await page.get_by_role("button", name="Reset").click()
    await expect(page.locator("[data-filter-error]")).to_be_hidden()

    # Event detail, keyboard-operable: Enter on a focused row.
    await rows.first.focus()
    await page.keyboard.press("Enter")
    detail = page.locator("[data-event-detail]")
    await expect(detail).to_contain_text("Sequence")
    assert re.search(r"Hash\s*[0-9a-f]{64}", await detail.inner_text())
    await shot(page, "audit-detail")
    await page.keyboard.press("Escape")
    await expect(page.locator("dialog[data-detail]")).to_be_hidden()

    # Auto-refresh: at the top and visible, a new event shows up within ~5 s.
    await page.evaluate("window.scrollTo(0, 0)")
    with s.api() as c:
        assert (
            c.post(
                "/auth/credentials/sign-in", json={"email": "viewer@example.com", "password": "wrong-one"}
            ).status_code
            == 401
        )
    await expect(rows.first).to_have_attribute("data-action", "auth.sign-in", timeout=12_000)
    await expect(rows.first).to_have_attribute("data-outcome", "failure", timeout=12_000)
    await expect(rows.first.locator("td").nth(1)).to_have_text("viewer@example.com")


async def test_session_revoked_on_one_page_logs_the_other_tab_out(
    studio: Any, new_page: Any, shot: Any
) -> None:
    s = studio()
    s.sign_up("owner@example.com", "Olive Owner")
    laptop = await new_page()
    phone = await new_page(
        user_agent="Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/605.1.15"
    )
    await sign_in(laptop, s, "owner@example.com", "sessions")
    await sign_in(phone, s, "owner@example.com", "audit")
    await expect(phone.locator("[data-audit-rows] tr")).not_to_have_count(0)

    table = laptop.locator("[data-sessions-table] tbody tr")
    await laptop.reload()
    await expect(table).to_have_count(3)  # the sign-up's session, the laptop and the phone
    await expect(laptop.locator("tr.is-current")).to_contain_text("This session")
    await shot(laptop, "sessions")
    await laptop.get_by_role("button", name=re.compile(r"^Revoke session from Safari on iOS")).click()
    await expect(table).to_have_count(2)

    # The other tab's next auto-refresh gets 401 and shows the session-expired state.
    expired = phone.locator("[data-state=session-expired]")
    await expect(expired).to_be_visible(timeout=12_000)
    await expect(expired).to_contain_text("Your session has expired. Please log in again to continue.")
    await shot(phone, "audit-session-expired")
    await phone.get_by_role("link", name="Log in").click()
    await expect(phone).to_have_url(re.compile(r"/login\?redirect=%2Faudit"))


async def test_losing_a_permission_shows_the_permission_denied_state(
    studio: Any, new_page: Any, shot: Any
) -> None:
    s = studio()
    s.sign_up("owner@example.com")
    s.sign_up("admin@example.com", "Ada Admin")
    s.set_role("admin@example.com", "admin")
    page = await new_page()
    await sign_in(page, s, "admin@example.com", "audit")
    await expect(page.locator("[data-audit-rows] tr")).not_to_have_count(0)
    s.set_role("admin@example.com", "viewer")
    denied = page.locator("[data-state=permission-denied]")
    await expect(denied).to_be_visible(timeout=12_000)
    await expect(denied).to_contain_text(
        "You don't have permission to access audit logs. Contact your administrator for access."
    )
    await shot(page, "audit-permission-denied")


async def test_sign_out_other_sessions(studio: Any, new_page: Any) -> None:
    s = studio()
    s.sign_up("owner@example.com")
    for _ in range(2):
        with s.api() as c:
            assert (
                c.post(
                    "/auth/credentials/sign-in", json={"email": "owner@example.com", "password": PASSWORD}
                ).status_code
                == 200
            )
    page = await new_page()
    await sign_in(page, s, "owner@example.com", "sessions")
    rows = page.locator("[data-sessions-table] tbody tr")
    await expect(rows).to_have_count(4)  # sign-up session + 2 scripts + this browser
    await page.get_by_role("button", name="Sign out other sessions").click()
    await expect(rows).to_have_count(1)
    await expect(page.get_by_role("button", name="Sign out other sessions")).to_be_hidden()
