"""``mastra-ee audit list|export|verify|checkpoint`` (SPEC 1.4, 8.6, 9.6, S28).

``export --remote NAME`` asks the audit logger's destination for the export instead
(``_audit_remote``).

``verify`` and ``checkpoint`` need the server secret (``MASTRA_AUTH_SECRET``, else
``./.mastra/secret`` as ``serve`` writes it; ``MASTRA_AUTH_PREVIOUS_SECRETS`` after a
rotation): the chain is keyed with it and checkpoints are signed with it.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from ._command import CommandError, add_config_option, add_json_option, load, run_async, terminal_safe
from ._progress import counted


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
    add_json_option(listing)
    listing.set_defaults(handler=run_list)

    export = audit.add_parser("export", help="export events as json, jsonl or csv, or remotely")
    _add_filters(export)
    source = export.add_mutually_exclusive_group(required=True)
    source.add_argument("--format", choices=["json", "csv", "jsonl"], default=None)
    source.add_argument(
        "--remote",
        metavar="PROVIDER",
        default=None,
        help="export at the audit logger's destination (workos); --since defaults to 24 h before --until",
    )
    export.add_argument("--output", default=None, help="file (default stdout); with --remote, the CSV")
    export.add_argument("--wait", action="store_true", help="with --remote: poll until ready, print the URL")
    export.add_argument(
        "--timeout", type=float, default=600.0, help="with --remote --wait: seconds to wait (600)"
    )
    export.set_defaults(handler=run_export)

    verify = audit.add_parser("verify", help="verify the hash chain")
    add_config_option(verify)
    add_json_option(verify)
    verify.add_argument(
        "--checkpoint",
        metavar="FILE",
        default=None,
        help="also require the log to extend the signed checkpoint(s) in FILE (one per line)",
    )
    verify.set_defaults(handler=run_verify)

    checkpoint = audit.add_parser(
        "checkpoint", help="verify, then print a signed checkpoint of the chain head to keep elsewhere"
    )
    add_config_option(checkpoint)
    checkpoint.set_defaults(handler=run_checkpoint)


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

    # Every stored string is escaped: a provider or a tampered database may hold any text.
    safe = terminal_safe
    actor = f"{safe(event.actor.type)}:{safe(event.actor.email or event.actor.id)}"
    resource = f" {safe(event.resource.type)}:{safe(event.resource.id)}" if event.resource else ""
    when = format_timestamp(event.timestamp)
    return f"{event.seq:>6}  {when}  {safe(event.outcome):<7}  {actor}  {safe(event.action)}{resource}"


def run_list(args: argparse.Namespace) -> int:
    from ..ee.models import Pagination

    if not 1 <= args.limit <= 500:
        raise CommandError("--limit must be between 1 and 500")
    storage = _storage(args)
    page = run_async(lambda: storage.list(_filter(args), Pagination(page=0, per_page=args.limit)))
    if args.json:
        print(json.dumps([event.to_json() for event in page.events], indent=2))
        return 0
    for event in page.events:
        print(format_line(event))
    return 0


def run_export(args: argparse.Namespace) -> int:
    from ..ee.audit import export_stream

    if args.remote is not None:
        from ._audit_remote import run_remote_export

        return run_remote_export(args)

    storage = _storage(args)
    audit_filter = _filter(args)

    async def write(out: Any) -> None:
        async with counted(storage, audit_filter, "export") as source:
            async for chunk in export_stream(source, audit_filter, args.format):
                out.write(chunk)

    if args.output:
        with open(args.output, "wb") as handle:
            run_async(lambda: write(handle))
    else:
        run_async(lambda: write(sys.stdout.buffer))
        sys.stdout.flush()
    return 0


def _chain_storage(args: argparse.Namespace) -> tuple[Any, Any]:
    """The storage and the audit keyring of the server's secret(s)."""
    from ..ee.audit import ChainKeys

    settings, _, auth = load(args)  # settings carry ./.mastra/secret when the env has none
    if auth.audit_storage is None:
        raise CommandError("no audit storage configured (MASTRA_AUTH__AUDIT_STORAGE)")
    return auth.audit_storage, ChainKeys.from_settings(settings)


def _read_checkpoints(path: str) -> list[Any]:
    from ..ee.audit import parse_checkpoints

    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read(1 << 20)  # checkpoints are short lines; a huge file is a mistake
    except (OSError, UnicodeDecodeError) as exc:
        raise CommandError(f"--checkpoint: cannot read {path}: {exc}") from exc
    try:
        return parse_checkpoints(text)
    except ValueError as exc:
        raise CommandError(f"--checkpoint {path}: {exc}") from exc


def _notes(report: Any, keys: Any) -> None:
    """What an OK verdict does not cover, on stderr (stdout keeps the SPEC 1.4 line)."""
    if not keys.keyed:
        print("note: no server secret found; only unkeyed events could be verified", file=sys.stderr)
    if report.legacy:
        print(
            f"note: {report.legacy} events are unkeyed (plain SHA-256, written before keying or "
            "without a secret); a database writer could rewrite them undetected",
            file=sys.stderr,
        )
    if report.checkpoints:
        print(f"note: the log extends {report.checkpoints} signed checkpoint(s)", file=sys.stderr)


def run_verify(args: argparse.Namespace) -> int:
    from ..ee.audit import verify_chain
    from ..ee.models import AuditFilter

    checkpoints = _read_checkpoints(args.checkpoint) if args.checkpoint else []
    storage, keys = _chain_storage(args)

    async def verify() -> Any:
        async with counted(storage, AuditFilter(), "verify") as source:
            return await verify_chain(source, keys=keys, checkpoints=checkpoints)

    report = run_async(verify)
    if args.json:
        print(json.dumps(_report_json(report, keys)))
    else:
        print(terminal_safe(report.describe()))  # names a stored id
        if report.ok:
            _notes(report, keys)
    return 0 if report.ok else 1


def _report_json(report: Any, keys: Any) -> dict[str, Any]:
    """``audit verify --json``: the verdict, the line SPEC 1.4 prints, and what the
    text form's notes say."""
    return {
        "ok": report.ok,
        "events": report.count,
        "line": report.describe(),
        "broken": None if report.ok else _broken(report),
        "keyed": keys.keyed,
        "unkeyed_events": report.legacy,
        "checkpoints_extended": report.checkpoints,
    }


def run_checkpoint(args: argparse.Namespace) -> int:
    from ..ee.audit import sign_checkpoint, verify_chain
    from ..ee.models import utcnow

    storage, keys = _chain_storage(args)
    if not keys.keyed:
        raise CommandError(
            "checkpoints are signed with the server secret: set MASTRA_AUTH_SECRET "
            "(or run where ./.mastra/secret is)"
        )
    # Sign only what was just verified: a checkpoint vouches for everything up to it.
    report = run_async(lambda: verify_chain(storage, keys=keys))
    if not report.ok or report.head is None:
        raise CommandError(f"refusing to sign a broken chain: {report.describe()}")
    seq, head_hash = report.head
    print(sign_checkpoint(keys, seq, head_hash, utcnow()).to_json())
    return 0


def _broken(report: Any) -> dict[str, Any]:
    return {
        "seq": report.broken_seq,
        "id": report.broken_id,
        "reason": report.reason,
        "checkpoint": report.checkpoint,
    }
