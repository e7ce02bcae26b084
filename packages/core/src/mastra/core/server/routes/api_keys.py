"""``/auth/api-keys``: the caller's own keys (issue #15, docs/api-keys.md).

Any signed-in caller lists, creates, rotates and revokes its own keys. The owner is the
caller — a user, or the service account whose key is calling. A requested scope the
caller does not hold is a 403 (a key never exceeds its creator), and a key id that is
not the caller's is a 404 like an unknown one (no probing of other users' keys). A key
calling these routes needs the ``api-keys:*`` scope each names (``ApiRoute.key_scope``).
Without an ``api_keys`` provider every route answers 404 ``API keys not configured``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ...ee.api_keys import OwnerType
from ...ee.models import EEUser
from .._responses import json_response
from .._spec import ApiRoute
from ._api_key_steps import (
    api_key_json,
    beyond_caller,
    configured,
    issue_key,
    key_provider,
    revoke_key,
    rotate_key,
    scope_refusal,
)
from ._bodies import ApiKeyCreateBody, ApiKeyRotateBody

__all__ = ["api_key_json", "api_keys_routes"]


def _owner(request: Request) -> tuple[OwnerType, str]:
    """Whose keys "own keys" are: the user, or the service account whose key calls."""
    user: EEUser = request.state.user
    return ("service_account" if user.metadata.get("serviceAccount") else "user"), user.id


async def list_own_keys(request: Request) -> Response:
    provider = key_provider(request)
    assert provider is not None
    keys = await provider.list_keys(*_owner(request))
    return json_response({"keys": [api_key_json(key) for key in keys]})


async def create_own_key(request: Request) -> Response:
    body: ApiKeyCreateBody = request.state.mastra_body
    missing = beyond_caller(request, body.scopes)
    if missing:
        return scope_refusal(missing, "You do")
    return await issue_key(request, *_owner(request), body)


async def rotate_own_key(request: Request) -> Response:
    return await rotate_key(request, *_owner(request))


async def revoke_own_key(request: Request) -> Response:
    return await revoke_key(request, *_owner(request))


# -- the table --------------------------------------------------------------------------


def api_keys_routes() -> list[ApiRoute]:
    own = {401: "Unauthenticated", 403: "A key without the api-keys scope", 404: "API keys not configured"}
    key_responses = {201: "{key, apiKey}: the full key, shown once", 400: "Invalid request"}
    r = ApiRoute
    return [
        r(
            "GET",
            "/auth/api-keys",
            configured(list_own_keys),
            permission=False,
            key_scope="api-keys:read",
            tag="auth",
            summary="The caller's API keys (never their secrets)",
            responses={200: "{keys}", **own},
        ),
        r(
            "POST",
            "/auth/api-keys",
            configured(create_own_key),
            permission=False,
            key_scope="api-keys:write",
            body=ApiKeyCreateBody,
            tag="auth",
            summary="Create an API key acting as the caller, within the caller's permissions",
            responses={**key_responses, **own, 403: "Scope exceeds your permissions"},
        ),
        r(
            "POST",
            "/auth/api-keys/{keyId}/rotate",
            configured(rotate_own_key),
            permission=False,
            key_scope="api-keys:write",
            body=ApiKeyRotateBody,
            tag="auth",
            summary="Replace one of the caller's keys; the old one lives for the grace period",
            responses={
                **key_responses,
                **own,
                404: "Unknown key, or not the caller's",
                409: "Revoked, expired or already rotated",
            },
        ),
        r(
            "DELETE",
            "/auth/api-keys/{keyId}",
            configured(revoke_own_key),
            permission=False,
            tag="auth",
            summary="Revoke one of the caller's keys",
            responses={200: "{success}", **own, 404: "Unknown key, or not the caller's"},
        ),
    ]
