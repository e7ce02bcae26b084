"""The steps the API key routes share (``api_keys.py``: own keys; ``service_accounts.py``:
an account's keys): JSON shapes, the "never looser than the caller" rules, issuing,
rotating and revoking with their audit events. The full key leaves the server once, in
the 201 answer, and never reaches the audit log.
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import timedelta
from ipaddress import ip_network
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ...ee.api_keys import ApiKey, CreatedApiKey, OwnerType
from ...ee.interfaces import IApiKeyProvider
from ...ee.models import AuditResource, EEUser, format_timestamp, utcnow
from ...ee.permissions import is_own_permission
from .._audit import record
from .._pipeline import remembered_caller
from .._responses import error_response, json_response, validation_response
from ._bodies import ApiKeyCreateBody, ApiKeyRotateBody
from ._sessions import context

__all__ = [
    "KEY_NOT_FOUND",
    "Handler",
    "api_key_json",
    "audit_key",
    "beyond_caller",
    "configured",
    "created_json",
    "issue_key",
    "issues",
    "key_provider",
    "not_found_without",
    "revoke_key",
    "rotate_key",
    "scope_refusal",
]

NOT_CONFIGURED = "API keys not configured"
KEY_NOT_FOUND = "Key not found"
SCOPE_EXCEEDS = "Scope exceeds your permissions"
NOT_ROTATABLE = "Key cannot be rotated"

logger = logging.getLogger("mastra.server")

#: The generator's format (``ee/api_keys``): anything else is unknown without a database
#: round trip (PostgreSQL refuses a NUL in a parameter outright).
_KEY_ID = re.compile(r"[0-9A-Za-z]{16}")

Handler = Callable[[Request], Awaitable[Response]]

#: A key-created key ends at least this long before its parent (see ``issue_key``).
_CLOCK_MARGIN = timedelta(seconds=1)


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


def created_json(created: CreatedApiKey) -> dict[str, Any]:
    return {"key": created.secret, "apiKey": api_key_json(created.key)}


def key_provider(request: Request) -> IApiKeyProvider | None:
    return context(request).auth.api_keys


def not_found_without(needed: Callable[[Request], object], error: str) -> Callable[[Handler], Handler]:
    """A decorator answering 404 ``error`` before the handler when ``needed(request)`` is ``None``."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: Request) -> Response:
            if needed(request) is None:
                return error_response(error, 404)
            return await handler(request)

        return guarded

    return decorate


#: 404 ``API keys not configured`` before the handler when no provider is selected.
configured = not_found_without(key_provider, NOT_CONFIGURED)


def beyond_caller(request: Request, scopes: Sequence[str]) -> list[str]:
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


def calling_key(request: Request) -> ApiKey | None:
    caller = remembered_caller(request)
    key = caller.api_key if caller is not None else None
    return key if isinstance(key, ApiKey) else None


def uncovered_networks(parent: ApiKey, wanted: Sequence[str]) -> list[str]:
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


def looser_than_caller(request: Request, key: ApiKey) -> Response | None:
    """403 when a calling key would get (by rotating) a key looser than itself."""
    parent = calling_key(request)
    if parent is None or parent.id == key.id:
        return None
    missing = beyond_caller(request, key.scopes)
    if missing:
        return scope_refusal(missing, "You do")
    uncovered = uncovered_networks(parent, key.ip_allowlist)
    if uncovered:
        return allowlist_refusal(uncovered)
    if key.expires_at > parent.expires_at:
        return error_response(SCOPE_EXCEEDS, 403, message="The key outlives the calling key")
    return None


def allowlist_refusal(uncovered: list[str]) -> Response:
    message = f"The calling key's IP allow-list does not cover: {', '.join(uncovered)}"
    return error_response(SCOPE_EXCEEDS, 403, message=message)


def scope_refusal(missing: list[str], whose: str) -> Response:
    return error_response(SCOPE_EXCEEDS, 403, message=f"{whose} not hold: {', '.join(missing)}")


def issues(field: str, message: str) -> Response:
    return validation_response([{"path": [field], "message": message, "code": "value_error"}])


