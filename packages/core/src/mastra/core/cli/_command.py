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
    "add_json_option",
    "configure_logging",
    "describe",
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


#: The loggers a command writes to stderr (children without handlers propagate to "mastra").
LOGGERS = ("mastra", "mastra.ee", "mastra.cli", "mastra.server", "mastra.audit")


def configure_logging(level: str) -> None:
    """``LEVEL name: message`` on stderr for the mastra loggers, at ``level``."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in LOGGERS:
        log = logging.getLogger(name)
        if not log.handlers:
            log.addHandler(handler)
        log.setLevel(level.upper())
        log.propagate = False


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="TOML configuration file (default ./mastra.toml)")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")


def fail(command: str, message: str) -> int:
    print(f"mastra-ee {command}: {message}", file=sys.stderr)
    return 1


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def describe(exc: BaseException) -> str:
    """One line for an expected failure: pydantic's and SQLAlchemy's messages run
    over several lines (with links and background notes) that would bury the cause.
    Escaped for the terminal: keys and values may come from any configuration file."""
    return terminal_safe(_describe(exc))


def _describe(exc: BaseException) -> str:
    from pydantic import ValidationError
    from sqlalchemy.exc import DBAPIError

    if isinstance(exc, ValidationError):
        problems = (
            f"{'.'.join(str(part) for part in error['loc']) or 'settings'}: {error['msg']}"
            for error in exc.errors(include_url=False)
        )
        return "invalid configuration: " + "; ".join(problems)
    if isinstance(exc, DBAPIError):
        return f"database error: {_first_line(str(exc.orig or exc))}"
    if isinstance(exc, ConnectionError | TimeoutError):
        return f"database unreachable: {exc}"
    return _first_line(getattr(exc, "message", None) or str(exc)) or type(exc).__name__


def expected_failures() -> tuple[type[BaseException], ...]:
    """What a command reports as one line: the configuration, the user's input, the
    database or the network. Anything else is a bug and keeps its traceback."""
    from sqlalchemy.exc import SQLAlchemyError

    from ..ee.errors import MastraEEError

    return (CommandError, MastraEEError, LookupError, ValueError, OSError, SQLAlchemyError)


def guard(command: str, body: Callable[[], int]) -> int:
    """Run a command body; expected failures become one stderr line and exit 1."""
    try:
        return int(body())
    except BrokenPipeError:
        raise  # stdout closed by `head`: main() ends quietly
    except expected_failures() as exc:
        return fail(command, describe(exc))


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
    if with_auth and getattr(args, "log_level", None):
        auth = build_auth(settings, registry)  # --log-level asked for what composition says
    elif with_auth:
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
    """Run one coroutine, then commit the audit events it queued and close the database
    engines it opened."""
    from ..ee.audit import close_writers
    from ..ee.db import dispose_engines

    async def _main() -> T:
        try:
            return await factory()
        finally:
            try:
                await close_writers()
            finally:
                await dispose_engines()

    return asyncio.run(_main())


async def tell_servers(auth: Any) -> None:
    """After a change that can make a cached authentication wrong (a role, a disabled
    user, a revoked key): every running server drops its auth cache (issue #14)."""
    from ..ee.bus import publish_once
    from ..ee.shared import AUTH_CACHE_TOPIC

    settings = getattr(auth, "settings", None)
    if settings is not None:
        await publish_once(settings, AUTH_CACHE_TOPIC)


def project_secret(settings: Any) -> str | None:
    """The server secret as ``serve`` resolves it: ``MASTRA_AUTH_SECRET``, else
    ``./.mastra/secret`` when that file exists. Read-only: never creates the file, so a
    command run in the wrong directory finds no secret rather than a new one."""
    from ..ee.secret import SECRET_PATH

    if settings.secret:
        return str(settings.secret)
    try:
        text = SECRET_PATH.read_text().strip()
    except OSError:
        return None
    return text if len(text) >= 32 else None  # serve replaces a shorter file, so it is not the key
