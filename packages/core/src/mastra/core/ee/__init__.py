"""Mastra EE core: models, capability interfaces, permissions, license, composition
and the plugin system. See SPEC sections 2–8.

Subpackages: ``sessions`` (where sessions live), ``rbac``, ``audit``, ``crypto``
(sealing and cookies). Plugin authors need :func:`provider_plugin` (declare a
provider), :func:`hookimpl` (write a hook by hand) and :class:`ProviderOptions`;
``docs/plugins.md`` is the guide.
"""

from ._declare import ProviderPlugin, combine_plugins, provider_plugin
from .errors import (
    AuthError,
    ConfigurationError,
    InvalidCredentials,
    InvalidResetToken,
    MastraEEError,
    PasswordPolicyError,
    PluginError,
    ProviderUnavailable,
    RefusedInProduction,
    RoleNotFound,
    SignUpDisabled,
    SignUpFailed,
    SSOError,
)
from .hookspecs import CAPABILITIES, Capability, hookimpl
from .models import (
    ACLGrant,
    AuditActor,
    AuditEvent,
    AuditEventInput,
    AuditFilter,
    AuditPage,
    AuditResource,
    CredentialsResult,
    EEUser,
    LicenseInfo,
    Pagination,
    RBACCapabilities,
    ResourceIdentifier,
    RoleDefinition,
    RoleMapping,
    Session,
    SSOCallbackResult,
    SSOLoginConfig,
    SSOTokens,
)
from .options import OptionsModel, ProviderOptions
from .plugins import PluginRegistry, build_auth
from .provider import MastraAuthProvider, with_ee
from .routes import PluginRoute
from .settings import Settings, load_settings

__all__ = [
    "CAPABILITIES",
    "ACLGrant",
    "AuditActor",
    "AuditEvent",
    "AuditEventInput",
    "AuditFilter",
    "AuditPage",
    "AuditResource",
    "AuthError",
    "Capability",
    "ConfigurationError",
    "CredentialsResult",
    "EEUser",
    "InvalidCredentials",
    "InvalidResetToken",
    "LicenseInfo",
    "MastraAuthProvider",
    "MastraEEError",
    "OptionsModel",
    "Pagination",
    "PasswordPolicyError",
    "PluginError",
    "PluginRegistry",
    "PluginRoute",
    "ProviderOptions",
    "ProviderPlugin",
    "ProviderUnavailable",
    "RBACCapabilities",
    "RefusedInProduction",
    "ResourceIdentifier",
    "RoleDefinition",
    "RoleMapping",
    "RoleNotFound",
    "SSOCallbackResult",
    "SSOError",
    "SSOLoginConfig",
    "SSOTokens",
    "Session",
    "Settings",
    "SignUpDisabled",
    "SignUpFailed",
    "build_auth",
    "combine_plugins",
    "hookimpl",
    "load_settings",
    "provider_plugin",
    "with_ee",
]
