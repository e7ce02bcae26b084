"""``GET /auth/users`` and ``GET /auth/users/{id}`` (issue #11): the reference Studio's
users hook, read through the user provider and guarded by ``users:read``.

Only public fields leave the server: :meth:`EEUser.public_json` plus the role when the
provider's listing stores one (never ``disabled``, timestamps or metadata).
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...ee.interfaces import SupportsUserListing
from ...ee.models import EEUser
from .._responses import error_response, json_response
from .._spec import ApiRoute
from ._sessions import context

__all__ = ["users_routes"]

LISTING_UNSUPPORTED = "Listing users is not supported by the user provider"
LOOKUP_UNSUPPORTED = "No user provider is configured"
USER_NOT_FOUND = "User not found"


def _public_row(row: dict[str, Any] | EEUser) -> dict[str, Any]:
    # Local-account providers list dict rows (the CLI's shape); WorkOS lists EEUser objects.
    if isinstance(row, EEUser):
        return row.public_json()
    body = EEUser(
        id=str(row["id"]), email=row.get("email"), name=row.get("name"), avatar_url=row.get("avatarUrl")
    ).public_json()
    if row.get("role"):
        body["role"] = row["role"]
    return body


async def list_users(request: Request) -> Response:
    provider = context(request).auth.user
    if not isinstance(provider, SupportsUserListing):
        return error_response(LISTING_UNSUPPORTED, 501)
    rows: list[Any] = await provider.list_users()
    return json_response({"users": [_public_row(row) for row in rows]})


async def get_user(request: Request) -> Response:
    provider = context(request).auth.user
    if provider is None:
        return error_response(LOOKUP_UNSUPPORTED, 501)
    try:
        user = await provider.get_user(request.path_params["id"])
    except LookupError:  # some providers raise instead of returning None
        user = None
    if user is None:
        return error_response(USER_NOT_FOUND, 404)
    return json_response(user.public_json())


def users_routes() -> list[ApiRoute]:
    common = {401: "Unauthenticated", 403: "Missing users:read", 501: "No user listing or lookup"}
    return [
        ApiRoute(
            "GET",
            "/auth/users",
            list_users,
            permission="users:read",
            tag="auth",
            summary="Every user of the user provider (public fields and role)",
            responses={200: "{users}", **common},
        ),
        ApiRoute(
            "GET",
            "/auth/users/{id}",
            get_user,
            permission="users:read",
            tag="auth",
            summary="One user (public fields)",
            responses={200: "User", 404: "Unknown user", **common},
        ),
    ]
