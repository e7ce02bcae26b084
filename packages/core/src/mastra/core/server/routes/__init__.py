"""The EE HTTP API (SPEC 9), one module per area.

``auth`` (capabilities, me, sessions, roles), ``users`` (list and look up users,
``users:read``), ``api_keys`` (API keys and service accounts) and ``audit`` are
public route tables; ``_credentials`` (sign-in,
sign-up, password reset) and ``_sso`` (login, callback) are mounted through
``auth_routes``. ``_bodies`` holds the request models and ``_sessions`` the session
issuing they share.

``_flows`` holds the credential flows (sign-in, sign-up, reset, password change,
sign-out) with their rate limits and audit events; they are public here so a
plugin speaking another dialect of the same API (``mastra-auth-better``'s Better
Auth endpoints) goes through the very same checks: each returns a
:class:`FlowOutcome` the caller renders.
"""

from __future__ import annotations

from .._spec import ApiRoute
from ._bodies import Body, EmailText, PasswordText, SafeStr
from ._flows import FlowOutcome, email_ok, sign_in_flow, sign_out_flow, sign_up_flow
from ._password_flows import change_password_flow, confirm_reset_flow, request_reset_flow
from .api_keys import api_keys_routes
from .audit import audit_routes
from .auth import auth_routes
from .service_accounts import service_accounts_routes
from .system import system_routes
from .users import users_routes

__all__ = [
    "Body",
    "EmailText",
    "FlowOutcome",
    "PasswordText",
    "SafeStr",
    "api_keys_routes",
    "api_routes",
    "audit_routes",
    "auth_routes",
    "change_password_flow",
    "confirm_reset_flow",
    "email_ok",
    "request_reset_flow",
    "service_accounts_routes",
    "sign_in_flow",
    "sign_out_flow",
    "sign_up_flow",
    "users_routes",
]


def api_routes() -> list[ApiRoute]:
    """Every core route, in match order."""
    return [
        *auth_routes(),
        *api_keys_routes(),
        *service_accounts_routes(),
        *users_routes(),
        *audit_routes(),
        *system_routes(),
    ]
