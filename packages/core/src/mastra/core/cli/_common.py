"""What the administration commands share: settings, the plugin registry and the
composed provider, built the way ``serve`` builds them, plus one event loop per command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

__all__ = ["CommandError", "add_config_option", "fail", "guard", "load", "run_async"]

T = TypeVar("T")


class CommandError(Exception):
    """A failure the command reports on stderr with exit code 1 (no traceback)."""


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="TOML configuration file (default ./mastra.toml)")


def fail(command: str, message: str) -> int:
    print(f"mastra-ee {command}: {message}", file=sys.stderr)
    return 1


def guard(command: str, body: Callable[[], int]) -> int:
    """Run a command body; expected failures become one stderr line and exit 1."""
    from ..ee.errors import AuthError, ConfigurationError

    try:
        return int(body())
    except CommandError as exc:
        return fail(command, str(exc))
    except (AuthError, ConfigurationError, LookupError, ValueError) as exc:
        return fail(command, getattr(exc, "message", None) or str(exc))


def load(args: argparse.Namespace, *, with_auth: bool = True) -> tuple[Any, Any, Any]:
    """``(settings, registry, auth)``; ``auth`` is ``None`` when ``with_auth`` is false."""
    from ..ee.plugins import build_auth
    from ..ee.settings import load_settings
    from ._serve import _registry

    settings = load_settings(getattr(args, "config", None))
    registry = _registry(settings)
    auth = None
    if with_auth:
        # Administration commands print their own results; composition chatter (the
        # dev-license notice, the summary line) belongs to `serve`. Plugin failures show
        # in `mastra-ee plugins`. The level is restored: tests run commands in-process.
        ee_logger = logging.getLogger("mastra.ee")
        previous = ee_logger.level
        ee_logger.setLevel(logging.ERROR)
        try:
            auth = build_auth(settings, registry)
        finally:
            ee_logger.setLevel(previous)
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
