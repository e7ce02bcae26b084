"""Directory-sync event bodies in WorkOS's published shapes (parsed by the SDK in tests)."""

from __future__ import annotations

import secrets
from typing import Any

from .app import _id, _iso

DIRECTORY_ID = "directory_01EMULATED"


def directory_user(email: str, org_id: str, *, state: str = "active", **extra: Any) -> dict[str, Any]:
    return {
        "object": "directory_user",
        "id": _id("directory_user"),
        "directory_id": DIRECTORY_ID,
        "organization_id": org_id,
        "idp_id": secrets.token_hex(6),
        "email": email,
        "emails": [{"primary": True, "type": "work", "value": email}],
        "first_name": extra.pop("first_name", "Dana"),
        "last_name": extra.pop("last_name", "Dir"),
        "state": state,
        "custom_attributes": {},
        "created_at": _iso(),
        "updated_at": _iso(),
        **extra,
    }


def directory_group(name: str, org_id: str) -> dict[str, Any]:
    return {
        "object": "directory_group",
        "id": _id("directory_group"),
        "idp_id": secrets.token_hex(6),
        "directory_id": DIRECTORY_ID,
        "organization_id": org_id,
        "name": name,
        "created_at": _iso(),
        "updated_at": _iso(),
    }


def dsync_event(name: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"object": "event", "id": _id("event"), "event": name, "data": data, "created_at": _iso()}
