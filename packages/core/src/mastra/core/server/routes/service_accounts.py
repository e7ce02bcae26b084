"""``/auth/service-accounts``: non-human owners of API keys (issue #15, docs/api-keys.md).

Holders of ``users:write`` list, create, update (roles, disabled) and delete service
accounts, and list, create, rotate and revoke their keys. Nobody gives an account a role
granting more than they hold themselves, and an account key's scopes must be held both
by the account's roles and by the caller: service accounts are no way up.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...ee.api_keys import ServiceAccount
from ...ee.interfaces import SupportsServiceAccounts, maybe_await
from ...ee.models import AuditResource, EEUser, format_timestamp
from ...ee.permissions import compile_permissions, is_own_permission
from .._audit import record
from .._pipeline import remembered_caller
from .._responses import error_response, json_response
from .._spec import ApiRoute
from ._api_key_steps import (
    Handler,
    api_key_json,
    beyond_caller,
    configured,
    issue_key,
    issues,
    key_provider,
    not_found_without,
    revoke_key,
    rotate_key,
    scope_refusal,
)
from ._bodies import ApiKeyCreateBody, ApiKeyRotateBody, ServiceAccountCreateBody, ServiceAccountUpdateBody
from ._sessions import context

__all__ = ["service_account_json", "service_accounts_routes"]

NO_SERVICE_ACCOUNTS = "Service accounts not supported"
ACCOUNT_NOT_FOUND = "Service account not found"
ROLE_EXCEEDS = "Role exceeds your permissions"

logger = logging.getLogger("mastra.server")

#: The generator's format: anything else is unknown without a database round trip.
_ACCOUNT_ID = re.compile(r"sa_[0-9a-f]{24}")


def service_account_json(account: ServiceAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "roles": list(account.roles),
        "disabled": account.disabled,
        "createdAt": format_timestamp(account.created_at),
        "createdBy": account.created_by,
    }


def _accounts(request: Request) -> SupportsServiceAccounts | None:
    provider = key_provider(request)
    return provider if isinstance(provider, SupportsServiceAccounts) else None


def accounts_supported(handler: Handler) -> Handler:
    """404 when the provider has no service accounts (after :func:`configured`)."""
    return configured(not_found_without(_accounts, NO_SERVICE_ACCOUNTS)(handler))


def _account_id(request: Request) -> str | None:
    """The path's service account id, ``None`` when it is not of the generator's format."""
    account_id: str = request.path_params["id"]
    return account_id if _ACCOUNT_ID.fullmatch(account_id) else None


async def _account(request: Request) -> ServiceAccount | None:
    accounts = _accounts(request)
    assert accounts is not None
    account_id = _account_id(request)
    return None if account_id is None else await accounts.get_service_account(account_id)


async def _unknown_roles(request: Request, roles: Sequence[str]) -> list[str]:
    """Roles the RBAC provider does not list (none when it lists no catalogue)."""
    rbac = context(request).auth.rbac
    lister = getattr(rbac, "get_available_roles", None)
    if not callable(lister):
        return []
    try:
        listed = await maybe_await(lister())
    except Exception:  # no catalogue to check against: the RBAC provider decides at use
        return []
    known = {str(r["id"]) if isinstance(r, dict) else str(r.id) for r in listed}
    return [role for role in roles if role not in known]


async def _roles_beyond_caller(request: Request, roles: Sequence[str]) -> list[str]:
    """The roles granting some permission the caller does not hold (none when
    permissions are not enforced). An unresolvable role is refused rather than guessed."""
    caller = remembered_caller(request)
    rbac = context(request).auth.rbac
    if caller is None or rbac is None or not caller.rbac:
        return []
    beyond: list[str] = []
    for role in roles:
        probe = EEUser(id="sa_role_probe", name=role, metadata={"serviceAccount": True, "roles": [role]})
        try:
            granted = list(await maybe_await(rbac.get_permissions(probe)))
        except Exception:
            logger.warning("RBAC provider failed for role %s", role, exc_info=True)
            beyond.append(role)
            continue
        if not all(caller.may(permission) for permission in granted):
            beyond.append(role)
    return beyond


def _role_refusal(roles: list[str]) -> Response:
    message = f"You do not hold every permission of: {', '.join(roles)}"
    return error_response(ROLE_EXCEEDS, 403, message=message)


async def _beyond_account(request: Request, account: ServiceAccount, scopes: Sequence[str]) -> list[str]:
    """The scopes the permissions of ``account``'s roles do not cover."""
    ctx = context(request)
    caller = remembered_caller(request)
    rbac = ctx.auth.rbac
    if rbac is None or caller is None or not caller.rbac:
        return []
    user = EEUser(id=account.id, name=account.name, metadata={"serviceAccount": True, "roles": account.roles})
    try:
        granted = compile_permissions(list(await maybe_await(rbac.get_permissions(user))))
    except Exception:  # unresolvable roles grant nothing: refuse rather than guess
        logger.warning("RBAC provider failed for service account %s", account.id, exc_info=True)
        return list(scopes)
    # The account's own keys and sessions are its own, whatever its roles.
    return [scope for scope in scopes if not (granted.allows(scope) or is_own_permission(scope))]


