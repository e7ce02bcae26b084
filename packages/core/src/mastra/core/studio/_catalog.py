"""The studio's pages: where they live, what they need, how navigation shows them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["NAV_PAGES", "PAGES", "Page", "error_banner_text"]


@dataclass(frozen=True, slots=True)
class Page:
    slug: str  # path below the studio base ("" = home)
    title: str
    template: str
    permission: str | None = None  # besides studio:read, which every guarded page needs
    in_nav: bool = True
    icon: str = "home"
    resource: str | None = None  # what the placeholder page is about (gates its action buttons)


NAV_PAGES: tuple[Page, ...] = (
    Page("", "Overview", "overview.html", icon="home"),
    Page("agents", "Agents", "resource.html", "agents:read", icon="agent", resource="agents"),
    Page("workflows", "Workflows", "resource.html", "workflows:read", icon="workflow", resource="workflows"),
    Page("tools", "Tools", "resource.html", "tools:read", icon="tool", resource="tools"),
    Page("logs", "Logs", "resource.html", "logs:read", icon="logs", resource="logs"),
    Page("audit", "Audit log", "audit.html", "audit:read", icon="audit"),
    Page("settings", "Settings", "settings.html", "settings:read", icon="settings"),
)

PAGES: tuple[Page, ...] = (
    *NAV_PAGES,
    Page("sessions", "Your sessions", "sessions.html", in_nav=False, icon="sessions"),
    Page("account", "Account", "account.html", in_nav=False, icon="key"),
    # Linked from the sidebar's "Account" section for signed-in users when a provider
    # of the ``api_keys`` capability is configured (``StudioPages._account_nav``).
    Page("api-keys", "API keys", "api_keys.html", in_nav=False, icon="key"),
)

_KNOWN_ERRORS = {
    "invalid_state": "Your sign-in link expired or was already used. Please try again.",
    "sso_not_configured": "Single sign-on is not configured.",
    "access_denied": "Sign-in was cancelled.",
}


def error_banner_text(code: str | None, description: str | None) -> str | None:
    """SPEC 11.2: known codes map to sentences; the template escapes whatever comes out."""
    code = (code or "").strip()[:64]
    description = (description or "").strip()[:300]
    if code in _KNOWN_ERRORS:
        return _KNOWN_ERRORS[code]
    if description:
        return description
    if code:
        return f"Sign-in failed ({code})"
    return None
