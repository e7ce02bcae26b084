"""``/auth/api-keys`` and ``/auth/service-accounts`` (issue #15, docs/api-keys.md).

* Own keys (any signed-in caller): list, create, rotate, revoke. The owner is the
  caller — a user, or the service account whose key is calling. A requested scope the
  caller does not hold is a 403 (a key never exceeds its creator), and a key id that is
  not the caller's is a 404 like an unknown one (no probing of other users' keys).
* Service accounts (``users:write``): list, create, update (roles, disabled), delete,
  and their keys (list, create, revoke); a key's scopes are checked against the
  permissions of the account's roles.

Without an ``api_keys`` provider every route answers 404 ``API keys not configured``.
Every mutation is audited (``auth.api-key-*``, ``auth.service-account-*``); the full
key leaves the server once, in the 201 answer, and never reaches the audit log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from ipaddress import ip_network
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...ee.api_keys import ApiKey, CreatedApiKey, OwnerType, ServiceAccount
from ...ee.interfaces import IApiKeyProvider, SupportsServiceAccounts, maybe_await
from ...ee.models import AuditResource, EEUser, format_timestamp, utcnow
from ...ee.permissions import compile_permissions, is_own_permission
from .._audit import record
from .._pipeline import remembered_caller
from .._responses import error_response, json_response, validation_response
from .._spec import ApiRoute
from ._bodies import ApiKeyCreateBody, ApiKeyRotateBody, ServiceAccountCreateBody, ServiceAccountUpdateBody
from ._sessions import context

__all__ = ["api_key_json", "api_keys_routes", "service_account_json"]

NOT_CONFIGURED = "API keys not configured"
NO_SERVICE_ACCOUNTS = "Service accounts not supported"
KEY_NOT_FOUND = "Key not found"
ACCOUNT_NOT_FOUND = "Service account not found"
SCOPE_EXCEEDS = "Scope exceeds your permissions"
NOT_ROTATABLE = "Key cannot be rotated"
ROLE_EXCEEDS = "Role exceeds your permissions"

logger = logging.getLogger("mastra.server")

#: The generators' formats (``ee/api_keys``): anything else is unknown without a database
#: round trip (PostgreSQL refuses a NUL in a parameter outright).
_KEY_ID = re.compile(r"[0-9A-Za-z]{16}")
_ACCOUNT_ID = re.compile(r"sa_[0-9a-f]{24}")

Handler = Callable[[Request], Awaitable[Response]]


# -- JSON shapes ------------------------------------------------------------------------


def api_key_json(key: ApiKey) -> dict[str, Any]:
    """``ApiKeyJson``: the record as lists show it, never the secret."""
    replaced = key.replaced_by is not None and key.revoked_at is None
    return {
        "id": key.id,
        "name": key.name,
        "prefix": f"{key.display_prefix}…",
        "ownerType": key.owner_type,
        "ownerId": key.owner_id,
        "scopes": list(key.scopes),
        "ipAllowlist": list(key.ip_allowlist),
        "createdAt": format_timestamp(key.created_at),
        "expiresAt": format_timestamp(key.expires_at),
        "lastUsedAt": format_timestamp(key.last_used_at) if key.last_used_at else None,
        "lastUsedIp": key.last_used_ip,
        "revokedAt": format_timestamp(key.revoked_at) if key.revoked_at else None,
        # A rotated key lives until its (shortened) expiry: the end of its grace.
        "graceUntil": format_timestamp(key.expires_at) if replaced else None,
    }


def service_account_json(account: ServiceAccount) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "roles": list(account.roles),
        "disabled": account.disabled,
        "createdAt": format_timestamp(account.created_at),
        "createdBy": account.created_by,
    }


def _created_json(created: CreatedApiKey) -> dict[str, Any]:
    return {"key": created.secret, "apiKey": api_key_json(created.key)}


# -- shared steps -----------------------------------------------------------------------


def _provider(request: Request) -> IApiKeyProvider | None:
    return context(request).auth.api_keys


def configured(handler: Handler) -> Handler:
    """404 ``API keys not configured`` before ``handler`` when no provider is selected."""

    async def guarded(request: Request) -> Response:
        if _provider(request) is None:
            return error_response(NOT_CONFIGURED, 404)
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return guarded


def _accounts(request: Request) -> SupportsServiceAccounts | None:
    provider = _provider(request)
    return provider if isinstance(provider, SupportsServiceAccounts) else None


def _owner(request: Request) -> tuple[OwnerType, str]:
    """Whose keys "own keys" are: the user, or the service account whose key calls."""
    user: EEUser = request.state.user
    return ("service_account" if user.metadata.get("serviceAccount") else "user"), user.id


def _beyond_caller(request: Request, scopes: Sequence[str]) -> list[str]:
    """The scopes the caller does not hold. Without enforced permissions the caller's
    own side counts as ``*``, but a calling key's scopes still bound what it asks for;
    the caller's own keys and sessions are always its own side's."""
    caller = remembered_caller(request)
    if caller is None:
        return []
    return [
        scope
        for scope in scopes
        if not (caller.may(scope) or (is_own_permission(scope) and caller.scoped(scope)))
    ]


def _calling_key(request: Request) -> ApiKey | None:
    caller = remembered_caller(request)
    key = caller.api_key if caller is not None else None
    return key if isinstance(key, ApiKey) else None


def _uncovered_networks(parent: ApiKey, wanted: Sequence[str]) -> list[str]:
    """The networks of ``wanted`` the parent key's allow-list does not cover (an empty
    list is any address: an empty parent list covers all, an empty ``wanted`` none)."""
    if not parent.ip_allowlist:
        return []
    if not wanted:
        return ["any address"]
    allowed = [ip_network(cidr) for cidr in parent.ip_allowlist]
    uncovered: list[str] = []
    for cidr in wanted:
        network = ip_network(cidr, strict=False)
        if not any(
            network.version == net.version and network.subnet_of(net)  # type: ignore[arg-type]
            for net in allowed
        ):
            uncovered.append(str(network))
    return uncovered


def _looser_than_caller(request: Request, key: ApiKey) -> Response | None:
    """403 when a calling key would get (by rotating) a key looser than itself."""
    parent = _calling_key(request)
    if parent is None or parent.id == key.id:
        return None
    missing = _beyond_caller(request, key.scopes)
    if missing:
        return _scope_refusal(missing, "You do")
    uncovered = _uncovered_networks(parent, key.ip_allowlist)
    if uncovered:
        return _allowlist_refusal(uncovered)
    if key.expires_at > parent.expires_at:
        return error_response(SCOPE_EXCEEDS, 403, message="The key outlives the calling key")
    return None


def _allowlist_refusal(uncovered: list[str]) -> Response:
    message = f"The calling key's IP allow-list does not cover: {', '.join(uncovered)}"
    return error_response(SCOPE_EXCEEDS, 403, message=message)


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


def _scope_refusal(missing: list[str], whose: str) -> Response:
    return error_response(SCOPE_EXCEEDS, 403, message=f"{whose} not hold: {', '.join(missing)}")


def _issues(field: str, message: str) -> Response:
    return validation_response([{"path": [field], "message": message, "code": "value_error"}])


def _ttl(request: Request, days: int | None) -> timedelta | Response | None:
    if days is None:
        return None
    maximum = context(request).settings.auth.api_key_policy.max_ttl_days
    if days > maximum:
        return _issues("expiresInDays", f"An API key may live at most {maximum} days")
    return timedelta(days=days)


async def _audit_key(request: Request, action: str, key: ApiKey, **extra: Any) -> None:
    metadata = {"name": key.name, "ownerType": key.owner_type, "ownerId": key.owner_id, **extra}
    await record(
        request, action, "success", resource=AuditResource(type="api_key", id=key.id), metadata=metadata
    )


async def _audit_account(request: Request, action: str, account_id: str, **metadata: Any) -> None:
    resource = AuditResource(type="service_account", id=account_id)
    await record(request, action, "success", resource=resource, metadata=metadata)


async def _issue(request: Request, owner_type: OwnerType, owner_id: str, body: ApiKeyCreateBody) -> Response:
    provider = _provider(request)
    assert provider is not None  # configured()
    ttl = _ttl(request, body.expiresInDays)
    if isinstance(ttl, Response):
        return ttl
    allowlist = list(body.ipAllowlist)
    parent = _calling_key(request)
    if parent is not None:  # a key-created key is never looser than the calling key
        if not allowlist:
            allowlist = list(parent.ip_allowlist)
        uncovered = _uncovered_networks(parent, allowlist)
        if uncovered:
            return _allowlist_refusal(uncovered)
        if ttl is None:
            ttl = timedelta(days=context(request).settings.auth.api_key_policy.default_ttl_days)
        ttl = min(ttl, parent.expires_at - utcnow())
    user: EEUser = request.state.user
    try:
        created = await provider.create_key(
            owner_type,
            owner_id,
            name=body.name,
            scopes=body.scopes,
            ttl=ttl,
            ip_allowlist=allowlist,
            created_by=user.id,
        )
    except ValueError as refused:  # the provider's own checks (a policy, a disabled owner)
        return _issues("body", str(refused))
    await _audit_key(request, "auth.api-key-create", created.key, scopes=created.key.scopes)
    return json_response(_created_json(created), 201)


async def _owned_key(request: Request, owner_type: OwnerType, owner_id: str) -> ApiKey | None:
    provider = _provider(request)
    assert provider is not None
    key_id = request.path_params["keyId"]
    if not _KEY_ID.fullmatch(key_id):
        return None
    key = await provider.get_key(key_id)
    if key is None or key.owner_type != owner_type or key.owner_id != owner_id:
        return None
    return key


async def _revoke(request: Request, owner_type: OwnerType, owner_id: str) -> Response:
    key = await _owned_key(request, owner_type, owner_id)
    if key is None:
        return error_response(KEY_NOT_FOUND, 404)
    caller = remembered_caller(request)
    calling = _calling_key(request)
    # A key may always revoke itself; another key needs ``api-keys:delete`` in its scopes.
    if caller is not None and calling is not None and calling.id != key.id:
        if not caller.scoped("api-keys:delete"):
            return error_response("Forbidden", 403, message="Missing required permission: api-keys:delete")
    provider = _provider(request)
    assert provider is not None
    if await provider.revoke(key.id):  # revoking a revoked key again changes nothing
        await _audit_key(request, "auth.api-key-revoke", key)
    return json_response({"success": True})


# -- own keys ---------------------------------------------------------------------------


async def list_own_keys(request: Request) -> Response:
    provider = _provider(request)
    assert provider is not None
    keys = await provider.list_keys(*_owner(request))
    return json_response({"keys": [api_key_json(key) for key in keys]})


async def create_own_key(request: Request) -> Response:
    body: ApiKeyCreateBody = request.state.mastra_body
    missing = _beyond_caller(request, body.scopes)
    if missing:
        return _scope_refusal(missing, "You do")
    return await _issue(request, *_owner(request), body)


async def rotate_own_key(request: Request) -> Response:
    body: ApiKeyRotateBody = request.state.mastra_body
    key = await _owned_key(request, *_owner(request))
    if key is None:
        return error_response(KEY_NOT_FOUND, 404)
    looser = _looser_than_caller(request, key)
    if looser is not None:
        return looser
    provider = _provider(request)
    assert provider is not None
    created = await provider.rotate(key.id, grace=timedelta(seconds=body.gracePeriodSeconds))
    if created is None:
        return error_response(
            NOT_ROTATABLE, 409, message="The key is revoked, expired or already replaced by a rotation"
        )
    await _audit_key(
        request,
        "auth.api-key-rotate",
        key,
        replacedBy=created.key.id,
        gracePeriodSeconds=body.gracePeriodSeconds,
    )
    return json_response(_created_json(created), 201)


async def revoke_own_key(request: Request) -> Response:
    return await _revoke(request, *_owner(request))


# -- service accounts -------------------------------------------------------------------


def accounts_supported(handler: Handler) -> Handler:
    """404 when the provider has no service accounts (after :func:`configured`)."""

    async def guarded(request: Request) -> Response:
        if _accounts(request) is None:
            return error_response(NO_SERVICE_ACCOUNTS, 404)
        return await handler(request)

    guarded.__name__ = handler.__name__
    guarded.__doc__ = handler.__doc__
    return configured(guarded)


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


async def list_accounts(request: Request) -> Response:
    accounts = _accounts(request)
    assert accounts is not None
    rows = await accounts.list_service_accounts()
    return json_response({"serviceAccounts": [service_account_json(a) for a in rows]})


async def create_account(request: Request) -> Response:
    body: ServiceAccountCreateBody = request.state.mastra_body
    unknown = await _unknown_roles(request, body.roles)
    if unknown:
        return _issues("roles", f"Unknown role: {', '.join(unknown)}")
    beyond = await _roles_beyond_caller(request, body.roles)
    if beyond:
        return _role_refusal(beyond)
    accounts = _accounts(request)
    assert accounts is not None
    user: EEUser = request.state.user
    try:
        account = await accounts.create_service_account(body.name, body.roles, created_by=user.id)
    except ValueError as refused:  # the provider's own checks
        return _issues("body", str(refused))
    await _audit_account(
        request, "auth.service-account-create", account.id, name=account.name, roles=account.roles
    )
    return json_response(service_account_json(account), 201)


async def update_account(request: Request) -> Response:
    body: ServiceAccountUpdateBody = request.state.mastra_body
    if body.roles is not None:
        unknown = await _unknown_roles(request, body.roles)
        if unknown:
            return _issues("roles", f"Unknown role: {', '.join(unknown)}")
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
        return _issues("body", str(refused))
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
    provider = _provider(request)
    assert provider is not None
    keys = await provider.list_keys("service_account", account.id)
    return json_response({"keys": [api_key_json(key) for key in keys]})


async def create_account_key(request: Request) -> Response:
    body: ApiKeyCreateBody = request.state.mastra_body
    account = await _account(request)
    if account is None:
        return error_response(ACCOUNT_NOT_FOUND, 404)
    # Within the caller's own grants (a calling key's scopes bind even without RBAC) …
    missing = _beyond_caller(request, body.scopes)
    if missing:
        return _scope_refusal(missing, "You do")
    # … and within the account's roles.
    missing = await _beyond_account(request, account, body.scopes)
    if missing:
        return _scope_refusal(missing, "The service account's roles do")
    return await _issue(request, "service_account", account.id, body)


async def revoke_account_key(request: Request) -> Response:
    account = await _account(request)
    if account is None:
        return error_response(ACCOUNT_NOT_FOUND, 404)
    return await _revoke(request, "service_account", account.id)


# -- the table --------------------------------------------------------------------------


def api_keys_routes() -> list[ApiRoute]:
    own = {401: "Unauthenticated", 403: "A key without the api-keys scope", 404: "API keys not configured"}
    admin = {**own, 403: "Missing users:write", 404: "Not configured, or unknown service account"}
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
            "DELETE",
            "/auth/service-accounts/{id}/api-keys/{keyId}",
            accounts_supported(revoke_account_key),
            permission="users:write",
            tag="auth",
            summary="Revoke a service account's key",
            responses={200: "{success}", **admin},
        ),
    ]