async def _audit_account(request: Request, action: str, account_id: str, **metadata: Any) -> None:
    resource = AuditResource(type="service_account", id=account_id)
    await record(request, action, "success", resource=resource, metadata=metadata)


async def list_accounts(request: Request) -> Response:
    accounts = _accounts(request)
    assert accounts is not None
    rows = await accounts.list_service_accounts()
    return json_response({"serviceAccounts": [service_account_json(a) for a in rows]})


async def create_account(request: Request) -> Response:
    body: ServiceAccountCreateBody = request.state.mastra_body
    unknown = await _unknown_roles(request, body.roles)
    if unknown:
        return issues("roles", f"Unknown role: {', '.join(unknown)}")
    beyond = await _roles_beyond_caller(request, body.roles)
    if beyond:
        return _role_refusal(beyond)
    accounts = _accounts(request)
    assert accounts is not None
    user: EEUser = request.state.user
    try:
        account = await accounts.create_service_account(body.name, body.roles, created_by=user.id)
    except ValueError as refused:  # the provider's own checks
        return issues("body", str(refused))
    await _audit_account(
        request, "auth.service-account-create", account.id, name=account.name, roles=account.roles
    )
    return json_response(service_account_json(account), 201)


async def update_account(request: Request) -> Response:
    body: ServiceAccountUpdateBody = request.state.mastra_body
    if body.roles is not None:
        unknown = await _unknown_roles(request, body.roles)
        if unknown:
            return issues("roles", f"Unknown role: {', '.join(unknown)}")
        beyond = await _roles_beyond_caller(request, body.roles)
        if beyond:
            return _role_refusal(beyond)
    accounts = _accounts(request)
    assert accounts is not None
    account_id = _account_id(request)
    if account_id is None or await accounts.get_service_account(account_id) is None:
        return error_response(ACCOUNT_NOT_FOUND, 404)
    try:
        updated = await accounts.update_service_account(account_id, roles=body.roles, disabled=body.disabled)
    except ValueError as refused:  # the provider's own checks
        return issues("body", str(refused))
    if updated is None:
        return error_response(ACCOUNT_NOT_FOUND, 404)
    changes = body.model_dump(exclude_none=True)
    await _audit_account(request, "auth.service-account-update", account_id, **changes)
    return json_response(service_account_json(updated))


async def delete_account(request: Request) -> Response:
    accounts = _accounts(request)
    assert accounts is not None
    account_id = _account_id(request)
    if account_id is None or not await accounts.delete_service_account(account_id):
        return error_response(ACCOUNT_NOT_FOUND, 404)
    await _audit_account(request, "auth.service-account-delete", account_id)
    return json_response({"success": True})


async def list_account_keys(request: Request) -> Response:
    account = await _account(request)
    if account is None:
        return error_response(ACCOUNT_NOT_FOUND, 404)
    provider = key_provider(request)
    assert provider is not None
    keys = await provider.list_keys("service_account", account.id)
    return json_response({"keys": [api_key_json(key) for key in keys]})


