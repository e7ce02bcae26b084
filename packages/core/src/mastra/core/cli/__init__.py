"""The ``mastra-ee`` command line (SPEC 1.4).

Each subcommand lives in its own module exposing ``register(subparsers)``, which adds
a parser and sets ``handler`` (a function ``(args) -> int``). Exit codes: 0 success,
1 failure, 2 usage error (argparse).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from . import _audit, _config, _license, _plugins, _serve, _users

__all__ = ["build_parser", "main"]

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = (_serve, _plugins, _config, _users, _audit, _license)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mastra-ee", description="Mastra EE auth: server and administration"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args) or 0)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # Output piped into `head` and closed early: not an error worth a traceback.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
