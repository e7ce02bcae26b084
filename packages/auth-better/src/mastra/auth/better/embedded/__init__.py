"""Embedded Better Auth: Better-Auth-compatible tables in the project database."""

from ._provider import EmbeddedBetterAuth
from ._schema import METADATA, ensure_schema
from ._store import BetterStore

__all__ = ["METADATA", "BetterStore", "EmbeddedBetterAuth", "ensure_schema"]