async def create_account_key(request: Request) -> Response:
    body: ApiKeyCreateBody = request.state.mastra_body
    account = await _account(request)
    if account is None:
        return error_response(ACCOUNT_NOT_FOUND, 404)
    # Within the caller's own grants (a calling key's scopes bind even without RBAC) …
    missing = beyond_caller(request, body.scopes)
    if missing:
        return scope_refusal(missing, "You do")
    # … and within the account's roles.
    missing = await _beyond_account(request, account, body.scopes)
    if missing:
        return scope_refusal(missing, "The service account's roles do")
    return await issue_key(request, "service_account", account.id, body)


async def rotate_account_key(request: Request) -> Response:
    account = await _account(request)
    if account is None:
        return error_response(ACCOUNT_NOT_FOUND, 404)
    return await rotate_key(request, "service_account", account.id, within_caller=True)


async def revoke_account_key(request: Request) -> Response:
    account = await _account(request)
    if account is None:
        return error_response(ACCOUNT_NOT_FOUND, 404)
    return await revoke_key(request, "service_account", account.id)


# -- the table --------------------------------------------------------------------------


def service_accounts_routes() -> list[ApiRoute]:
    admin = {
        401: "Unauthenticated",
        403: "Missing users:write",
        404: "Not configured, or unknown service account",
    }
    key_responses = {201: "{key, apiKey}: the full key, shown once", 400: "Invalid request"}
    r = ApiRoute
    return [
        r(
            "GET",
            "/auth/service-accounts",
            accounts_supported(list_accounts),
            permission="users:write",
            tag="auth",
            summary="Service accounts (non-human owners of API keys)",
            responses={200: "{serviceAccounts}", **admin},
        ),
        r(
            "POST",
            "/auth/service-accounts",
            accounts_supported(create_account),
            permission="users:write",
            body=ServiceAccountCreateBody,
            tag="auth",
            summary="Create a service account with roles of its own",
            responses={
                201: "The account",
                400: "Invalid request or unknown role",
                **admin,
                403: "Missing users:write, or a role beyond the caller's permissions",
            },
        ),
        r(
            "PATCH",
            "/auth/service-accounts/{id}",
            accounts_supported(update_account),
            permission="users:write",
            body=ServiceAccountUpdateBody,
            tag="auth",
            summary="Change a service account's roles or disable it (its keys stop at once)",
            responses={
                200: "The account",
                400: "Invalid request or unknown role",
                **admin,
                403: "Missing users:write, or a role beyond the caller's permissions",
            },
        ),
        r(
            "DELETE",
            "/auth/service-accounts/{id}",
            accounts_supported(delete_account),
            permission="users:write",
            tag="auth",
            summary="Delete a service account; its keys are revoked",
            responses={200: "{success}", **admin},
        ),
        r(
            "GET",
            "/auth/service-accounts/{id}/api-keys",
            accounts_supported(list_account_keys),
            permission="users:write",
            tag="auth",
            summary="A service account's API keys",
            responses={200: "{keys}", **admin},
        ),
        r(
            "POST",
            "/auth/service-accounts/{id}/api-keys",
            accounts_supported(create_account_key),
            permission="users:write",
            body=ApiKeyCreateBody,
            tag="auth",
            summary="Create a key for a service account, within its roles' permissions",
            responses={**key_responses, **admin, 403: "Missing users:write, or scope beyond the roles"},
        ),
        r(
            "POST",
            "/auth/service-accounts/{id}/api-keys/{keyId}/rotate",
            accounts_supported(rotate_account_key),
            permission="users:write",
            body=ApiKeyRotateBody,
            tag="auth",
            summary="Replace a service account's key; the old one lives for the grace period",
            responses={
                **key_responses,
                **admin,
                403: "Missing users:write, or a key scope beyond the caller's",
                404: "Unknown account or key",
                409: "Revoked, expired or already rotated",
            },
        ),
        r(
            "DELETE",
            "/auth/service-accounts/{id}/api-keys/{keyId}",
            accounts_supported(revoke_account_key),
            permission="users:write",
            tag="auth",
            summary="Revoke a service account's key",
            responses={200: "{success}", **admin},
        ),
    ]
