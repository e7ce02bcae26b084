"""Options of the ``console`` audit logger (SPEC 8.5) and the ``memory`` and ``sql``
audit storages (SPEC 8.6, S28 checkpoints)."""

from __future__ import annotations

import logging
from operator import attrgetter
from typing import Any, ClassVar

from pydantic import Field, NonNegativeFloat, NonNegativeInt, PositiveInt, model_validator

from ..errors import ConfigurationError
from ..options import Fallbacks, ListOption, OptionsModel
from ._keys import ChainKeys
from ._writer import Durability

__all__ = [
    "DEFAULT_MAX_EVENTS",
    "UNKEYED_WARNING",
    "AuditStorageOptions",
    "ConsoleOptions",
    "MemoryAuditOptions",
    "SQLAuditOptions",
]

DEFAULT_MAX_EVENTS = 100_000

UNKEYED_WARNING = (
    "MASTRA_AUTH_SECRET is not set: the audit chain is unkeyed (plain SHA-256), so anyone "
    "who can write to the database can rewrite it undetected, and no signed checkpoints are logged"
)


class ConsoleOptions(OptionsModel):
    """``prefix``, ``outcomes`` and ``actions`` filters (lists), ``json`` lines."""

    provider_name = "console"

    prefix: str = "[audit]"
    outcomes: ListOption | None = None
    actions: ListOption | None = None
    # ``json`` would shadow ``BaseModel.json``: the option keeps its name as the alias.
    as_json: bool = Field(default=False, alias="json")


class AuditStorageOptions(OptionsModel):
    """What both storages take: ``retention_days`` (0 = forever) and the keyed chain's
    signed checkpoints every ``checkpoint_events`` events or ``checkpoint_minutes``
    minutes (0 turns either trigger off). The keys themselves come from the settings
    (``MASTRA_AUTH_SECRET``, ``MASTRA_AUTH_PREVIOUS_SECRETS``)."""

    retention_days: NonNegativeFloat = 0
    checkpoint_events: NonNegativeInt = 1000
    checkpoint_minutes: NonNegativeFloat = 5

    def chain_arguments(self) -> dict[str, Any]:
        """Keyword arguments of a storage for the keyed chain and its checkpoints."""
        keys = ChainKeys.from_settings(self.settings)
        if not keys.keyed:
            logging.getLogger("mastra.ee.audit").warning(UNKEYED_WARNING)
        return {
            "chain_keys": keys,
            "checkpoint_events": self.checkpoint_events,
            "checkpoint_minutes": self.checkpoint_minutes,
        }


class MemoryAuditOptions(AuditStorageOptions):
    """``max_events`` (0 = unbounded): beyond it the oldest events are dropped."""

    provider_name = "memory"

    max_events: NonNegativeInt = DEFAULT_MAX_EVENTS


class SQLAuditOptions(AuditStorageOptions):
    """``database_url`` (default the project database); events are group-committed in
    batches of at most ``batch_size``. ``durability``: ``auth`` (default) — ``auth.*``
    events are committed before ``emit`` returns, others are queued and committed
    within ``flush_interval`` seconds plus one batch (what ``kill -9`` can lose);
    ``sync`` — every event is committed before ``emit`` returns; ``buffered`` —
    nothing waits (any event of that window can be lost to a crash).

    ``buffered`` is the deprecated alias: ``true`` means ``durability = "buffered"``,
    ``false`` keeps the default."""

    provider_name = "sql"
    fallbacks: ClassVar[Fallbacks] = {"database_url": (attrgetter("database_url"),)}

    database_url: str = ""
    durability: Durability = "auth"
    buffered: bool | None = None
    batch_size: PositiveInt = 500
    flush_interval: NonNegativeFloat = 0.05

    @model_validator(mode="after")
    def _needs_a_database(self) -> SQLAuditOptions:
        if not self.database_url:
            raise ConfigurationError("The sql audit storage needs MASTRA_DATABASE_URL")
        if self.buffered and "durability" in self.model_fields_set and self.durability != "buffered":
            raise ConfigurationError(
                f"sql: option 'buffered' (deprecated) contradicts durability = '{self.durability}'"
            )
        return self

    @property
    def effective_durability(self) -> Durability:
        """``durability``, with the deprecated ``buffered = true`` meaning ``buffered``."""
        return "buffered" if self.buffered else self.durability
