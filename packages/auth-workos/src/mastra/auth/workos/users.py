"""Users: WorkOS user → core ``EEUser`` (SPEC 10.1 "User mapping"), lookups and listing.

``UsersMixin`` is part of :class:`~mastra.auth.workos.WorkOSAuthProvider`; it uses the
provider's ``client`` (``AsyncWorkOSClient``) and ``options``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from mastra.core.ee.models import EEUser, format_timestamp

from workos._errors import NotFoundError, WorkOSError

if TYPE_CHECKING:
    from workos import AsyncWorkOSClient

    from ._options import WorkOSOptions

__all__ = ["UsersMixin", "display_name", "map_user"]

logger = logging.getLogger("mastra.auth.workos")


def _field(user: Any, name: str) -> Any:
    if isinstance(user, Mapping):
        return user.get(name)
    return getattr(user, name, None)


def display_name(user: Any) -> str | None:
    """ "first last", else the first name, else the email."""
    first = (_field(user, "first_name") or "").strip()
    last = (_field(user, "last_name") or "").strip()
    if first and last:
        return f"{first} {last}"
    return first or _field(user, "email")


def _timestamp(value: Any) -> str | None:
    if isinstance(value, datetime):
        return format_timestamp(value)
    return str(value) if value else None


def map_user(user: Any, organization_id: str | None = None) -> EEUser:
    """Accepts the SDK ``User`` dataclass or its dict form (as stored in the sealed cookie)."""
    metadata: dict[str, Any] = {
        "workosId": _field(user, "id"),
        "emailVerified": bool(_field(user, "email_verified")),
        "createdAt": _timestamp(_field(user, "created_at")),
    }
    if organization_id:
        metadata["organizationId"] = organization_id
    return EEUser(
        id=str(_field(user, "id")),
        email=_field(user, "email"),
        name=display_name(user),
        avatar_url=_field(user, "profile_picture_url"),
        metadata={k: v for k, v in metadata.items() if v is not None},
    )


class UsersMixin:
    client: AsyncWorkOSClient
    options: WorkOSOptions

    async def get_user(self, user_id: str) -> EEUser | None:
        """``None`` for unknown ids; WorkOS outages are logged and also answer ``None``."""
        if not user_id:
            return None
        try:
            user = await self.client.user_management.get_user(user_id)
        except NotFoundError:
            return None
        except (WorkOSError, ValueError) as exc:
            logger.warning("WorkOS get_user failed: %s", type(exc).__name__)
            return None
        return map_user(user)

    async def get_users(self, user_ids: Sequence[str]) -> list[EEUser | None]:
        return [await self.get_user(user_id) for user_id in user_ids]

    async def list_users(
        self, *, organization_id: str | None = None, email: str | None = None, limit: int = 100
    ) -> list[EEUser]:
        """Every user (following pagination), optionally within one organization or by email."""
        page = await self.client.user_management.list_users(
            organization_id=organization_id or self.options.organization_id, email=email, limit=limit
        )
        return [map_user(user) async for user in page.auto_paging_iter()]

    def get_user_profile_url(self, user: EEUser) -> str:
        return f"https://dashboard.workos.com/user-management/users/{user.id}"
