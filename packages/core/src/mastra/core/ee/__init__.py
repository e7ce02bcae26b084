"""Mastra EE core: models, capability interfaces, permissions, license, composition
and the plugin system. See SPEC sections 2–8.

Subpackages: ``sessions`` (where sessions live), ``rbac``, ``audit``, ``crypto``
(sealing and cookies), ``testing`` (the conformance suite providers reuse).
"""

from .errors import (
    AuthError,
    ConfigurationError,
    InvalidCredentials,
    InvalidResetToken,
    MastraEEError,
    PasswordPolicyError,
    PluginError,
    ProviderUnavailable,
    RoleNotFound,
    SignUpDisabled,
    SignUpFailed,
    SSOError,
)
from .hookspecs import hookimpl
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
from .plugins import PluginRegistry, build_auth
from .provider import MastraAuthProvider, with_ee
from .routes import Route
from .settings import Settings, load_settings

__all__ = [
    "ACLGrant",
    "AuditActor",
    "AuditEvent",
    "AuditEventInput",
    "AuditFilter",
    "AuditPage",
    "AuditResource",
    "AuthError",
    "ConfigurationError",
    "CredentialsResult",
    "EEUser",
    "InvalidCredentials",
    "InvalidResetToken",
    "LicenseInfo",
    "MastraAuthProvider",
    "MastraEEError",
    "Pagination",
    "PasswordPolicyError",
    "PluginError",
    "PluginRegistry",
    "ProviderUnavailable",
    "RBACCapabilities",
    "ResourceIdentifier",
    "RoleDefinition",
    "RoleMapping",
    "RoleNotFound",
    "Route",
    "SSOCallbackResult",
    "SSOError",
    "SSOLoginConfig",
    "SSOTokens",
    "Session",
    "Settings",
    "SignUpDisabled",
    "SignUpFailed",
    "build_auth",
    "hookimpl",
    "load_settings",
    "with_ee",
]
