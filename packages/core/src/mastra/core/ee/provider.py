"""``MastraAuthProvider`` and ``with_ee`` composition (SPEC 6.1–6.3)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, cast

from .hookspecs import CAPABILITY_NAMES
from .interfaces import (
    IACLProvider,
    IApiKeyProvider,
    IAuditLogger,
    IAuditStorage,
    ICredentialsProvider,
    IRBACProvider,
    ISessionProvider,
    ISSOProvider,
    IUserProvider,
    SupportsBinding,
    SupportsSessionRefresh,
    SupportsTokenAuth,
    SupportsUserDisable,
    maybe_await,
)
from .models import EEUser

if TYPE_CHECKING:
    from starlette.requests import Request

    from .plugins import PluginRegistry
    from .settings import Settings

__all__ = ["SLOTS", "MastraAuthProvider", "with_ee"]

logger = logging.getLogger("mastra.ee")

#: One slot per capability (``mastra.core.ee.hookspecs.CAPABILITIES``).
SLOTS = CAPABILITY_NAMES


def _supports(provider: object, protocol: type) -> bool:
    """``isinstance(provider, protocol)``, asked on every request: the class is checked
    first because ``abc`` caches that answer, where ``isinstance`` on a runtime protocol
    walks the protocol's members each time (Python 3.11); the instance check remains
    for methods set on the object itself."""
    return issubclass(type(provider), protocol) or isinstance(provider, protocol)


class MastraAuthProvider:
    """Holds one provider (or ``None``) per capability slot."""

    #: What ``build_auth`` composed this from; ``None`` on a provider built by hand.
    #: Plugin routes and fragments come from the registry; license checks read the settings.
    plugin_registry: PluginRegistry | None = None
    settings: Settings | None = None

    def __init__(
        self,
        name: str = "mastra-auth",
        *,
        user: IUserProvider | None = None,
        session: ISessionProvider | None = None,
        sso: ISSOProvider | None = None,
        credentials: ICredentialsProvider | None = None,
        rbac: IRBACProvider | None = None,
        acl: IACLProvider | None = None,
        audit: IAuditLogger | None = None,
        audit_storage: IAuditStorage | None = None,
        api_keys: IApiKeyProvider | None = None,
        is_mastra_cloud_auth: bool = False,
    ) -> None:
        self.name = name
        self.user: IUserProvider | None = user
        self.session: ISessionProvider | None = session
        self.sso: ISSOProvider | None = sso
        self.credentials: ICredentialsProvider | None = credentials
        self.rbac: IRBACProvider | None = rbac
        self.acl: IACLProvider | None = acl
        self.audit: IAuditLogger | None = audit
        self.audit_storage: IAuditStorage | None = audit_storage
        self.api_keys: IApiKeyProvider | None = api_keys
        self.is_mastra_cloud_auth = is_mastra_cloud_auth

    def slots(self) -> dict[str, Any]:
        return {slot: getattr(self, slot) for slot in SLOTS}

    async def authenticate(self, request: Request | None, token: str | None = None) -> EEUser | None:
        """Bearer/apiKey token first, then cookies; disabled users are unauthenticated."""
        provider = self.user
        if provider is None:
            return None
        user: EEUser | None = None
        if token and _supports(provider, SupportsTokenAuth):
            user = await maybe_await(cast(SupportsTokenAuth, provider).authenticate_token(token, request))
        if user is None and request is not None:
            user = await maybe_await(provider.get_current_user(request))
        if user is None:
            return None
        disabled = _supports(provider, SupportsUserDisable) and await maybe_await(
            cast(SupportsUserDisable, provider).is_user_disabled(user.id)
        )
        return None if disabled else user

    def get_capabilities(self) -> dict[str, bool]:
        flags = {slot: provider is not None for slot, provider in self.slots().items()}
        # A logger alone does not make the log browsable: ``audit`` is the storage.
        flags["audit"] = flags.pop("audit_storage")
        # SPEC 7 fixes the flags of the capabilities response; API keys are not one of
        # them (their routes announce themselves through a fragment).
        flags.pop("api_keys")
        return flags

    @property
    def supports_refresh(self) -> bool:
        return _supports(self.session, SupportsSessionRefresh)

    def bind_all(self) -> None:
        """Call ``bind(self)`` once on every distinct slot provider."""
        seen: set[int] = set()
        for provider in self.slots().values():
            if provider is None or id(provider) in seen:
                continue
            seen.add(id(provider))
            if isinstance(provider, SupportsBinding):
                provider.bind(self)

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
