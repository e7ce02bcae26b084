"""``mastra-ee keys ...`` and ``mastra-ee service-accounts ...`` run in-process against the
project database, with a reference user store shared by every invocation (its users
live in memory; the keys and service accounts in SQLite)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from mastra.core.cli import main
from mastra.core.ee import provider_plugin
from mastra.core.ee.api_keys import SQLApiKeyProvider, parse_key
from mastra.core.ee.audit import SQLAuditStorage
from mastra.core.ee.models import AuditFilter, Pagination
from mastra.core.ee.options import ProviderOptions
from mastra.core.testing.reference import ReferenceProvider

SECRET = "cli-keys-secret-0123456789abcdefghijkl"
USERS = ReferenceProvider()
#: The user slot of every command in this module: one store for the whole test.
plugin = provider_plugin("shared-reference", lambda options: USERS, capabilities=("user", "credentials"))


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTRA_AUTH_SECRET", SECRET)
    monkeypatch.setenv("MASTRA_EE_DISABLED_PLUGINS", "better,workos,cloud,oidc")
    monkeypatch.setenv("MASTRA_EE_EXTRA_PLUGINS", f"{__name__}:plugin")
    monkeypatch.setenv("MASTRA_AUTH__USER", "shared-reference")
    monkeypatch.setenv("MASTRA_AUTH__RBAC", "static")
    monkeypatch.setenv("MASTRA_AUTH__AUDIT_STORAGE", "sql")
    USERS.users.clear()
    return tmp_path


def sign_up(email: str) -> str:
    result = asyncio.run(USERS.sign_up(email, "correct horse battery", None, None))
    assert result.user is not None
    return result.user.id


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run(capsys, *argv, "--json")
    assert code == 0, err
    return json.loads(out)


def audit_actions() -> list[tuple[str, str]]:
    async def read() -> list[tuple[str, str]]:
        storage = SQLAuditStorage.from_options(ProviderOptions({}, _settings()))
        page = await storage.list(AuditFilter(), Pagination(per_page=100))
        return [(e.action, e.actor.type + ":" + e.actor.id) for e in page.events]

    return asyncio.run(read())


def _settings() -> Any:
    from mastra.core.ee.settings import load_settings

    return load_settings(None)


async def _verify(key: str) -> Any:
    from mastra.core.ee.db import dispose_engines
    from mastra.core.ee.settings import load_settings

    keys = SQLApiKeyProvider.from_options(ProviderOptions({}, load_settings(None)))
    try:
        return await keys.verify(key, "127.0.0.1")
    finally:
        await dispose_engines()


def verify(key: str) -> Any:
    return asyncio.run(_verify(key))


def test_keys_create_list_rotate_revoke_for_a_user(capsys: pytest.CaptureFixture[str]) -> None:
    owner = sign_up("owner@example.com")
    code, out, err = run(
        capsys, "keys", "create", "--user", "owner@example.com", "--name", "ci", "--scope", "agents:read"
    )
    assert code == 0, err
    lines = out.splitlines()
    key = lines[1]
    parts = parse_key(key)
    assert parts is not None and lines[0].startswith(f"created key {parts.key_id} (ci), expires ")
    assert lines[2] == "Store this key now: it is not shown again."
    verified = verify(key)
    assert verified.owner_type == "user" and verified.owner_id == owner and verified.scopes == ["agents:read"]

    listed = run_json(capsys, "keys", "list", "--user", owner)["keys"]  # by id as well as by email
    assert [k["id"] for k in listed] == [parts.key_id] and key not in json.dumps(listed)
    code, out, _ = run(capsys, "keys", "list", "--user", "owner@example.com")
    assert out.startswith(f"{parts.key_id}  ci  agents:read  expires ") and "active" in out
    assert parts.secret not in out

    rotated = run_json(capsys, "keys", "rotate", parts.key_id, "--user", "owner@example.com", "--grace", "60")
    assert rotated["key"] != key and rotated["apiKey"]["name"] == "ci"
    assert verify(key).id == parts.key_id  # within its grace
    code, out, err = run(capsys, "keys", "rotate", parts.key_id, "--user", "owner@example.com")
    assert (code, out) == (1, "")
    assert err == (
        f"mastra-ee keys rotate: key {parts.key_id} cannot be rotated: "
        "it is revoked, expired or already replaced\n"
    )

    new_id = rotated["apiKey"]["id"]
    code, out, err = run(capsys, "keys", "revoke", new_id, "--user", "owner@example.com")
    assert (code, out) == (0, f"revoked key {new_id} (ci)\n"), err
    assert verify(rotated["key"]).reason == "revoked"
    actions = audit_actions()
    assert ("auth.api-key-create", "system:cli") in actions
    assert ("auth.api-key-rotate", "system:cli") in actions
    assert ("auth.api-key-revoke", "system:cli") in actions


def test_keys_refusals_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    sign_up("owner@example.com")
    viewer = sign_up("viewer@example.com")
    base = ("keys", "create", "--name", "x")
    cases = [
        (
            (*base, "--user", "nobody@example.com", "--scope", "agents:read"),
            "unknown user 'nobody@example.com'",
        ),
        (
            (*base, "--user", viewer, "--scope", "agents:execute"),
            "scope exceeds the owner's permissions: the user does not hold agents:execute",
        ),
        ((*base, "--user", viewer, "--scope", "nope"), "Malformed permission 'nope'"),
        (
            (*base, "--user", viewer, "--scope", "agents:read", "--expires-in-days", "400"),
            "--expires-in-days must be between 1 and 365",
        ),
        (
            (*base, "--user", viewer, "--scope", "agents:read", "--ip", "10.0.0.0/33"),
            "Invalid CIDR in the IP allow-list: '10.0.0.0/33'",
        ),
        (("keys", "revoke", "Z" * 16, "--user", viewer), f"key not found: {'Z' * 16}"),
    ]
    for argv, message in cases:
        code, out, err = run(capsys, *argv)
        assert code == 1 and out == "", (argv, out)
        assert err.count("\n") == 1 and message in err, (argv, err)
        assert err.startswith("mastra-ee keys "), err


def test_another_user_s_key_is_not_found(capsys: pytest.CaptureFixture[str]) -> None:
    sign_up("owner@example.com")
    sign_up("viewer@example.com")
    created = run_json(
        capsys, "keys", "create", "--user", "owner@example.com", "--name", "x", "--scope", "agents:read"
    )
    code, _, err = run(capsys, "keys", "revoke", created["apiKey"]["id"], "--user", "viewer@example.com")
    assert code == 1 and "key not found" in err
    assert verify(created["key"]).id == created["apiKey"]["id"]


def test_service_accounts_and_their_keys(capsys: pytest.CaptureFixture[str]) -> None:
    sign_up("owner@example.com")
    account = run_json(capsys, "service-accounts", "create", "--name", "ci-bot", "--role", "viewer")
    assert account["roles"] == ["viewer"] and account["disabled"] is False and account["id"].startswith("sa_")
    sa = account["id"]
    listed = run_json(capsys, "service-accounts", "list")["serviceAccounts"]
    assert [a["id"] for a in listed] == [sa]

    code, _, err = run(
        capsys, "service-accounts", "keys", "create", sa, "--name", "d", "--scope", "agents:execute"
    )
    assert code == 1 and err == (
        "mastra-ee service-accounts keys create: scope exceeds the owner's permissions: "
        "the service account's roles do not hold agents:execute\n"
    )
    code, out, err = run(
        capsys, "service-accounts", "keys", "create", sa, "--name", "d", "--scope", "agents:read"
    )
    assert code == 0, err
    key = out.splitlines()[1]
    assert verify(key).owner_id == sa
    keys = run_json(capsys, "service-accounts", "keys", "list", sa)["keys"]
    assert [k["ownerType"] for k in keys] == ["service_account"]

    code, out, _ = run(capsys, "service-accounts", "disable", sa)
    assert out == f"disabled service account {sa} (ci-bot) roles=viewer disabled\n"
    assert verify(key).reason == "owner_disabled"
    assert run(capsys, "service-accounts", "enable", sa)[0] == 0
    assert verify(key).owner_id == sa

    rotated = run_json(capsys, "service-accounts", "keys", "rotate", sa, keys[0]["id"])
    assert verify(key).reason == "revoked" and verify(rotated["key"]).owner_id == sa
    assert run(capsys, "service-accounts", "keys", "revoke", sa, rotated["apiKey"]["id"])[0] == 0
    assert verify(rotated["key"]).reason == "revoked"

    assert run_json(capsys, "service-accounts", "delete", sa) == {"success": True, "id": sa}
    code, _, err = run(capsys, "service-accounts", "delete", sa)
    assert code == 1 and err == f"mastra-ee service-accounts delete: service account not found: {sa}\n"
    code, _, err = run(capsys, "service-accounts", "create", "--name", "x", "--role", "emperor")
    assert code == 1 and "unknown role 'emperor'" in err
    actions = [a for a, _ in audit_actions()]
    for action in ("create", "update", "delete"):
        assert f"auth.service-account-{action}" in actions


def test_not_configured(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MASTRA_AUTH__API_KEYS", "off")
    code, out, err = run(capsys, "service-accounts", "list")
    assert (code, out) == (1, "")
    assert err.startswith("mastra-ee service-accounts list: API keys are not configured")
