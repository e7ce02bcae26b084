"""``mastra-ee audit list|export|verify`` (SPEC 1.4, 8.6, 9.6)."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from typing import Any

from ._common import CommandError, add_config_option, guard, load, run_async


def _add_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--action", default=None, help="action; may contain * wildcards")
    parser.add_argument("--actor", default=None, help="actor id")
    parser.add_argument("--outcome", choices=["success", "failure", "denied"], default=None)
    parser.add_argument("--since", default=None, help="ISO 8601 start (inclusive)")
    parser.add_argument("--until", default=None, help="ISO 8601 end (inclusive)")
    add_config_option(parser)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("audit", help="read, export and verify the audit log")
    audit = parser.add_subparsers(dest="audit_command", metavar="ACTION")
    audit.required = True

    listing = audit.add_parser("list", help="newest events first, one line each")
    _add_filters(listing)
    listing.add_argument("--limit", type=int, default=50)
    listing.set_defaults(handler=run_list)

    export = audit.add_parser("export", help="export events as json, jsonl or csv")
    _add_filters(export)
    export.add_argument("--format", choices=["json", "csv", "jsonl"], required=True)
    export.add_argument("--output", default=None, help="file (default stdout)")
    export.set_defaults(handler=run_export)

    verify = audit.add_parser("verify", help="verify the hash chain")
    add_config_option(verify)
    verify.set_defaults(handler=run_verify)


def _date(value: str | None, flag: str) -> datetime | None:
    if value is None:
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise CommandError(f"{flag}: not an ISO 8601 date/time: {value!r}") from exc


def _filter(args: argparse.Namespace) -> Any:
    from ..ee.audit import validate_action_pattern
    from ..ee.models import AuditFilter

    if args.action and "*" in args.action:
        validate_action_pattern(args.action)
    return AuditFilter(
        action=args.action,
        actor_id=args.actor,
        outcome=args.outcome,
        start_date=_date(args.since, "--since"),
        end_date=_date(args.until, "--until"),
    )


def _storage(args: argparse.Namespace) -> Any:
    _, _, auth = load(args)
    if auth.audit_storage is None:
        raise CommandError("no audit storage configured (MASTRA_AUTH__AUDIT_STORAGE)")
    return auth.audit_storage


def format_line(event: Any) -> str:
    from ..ee.models import format_timestamp

    actor = f"{event.actor.type}:{event.actor.email or event.actor.id}"
    resource = f" {event.resource.type}:{event.resource.id}" if event.resource else ""
    when = format_timestamp(event.timestamp)
    return f"{event.seq:>6}  {when}  {event.outcome:<7}  {actor}  {event.action}{resource}"


def run_list(args: argparse.Namespace) -> int:
    from ..ee.models import Pagination

    def body() -> int:
        if not 1 <= args.limit <= 500:
            raise CommandError("--limit must be between 1 and 500")
        storage = _storage(args)
        page = run_async(lambda: storage.list(_filter(args), Pagination(page=0, per_page=args.limit)))
        for event in page.events:
            print(format_line(event))
        return 0

    return guard("audit list", body)


def run_export(args: argparse.Namespace) -> int:
    from ..ee.audit import export_stream

    def body() -> int:
        storage = _storage(args)
        audit_filter = _filter(args)

        async def write(out: Any) -> None:
            async for chunk in export_stream(storage, audit_filter, args.format):
                out.write(chunk)

        if args.output:
            with open(args.output, "wb") as handle:
                run_async(lambda: write(handle))
        else:
            run_async(lambda: write(sys.stdout.buffer))
            sys.stdout.flush()
        return 0

    return guard("audit export", body)


def run_verify(args: argparse.Namespace) -> int:
    from ..ee.audit import verify_chain

    def body() -> int:
        storage = _storage(args)
        report = run_async(lambda: verify_chain(storage))
        print(report.describe())
        return 0 if report.ok else 1

    return guard("audit verify", body)
