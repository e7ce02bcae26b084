"""``mastra-ee audit export --remote NAME``: the export made by the audit logger's
destination (``workos``: WorkOS Audit Logs), through ``SupportsRemoteAuditExport``.

``--wait`` polls until the export is ready (progress on stderr, at most ``--timeout``
seconds) and prints its URL; ``--output FILE`` downloads the CSV; otherwise the export
object is printed as JSON. ``--since`` defaults to 24 hours before ``--until`` (now).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from ._audit import _date
from ._command import CommandError, load, run_async, terminal_safe

__all__ = ["run_remote_export"]

POLL_INITIAL = 1.0  # seconds before the first status check, then x1.5 up to POLL_MAX
POLL_MAX = 10.0


@contextmanager
def _errors_only() -> Iterator[None]:
    """Retry warnings (stamina, the provider) would add lines to the one-line error."""
    root = logging.getLogger()
    previous = root.level
    root.setLevel(logging.ERROR)
    try:
        yield
    finally:
        root.setLevel(previous)


def _aware(value: datetime | None) -> datetime | None:
    """A date without an offset is UTC, as the local filters read it."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _remote_exporter(args: argparse.Namespace) -> Any:
    from ..ee.interfaces import SupportsRemoteAuditExport

    _, _, auth = load(args)
    logger = auth.audit
    name = getattr(logger, "name", None)
    if not isinstance(logger, SupportsRemoteAuditExport) or name != args.remote:
        configured = f"the configured audit logger ({name})" if logger is not None else "no audit logger"
        raise CommandError(
            f"--remote {args.remote}: {configured} cannot export remotely "
            f"(set MASTRA_AUTH__AUDIT={args.remote})"
        )
    return logger


async def _remote_export(args: argparse.Namespace) -> int:
    if args.outcome or (args.action and "*" in args.action):
        raise CommandError("--remote filters by exact --action and --actor only")
    until = _aware(_date(args.until, "--until")) or datetime.now(UTC)
    since = _aware(_date(args.since, "--since")) or until - timedelta(hours=24)
    if since >= until:
        raise CommandError("--since must be before --until")
    exporter = _remote_exporter(args)
    try:
        export = await exporter.create_remote_export(
            since,
            until,
            actions=[args.action] if args.action else None,
            actors=[args.actor] if args.actor else None,
        )
        if not (args.wait or args.output):
            print(json.dumps(export))
            return 0
        export = await _poll(exporter, export, args.timeout)
        if args.output:
            await asyncio.to_thread(_download, export["url"], args.output)
        else:
            print(terminal_safe(export["url"]))
        return 0
    finally:
        if hasattr(exporter, "aclose"):
            await exporter.aclose()


async def _poll(exporter: Any, export: dict[str, Any], limit: float) -> dict[str, Any]:
    """The export once ready, checking at growing intervals; progress on stderr."""
    started, interval = time.monotonic(), POLL_INITIAL
    name = terminal_safe(export["id"])  # the destination's text
    while export["state"] == "pending":
        elapsed = time.monotonic() - started
        if elapsed + interval > limit:
            raise CommandError(f"export {name} still pending after {elapsed:.0f}s (--timeout)")
        print(f"export {name}: pending ({elapsed:.0f}s)", file=sys.stderr)
        await asyncio.sleep(interval)
        interval = min(interval * 1.5, POLL_MAX)
        export = await exporter.get_remote_export(export["id"]) or {"id": export["id"], "state": "gone"}
    if export["state"] != "ready" or not export.get("url"):
        raise CommandError(f"export {name} ended in state {terminal_safe(export['state'])}")
    return export


def _download(url: str, path: str) -> None:
    """Stream the export's (presigned) URL into ``path``: no API key is sent."""
    import httpx

    try:
        with httpx.stream("GET", url, timeout=60.0, follow_redirects=True) as response:
            if response.status_code != 200:
                raise CommandError(f"download failed: HTTP {response.status_code}")
            with open(path, "wb") as handle:
                for chunk in response.iter_bytes():
                    handle.write(chunk)
    except (httpx.HTTPError, OSError) as exc:
        raise CommandError(f"download failed: {exc}") from exc
    print(f"wrote {path}", file=sys.stderr)


def run_remote_export(args: argparse.Namespace) -> int:
    with _errors_only():
        return run_async(lambda: _remote_export(args))
