"""``mastra-ee users ...``: administer embedded Better Auth users (SPEC 1.4).

The commands need a user provider with the embedded administration calls
(``create_user``, ``list_users``, ``set_role``, ``disable_user``); anything else
is a clear error with exit 1.
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import Any

from ..ee.interfaces import SupportsAccountAdmin, SupportsRoleCatalog
from ._command import (
    CommandError,
    add_config_option,
    add_json_option,
    load,
    run_async,
    tell_servers,
    terminal_safe,
)


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("users", help="administer embedded users")
    users = parser.add_subparsers(dest="users_command", metavar="ACTION")
    users.required = True

    create = users.add_parser("create", help="create a user")
    create.add_argument("--email", required=True)
    create.add_argument("--name", default=None)
    create.add_argument("--role", default=None)
    create.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    create.set_defaults(handler=run_create)

    listing = users.add_parser("list", help="list users")
    add_json_option(listing)
    listing.set_defaults(handler=run_list)

    set_role = users.add_parser("set-role", help="set a user's role")
    set_role.add_argument("email")
    set_role.add_argument("role")
    set_role.set_defaults(handler=run_set_role)

    disable = users.add_parser("disable", help="disable a user and revoke all their sessions")
    disable.add_argument("email")
    disable.set_defaults(handler=run_disable)

    for p in (create, listing, set_role, disable):
        add_config_option(p)


def _admin(args: argparse.Namespace) -> tuple[Any, Any]:
    _, _, auth = load(args)
    provider = auth.user
    if not isinstance(provider, SupportsAccountAdmin):
        raise CommandError("users commands require the embedded Better Auth mode (mastra-auth-better)")
    return auth, provider


def _cli_actor() -> Any:
    from ..ee.models import AuditActor

    return AuditActor(type="system", id="cli")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    if first != getpass.getpass("Repeat password: "):
        raise CommandError("passwords do not match")
    return first


def run_create(args: argparse.Namespace) -> int:
    _, provider = _admin(args)
    password = _read_password(args.password_stdin)
    user = run_async(lambda: provider.create_user(args.email, password, name=args.name, role=args.role))
    print(f"created {user.email} ({user.id}) role={user.metadata.get('role')}")
    return 0


def run_list(args: argparse.Namespace) -> int:
    _, provider = _admin(args)
    rows = run_async(provider.list_users)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for row in rows:
        state = "disabled" if row.get("disabled") else "active"
        fields = (row["id"], row["email"], row.get("name") or "-", row.get("role") or "-", state)
        # Names and emails are stored text: whatever validated them once, escape on output.
        print("  ".join(terminal_safe(field) for field in (*fields, row.get("created"))))
    return 0


def run_set_role(args: argparse.Namespace) -> int:
    from ..ee.audit import emit
    from ..ee.models import AuditEventInput, AuditResource

    auth, provider = _admin(args)
    rbac = auth.rbac
    if isinstance(rbac, SupportsRoleCatalog):
        known = {
            r["id"] if isinstance(r, dict) else r.id for r in run_async(_awaitable(rbac.get_available_roles))
        }
        if args.role not in known:
            raise CommandError(f"unknown role '{args.role}'. Known roles: {', '.join(sorted(known))}")

    async def change() -> tuple[Any, Any]:
        old, new = await provider.set_role(args.email, args.role)
        user = await provider.get_user_by_email(args.email)
        await emit(
            auth,
            AuditEventInput(
                actor=_cli_actor(),
                action="users.role-change",
                outcome="success",
                resource=AuditResource(type="user", id=user.id if user else args.email),
                metadata={"from": old, "to": new},
            ),
        )
        await tell_servers(auth)
        return old, new

    old, new = run_async(change)
    print(f"{args.email}: {old or '-'} -> {new}")
    return 0


def run_disable(args: argparse.Namespace) -> int:
    from ..ee.audit import emit
    from ..ee.models import AuditEventInput, AuditResource

    auth, provider = _admin(args)

    async def disable() -> Any:
        user = await provider.disable_user(args.email)
        await emit(
            auth,
            AuditEventInput(
                actor=_cli_actor(),
                action="users.disable",
                outcome="success",
                resource=AuditResource(type="user", id=user.id),
            ),
        )
        await tell_servers(auth)
        return user

    user = run_async(disable)
    print(f"disabled {terminal_safe(user.email)} ({terminal_safe(user.id)}); all sessions revoked")
    return 0


def _awaitable(fn: Any) -> Any:
    from ..ee.interfaces import maybe_await

    async def call() -> Any:
        return await maybe_await(fn())

    return call
