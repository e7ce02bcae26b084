"""``mastra-ee keys ...`` and ``mastra-ee service-accounts ...`` (issue #15, docs/api-keys.md).

``keys`` acts for the user named by ``--user <email|id>``; ``service-accounts`` manages
non-human owners and their keys (``service-accounts keys ...``). Both go to the
``api_keys`` provider directly, with the checks of the HTTP routes: scopes within the
owner's permissions (the user's, or the permissions of the account's roles), the
policy's maximum lifetime, known roles. The full key is printed once, by ``create``
and ``rotate``; every change is audited with the actor ``system:cli``, never the key.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from ..ee.api_keys import ApiKey, CreatedApiKey, OwnerType, ServiceAccount, parse_allowlist
from ..ee.interfaces import IApiKeyProvider, SupportsServiceAccounts, maybe_await
from ..ee.models import AuditActor, AuditEventInput, AuditResource, EEUser
from ..ee.permissions import compile_permissions, is_own_permission, validate_permission
from ._command import (
    CommandError,
    add_config_option,
    add_json_option,
    load,
    run_async,
    tell_servers,
    terminal_safe,
)

__all__ = ["register"]

SHOWN_ONCE = "Store this key now: it is not shown again."


# -- parsers ----------------------------------------------------------------------------


def _key_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--name", required=True, help="what the key is called in lists (1-100 characters)")
    parser.add_argument(
        "--scope", action="append", required=True, dest="scopes", help="a permission pattern (repeatable)"
    )
    parser.add_argument("--expires-in-days", type=int, default=None, help="lifetime (default: the policy's)")
    parser.add_argument("--ip", action="append", default=[], dest="ips", help="an allowed CIDR (repeatable)")


def _common(*parsers: argparse.ArgumentParser) -> None:
    for parser in parsers:
        add_config_option(parser)
        add_json_option(parser)


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="API keys of a user").add_subparsers(
        dest="keys_command", metavar="ACTION"
    )
    keys.required = True
    create = keys.add_parser("create", help="create a key acting as the user (printed once)")
    create.add_argument("--user", required=True, help="the owner: email or user id")
    _key_options(create)
    create.set_defaults(handler=run_user_create)
    listing = keys.add_parser("list", help="list the user's keys")
    listing.add_argument("--user", required=True, help="email or user id")
    listing.set_defaults(handler=run_user_list)
    rotate = keys.add_parser("rotate", help="replace a key (the new one printed once)")
    rotate.add_argument("key_id")
    rotate.add_argument("--user", required=True, help="email or user id")
    rotate.add_argument("--grace", type=int, default=0, help="seconds the old key keeps working (0..604800)")
    rotate.set_defaults(handler=run_user_rotate)
    revoke = keys.add_parser("revoke", help="revoke a key")
    revoke.add_argument("key_id")
    revoke.add_argument("--user", required=True, help="email or user id")
    revoke.set_defaults(handler=run_user_revoke)
    _common(create, listing, rotate, revoke)

    accounts = sub.add_parser("service-accounts", help="service accounts and their API keys")
    actions = accounts.add_subparsers(dest="service-accounts_command", metavar="ACTION")
    actions.required = True
    sa_create = actions.add_parser("create", help="create a service account")
    sa_create.add_argument("--name", required=True)
    sa_create.add_argument("--role", action="append", required=True, dest="roles", help="a role (repeatable)")
    sa_create.set_defaults(handler=run_account_create)
    sa_list = actions.add_parser("list", help="list service accounts")
    sa_list.set_defaults(handler=run_account_list)
    sa_disable = actions.add_parser("disable", help="disable an account (its keys stop at once)")
    sa_disable.add_argument("account_id")
    sa_disable.set_defaults(handler=run_account_disable)
    sa_enable = actions.add_parser("enable", help="enable a disabled account again")
    sa_enable.add_argument("account_id")
    sa_enable.set_defaults(handler=run_account_enable)
    sa_delete = actions.add_parser("delete", help="delete an account and revoke its keys")
    sa_delete.add_argument("account_id")
    sa_delete.set_defaults(handler=run_account_delete)
    _common(sa_create, sa_list, sa_disable, sa_enable, sa_delete)

    sa_keys = actions.add_parser("keys", help="a service account's API keys")
    key_actions = sa_keys.add_subparsers(dest="keys_action", metavar="ACTION")
    key_actions.required = True
    k_create = key_actions.add_parser("create", help="create a key for the account (printed once)")
    k_create.add_argument("account_id")
    _key_options(k_create)
    k_create.set_defaults(command_label="service-accounts keys create", handler=run_account_key_create)
    k_list = key_actions.add_parser("list", help="list the account's keys")
    k_list.add_argument("account_id")
    k_list.set_defaults(command_label="service-accounts keys list", handler=run_account_key_list)
    k_rotate = key_actions.add_parser("rotate", help="replace a key of the account (printed once)")
    k_rotate.add_argument("account_id")
    k_rotate.add_argument("key_id")
    k_rotate.add_argument("--grace", type=int, default=0, help="seconds the old key keeps working")
    k_rotate.set_defaults(command_label="service-accounts keys rotate", handler=run_account_key_rotate)
    k_revoke = key_actions.add_parser("revoke", help="revoke a key of the account")
    k_revoke.add_argument("account_id")
    k_revoke.add_argument("key_id")
    k_revoke.set_defaults(command_label="service-accounts keys revoke", handler=run_account_key_revoke)
    _common(k_create, k_list, k_rotate, k_revoke)


# -- shared steps -----------------------------------------------------------------------


def _load(args: argparse.Namespace) -> tuple[Any, Any, IApiKeyProvider]:
    settings, _, auth = load(args)
    provider = auth.api_keys
    if provider is None:
        raise CommandError("API keys are not configured (a user provider and MASTRA_AUTH_SECRET are needed)")
    return settings, auth, provider


def _accounts(provider: IApiKeyProvider) -> SupportsServiceAccounts:
    if not isinstance(provider, SupportsServiceAccounts):
        raise CommandError("the API key provider does not support service accounts")
    return provider


async def _user(auth: Any, wanted: str) -> EEUser:
    users = auth.user
    if users is None:
        raise CommandError("no user provider is configured")
    found: EEUser | None = None
    if "@" in wanted:
        by_email = getattr(users, "get_user_by_email", None)
        if callable(by_email):
            found = await maybe_await(by_email(wanted))
        else:
            lister = getattr(users, "list_users", None)
            rows = await maybe_await(lister()) if callable(lister) else []
            for row in rows:
                email = row.get("email") if isinstance(row, dict) else getattr(row, "email", None)
                if isinstance(email, str) and email.lower() == wanted.lower():
                    row_id = row["id"] if isinstance(row, dict) else row.id
                    found = await maybe_await(users.get_user(str(row_id)))
                    break
    else:
        found = await maybe_await(users.get_user(wanted))
    if found is None:
        raise CommandError(f"unknown user '{terminal_safe(wanted)}'")
    return found


async def _beyond(auth: Any, user: EEUser, scopes: Sequence[str]) -> list[str]:
    """Scopes the owner's permissions do not cover (none without RBAC; the owner's own
    keys and sessions, ``api-keys:…`` / ``sessions:…``, are always its own)."""
    rbac = auth.rbac
    if rbac is None:
        return []
    granted = compile_permissions(list(await maybe_await(rbac.get_permissions(user))))
    return [scope for scope in scopes if not (granted.allows(scope) or is_own_permission(scope))]


def _account_user(account: ServiceAccount) -> EEUser:
    return EEUser(id=account.id, name=account.name, metadata={"serviceAccount": True, "roles": account.roles})


def _checked_scopes(scopes: Sequence[str]) -> list[str]:
    return [validate_permission(scope) for scope in scopes]  # InvalidPermission: a ValueError


def _ttl(settings: Any, days: int | None) -> timedelta | None:
    if days is None:
        return None
    maximum = settings.auth.api_key_policy.max_ttl_days
    if not 1 <= days <= maximum:
        raise CommandError(f"--expires-in-days must be between 1 and {maximum}")
    return timedelta(days=days)


def _grace(seconds: int) -> timedelta:
    if not 0 <= seconds <= 604800:
        raise CommandError("--grace must be between 0 and 604800 seconds")
    return timedelta(seconds=seconds)


async def _audit(auth: Any, action: str, resource: AuditResource, **metadata: Any) -> None:
    from ..ee.audit import emit

    event = AuditEventInput(
        actor=AuditActor(type="system", id="cli"),
        action=action,
        outcome="success",
        resource=resource,
        metadata=metadata,
    )
    await emit(auth, event)


def _key_resource(key: ApiKey) -> AuditResource:
    return AuditResource(type="api_key", id=key.id)


def _key_json(key: ApiKey) -> dict[str, Any]:
    from ..server.routes.api_keys import api_key_json

    return api_key_json(key)


def _account_json(account: ServiceAccount) -> dict[str, Any]:
    from ..server.routes.service_accounts import service_account_json

    return service_account_json(account)


def _print_created(args: argparse.Namespace, created: CreatedApiKey, verb: str) -> None:
    if args.json:
        print(json.dumps({"key": created.secret, "apiKey": _key_json(created.key)}, indent=2))
        return
    key = created.key
    print(f"{verb} key {key.id} ({terminal_safe(key.name)}), expires {_key_json(key)['expiresAt']}")
    print(created.secret)
    print(SHOWN_ONCE)


def _print_keys(args: argparse.Namespace, keys: list[ApiKey]) -> None:
    rows = [_key_json(key) for key in keys]
    if args.json:
        print(json.dumps({"keys": rows}, indent=2))
        return
    for row in rows:
        state = (
            "revoked"
            if row["revokedAt"]
            else f"grace until {row['graceUntil']}"
            if row["graceUntil"]
            else "active"
        )
        fields = (
            row["id"],
            row["name"],
            ",".join(row["scopes"]),
            f"expires {row['expiresAt']}",
            f"last used {row['lastUsedAt'] or '-'}",
            state,
        )
        print("  ".join(terminal_safe(field) for field in fields))


async def _create(
    args: argparse.Namespace,
    settings: Any,
    auth: Any,
    provider: IApiKeyProvider,
    owner: tuple[OwnerType, EEUser],
) -> CreatedApiKey:
    owner_type, user = owner
    scopes = _checked_scopes(args.scopes)
    missing = await _beyond(auth, user, scopes)
    if missing:
        whose = "the service account's roles do" if owner_type == "service_account" else "the user does"
        raise CommandError(f"scope exceeds the owner's permissions: {whose} not hold {', '.join(missing)}")
    created = await provider.create_key(
        owner_type,
        user.id,
        name=args.name,
        scopes=scopes,
        ttl=_ttl(settings, args.expires_in_days),
        ip_allowlist=parse_allowlist(args.ips),
    )
    key = created.key
    await _audit(
        auth,
        "auth.api-key-create",
        _key_resource(key),
        name=key.name,
        ownerType=key.owner_type,
        ownerId=key.owner_id,
        scopes=key.scopes,
    )
    return created


async def _owned(provider: IApiKeyProvider, owner_type: OwnerType, owner_id: str, key_id: str) -> ApiKey:
    key = await provider.get_key(key_id)
    if key is None or key.owner_type != owner_type or key.owner_id != owner_id:
        raise CommandError(f"key not found: {terminal_safe(key_id)}")
    return key


async def _rotate(auth: Any, provider: IApiKeyProvider, key: ApiKey, grace: timedelta) -> CreatedApiKey:
    created = await provider.rotate(key.id, grace=grace)
    if created is None:
        raise CommandError(f"key {key.id} cannot be rotated: it is revoked, expired or already replaced")
    await _audit(
        auth,
        "auth.api-key-rotate",
        _key_resource(key),
        name=key.name,
        ownerType=key.owner_type,
        ownerId=key.owner_id,
        replacedBy=created.key.id,
        gracePeriodSeconds=int(grace.total_seconds()),
    )
    await tell_servers(auth)
    return created


async def _revoke(auth: Any, provider: IApiKeyProvider, key: ApiKey) -> bool:
    revoked = await provider.revoke(key.id)
    if revoked:
        await _audit(
            auth,
            "auth.api-key-revoke",
            _key_resource(key),
            name=key.name,
            ownerType=key.owner_type,
            ownerId=key.owner_id,
        )
        await tell_servers(auth)
    return revoked


def _print_revoked(args: argparse.Namespace, key: ApiKey) -> None:
    if args.json:
        print(json.dumps({"success": True, "id": key.id}))
    else:
        print(f"revoked key {key.id} ({terminal_safe(key.name)})")


# -- keys (of a user) ---------------------------------------------------------------------


def run_user_create(args: argparse.Namespace) -> int:
    settings, auth, provider = _load(args)

    async def create() -> CreatedApiKey:
        return await _create(args, settings, auth, provider, ("user", await _user(auth, args.user)))

    _print_created(args, run_async(create), "created")
    return 0


def run_user_list(args: argparse.Namespace) -> int:
    _, auth, provider = _load(args)

    async def listing() -> list[ApiKey]:
        return await provider.list_keys("user", (await _user(auth, args.user)).id)

    _print_keys(args, run_async(listing))
    return 0


def run_user_rotate(args: argparse.Namespace) -> int:
    _, auth, provider = _load(args)
    grace = _grace(args.grace)

    async def rotate() -> CreatedApiKey:
        user = await _user(auth, args.user)
        return await _rotate(auth, provider, await _owned(provider, "user", user.id, args.key_id), grace)

    _print_created(args, run_async(rotate), "rotated: new")
    return 0


def run_user_revoke(args: argparse.Namespace) -> int:
    _, auth, provider = _load(args)

    async def revoke() -> ApiKey:
        user = await _user(auth, args.user)
        key = await _owned(provider, "user", user.id, args.key_id)
        await _revoke(auth, provider, key)
        return key

    _print_revoked(args, run_async(revoke))
    return 0


# -- service accounts ---------------------------------------------------------------------


async def _known_roles(auth: Any, roles: Sequence[str]) -> None:
    lister = getattr(auth.rbac, "get_available_roles", None)
    if not callable(lister):
        return
    listed = await maybe_await(lister())
    known = {str(r["id"]) if isinstance(r, dict) else str(r.id) for r in listed}
    unknown = [role for role in roles if role not in known]
    if unknown:
        raise CommandError(
            f"unknown role '{terminal_safe(unknown[0])}'. Known roles: {', '.join(sorted(known))}"
        )


async def _account(provider: IApiKeyProvider, account_id: str) -> ServiceAccount:
    account = await _accounts(provider).get_service_account(account_id)
    if account is None:
        raise CommandError(f"service account not found: {terminal_safe(account_id)}")
    return account


def _print_account(args: argparse.Namespace, account: ServiceAccount, verb: str) -> None:
    if args.json:
        print(json.dumps(_account_json(account), indent=2))
    else:
        state = "disabled" if account.disabled else "active"
        roles = terminal_safe(",".join(account.roles))
        name = terminal_safe(account.name)
        print(f"{verb} service account {account.id} ({name}) roles={roles} {state}")


def run_account_create(args: argparse.Namespace) -> int:
    _, auth, provider = _load(args)
    accounts = _accounts(provider)

    async def create() -> ServiceAccount:
        await _known_roles(auth, args.roles)
        account = await accounts.create_service_account(args.name, args.roles, created_by="cli")
        resource = AuditResource(type="service_account", id=account.id)
        await _audit(auth, "auth.service-account-create", resource, name=account.name, roles=account.roles)
        return account

    _print_account(args, run_async(create), "created")
    return 0


def run_account_list(args: argparse.Namespace) -> int:
    _, _, provider = _load(args)
    rows = run_async(_accounts(provider).list_service_accounts)
    if args.json:
        print(json.dumps({"serviceAccounts": [_account_json(a) for a in rows]}, indent=2))
        return 0
    for account in rows:
        state = "disabled" if account.disabled else "active"
        fields = (
            account.id,
            account.name,
            ",".join(account.roles),
            state,
            _account_json(account)["createdAt"],
        )
        print("  ".join(terminal_safe(field) for field in fields))
    return 0


def _set_disabled(args: argparse.Namespace, disabled: bool) -> int:
    _, auth, provider = _load(args)
    accounts = _accounts(provider)

    async def update() -> ServiceAccount:
        await _account(provider, args.account_id)
        updated = await accounts.update_service_account(args.account_id, disabled=disabled)
        if updated is None:
            raise CommandError(f"service account not found: {terminal_safe(args.account_id)}")
        resource = AuditResource(type="service_account", id=updated.id)
        await _audit(auth, "auth.service-account-update", resource, disabled=disabled)
        await tell_servers(auth)
        return updated

    _print_account(args, run_async(update), "disabled" if disabled else "enabled")
    return 0


def run_account_disable(args: argparse.Namespace) -> int:
    return _set_disabled(args, True)


def run_account_enable(args: argparse.Namespace) -> int:
    return _set_disabled(args, False)


def run_account_delete(args: argparse.Namespace) -> int:
    _, auth, provider = _load(args)
    accounts = _accounts(provider)

    async def delete() -> None:
        if not await accounts.delete_service_account(args.account_id):
            raise CommandError(f"service account not found: {terminal_safe(args.account_id)}")
        resource = AuditResource(type="service_account", id=args.account_id)
        await _audit(auth, "auth.service-account-delete", resource)
        await tell_servers(auth)

    run_async(delete)
    if args.json:
        print(json.dumps({"success": True, "id": args.account_id}))
    else:
        print(f"deleted service account {terminal_safe(args.account_id)}; its keys are revoked")
    return 0


def run_account_key_create(args: argparse.Namespace) -> int:
    settings, auth, provider = _load(args)

    async def create() -> CreatedApiKey:
        account = await _account(provider, args.account_id)
        if account.disabled:
            raise CommandError(f"service account {account.id} is disabled")
        return await _create(args, settings, auth, provider, ("service_account", _account_user(account)))

    _print_created(args, run_async(create), "created")
    return 0


def run_account_key_list(args: argparse.Namespace) -> int:
    _, _, provider = _load(args)

    async def listing() -> list[ApiKey]:
        account = await _account(provider, args.account_id)
        return await provider.list_keys("service_account", account.id)

    _print_keys(args, run_async(listing))
    return 0


def run_account_key_rotate(args: argparse.Namespace) -> int:
    _, auth, provider = _load(args)
    grace = _grace(args.grace)

    async def rotate() -> CreatedApiKey:
        account = await _account(provider, args.account_id)
        key = await _owned(provider, "service_account", account.id, args.key_id)
        return await _rotate(auth, provider, key, grace)

    _print_created(args, run_async(rotate), "rotated: new")
    return 0


def run_account_key_revoke(args: argparse.Namespace) -> int:
    _, auth, provider = _load(args)

    async def revoke() -> ApiKey:
        account = await _account(provider, args.account_id)
        key = await _owned(provider, "service_account", account.id, args.key_id)
        await _revoke(auth, provider, key)
        return key

    _print_revoked(args, run_async(revoke))
    return 0
