"""What the administration commands share: settings, the plugin registry and the
composed provider, built the way ``serve`` builds them, plus one event loop per command."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import unicodedata
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ..ee.policy import UNSAFE_CATEGORIES

__all__ = [
    "CommandError",
    "add_config_option",
    "fail",
    "guard",
    "load",
    "project_secret",
    "run_async",
    "terminal_safe",
]

T = TypeVar("T")


class CommandError(Exception):
    """A failure the command reports on stderr with exit code 1 (no traceback)."""


def _visible(char: str) -> str:
    # Control (C0, C1, DEL), format (bidi overrides and isolates, zero-width characters,
    # tags), line/paragraph separators and lone surrogates -- the categories names may
    # not contain (S26). Printed raw, these can recolour or rewrite the terminal, reorder
    # what an administrator reads, or make print() raise.
    if char == "\\":
        return "\\\\"
    if unicodedata.category(char) not in UNSAFE_CATEGORIES:
        return char
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def terminal_safe(value: object) -> str:
    """``str(value)`` with every character that could drive a terminal shown as a Python
    style escape (``\\x1b``, ``\\u202e``). A literal backslash is doubled so stored text
    can never imitate an escape. For stored values printed as text (``--json`` output is
    already escaped by ``json.dumps``)."""
    text = str(value)
    if text.isprintable() and "\\" not in text:
        return text  # the common case; isprintable() is False for every unsafe category
    return "".join(_visible(char) for char in text)


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
    from ..ee.plugins import PluginRegistry, build_auth
    from ..ee.settings import load_settings

    settings = load_settings(getattr(args, "config", None))
    if not settings.secret and (secret := project_secret(settings)):
        # The secret `serve` generated: without it the commands would write an unkeyed
        # audit chain and could not open what the server sealed.
        from pydantic import SecretStr

        settings = settings.model_copy(update={"auth_secret": SecretStr(secret)})
    registry = PluginRegistry.default(settings)
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


def project_secret(settings: Any) -> str | None:
    """The server secret as ``serve`` resolves it: ``MASTRA_AUTH_SECRET``, else
    ``./.mastra/secret`` when that file exists. Read-only: never creates the file, so a
    command run in the wrong directory finds no secret rather than a new one."""
    from ._serve import SECRET_PATH

    if settings.secret:
        return str(settings.secret)
    try:
        text = SECRET_PATH.read_text().strip()
    except OSError:
        return None
    return text if len(text) >= 32 else None  # serve replaces a shorter file, so it is not the key
