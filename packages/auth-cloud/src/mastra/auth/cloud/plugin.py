"""Entry point of the ``cloud`` provider (group ``mastra_ee``)."""

from __future__ import annotations

from mastra.core.ee import hookimpl


@hookimpl
def mastra_ee_provider_names() -> dict[str, list[str]]:
    return {}
