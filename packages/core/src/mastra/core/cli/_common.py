"""What the administration commands share: settings, the plugin registry and the
composed provider, built the way ``serve`` builds them, plus one event loop per command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["CommandError", "add_config_option", "fail", "load", "run_async"]

T = TypeVar("T")


class CommandError(Exception):
    """A failure the command reports on stderr with exit code 1 (no traceback)."""


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="TOML configuration file (default ./mastra.toml)")


def fail(command: str, message: str) -> int:
    print(f"mastra-ee {command}: {message}", file=sys.stderr)
    return 1


def load(args: argparse.Namespace, *, with_auth: bool = True) -> tuple[Any, Any, Any]:
    """``(settings, registry, auth)``; ``auth`` is ``None`` when ``with_auth`` is false."""
    import logging

    from ..ee.plugins import build_auth
    from ..ee.settings import load_settings
    from ._serve import _registry

    # Administration commands print their own results; startup chatter (the dev-license
    # notice, the composition summary) belongs to `serve`. Plugin failures show in `plugins`.
    logging.getLogger("mastra.ee").setLevel(logging.ERROR)

    settings = load_settings(getattr(args, "config", None))
    registry = _registry(settings)
    auth = build_auth(settings, registry) if with_auth else None
    return settings, registry, auth


def run_async(factory: Callable[[], Awaitable[T]]) -> T:
    """Run one coroutine, then close the database engines it opened."""
    from ..ee.db import dispose_engines

    async def _main() -> T:
        try:
            return await factory()
        finally:
            await dispose_engines()

    return asyncio.run(_main())
