"""Pluggy hook specifications (SPEC 6.4) and the one list of EE capabilities.

A capability is, at once, a slot of :class:`~mastra.core.ee.provider.MastraAuthProvider`,
a setting (``MASTRA_AUTH__<NAME>``), a factory hook below and the protocol its
providers implement. :data:`CAPABILITIES` holds all four; everything else that lists
capabilities (the provider's slots, the settings' selection, the registry) derives
from it.

Provider factories receive the selected ``name`` and the provider's
:class:`~mastra.core.ee.options.ProviderOptions`; they return ``None`` for names they
do not own. Most plugins never write these hooks by hand: :func:`provider_plugin`
(``mastra.core.ee``) generates them. The host calls each hook through
``pm.hook.<name>`` (see ``plugins.py``); a hookimpl whose name matches no spec here is
a load error for its plugin (pluggy's ``check_pending``), and ``specname=`` works.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pluggy

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
)

if TYPE_CHECKING:
    from .capabilities import CapabilityContext
    from .options import ProviderOptions
    from .routes import PluginRoute

__all__ = [
    "CAPABILITIES",
    "CAPABILITY_NAMES",
    "ENTRY_POINT_GROUP",
    "PROJECT_NAME",
    "Capability",
    "capability",
    "hookimpl",
    "hookspec",
]

PROJECT_NAME = "mastra_ee"
ENTRY_POINT_GROUP = "mastra_ee"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@dataclass(frozen=True, slots=True)
class Capability:
    """One EE capability: its slot/setting name, its factory hook, its required protocol."""

    name: str
    hook: str
    protocol: type[Any]

    @property
    def env_name(self) -> str:
        """The selection variable, e.g. ``MASTRA_AUTH__AUDIT_STORAGE``."""
        return f"MASTRA_AUTH__{self.name.upper()}"


#: Every capability, in the order the SPEC lists them.
CAPABILITIES: tuple[Capability, ...] = (
    Capability("user", "mastra_ee_user_provider", IUserProvider),
    Capability("session", "mastra_ee_session_provider", ISessionProvider),
    Capability("sso", "mastra_ee_sso_provider", ISSOProvider),
    Capability("credentials", "mastra_ee_credentials_provider", ICredentialsProvider),
    Capability("rbac", "mastra_ee_rbac_provider", IRBACProvider),
    Capability("acl", "mastra_ee_acl_provider", IACLProvider),
    Capability("audit", "mastra_ee_audit_logger", IAuditLogger),
    Capability("audit_storage", "mastra_ee_audit_storage", IAuditStorage),
    Capability("api_keys", "mastra_ee_api_key_provider", IApiKeyProvider),
)
CAPABILITY_NAMES: tuple[str, ...] = tuple(cap.name for cap in CAPABILITIES)
_BY_NAME = {cap.name: cap for cap in CAPABILITIES}


def capability(name: str) -> Capability:
    """The capability called ``name``; :class:`ValueError` naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except KeyError:
        raise ValueError(f"unknown capability '{name}' (known: {', '.join(CAPABILITY_NAMES)})") from None


@hookspec
def mastra_ee_user_provider(name: str, options: ProviderOptions) -> IUserProvider | None:
    """Return the user provider called ``name``, or ``None`` for a name this plugin does not own."""


@hookspec
def mastra_ee_session_provider(name: str, options: ProviderOptions) -> ISessionProvider | None:
    """Return the session provider called ``name``, or ``None``."""


@hookspec
def mastra_ee_sso_provider(name: str, options: ProviderOptions) -> ISSOProvider | None:
    """Return the SSO provider called ``name``, or ``None``."""


@hookspec
def mastra_ee_credentials_provider(name: str, options: ProviderOptions) -> ICredentialsProvider | None:
    """Return the email + password provider called ``name``, or ``None``."""


@hookspec
def mastra_ee_rbac_provider(name: str, options: ProviderOptions) -> IRBACProvider | None:
    """Return the RBAC provider called ``name``, or ``None``."""


@hookspec
def mastra_ee_acl_provider(name: str, options: ProviderOptions) -> IACLProvider | None:
    """Return the ACL provider called ``name``, or ``None``."""


@hookspec
def mastra_ee_audit_logger(name: str, options: ProviderOptions) -> IAuditLogger | None:
    """Return the audit logger called ``name``, or ``None``."""


@hookspec
def mastra_ee_audit_storage(name: str, options: ProviderOptions) -> IAuditStorage | None:
    """Return the audit storage called ``name``, or ``None``."""


@hookspec
def mastra_ee_api_key_provider(name: str, options: ProviderOptions) -> IApiKeyProvider | None:
    """Return the API key provider called ``name`` (issues and verifies ``mk_`` keys), or ``None``."""


@hookspec
def mastra_ee_capabilities(context: CapabilityContext) -> dict[str, Any] | None:
    """Return a fragment deep-merged into ``GET /auth/capabilities`` (SPEC 6.5), or ``None``."""


@hookspec
def mastra_ee_routes() -> list[PluginRoute] | None:
    """Return extra :class:`~mastra.core.ee.routes.PluginRoute` objects mounted under the API prefix."""


@hookspec
def mastra_ee_provider_names() -> dict[str, list[str]] | None:
    """Return the provider names this plugin owns, per capability (an extension to SPEC 6.4).

    Used only for messages (``Available: ...``), the embedded default and
    ``mastra-ee plugins``; selection still asks every factory.
    """