def lifetime(request: Request, days: int | None) -> timedelta | Response | None:
    if days is None:
        return None
    maximum = context(request).settings.auth.api_key_policy.max_ttl_days
    if days > maximum:
        return issues("expiresInDays", f"An API key may live at most {maximum} days")
    return timedelta(days=days)


async def audit_key(request: Request, action: str, key: ApiKey, **extra: Any) -> None:
    metadata = {"name": key.name, "ownerType": key.owner_type, "ownerId": key.owner_id, **extra}
    await record(
        request, action, "success", resource=AuditResource(type="api_key", id=key.id), metadata=metadata
    )


async def issue_key(
    request: Request, owner_type: OwnerType, owner_id: str, body: ApiKeyCreateBody
) -> Response:
    provider = key_provider(request)
    assert provider is not None  # configured()
    ttl = lifetime(request, body.expiresInDays)
    if isinstance(ttl, Response):
        return ttl
    allowlist = list(body.ipAllowlist)
    parent = calling_key(request)
    if parent is not None:  # a key-created key is never looser than the calling key
        if not allowlist:
            allowlist = list(parent.ip_allowlist)
        uncovered = uncovered_networks(parent, allowlist)
        if uncovered:
            return allowlist_refusal(uncovered)
        if ttl is None:
            ttl = timedelta(days=context(request).settings.auth.api_key_policy.default_ttl_days)
        # The provider reads its own clock after this one (an await may come between), so
        # a lifetime ending exactly at the parent's expiry could end a few ms after it.
        ttl = min(ttl, parent.expires_at - utcnow() - _CLOCK_MARGIN)
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
        return issues("body", str(refused))
    await audit_key(request, "auth.api-key-create", created.key, scopes=created.key.scopes)
    return json_response(created_json(created), 201)


async def owned_key(request: Request, owner_type: OwnerType, owner_id: str) -> ApiKey | None:
    provider = key_provider(request)
    assert provider is not None
    key_id = request.path_params["keyId"]
    if not _KEY_ID.fullmatch(key_id):
        return None
    key = await provider.get_key(key_id)
    if key is None or key.owner_type != owner_type or key.owner_id != owner_id:
        return None
    return key


async def revoke_key(request: Request, owner_type: OwnerType, owner_id: str) -> Response:
    key = await owned_key(request, owner_type, owner_id)
    if key is None:
        return error_response(KEY_NOT_FOUND, 404)
    caller = remembered_caller(request)
    calling = calling_key(request)
    # A key may always revoke itself; another key needs ``api-keys:delete`` in its scopes.
    if caller is not None and calling is not None and calling.id != key.id:
        if not caller.scoped("api-keys:delete"):
            return error_response("Forbidden", 403, message="Missing required permission: api-keys:delete")
    provider = key_provider(request)
    assert provider is not None
    if await provider.revoke(key.id):  # revoking a revoked key again changes nothing
        await audit_key(request, "auth.api-key-revoke", key)
    return json_response({"success": True})


async def rotate_key(
    request: Request, owner_type: OwnerType, owner_id: str, *, within_caller: bool = False
) -> Response:
    """Rotate the path's ``keyId`` of this owner; 409 when a revocation or a rival rotation
    won. The new secret goes to the caller, so a calling key never rotates a key looser
    than itself, and with ``within_caller`` (someone else's key: a service account's) the
    key's scopes must all be the caller's too."""
    body: ApiKeyRotateBody = request.state.mastra_body
    key = await owned_key(request, owner_type, owner_id)
    if key is None:
        return error_response(KEY_NOT_FOUND, 404)
    missing = beyond_caller(request, key.scopes) if within_caller else []
    if missing:
        return scope_refusal(missing, "You do")
    looser = looser_than_caller(request, key)
    if looser is not None:
        return looser
    provider = key_provider(request)
    assert provider is not None
    created = await provider.rotate(key.id, grace=timedelta(seconds=body.gracePeriodSeconds))
    if created is None:
        return error_response(
            NOT_ROTATABLE, 409, message="The key is revoked, expired or already replaced by a rotation"
        )
    await audit_key(
        request,
        "auth.api-key-rotate",
        key,
        replacedBy=created.key.id,
        gracePeriodSeconds=body.gracePeriodSeconds,
    )
    return json_response(created_json(created), 201)
