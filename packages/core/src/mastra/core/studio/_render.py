"""Jinja2 rendering with autoescaping and the studio's security headers."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse

from ..ee.settings import Settings
from ._security import apply_security_headers

__all__ = ["html_page", "initials"]


@lru_cache(maxsize=1)
def _environment() -> Environment:
    # Autoescape every template: banners echo query-string text (SPEC 11.2).
    return Environment(
        loader=PackageLoader("mastra.core.studio", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def initials(name: str | None, email: str | None) -> str:
    """Initials of the name, else of the email, else ``U`` (SPEC 11.3 user menu)."""
    source = (name or "").strip()
    if source:
        words = [w for w in source.replace("_", " ").split() if w]
        return "".join(w[0] for w in words[:2]).upper()
    source = (email or "").strip()
    if source:
        return source[0].upper()
    return "U"


def html_page(
    template: str,
    context: dict[str, Any],
    settings: Settings,
    *,
    status: int = 200,
    set_cookies: list[str] | None = None,
) -> HTMLResponse:
    body = _environment().get_template(template).render(**context)
    response = HTMLResponse(body, status_code=status)
    apply_security_headers(response.headers, settings, html=True)
    # Pages show per-user data: never let a shared cache keep them.
    response.headers["Cache-Control"] = "no-store"
    for cookie in set_cookies or ():
        response.headers.append("set-cookie", cookie)
    return response
