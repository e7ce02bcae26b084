"""The EE HTTP API (SPEC 9), one module per area.

``auth`` (capabilities, me, sessions, roles), ``users`` (list and look up users,
``users:read``) and ``audit`` are public route tables; ``_credentials`` (sign-in,
sign-up, password reset) and ``_sso`` (login, callback) are mounted through
``auth_routes``. ``_bodies`` holds the request models and ``_sessions`` the session
issuing they share.
"""

from __future__ import annotations

from .._spec import ApiRoute
from .audit import audit_routes
from .auth import auth_routes
from .users import users_routes

__all__ = ["api_routes", "audit_routes", "auth_routes", "users_routes"]


def api_routes() -> list[ApiRoute]:
    """Every core route, in match order."""
    return [*auth_routes(), *users_routes(), *audit_routes()]
