"""The studio web UI (SPEC 11): server-rendered Jinja2 pages plus small ES modules.

``studio_routes(ctx)`` returns routes relative to the studio base path;
``mastra.core.server.create_app`` mounts them there after the API routes, handing over
its ``EEContext``: the studio authenticates and authorizes through the server's auth
pipeline and never imports the server package. Every link and redirect the pages
produce is built from ``settings.normalised_studio_base`` and
``settings.normalised_api_prefix``, so a base such as ``/studio/`` is never doubled.

No build step and no CDN: scripts, styles and icons are static files served from
``<base>_studio/static/``; page data travels in a ``<script type="application/json">``
block because the CSP (``default-src 'self'``) forbids inline code.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from functools import partial
from importlib.resources import files
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from ..ee.settings import Settings
from ._catalog import NAV_PAGES, PAGES, Page
from ._chain import chain_status_endpoint
from ._pages import StudioPages
from ._security import CSP, apply_security_headers, safe_local_path

if TYPE_CHECKING:
    from ..server import EEContext

__all__ = ["CSP", "NAV_PAGES", "PAGES", "Page", "safe_local_path", "studio_routes"]


class _StaticWithHeaders:
    """StaticFiles plus nosniff/referrer headers (module scripts must not be sniffed)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.files = StaticFiles(directory=str(files("mastra.core.studio") / "static"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers: dict[str, str] = {}
                apply_security_headers(headers, self.settings, html=False)
                raw = list(message.get("headers", []))
                raw += [(k.lower().encode(), v.encode()) for k, v in headers.items()]
                raw.append((b"cache-control", b"no-cache"))
                message = {**message, "headers": raw}
            await send(message)

        await self.files(scope, receive, send_with_headers)


def _page_endpoint(pages: StudioPages, page: Page) -> Any:
    async def endpoint(request: Request) -> Response:
        return await pages.app_page(request, page)

    endpoint.__name__ = f"studio_{page.slug or 'home'}"
    return endpoint


def studio_routes(ctx: EEContext) -> list[BaseRoute]:
    """Routes relative to the studio base (``/login``, ``/audit``...), to be mounted there."""
    settings = ctx.settings
    pages = StudioPages(ctx)
    api = settings.normalised_api_prefix

    async def not_found(request: Request) -> Response:
        # An unmatched API path that fell through to the studio gets a JSON answer.
        if api and (request.url.path == api or request.url.path.startswith(api + "/")):
            return JSONResponse({"error": "Not found", "message": "Not found"}, status_code=404)
        return await pages.not_found(request)

    routes: list[BaseRoute] = [
        Mount("/_studio/static", app=_StaticWithHeaders(settings), name="studio_static"),
        Route("/_studio/chain-status", chain_status_endpoint(ctx), methods=["GET"]),
        Route("/login", partial(pages.login, signup=False), methods=["GET"], name="studio_login"),
        Route("/signup", partial(pages.login, signup=True), methods=["GET"], name="studio_signup"),
        Route("/forgot-password", pages.forgot_password, methods=["GET"]),
        Route("/reset-password", pages.reset_password, methods=["GET"]),
        Route("/no-access", pages.no_access, methods=["GET"]),
    ]
    for page in PAGES:
        routes.append(Route(f"/{page.slug}", _page_endpoint(pages, page), methods=["GET"]))
    routes.append(Route("/{path:path}", not_found, methods=["GET", "HEAD"]))
    return routes
