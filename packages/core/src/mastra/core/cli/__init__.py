"""The ``mastra-ee`` command line (SPEC 1.4).

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds
a parser and sets ``handler`` (a function ``(args) -> int``). :func:`main` runs every
handler under one guard, so an expected failure (malformed TOML, a missing ``--config``
file, an unreachable database, a configuration error) is one stderr line
``mastra-ee <command>: <message>`` and exit 1, never a traceback.

Exit codes: 0 success, 1 failure, 2 usage error (argparse) or a configuration that
production refuses.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib import metadata

from . import _audit, _config, _keys, _license, _plugins, _serve, _users
from ._command import configure_logging, guard

__all__ = ["build_parser", "main"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = (_serve, _plugins, _config, _users, _keys, _audit, _license)
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def versions() -> str:
    """Every installed ``mastra-*`` distribution and its version, one per line."""
    found = {
        dist.metadata["Name"]: dist.version
        for dist in metadata.distributions()
        if (dist.metadata["Name"] or "").lower().startswith("mastra")
    }
    return "\n".join(f"{name} {version}" for name, version in sorted(found.items()))


class _VersionAction(argparse.Action):
    def __init__(self, option_strings: Sequence[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the installed mastra distributions")

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        print(versions())
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mastra-ee", description="Mastra EE auth: server and administration"
    )
    parser.add_argument("--version", action=_VersionAction)
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        default=None,
        type=str.lower,
        help="level of the mastra loggers on stderr (serve: info; other commands: error)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return parser


def command_name(args: argparse.Namespace) -> str:
    """``"audit list"``: the command and its action, as the error line names them."""
    label = getattr(args, "command_label", None)
    if isinstance(label, str):  # a nested action names itself ("service-accounts keys create")
        return label
    action = getattr(args, f"{args.command}_command", None)
    return f"{args.command} {action}" if action else str(args.command)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.log_level:
        configure_logging(args.log_level)
    try:
        return guard(command_name(args), lambda: int(args.handler(args) or 0))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
