"""What the ``sql`` API key provider keeps: no key or secret in clear (the test reads
the table), an HMAC under a key derived from the server secret that still verifies after
a secret rotation, and revocations seen by another process within the cache TTL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from mastra.core.ee.api_keys import API_KEYS_TABLE, SQLApiKeyProvider, parse_key
from mastra.core.ee.db import get_engine
from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings
from sqlalchemy import select

SECRET = "api-key-sql-secret-0123456789abcdefghijkl"
NEXT_SECRET = "api-key-sql-next-secret-0123456789abcdefgh"


async def _rows(database_url: str) -> list[Any]:
    async with get_engine(database_url).connect() as conn:
        return list((await conn.execute(select(API_KEYS_TABLE))).all())


async def test_the_table_holds_no_key_and_no_secret(database_url: str) -> None:
    provider = SQLApiKeyProvider(database_url, secret=SECRET)
    created = await provider.create_key("user", "u1", name="ci", scopes=["agents:read"])
    await provider.verify(created.secret, "127.0.0.1")
    secret = parse_key(created.secret).secret  # type: ignore[union-attr]
    rows = await _rows(database_url)
    assert len(rows) == 1
    dumped = repr(tuple(rows[0]))
    assert created.secret not in dumped and secret not in dumped
    assert rows[0].id == created.key.id and len(rows[0].secret_hash) == 64
    # Not a plain hash of the secret either: the HMAC key comes from the server secret.
    import hashlib

    assert rows[0].secret_hash != hashlib.sha256(secret.encode()).hexdigest()


async def test_keys_verify_after_a_secret_rotation(sqlite_url: str) -> None:
    before = SQLApiKeyProvider(sqlite_url, secret=SECRET)
    created = await before.create_key("user", "u1", name="ci", scopes=["agents:read"])
    rotated = SQLApiKeyProvider(sqlite_url, secret=NEXT_SECRET, previous_secrets=[SECRET])
    assert (await rotated.verify(created.secret, None)).id == created.key.id  # type: ignore[union-attr]
    newer = await rotated.create_key("user", "u1", name="new", scopes=["agents:read"])
    rows = {row.id: row.hash_kid for row in await _rows(sqlite_url)}
    assert rows[created.key.id] != rows[newer.key.id]
    # Without the previous secret the old key no longer verifies.
    forgot = SQLApiKeyProvider(sqlite_url, secret=NEXT_SECRET)
    assert getattr(await forgot.verify(created.secret, None), "reason", None) == "wrong_secret"


async def test_another_process_sees_a_revocation_within_the_cache_ttl(sqlite_url: str) -> None:
    ours = SQLApiKeyProvider(sqlite_url, secret=SECRET, cache_ttl=0)
    theirs = SQLApiKeyProvider(sqlite_url, secret=SECRET, cache_ttl=0)
    created = await ours.create_key("user", "u1", name="ci", scopes=["*"])
    assert (await theirs.verify(created.secret, None)).id == created.key.id  # type: ignore[union-attr]
    await ours.revoke(created.key.id)
    assert getattr(await theirs.verify(created.secret, None), "reason", None) == "revoked"


async def test_change_listeners_run_on_revoke_rotate_and_account_changes(sqlite_url: str) -> None:
    provider = SQLApiKeyProvider(sqlite_url, secret=SECRET)
    calls: list[int] = []
    provider.add_change_listener(lambda: calls.append(1))
    a = await provider.create_key("user", "u1", name="a", scopes=["*"])
    await provider.rotate(a.key.id, grace=timedelta(minutes=5))
    b = await provider.create_key("user", "u1", name="b", scopes=["*"])
    await provider.revoke(b.key.id)
    account = await provider.create_service_account("bot", ["viewer"])
    await provider.update_service_account(account.id, disabled=True)
    await provider.delete_service_account(account.id)
    assert len(calls) == 4


def test_a_server_secret_is_required() -> None:
    with pytest.raises(ConfigurationError):
        SQLApiKeyProvider("sqlite+aiosqlite:///x.db", secret="")


def test_selection_defaults_to_sql_with_users_and_a_secret(sqlite_url: str) -> None:
    from mastra.core.testing.reference import reference_plugin

    def build(**values: Any) -> Any:
        registry = PluginRegistry.default(None, load_entry_points=False)
        registry.register(reference_plugin(), "reference")
        return build_auth(Settings(database_url=sqlite_url, **values), registry)

    users = {"user": "reference", "session": "memory"}
    assert isinstance(build(auth=users, auth_secret=SECRET).api_keys, SQLApiKeyProvider)
    assert build(auth=users).api_keys is None  # no secret to derive the HMAC key from
    assert build(auth={**users, "api_keys": "off"}, auth_secret=SECRET).api_keys is None
    assert build(auth={"session": "memory"}, auth_secret=SECRET).api_keys is None  # no users
    policy = {"environment": "live", "default_ttl_days": 30, "max_ttl_days": 60}
    provider = build(auth={**users, "api_key_policy": policy}, auth_secret=SECRET).api_keys
    assert provider.environment == "live" and provider.max_ttl == timedelta(days=60)
    with pytest.raises(Exception):
        Settings(auth={"api_key_policy": {"environment": "Live!"}})


async def test_an_invalidation_during_a_read_is_not_undone_by_the_cache(sqlite_url: str) -> None:
    """Node B reads a key's row; node A revokes it and B hears of it (its cache is
    dropped) before B's read returns: B must not cache what it read for 5 s."""
    node_a = SQLApiKeyProvider(sqlite_url, secret=SECRET)
    node_b = SQLApiKeyProvider(sqlite_url, secret=SECRET)
    created = await node_a.create_key("user", "u1", name="ci", scopes=["agents:read"])
    read = node_b.store.find_key

    async def read_then_revocation_arrives(key_id: str) -> Any:
        row = await read(key_id)
        await node_a.revoke(key_id)
        node_b._drop_verified()  # the auth-cache message of A's revocation
        return row

    node_b.store.find_key = read_then_revocation_arrives  # type: ignore[method-assign]
    await node_b.verify(created.secret, "127.0.0.1")  # answered from the row read before
    node_b.store.find_key = read  # type: ignore[method-assign]
    refused = await node_b.verify(created.secret, "127.0.0.1")
    assert getattr(refused, "reason", None) == "revoked"


async def test_rotation_reads_the_clock_once(sqlite_url: str) -> None:
    """The successor's lifetime was ``old.expires_at - now`` added to a *second* clock
    reading: a successor outlived its key by the time between them (a 1-in-several-hundred
    CI failure of test_rotation_never_extends_the_expiry at millisecond precision)."""
    from datetime import UTC, datetime

    ticks = iter(range(1_000_000))
    start = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)

    def clock() -> datetime:  # every reading is a millisecond later
        return start + timedelta(milliseconds=next(ticks))

    provider = SQLApiKeyProvider(sqlite_url, secret=SECRET, clock=clock)
    old = await provider.create_key("user", "u1", name="k", scopes=["agents:read"], ttl=timedelta(days=30))
    new = await provider.rotate(old.key.id)
    assert new is not None and new.key.expires_at <= old.key.expires_at
