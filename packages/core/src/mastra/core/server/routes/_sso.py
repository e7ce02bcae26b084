"""SSO login and callback (SPEC 9.4, S1, S9, S10).

The host binds each login to the browser with a sealed state cookie and makes the
state single-use with the pending store; the IdP round-trip can therefore neither
be replayed nor completed in another browser.
"""

from __future__ import annotations

import inspect
import logging
import re
import time
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ...ee.crypto import (
    CookieSpec,
    SealError,
    clear_cookie,
    constant_time_equals,
    cookie_spec,
    new_secret,
    parse_cookie_header,
    set_cookie,
)
from ...ee.errors import SSOError
from ...ee.interfaces import SupportsHostState, SupportsLoginCookies, maybe_await
from .._audit import record
from .._origin import absolute_url, public_origin, validate_redirect
from .._responses import add_headers, error_response, json_response
from .._spec import ApiRoute
from .._sso_state import STATE_TTL
from ._sessions import context, issue_session, session_metadata

__all__ = ["sso_routes", "state_cookie_spec"]

logger = logging.getLogger("mastra.server")

_CODE = re.compile(r"[a-z0-9_]{1,64}")


def state_cookie_spec(ctx: Any, request: Request) -> CookieSpec:
    """The S8 rule over the origin this request is served on (https in dev → Secure)."""
    settings = ctx.settings
    return cookie_spec(
        "mastra_sso_state",
        production=settings.is_production,
        public_url=public_origin(request, settings),
    )


def _provider_id(sso: Any) -> str:
    try:
        return str(sso.get_login_button_config().provider)
    except Exception:
        return "sso"


def _prefers_html(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    best, best_q = None, -1.0
    for part in accept.split(","):
        media, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if media in {"text/html", "application/json"} and q > best_q:
            best, best_q = media, q
    return best == "text/html"


async def sso_login(request: Request) -> Response:
    ctx = context(request)
    sso = ctx.auth.sso
    if sso is None:
        return error_response("SSO not configured", 404)
    settings = ctx.settings
    target = validate_redirect(request.query_params.get("redirect_uri") or "/", request, settings)
    state = new_secret(32)
    spec = state_cookie_spec(ctx, request)
    sealed = ctx.state_sealer.seal_json(
        {
            "state": state,
            "redirect": target,
            "provider": _provider_id(sso),
            "exp": int(time.time()) + STATE_TTL,
        },
        aad=spec.name,
    )
    await ctx.sso_states.add(state)
    callback = public_origin(request, settings) + ctx.prefix + "/auth/sso/callback"
    url: str = await maybe_await(sso.get_login_url(callback, state))
    cookies = [set_cookie(spec, sealed, max_age=STATE_TTL)]
    if isinstance(sso, SupportsLoginCookies):
        cookies.extend(await maybe_await(sso.get_login_cookies(callback, state)))
    headers = [("set-cookie", c) for c in cookies]
    if _prefers_html(request):
        response: Response = RedirectResponse(url, status_code=302)
        add_headers(response, headers)
        return response
    return json_response({"url": url}, headers=headers)


def _read_state_cookie(ctx: Any, request: Request, spec: CookieSpec) -> dict[str, Any] | None:
    raw = parse_cookie_header(request.headers.get("cookie")).get(spec.name)
    if not raw:
        return None
    try:
        data = ctx.state_sealer.unseal_json(raw, aad=spec.name)
    except SealError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("state"), str):
        return None
    return data


async def sso_callback(request: Request) -> Response:
    ctx = context(request)
    settings = ctx.settings
    sso = ctx.auth.sso
    spec = state_cookie_spec(ctx, request)
    cookie = _read_state_cookie(ctx, request, spec)
    target: str | None = None
    if cookie is not None and isinstance(cookie.get("redirect"), str):
        target = validate_redirect(cookie["redirect"], request, settings)
    provider = cookie.get("provider") if cookie else None
    clear_state = ("set-cookie", clear_cookie(spec))

    async def fail(code: str) -> Response:
        await record(
            request,
            "auth.sso-callback",
            "failure",
            metadata={"provider": provider or _provider_id(sso) if sso else "sso", "reason": code},
        )
        location = public_origin(request, settings) + settings.normalised_studio_base + "login?error=" + code
        if target is not None:
            location += "&redirect=" + quote(target, safe="")
        response = RedirectResponse(location, status_code=302)
        add_headers(response, [clear_state])
        return response

    state = request.query_params.get("state") or ""
    if sso is None:
        return await fail("sso_not_configured")
    try:
        host_state = state
        if state and isinstance(sso, SupportsHostState):
            host_state = str(await maybe_await(sso.host_state_from_callback(state)) or "")
    except Exception:
        host_state = ""
    if (
        cookie is None
        or not isinstance(cookie.get("exp"), int)
        or cookie["exp"] < time.time()
        or not host_state
        or not constant_time_equals(host_state, cookie["state"])
    ):
        return await fail("invalid_state")
    if not await ctx.sso_states.consume(cookie["state"]):
        return await fail("invalid_state")
    error = request.query_params.get("error")
    if error is not None:
        return await fail(error if _CODE.fullmatch(error) else "sso_failed")
    code = request.query_params.get("code")
    if not code:
        return await fail("missing_code")
    try:
        extra = {"request": request} if _accepts_request(sso.handle_callback) else {}
        result = await sso.handle_callback(code, state, cookie_header=request.headers.get("cookie"), **extra)
    except SSOError as exc:
        return await fail(exc.code if _CODE.fullmatch(exc.code or "") else "sso_failed")
    except Exception:
        logger.warning("SSO callback failed", exc_info=True)
        return await fail("sso_failed")
    headers, _, _ = await issue_session(
        ctx, request, sso, result.user, list(result.cookies), session_metadata(request, sso=provider or "sso")
    )
    await record(
        request, "auth.sso-callback", "success", user=result.user, metadata={"provider": provider or "sso"}
    )
    response = RedirectResponse(absolute_url(target or "/", request, settings), status_code=302)
    add_headers(response, [clear_state, *headers])
    return response


def sso_routes() -> list[ApiRoute]:
    return [
        ApiRoute(
            "GET",
            "/auth/sso/login",
            sso_login,
            requires_auth=False,
            tag="auth",
            summary="Start single sign-on: the IdP URL (JSON) or a redirect (HTML)",
            responses={200: "Login URL", 302: "Redirect to the IdP", 404: "SSO not configured"},
        ),
        ApiRoute(
            "GET",
            "/auth/sso/callback",
            sso_callback,
            requires_auth=False,
            tag="auth",
            summary="IdP callback; always redirects",
            responses={302: "Redirect"},
        ),
    ]


def _accepts_request(method: Any) -> bool:
    """Whether ``handle_callback`` takes the callback ``request`` (an extension of SPEC 3.3:
    OIDC reads the RFC 9207 ``iss`` parameter and the client address from it)."""
    try:
        params = inspect.signature(method).parameters
    except (TypeError, ValueError):
        return False
    return "request" in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
