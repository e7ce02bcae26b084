"""Audit logging and storage (SPEC 3.7, 3.8, 8.5, 8.6, 9.6 export, S11, S13, S14, S28, S30).

* :func:`emit` — the pipeline every part of the project records events through.
* :class:`ConsoleAuditLogger` — the ``console`` logger.
* :class:`MemoryAuditStorage`, :class:`SQLAuditStorage` — the ``memory`` and ``sql``
  storages, both hash-chained (keyed by :class:`ChainKeys` when a secret is set);
  :func:`verify_chain` checks a storage, optionally against signed
  :class:`Checkpoint` s (:func:`head_checkpoint`, :func:`parse_checkpoints`).
* :func:`export_stream` / :data:`EXPORT_FORMATS` — JSON, JSONL and CSV exports.
* :class:`BufferedAuditWriter` — group commit of the ``sql`` storage (``durability``).
"""

from ._canonical import ZERO_HASH, canonical_json, compute_event_hash
from ._chain import AuditCorruptionError
from ._checkpoint import Checkpoint, CheckpointTicker, head_checkpoint, parse_checkpoints, sign_checkpoint
from ._console import ConsoleAuditLogger
from ._emit import emit
from ._export import CSV_HEADER, EXPORT_FORMATS, csv_row, export_filename, export_stream
from ._filters import MAX_PATTERN_LENGTH, MAX_PATTERN_STARS, glob_match, validate_action_pattern
from ._keys import ChainKey, ChainKeys
from ._memory import MemoryAuditStorage
from ._metadata import REDACTED, is_secret_key, scrub_metadata
from ._schema import chain_table, events_table
from ._sql import SQLAuditStorage
from ._verify import ChainReport, verify_chain
from ._writer import BufferedAuditWriter, Durability, close_writers, waits_for_commit

__all__ = [
    "CSV_HEADER",
    "EXPORT_FORMATS",
    "MAX_PATTERN_LENGTH",
    "MAX_PATTERN_STARS",
    "REDACTED",
    "ZERO_HASH",
    "AuditCorruptionError",
    "BufferedAuditWriter",
    "ChainKey",
    "ChainKeys",
    "ChainReport",
    "Checkpoint",
    "CheckpointTicker",
    "ConsoleAuditLogger",
    "Durability",
    "MemoryAuditStorage",
    "SQLAuditStorage",
    "canonical_json",
    "chain_table",
    "close_writers",
    "compute_event_hash",
    "csv_row",
    "emit",
    "events_table",
    "export_filename",
    "export_stream",
    "glob_match",
    "head_checkpoint",
    "is_secret_key",
    "parse_checkpoints",
    "scrub_metadata",
    "sign_checkpoint",
    "validate_action_pattern",
    "verify_chain",
    "waits_for_commit",
]
