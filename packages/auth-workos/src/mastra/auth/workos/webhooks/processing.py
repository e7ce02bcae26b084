"""Directory-sync event handling (``dsync.*``; SPEC 10.1 "Directory sync webhook").

* user events: the affected WorkOS users (matched by e-mail) get their cached roles
  dropped; ``dsync.user.deleted`` or ``state: inactive`` also revokes their sessions;
* group membership events: the member's cached roles are dropped (WorkOS maps
  directory groups to organization roles; the next request reads the new roles);
* group created/updated/deleted: every cached role is dropped (any member may change);
* each event is audited as ``directory.<event minus "dsync.">`` with actor ``system``;
* the optional ``dsync_handler`` receives the event with camelCase keys.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mastra.core.ee.audit import emit
from mastra.core.ee.models import AuditActor, AuditEventInput, AuditResource
from pydantic.alias_generators import to_camel

from workos._errors import WorkOSError

if TYPE_CHECKING:
    from ..provider import WorkOSAuthProvider

__all__ = ["HANDLED_EVENTS", "camelize", "process_event"]

logger = logging.getLogger("mastra.auth.workos")

HANDLED_EVENTS = frozenset(
    {
        "dsync.user.created",
        "dsync.user.updated",
        "dsync.user.deleted",
        "dsync.group.created",
        "dsync.group.updated",
        "dsync.group.deleted",
        "dsync.group.user_added",
        "dsync.group.user_removed",
    }
)
_LIST_FIELDS = ("emails", "groups", "roles")


def camelize(value: Any) -> Any:
    """snake_case keys → camelCase, recursively; user/group objects get ``[]`` lists."""
    if isinstance(value, list):
        return [camelize(v) for v in value]
    if not isinstance(value, dict):
        return value
    out = {to_camel(str(k)): camelize(v) for k, v in value.items()}
    if value.get("object") == "directory_user":
        for name in _LIST_FIELDS:
            if out.get(name) is None:
                out[name] = []
    return out


def _directory_user(event: dict[str, Any]) -> dict[str, Any] | None:
    data = event.get("data")
    if not isinstance(data, dict):
        return None
    if event["event"].startswith("dsync.group.user_"):
        user = data.get("user")
        return user if isinstance(user, dict) else None
    return data if event["event"].startswith("dsync.user.") else None


def _emails(directory_user: dict[str, Any]) -> list[str]:
    found = [directory_user.get("email")]
    for item in directory_user.get("emails") or []:
        if isinstance(item, dict):
            found.append(item.get("value"))
    return list(dict.fromkeys(e.strip().lower() for e in found if isinstance(e, str) and e.strip()))


async def _workos_user_ids(provider: WorkOSAuthProvider, directory_user: dict[str, Any]) -> list[str]:
    ids: list[str] = []
    for email in _emails(directory_user):
        try:
            page = await provider.client.user_management.list_users(email=email, limit=10)
        except (WorkOSError, ValueError) as exc:
            logger.warning("WorkOS user lookup for a directory event failed: %s", type(exc).__name__)
            continue
        ids.extend(user.id for user in page.data)
    return list(dict.fromkeys(ids))


def _load_handler(path: str) -> Callable[[dict[str, Any]], Awaitable[Any]]:
    module_name, _, attr = path.replace(":", ".").rpartition(".")
    handler = getattr(importlib.import_module(module_name), attr)
    if not callable(handler):
        raise TypeError(f"dsync_handler {path!r} is not callable")
    return handler  # type: ignore[no-any-return]


async def process_event(provider: WorkOSAuthProvider, event: dict[str, Any], *, auth: Any) -> None:
    name = event["event"]
    directory_user = _directory_user(event)
    metadata: dict[str, Any] = {"eventId": event.get("id")}
    resource: AuditResource | None = None

    if directory_user is not None:
        user_ids = await _workos_user_ids(provider, directory_user)
        if user_ids:
            for user_id in user_ids:
                provider.invalidate_roles(user_id)
        else:
            provider.invalidate_roles()  # unknown mapping: drop everything rather than serve stale roles
        deactivated = name == "dsync.user.deleted" or directory_user.get("state") == "inactive"
        if deactivated:
            revoked = 0
            for user_id in user_ids:
                revoked += await provider.revoke_user_sessions(user_id)
            metadata["sessionsRevoked"] = revoked
        metadata.update(
            {
                "directoryId": directory_user.get("directory_id"),
                "organizationId": directory_user.get("organization_id"),
                "state": directory_user.get("state"),
                "workosUserIds": user_ids,
            }
        )
        resource = AuditResource(
            type="user", id=str(directory_user.get("id") or "unknown"), name=directory_user.get("email")
        )
    else:
        provider.invalidate_roles()
        data = event.get("data") if isinstance(event.get("data"), dict) else {}
        assert isinstance(data, dict)
        if data.get("id"):
            resource = AuditResource(type="group", id=str(data["id"]), name=data.get("name"))
        metadata["directoryId"] = data.get("directory_id")

    if isinstance(event.get("data"), dict) and event["event"].startswith("dsync.group.user_"):
        group = event["data"].get("group")
        if isinstance(group, dict):
            metadata["groupId"] = group.get("id")
            metadata["groupName"] = group.get("name")

    await emit(
        auth,
        AuditEventInput(
            actor=AuditActor(type="system", id="workos-directory-sync"),
            action="directory." + name.removeprefix("dsync."),
            outcome="success",
            resource=resource,
            metadata={k: v for k, v in metadata.items() if v is not None},
        ),
    )

    if provider.options.dsync_handler:
        handler = _load_handler(provider.options.dsync_handler)
        await handler(camelize(event))
