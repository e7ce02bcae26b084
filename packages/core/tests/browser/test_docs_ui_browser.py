"""The Swagger UI page (``<prefix>/docs``) renders our OpenAPI document in real Chromium,
under its CSP (no violation, no script error: the ``new_page`` fixture fails on either)."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


async def test_docs_page_renders_the_operations(studio: Any, new_page: Any, shot: Any) -> None:
    s = studio()
    page = await new_page()
    response = await page.goto(f"{s.url}/api/docs")
    assert response is not None and response.status == 200
    await page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = await page.eval_on_selector_all(
        ".opblock-summary-path", "els => els.map(e => e.getAttribute('data-path'))"
    )
    assert {"/api/system/health", "/api/auth/credentials/sign-in", "/api/audit/{eventId}"} <= set(paths)
    assert await page.locator(".info .title").first.inner_text() != ""
    # Expanding an operation works (the UI's own scripts run under the CSP).
    await page.locator('.opblock-summary-path[data-path="/api/system/health"]').first.click()
    await page.wait_for_selector(".opblock.is-open .responses-wrapper")
    await shot(page, "docs-swagger-ui")
