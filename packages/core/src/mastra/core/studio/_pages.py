"""Page endpoints: the AuthRequired guard, login/sign-up, password reset and the app pages."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..ee.interfaces import SupportsPasswordChange, SupportsPasswordReset, SupportsServiceAccounts
from ._catalog import NAV_PAGES, PAGES, Page, error_banner_text
from ._preview import PREVIEW_COOKIE
from ._render import html_page, initials
from ._security import apply_security_headers, login_path, safe_local_path
from ._viewer import Viewer, resolve_viewer

if TYPE_CHECKING:
    from ..server import EEContext

__all__ = ["StudioPages"]


def _requested_path(request: Request) -> str:
    query = request.url.query
    return request.url.path + (f"?{query}" if query else "")


class StudioPages:
    """Holds the server's context (settings, composed provider, auth pipeline); one
    method per kind of page."""

    def __init__(self, ctx: EEContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings
        self.auth = ctx.auth
        self.base = ctx.settings.normalised_studio_base
        self.api = ctx.settings.normalised_api_prefix

    # -- helpers --------------------------------------------------------------------

    def link(self, slug: str) -> str:
        return self.base + slug.lstrip("/")

    def _password_change(self, viewer: Viewer) -> bool:
        """The signed-in user's credentials provider can change a password (account page)."""
        return viewer.authenticated and isinstance(self.auth.credentials, SupportsPasswordChange)

    def _redirect(self, target: str, viewer: Viewer | None = None) -> Response:
        response = RedirectResponse(target, status_code=302)
        apply_security_headers(response.headers, self.settings, html=False)
        response.headers["Cache-Control"] = "no-store"
        for cookie in viewer.set_cookies if viewer else ():
            response.headers.append("set-cookie", cookie)
        return response

    def _context(self, request: Request, viewer: Viewer, page: Page | None, **extra: Any) -> dict[str, Any]:
        user = viewer.user
        client_config: dict[str, Any] = {
            "apiPrefix": self.api,
            "basePath": self.base,
            "publicUrl": self.ctx.public_origin(request),
            "page": page.slug if page else extra.get("page_name", ""),
            "authEnabled": viewer.auth_enabled,
            "authenticated": viewer.authenticated,
            "rbac": viewer.rbac_on,
            "permissions": viewer.permissions,
            "preview": {
                "available": viewer.can_preview,
                "cookie": PREVIEW_COOKIE,
                "roleId": viewer.preview.role_id if viewer.preview else None,
            },
            "passwordChange": self._password_change(viewer),
            "apiKeys": self._api_keys(viewer),
        }
        client_config.update(extra.pop("client", {}))
        return {
            "base": self.base,
            "api": self.api,
            "static": self.link("_studio/static/"),
            "link": self.link,
            "viewer": viewer,
            "user": user,
            "user_initials": initials(user.name, user.email) if user else "",
            "user_label": (user.name or user.email or "User") if user else "",
            "nav": [p for p in NAV_PAGES if self._nav_visible(viewer, p)],
            "account_nav": self._account_nav(viewer),
            "page": page,
            "password_change": client_config["passwordChange"],
            "client_config": client_config,
            **extra,
        }

    def _api_keys(self, viewer: Viewer) -> dict[str, bool]:
        """What the "API keys" page offers: own keys for any signed-in user, service
        accounts only to a caller holding ``users:write`` (the routes check it again)."""
        provider = self.auth.api_keys
        enabled = provider is not None and viewer.authenticated
        return {
            "enabled": enabled,
            "serviceAccounts": enabled
            and isinstance(provider, SupportsServiceAccounts)
            and viewer.can("users:write"),
        }

    def _account_nav(self, viewer: Viewer) -> list[Page]:
        if not self._api_keys(viewer)["enabled"]:
            return []
        return [p for p in PAGES if p.slug == "api-keys"]

    @staticmethod
    def _nav_visible(viewer: Viewer, page: Page) -> bool:
        if page.slug == "audit" and not viewer.audit_available:
            return False
        return page.permission is None or viewer.can(page.permission)

    # -- guarded app pages ----------------------------------------------------------

    async def app_page(self, request: Request, page: Page) -> Response:
        viewer = await resolve_viewer(self.ctx, request)
        if viewer.auth_enabled and not viewer.authenticated:
            if viewer.login_available:
                return self._redirect(login_path(self.base, _requested_path(request)), viewer)
            # No login method (token-only setups): the visitor supplies headers instead.
            context = self._context(request, viewer, page, client={"guard": "headers"})
            return html_page("auth_required.html", context, self.settings, status=401)
        if viewer.rbac_on and not viewer.can("studio:read"):
            return self._no_access(request, viewer)
        if page.slug == "audit":
            return self._audit(request, viewer, page)
        if page.permission and not viewer.can(page.permission):
            fallback = next(
                (p for p in NAV_PAGES if p.slug != page.slug and self._nav_visible(viewer, p)), None
            )
            if fallback is None:
                return self._no_access(request, viewer)
            return self._redirect(self.link(fallback.slug), viewer)
        context = self._context(request, viewer, page)
        return html_page(page.template, context, self.settings, set_cookies=viewer.set_cookies)

    def _audit(self, request: Request, viewer: Viewer, page: Page) -> Response:
        # SPEC 11.4 gives the audit page its own denied state instead of a redirect.
        if not viewer.can("audit:read"):
            context = self._context(request, viewer, page, audit_state="denied")
            return html_page("audit.html", context, self.settings, status=403, set_cookies=viewer.set_cookies)
        state = "ready" if viewer.audit_available else "unavailable"
        context = self._context(request, viewer, page, audit_state=state)
        return html_page("audit.html", context, self.settings, set_cookies=viewer.set_cookies)

    def _no_access(self, request: Request, viewer: Viewer) -> Response:
        context = self._context(request, viewer, None, page_name="no-access")
        context["nav"] = context["account_nav"] = []
        return html_page("no_access.html", context, self.settings, status=403, set_cookies=viewer.set_cookies)

    async def no_access(self, request: Request) -> Response:
        viewer = await resolve_viewer(self.ctx, request)
        if viewer.auth_enabled and not viewer.authenticated and viewer.login_available:
            return self._redirect(login_path(self.base, _requested_path(request)), viewer)
        return self._no_access(request, viewer)

    # -- public pages ---------------------------------------------------------------

    async def login(self, request: Request, *, signup: bool = False) -> Response:
        viewer = await resolve_viewer(self.ctx, request)
        params = request.query_params
        target = safe_local_path(params.get("redirect"), self.base)
        if viewer.authenticated:
            return self._redirect(target, viewer)
        signup = signup or params.get("mode") == "signup"
        credentials = self.auth.credentials
        banner = error_banner_text(params.get("error"), params.get("error_description"))
        context = self._context(
            request,
            viewer,
            None,
            page_name="signup" if signup else "login",
            banner=banner,
            client={
                "mode": "signup" if signup else "signin",
                "redirect": target,
                "resetEnabled": isinstance(credentials, SupportsPasswordReset),
            },
        )
        return html_page("login.html", context, self.settings, set_cookies=viewer.set_cookies)

    async def forgot_password(self, request: Request) -> Response:
        viewer = await resolve_viewer(self.ctx, request)
        context = self._context(request, viewer, None, page_name="forgot-password")
        return html_page("forgot_password.html", context, self.settings)

    async def reset_password(self, request: Request) -> Response:
        viewer = await resolve_viewer(self.ctx, request)
        # The token travels to the page script through the config block, never into a link.
        token = request.query_params.get("token", "")[:512]
        context = self._context(
            request, viewer, None, page_name="reset-password", client={"resetToken": token}
        )
        response = html_page("reset_password.html", context, self.settings)
        # The URL carries a one-time secret: keep it out of Referer headers entirely.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    async def not_found(self, request: Request) -> Response:
        viewer = await resolve_viewer(self.ctx, request)
        context = self._context(request, viewer, None, page_name="not-found")
        if viewer.auth_enabled and not viewer.authenticated:
            context["nav"] = []
        return html_page("not_found.html", context, self.settings, status=404)
