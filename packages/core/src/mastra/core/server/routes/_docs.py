"""``GET /docs``: Swagger UI for ``<prefix>/openapi.json`` (``MASTRA_DOCS_ENABLED``).

The Swagger UI files are vendored in ``server/static/docs`` (no CDN: servers may be
offline). The page carries no inline script, so the studio's strict CSP applies,
widened only by ``img-src data:`` for the icons Swagger UI's stylesheet embeds.
Off (404) in production unless ``MASTRA_DOCS_ENABLED=true``.
"""

from __future__ import annotations

from importlib.resources import files

from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, Response

from ...studio._security import CSP, apply_security_headers
from .._responses import error_response
from .._spec import ApiRoute
from ._sessions import context

__all__ = ["DOCS_ASSET_VERSION", "docs_routes"]

#: The vendored ``swagger-ui-dist`` release (see ``static/docs/README.md``).
DOCS_ASSET_VERSION = "5.32.0"
DOCS_CSP = f"{CSP}; img-src 'self' data:"
_ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "docs-init.js": "text/javascript; charset=utf-8",
    "LICENSE": "text/plain; charset=utf-8",
    "NOTICE": "text/plain; charset=utf-8",
    "swagger-ui-bundle.js.LICENSE.txt": "text/plain; charset=utf-8",
}
# Relative URLs: the page is ``<prefix>/docs``, so they resolve under the prefix wherever
# the host app mounts us (``docs/x`` → ``<prefix>/docs/x``, ``openapi.json`` → ``<prefix>/openapi.json``).
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Mastra EE API</title>
<link rel="stylesheet" href="docs/swagger-ui.css?v={version}">
</head>
<body>
<div id="swagger-ui" data-openapi-url="openapi.json"></div>
<script src="docs/swagger-ui-bundle.js?v={version}"></script>
<script src="docs/docs-init.js?v={version}"></script>
</body>
</html>
"""


def _disabled(request: Request) -> bool:
    return not context(request).settings.docs_ui_enabled


async def docs_page(request: Request) -> Response:
    if _disabled(request):
        return error_response("Not found", 404)
    response = HTMLResponse(_PAGE.format(version=DOCS_ASSET_VERSION))
    apply_security_headers(response.headers, context(request).settings, html=True)
    response.headers["Content-Security-Policy"] = DOCS_CSP
    return response


async def docs_asset(request: Request) -> Response:
    name = request.path_params["asset"]
    media_type = _ASSETS.get(name)
    if media_type is None or _disabled(request):
        return error_response("Not found", 404)
    path = files("mastra.core.server") / "static" / "docs" / name
    response = FileResponse(str(path), media_type=media_type)
    response.headers["Cache-Control"] = "public, max-age=86400"
    return response


def docs_routes() -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/docs",
            docs_page,
            requires_auth=False,
            tag="meta",
            summary="Swagger UI for this OpenAPI document (MASTRA_DOCS_ENABLED)",
            responses={200: "HTML page", 404: "Docs page disabled"},
        ),
        ApiRoute(
            "GET",
            "/docs/{asset}",
            docs_asset,
            requires_auth=False,
            tag="meta",
            summary="A static file of the Swagger UI page",
            responses={200: "Static file", 404: "Unknown file or docs page disabled"},
        ),
    ]
