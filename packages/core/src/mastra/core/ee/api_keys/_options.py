"""Options of the ``sql`` API key provider.

The provider name ``sql`` is shared with the ``sql`` audit storage, and so is the
options table ``[auth.options.sql]``: one model reads it (the audit storage's, extended
here), so a key valid for one is valid for both and the configuration reference shows
one table. API keys use ``database_url`` only. Key lifetimes and the environment are
operator policy, the same for every provider: ``[auth.api_key_policy]``
(:class:`~mastra.core.ee.settings.ApiKeyPolicy`).
"""

from __future__ import annotations

from ..audit._options import SQLAuditOptions

__all__ = ["SQLApiKeyOptions"]


class SQLApiKeyOptions(SQLAuditOptions):
    """``database_url`` (default the project database) for the audit storage and the API
    keys alike; the audit storage also reads ``buffered`` ingest in batches of
    ``batch_size`` flushed every ``flush_interval`` seconds, ``retention_days`` and the
    checkpoint triggers."""

    provider_name = "sql"
