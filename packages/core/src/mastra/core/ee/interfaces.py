"""Capability protocols of SPEC section 3.

Each slot has one required protocol (``IUserProvider`` …). What a provider may add
is a small runtime-checkable protocol of its own (``SupportsTokenAuth`` …): the host
asks ``isinstance(provider, SupportsX)`` instead of probing attribute names, and the
conformance suites in :mod:`mastra.core.testing` assert the same protocols.
Accessors may be plain methods or coroutines; the host awaits any awaitable result
(:func:`maybe_await`).
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, overload, runtime_checkable

from .models import (
    ACLGrant,
    AuditEvent,
    AuditEventInput,
    AuditFilter,
    AuditPage,
    CredentialsResult,
    EEUser,
    Pagination,
    RBACCapabilities,
    ResourceIdentifier,
    RoleMapping,
    Session,
    SSOCallbackResult,
    SSOLoginConfig,
)

if TYPE_CHECKING:
    from datetime import timedelta

    from starlette.requests import Request

    from .api_keys import ApiKey, ApiKeyRefusal, CreatedApiKey, OwnerType, ServiceAccount
    from .shared import SharedState

__all__ = [
    "IACLManager",
    "IACLProvider",
    "IApiKeyProvider",
    "IAuditLogger",
    "IAuditStorage",
    "ICredentialsProvider",
    "IRBACManager",
    "IRBACProvider",
    "ISSOProvider",
    "ISessionProvider",
    "IUserProvider",
    "SupportsAccountAdmin",
    "SupportsBinding",
    "SupportsChangeListeners",
    "SupportsCookieClearing",
    "SupportsHealthCheck",
    "SupportsHostState",
    "SupportsLoginCookies",
    "SupportsLogoutUrl",
    "SupportsPasswordChange",
    "SupportsPasswordReset",
    "SupportsRemoteAuditExport",
    "SupportsRoleAssignment",
    "SupportsRoleCatalog",
    "SupportsServiceAccounts",
    "SupportsSessionListing",
    "SupportsSessionRefresh",
    "SupportsSharedState",
    "SupportsSignUpToggle",
    "SupportsTokenAuth",
    "SupportsUserCount",
    "SupportsUserDisable",
    "SupportsUserListing",
    "SupportsUserLookup",
    "SupportsUserProfileUrl",
    "maybe_await",
]

T = TypeVar("T")


@overload
async def maybe_await(value: Awaitable[T]) -> T: ...
@overload
async def maybe_await(value: T) -> T: ...
async def maybe_await(value: Any) -> Any:
    if inspect.isawaitable(value):
        return await value
    return value


@runtime_checkable
class IUserProvider(Protocol):
    """Optional: :class:`SupportsTokenAuth`, :class:`SupportsUserLookup`,
    :class:`SupportsUserProfileUrl`, :class:`SupportsUserDisable`,
    :class:`SupportsUserCount`, :class:`SupportsRoleAssignment`,
    :class:`SupportsAccountAdmin`."""

    async def get_current_user(self, request: Request) -> EEUser | None: ...
    async def get_user(self, user_id: str) -> EEUser | None: ...


@runtime_checkable
class ISessionProvider(Protocol):
    """Optional: :class:`SupportsSessionListing`."""

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session: ...
    async def validate_session(self, session_id: str) -> Session | None: ...
    async def refresh_session(self, session_id: str) -> Session | None: ...
    async def destroy_session(self, session_id: str) -> None: ...
    def get_session_id_from_request(self, request: Request) -> str | None: ...
    def get_session_headers(self, session: Session) -> list[tuple[str, str]]: ...
    def get_clear_session_headers(self) -> list[tuple[str, str]]: ...


@runtime_checkable
class ISSOProvider(Protocol):
    """Optional: :class:`SupportsLoginCookies`, :class:`SupportsHostState`,
    :class:`SupportsLogoutUrl`."""

    async def get_login_url(self, redirect_uri: str, state: str) -> str: ...
    async def handle_callback(
        self, code: str, state: str, *, cookie_header: str | None = None
    ) -> SSOCallbackResult: ...
    def get_login_button_config(self) -> SSOLoginConfig: ...


@runtime_checkable
class ICredentialsProvider(Protocol):
    """Optional: :class:`SupportsPasswordReset`, :class:`SupportsSignUpToggle`."""

    async def sign_in(self, email: str, password: str, request: Request | None) -> CredentialsResult: ...
    async def sign_up(
        self, email: str, password: str, name: str | None, request: Request | None
    ) -> CredentialsResult: ...


@runtime_checkable
class IRBACProvider(Protocol):
    """Optional: :class:`SupportsRoleCatalog`."""

    @property
    def role_mapping(self) -> RoleMapping | None: ...
    async def get_roles(self, user: EEUser) -> list[str]: ...
    async def has_role(self, user: EEUser, role: str) -> bool: ...
    async def get_permissions(self, user: EEUser) -> list[str]: ...
    async def has_permission(self, user: EEUser, permission: str) -> bool: ...
    async def has_all_permissions(self, user: EEUser, permissions: Sequence[str]) -> bool: ...
    async def has_any_permission(self, user: EEUser, permissions: Sequence[str]) -> bool: ...
    def get_capabilities(self) -> RBACCapabilities: ...
    async def list_role_definitions(self) -> list[Any]: ...


@runtime_checkable
class IRBACManager(IRBACProvider, Protocol):
    async def assign_role(self, user_id: str, role_id: str) -> None: ...
    async def remove_role(self, user_id: str, role_id: str) -> None: ...


@runtime_checkable
class IACLProvider(Protocol):
    async def can_access(self, user: EEUser, resource: ResourceIdentifier, action: str) -> bool: ...
    async def list_accessible(self, user: EEUser, resource_type: str, action: str) -> list[str]: ...
    async def filter_accessible(
        self, user: EEUser, items: Sequence[Any], resource_type: str, action: str
    ) -> list[Any]: ...


@runtime_checkable
class IACLManager(IACLProvider, Protocol):
    async def grant(
        self, subject: str, resource: ResourceIdentifier, actions: Sequence[str], granted_by: str
    ) -> ACLGrant: ...
    async def revoke(
        self, subject: str, resource: ResourceIdentifier, actions: Sequence[str] | None = None
    ) -> int: ...
    async def list_grants(
        self, subject: str | None = None, resource: ResourceIdentifier | None = None
    ) -> list[ACLGrant]: ...


@runtime_checkable
class IAuditLogger(Protocol):
    async def log(self, event: AuditEventInput) -> None: ...


@runtime_checkable
class IAuditStorage(Protocol):
    async def append(self, event: AuditEventInput) -> AuditEvent: ...
    async def get(self, event_id: str) -> AuditEvent | None: ...
    async def list(self, filter: AuditFilter, pagination: Pagination) -> AuditPage: ...
    def iter_events(self, filter: AuditFilter, ascending: bool = False) -> AsyncIterator[AuditEvent]: ...
    async def stats(self, filter: AuditFilter, bucket: str = "hour") -> builtins.list[dict[str, Any]]: ...
    async def delete_before(self, cutoff: datetime) -> int: ...
    async def chain_anchor(self) -> dict[str, Any] | None: ...


@runtime_checkable
class IApiKeyProvider(Protocol):
    """Issues and verifies API keys (docs/api-keys.md). ``verify`` never raises for a
    key that does not authenticate: it returns the typed refusal. Owners are users
    (``owner_type="user"``) or service accounts (:class:`SupportsServiceAccounts`)."""

    async def create_key(
        self,
        owner_type: OwnerType,
        owner_id: str,
        *,
        name: str,
        scopes: Sequence[str],
        ttl: timedelta | None = None,
        ip_allowlist: Sequence[str] = (),
        created_by: str | None = None,
    ) -> CreatedApiKey: ...
    async def list_keys(self, owner_type: OwnerType, owner_id: str) -> builtins.list[ApiKey]: ...
    async def get_key(self, key_id: str) -> ApiKey | None: ...
    async def rotate(self, key_id: str, *, grace: timedelta = ...) -> CreatedApiKey | None: ...
    async def revoke(self, key_id: str) -> bool: ...
    async def verify(self, presented: str, ip: str | None) -> ApiKey | ApiKeyRefusal: ...


# -- optional capabilities ----------------------------------------------------------
# Each is checked with ``isinstance`` where the host would use it. Runtime checks only
# see method names, so each protocol is kept to the methods that belong together.


@runtime_checkable
class SupportsServiceAccounts(Protocol):
    """API key provider: non-human owners with roles of their own and no password."""

    async def create_service_account(
        self, name: str, roles: Sequence[str], *, created_by: str | None = None
    ) -> ServiceAccount: ...
    async def get_service_account(self, account_id: str) -> ServiceAccount | None: ...
    async def list_service_accounts(self) -> builtins.list[ServiceAccount]: ...
    async def update_service_account(
        self, account_id: str, *, roles: Sequence[str] | None = None, disabled: bool | None = None
    ) -> ServiceAccount | None: ...
    async def delete_service_account(self, account_id: str) -> bool: ...


@runtime_checkable
class SupportsChangeListeners(Protocol):
    """API key provider: ``listener()`` runs after every change that can refuse a key
    that verified before (revoke, rotate, a service account disabled or deleted), so the
    host drops what it cached."""

    def add_change_listener(self, listener: Callable[[], None]) -> None: ...


@runtime_checkable
class SupportsSharedState(Protocol):
    """Any slot provider keeping security state in memory (revocations, replay ids,
    caches of credentials): ``attach_shared_state(shared)`` is called once when the
    server is built, with the deployment's :class:`~mastra.core.ee.shared.SharedState`
    (shared marks, single-use ids, the invalidation channel; issue #14), so that state
    holds on every process and node. A provider never attached keeps it per process."""

    def attach_shared_state(self, shared: SharedState) -> None: ...


@runtime_checkable
class SupportsBinding(Protocol):
    """Any slot provider: ``bind(auth)`` is called once after composition."""

    def bind(self, auth: Any) -> None: ...


@runtime_checkable
class SupportsTokenAuth(Protocol):
    """User provider: ``Authorization: Bearer`` (or ``?apiKey=``) tokens."""

    async def authenticate_token(self, token: str, request: Request | None = None) -> EEUser | None: ...


@runtime_checkable
class SupportsUserLookup(Protocol):
    """User provider: many users at once (audit actor names, lists)."""

    async def get_users(self, user_ids: Sequence[str]) -> builtins.list[EEUser | None]: ...


@runtime_checkable
class SupportsUserProfileUrl(Protocol):
    def get_user_profile_url(self, user: EEUser) -> str: ...


@runtime_checkable
class SupportsUserDisable(Protocol):
    """User provider: a disabled user is unauthenticated on every request."""

    async def is_user_disabled(self, user_id: str) -> bool: ...


@runtime_checkable
class SupportsUserCount(Protocol):
    """User provider: ``serve`` prints the first-user hint when there are none."""

    async def count_users(self) -> int: ...


@runtime_checkable
class SupportsRoleAssignment(Protocol):
    """User provider that stores each user's role (static RBAC writes through it)."""

    async def set_user_role(self, user_id: str, role: str) -> None: ...


@runtime_checkable
class SupportsUserListing(Protocol):
    """User provider that can enumerate its users: ``GET /auth/users``. Rows carry
    ``id``, ``email``, ``name`` and, where stored, ``role``, ``disabled``, ``created``."""

    async def list_users(self) -> builtins.list[dict[str, Any]]: ...


@runtime_checkable
class SupportsAccountAdmin(SupportsUserListing, Protocol):
    """User provider with local accounts: the ``mastra-ee users`` commands."""

    async def create_user(
        self, email: str, password: str, name: str | None = None, role: str | None = None
    ) -> EEUser: ...
    async def get_user_by_email(self, email: str) -> EEUser | None: ...
    async def set_role(self, email: str, role: str) -> tuple[str | None, str]: ...
    async def disable_user(self, email: str) -> EEUser: ...


@runtime_checkable
class SupportsSessionListing(Protocol):
    """Session provider: ``GET/DELETE /auth/sessions`` (SPEC 9.3)."""

    async def list_sessions(self, user_id: str) -> builtins.list[Session]: ...
    async def revoke_session(self, user_id: str, handle: str) -> bool: ...
    async def revoke_user_sessions(self, user_id: str, except_handle: str | None = None) -> int: ...


@runtime_checkable
class SupportsCookieClearing(Protocol):
    """Session slot, or an SSO provider with cookies of its own: expiring ``Set-Cookie``
    headers for every cookie it owns (logout, expired sessions)."""

    def get_clear_session_headers(self) -> builtins.list[tuple[str, str]]: ...


@runtime_checkable
class SupportsSessionRefresh(Protocol):
    """Session provider the host may refresh transparently (SPEC 3.2 "supports refresh")."""

    def get_session_id_from_request(self, request: Request) -> str | None: ...
    async def refresh_session(self, session_id: str) -> Session | None: ...
    def get_session_headers(self, session: Session) -> builtins.list[tuple[str, str]]: ...


@runtime_checkable
class SupportsLoginCookies(Protocol):
    """SSO provider: cookies to set with the login redirect (PKCE verifier, nonce)."""

    def get_login_cookies(self, redirect_uri: str, state: str) -> builtins.list[str]: ...


@runtime_checkable
class SupportsHostState(Protocol):
    """SSO provider that wraps the host's ``state`` in its own."""

    def host_state_from_callback(self, state: str) -> str: ...


@runtime_checkable
class SupportsLogoutUrl(Protocol):
    """SSO provider with an identity-provider logout (RP-initiated logout)."""

    async def get_logout_url(self, redirect_uri: str, request: Request) -> str | None: ...


@runtime_checkable
class SupportsPasswordReset(Protocol):
    """Credentials provider: ``POST /auth/credentials/reset-password[/confirm]``."""

    async def request_password_reset(self, email: str, reset_url: str) -> None: ...
    async def reset_password(self, token: str, new_password: str) -> str: ...


@runtime_checkable
class SupportsPasswordChange(Protocol):
    """Credentials provider: ``POST /auth/credentials/change-password`` (S5).

    Verifies ``current_password`` (wrong → :class:`~.errors.InvalidCredentials`), applies
    the password policy (:class:`~.errors.PasswordPolicyError`) and stores the new
    password. The host then revokes every session of the user and issues a fresh one."""

    async def change_password(self, user_id: str, current_password: str, new_password: str) -> None: ...


@runtime_checkable
class SupportsSignUpToggle(Protocol):
    def is_sign_up_enabled(self) -> bool: ...


@runtime_checkable
class SupportsRoleCatalog(Protocol):
    """RBAC provider that can list its roles and each role's permissions."""

    async def get_available_roles(self) -> builtins.list[dict[str, str]]: ...
    async def get_permissions_for_role(self, role_id: str) -> builtins.list[str]: ...


@runtime_checkable
class SupportsRemoteAuditExport(Protocol):
    """Audit logger whose destination exports the events it received (WorkOS Audit Logs):
    ``POST/GET /audit/exports/remote`` and ``mastra-ee audit export --remote``.

    Both return the export as API JSON ``{id, state, url, createdAt, updatedAt}``
    (``state`` ``pending|ready|error|expired``; ``url`` once ready); ``get`` returns ``None``
    for an unknown id. An unreachable destination raises ``ProviderUnavailable``, a request
    it refuses an ``AuthError`` with status 400. ``organization_id`` is the caller's, used
    when the provider has none configured."""

    async def create_remote_export(
        self,
        range_start: datetime,
        range_end: datetime,
        *,
        organization_id: str | None = None,
        actions: Sequence[str] | None = None,
        actors: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
    ) -> dict[str, Any]: ...
    async def get_remote_export(self, export_id: str) -> dict[str, Any] | None: ...


@runtime_checkable
class SupportsHealthCheck(Protocol):
    """Provider that can tell cheaply whether its backend answers (``<prefix>/system/ready``).

    ``check_health`` returns when the backend is reachable and raises
    ``ProviderUnavailable`` (any exception counts as a failure) when it is not. It runs on
    every readiness probe, so it must be cheap (one round trip, no writes) and bounded:
    the server gives up after a few seconds."""

    async def check_health(self) -> None: ...
