"""Exports from WorkOS Audit Logs (``SupportsRemoteAuditExport``): ``create_export`` /
``get_export`` through the SDK for the events :mod:`.audit_export` pushed.

Transient failures (5xx, 429, network) are retried with the core policy, then become
``ProviderUnavailable`` (503); a request WorkOS refuses (400/422) is an ``AuthError``
400 carrying WorkOS's message; an unknown export id is ``None`` (404). Actions are
given as Mastra names (``auth.login``) and sent with ``audit_action_prefix``, as pushed.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from mastra.core.ee.errors import AuthError, ProviderUnavailable
from mastra.core.ee.models import format_timestamp
from mastra.core.ee.retry import RetryPolicy

from workos import BadRequestError, NotFoundError, UnprocessableEntityError, WorkOSError
from workos.audit_logs.models import AuditLogExport

from .audit_export import _transient

if TYPE_CHECKING:
    from workos import AsyncWorkOSClient

    from ._options import WorkOSOptions

__all__ = ["RemoteExportMixin", "export_json"]

logger = logging.getLogger("mastra.auth.workos")

T = TypeVar("T")
_EXPORT_ID = re.compile(r"^[A-Za-z0-9_]{1,100}$")


def export_json(export: AuditLogExport) -> dict[str, Any]:
    """The API shape of an export (camelCase like the rest of the audit API)."""
    state = export.state
    return {
        "id": export.id,
        "state": getattr(state, "value", state),
        "url": export.url,
        "createdAt": format_timestamp(export.created_at),
        "updatedAt": format_timestamp(export.updated_at),
    }


class RemoteExportMixin:
    client: AsyncWorkOSClient
    options: WorkOSOptions

    export_attempts = 3
    export_backoff = 0.2  # seconds before the first retry, then doubling (plus jitter)

    async def create_remote_export(
        self,
        range_start: datetime,
        range_end: datetime,
        *,
        organization_id: str | None = None,
        actions: Sequence[str] | None = None,
        actors: Sequence[str] | None = None,
        targets: Sequence[str] | None = None,
    ) -> dict[str, Any]:
        organization = self.options.organization_id or organization_id
        if not organization:
            raise AuthError(
                "No organization: set auth.options.workos.organization_id", code="no_organization"
            )
        prefix = f"{self.options.audit_action_prefix}." if self.options.audit_action_prefix else ""
        sent_actions = [a if a.startswith(prefix) else prefix + a for a in actions or []]
        export = await self._export_call(
            lambda: self.client.audit_logs.create_export(
                organization_id=organization,
                range_start=format_timestamp(range_start),
                range_end=format_timestamp(range_end),
                actions=sent_actions or None,
                actor_ids=list(actors) if actors else None,  # our events' actor ids
                targets=list(targets) if targets else None,
                request_options={"max_retries": 0},  # the core retry policy, not the SDK's
            )
        )
        if export is None:  # WorkOS answers 404 for an organization it does not know
            raise AuthError(f"WorkOS does not know organization {organization}", code="no_organization")
        return export_json(export)

    async def get_remote_export(self, export_id: str) -> dict[str, Any] | None:
        if not _EXPORT_ID.match(export_id):
            return None  # never a WorkOS id; keeps odd text out of the request path
        export = await self._export_call(
            lambda: self.client.audit_logs.get_export(export_id, request_options={"max_retries": 0})
        )
        return None if export is None else export_json(export)

    async def _export_call(self, call: Callable[[], Awaitable[T]]) -> T | None:
        policy = RetryPolicy(
            attempts=self.export_attempts,
            total_timeout=30.0,
            wait_initial=self.export_backoff,
            wait_max=max(self.export_backoff, 5.0),
        )
        try:
            return await policy.call(call, transient=_transient)
        except NotFoundError:
            return None
        except (BadRequestError, UnprocessableEntityError) as exc:
            details = [str(e["code"]) for e in exc.errors or [] if isinstance(e, dict) and e.get("code")]
            reason = f"{exc.message} ({', '.join(details)})" if details else exc.message
            raise AuthError(f"WorkOS refused the export: {reason}", code="invalid_export") from exc
        except WorkOSError as exc:
            # Outage, rate limit after the retries, or a refused API key: nothing the caller can fix.
            logger.warning("WorkOS audit export request failed: %s", exc)
            raise ProviderUnavailable("WorkOS Audit Logs is unavailable") from exc
