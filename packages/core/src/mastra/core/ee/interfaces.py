"""Capability protocols of SPEC section 3.

Optional methods are listed in the docstrings and detected with ``hasattr`` by the
host (see :mod:`mastra.core.ee.provider`). Accessors may be plain methods or
coroutines; the host awaits any awaitable result (:func:`maybe_await`).
"""

from __future__ import annotations

import builtins
import inspect
from collections.abc import AsyncIterator, Awaitable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, runtime_checkable

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
    from starlette.requests import Request

__all__ = [
    "IACLManager",
    "IACLProvider",
    "IAuditLogger",
    "IAuditStorage",
    "ICredentialsProvider",
    "IRBACManager",
    "IRBACProvider",
    "ISSOProvider",
    "ISessionProvider",
    "IUserProvider",
    "maybe_await",
]

T = TypeVar("T")


async def maybe_await(value: T | Awaitable[T]) -> T:
    if inspect.isawaitable(value):
        return await value
    return value


@runtime_checkable
class IUserProvider(Protocol):
    """Optional: ``authenticate_token(token, request)``, ``get_users(ids)``,
    ``get_user_profile_url(user)``, ``is_user_disabled(user_id)``."""

    async def get_current_user(self, request: Request) -> EEUser | None: ...
    async def get_user(self, user_id: str) -> EEUser | None: ...


@runtime_checkable
class ISessionProvider(Protocol):
    """Optional: ``list_sessions``, ``revoke_session``, ``revoke_user_sessions``."""

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session: ...
    async def validate_session(self, session_id: str) -> Session | None: ...
    async def refresh_session(self, session_id: str) -> Session | None: ...
    async def destroy_session(self, session_id: str) -> None: ...
    def get_session_id_from_request(self, request: Request) -> str | None: ...
    def get_session_headers(self, session: Session) -> list[tuple[str, str]]: ...
    def get_clear_session_headers(self) -> list[tuple[str, str]]: ...


@runtime_checkable
class ISSOProvider(Protocol):
    """Optional: ``get_login_cookies``, ``host_state_from_callback``, ``get_logout_url``."""

    async def get_login_url(self, redirect_uri: str, state: str) -> str: ...
    async def handle_callback(
        self, code: str, state: str, *, cookie_header: str | None = None
    ) -> SSOCallbackResult: ...
    def get_login_button_config(self) -> SSOLoginConfig: ...


@runtime_checkable
class ICredentialsProvider(Protocol):
    """Optional: ``request_password_reset``, ``reset_password``, ``is_sign_up_enabled``."""

    async def sign_in(self, email: str, password: str, request: Request | None) -> CredentialsResult: ...
    async def sign_up(
        self, email: str, password: str, name: str | None, request: Request | None
    ) -> CredentialsResult: ...


@runtime_checkable
class IRBACProvider(Protocol):
    """Optional: ``get_available_roles``, ``get_permissions_for_role``."""

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
    """Optional: ``query(filter, pagination)``, ``export(filter, format)``."""

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
