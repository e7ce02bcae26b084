"""``MastraAuthProvider`` and ``with_ee`` composition (SPEC 6.1–6.3)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from .interfaces import maybe_await
from .models import EEUser

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["SLOTS", "MastraAuthProvider", "with_ee"]

logger = logging.getLogger("mastra.ee")

SLOTS = ("user", "session", "sso", "credentials", "rbac", "acl", "audit", "audit_storage")


class MastraAuthProvider:
    """Holds one provider (or ``None``) per capability slot."""

    def __init__(
        self,
        name: str = "mastra-auth",
        *,
        user: Any = None,
        session: Any = None,
        sso: Any = None,
        credentials: Any = None,
        rbac: Any = None,
        acl: Any = None,
        audit: Any = None,
        audit_storage: Any = None,
        is_mastra_cloud_auth: bool = False,
    ) -> None:
        self.name = name
        self.user = user
        self.session = session
        self.sso = sso
        self.credentials = credentials
        self.rbac = rbac
        self.acl = acl
        self.audit = audit
        self.audit_storage = audit_storage
        self.is_mastra_cloud_auth = is_mastra_cloud_auth

    def slots(self) -> dict[str, Any]:
        return {slot: getattr(self, slot) for slot in SLOTS}

    async def authenticate(self, request: Request | None, token: str | None = None) -> EEUser | None:
        """Bearer/apiKey token first, then cookies; disabled users are unauthenticated."""
        provider = self.user
        if provider is None:
            return None
        user: EEUser | None = None
        if token and hasattr(provider, "authenticate_token"):
            user = await maybe_await(provider.authenticate_token(token, request))
        if user is None and request is not None:
            user = await maybe_await(provider.get_current_user(request))
        if user is None:
            return None
        if hasattr(provider, "is_user_disabled") and await maybe_await(provider.is_user_disabled(user.id)):
            return None
        return user

    def get_capabilities(self) -> dict[str, bool]:
        return {
            "user": self.user is not None,
            "session": self.session is not None,
            "sso": self.sso is not None,
            "credentials": self.credentials is not None,
            "rbac": self.rbac is not None,
            "acl": self.acl is not None,
            # A logger alone does not make the log browsable.
            "audit": self.audit_storage is not None,
        }

    @property
    def supports_refresh(self) -> bool:
        s = self.session
        return s is not None and all(
            hasattr(s, m) for m in ("get_session_id_from_request", "refresh_session", "get_session_headers")
        )

    def bind_all(self) -> None:
        """Call ``bind(self)`` once on every distinct slot provider."""
        seen: set[int] = set()
        for provider in self.slots().values():
            if provider is None or id(provider) in seen:
                continue
            seen.add(id(provider))
            bind = getattr(provider, "bind", None)
            if callable(bind):
                bind(self)

    def __repr__(self) -> str:
        filled = ", ".join(f"{k}={type(v).__name__}" for k, v in self.slots().items() if v is not None)
        return f"<MastraAuthProvider {self.name!r} {filled}>"


def with_ee(base: MastraAuthProvider | None = None, **slots: Any) -> MastraAuthProvider:
    """A new provider named ``<base.name>-ee``; keyword slots override the base's."""
    unknown = set(slots) - set(SLOTS)
    if unknown:
        raise TypeError(f"with_ee() got unknown slots: {', '.join(sorted(unknown))}")
    base = base or MastraAuthProvider()
    values = {slot: slots.get(slot) if slots.get(slot) is not None else getattr(base, slot) for slot in SLOTS}
    composed = MastraAuthProvider(f"{base.name}-ee", is_mastra_cloud_auth=base.is_mastra_cloud_auth, **values)
    composed.bind_all()
    return composed
