"""Issue #15's "done when": a service account's key drives the published ``@mastra/client-js``
against a real ``mastra-ee serve`` subprocess, scoped and audited.

The owner creates the service account over HTTP (``POST /auth/service-accounts``); the
key comes from the CLI (``mastra-ee service-accounts keys create``) run in the server's
project folder, as an operator would; ``peer/client_js_calls.mjs`` then makes the calls
in Node with ``Authorization: Bearer mk_…`` and nothing else.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mastra.core.ee.api_keys import parse_key
from mastra.core.testing.node import mastra_client_js_folder, node_available
from mastra.core.testing.reference import ServeProcess, reference_serve_env

pytestmark = [pytest.mark.node, pytest.mark.slow]

SCRIPT = Path(__file__).parent / "peer" / "client_js_calls.mjs"
PASSWORD = "correct horse battery"
SECRET = "client-js-api-keys-secret-0123456789abcdef"


def serve_env() -> dict[str, str]:
    return reference_serve_env(
        MASTRA_AUTH_SECRET=SECRET, MASTRA_AUTH__RBAC="static", MASTRA_AUTH__AUDIT_STORAGE="sql"
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    if not node_available():
        if os.environ.get("CI"):
            pytest.fail("node/npm not installed")
        pytest.skip("node/npm not installed")
    mastra_client_js_folder()  # install before the server starts its clock
    with ServeProcess(tmp_path_factory.mktemp("client-js-keys"), serve_env()) as running:
        yield running


def cli(server: ServeProcess, *argv: str) -> Any:
    done = subprocess.run(
        [sys.executable, "-m", "mastra.core.cli", *argv, "--json"],
        cwd=server.cwd,
        env=serve_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def client_js(server: ServeProcess, headers: dict[str, str], *calls: list[Any]) -> list[dict[str, Any]]:
    folder = mastra_client_js_folder()
    script = folder / SCRIPT.name
    shutil.copyfile(SCRIPT, script)  # ESM resolves packages next to the script
    request = {"baseUrl": server.url, "headers": headers, "calls": list(calls)}
    done = subprocess.run(
        ["node", str(script)],
        cwd=folder,
        input=json.dumps(request),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    results: list[dict[str, Any]] = json.loads(done.stdout)
    if os.environ.get("MASTRA_TEST_PRINT_CALLS"):
        for call, result in zip(calls, results, strict=True):
            shown = (
                result.get("value") if result["ok"] else {"status": result["status"], "body": result["body"]}
            )
            print(json.dumps(call), "->", json.dumps(shown)[:200])
    return results


def test_a_service_account_key_drives_client_js_scoped_and_audited(server: ServeProcess) -> None:
    with httpx.Client(base_url=server.url, headers={"origin": server.url}, timeout=30) as owner:
        r = owner.post(
            "/api/auth/credentials/sign-up", json={"email": "owner@example.com", "password": PASSWORD}
        )
        assert r.status_code == 201, r.text
        r = owner.post("/api/auth/service-accounts", json={"name": "ci-bot", "roles": ["admin"]})
        assert r.status_code == 201, r.text
        account = r.json()
    created = cli(
        server,
        "service-accounts",
        "keys",
        "create",
        account["id"],
        "--name",
        "deploy",
        "--scope",
        "audit:read",
        "--scope",
        "api-keys:read",  # listing its own keys: not a role's, the key's own
    )
    key, key_id = created["key"], created["apiKey"]["id"]
    assert parse_key(key) is not None and created["apiKey"]["ownerType"] == "service_account"

    patterns, allowed, out_of_scope, own_keys, denied_events = client_js(
        server,
        {"Authorization": f"Bearer {key}"},
        ["getPermissionPatterns"],
        ["request", "/audit?limit=1"],  # audit:read: in scope and in the admin role
        ["request", "/auth/users"],  # users:read: the admin role holds it, the key's scopes do not
        ["request", "/auth/api-keys"],
        ["request", "/audit?action=authz.denied"],
    )
    assert patterns["ok"] and "audit:read" in patterns["value"]["patterns"]
    assert allowed["ok"] and "events" in allowed["value"]
    assert (out_of_scope["ok"], out_of_scope["status"]) == (False, 403), out_of_scope
    assert out_of_scope["body"] == {
        "error": "Forbidden",
        "message": "Missing required permission: users:read",
    }
    assert [k["id"] for k in own_keys["value"]["keys"]] == [key_id]
    [event] = denied_events["value"]["events"]
    assert event["actor"]["type"] == "apikey" and event["actor"]["id"] == key_id
    assert event["metadata"]["owner"] == {"type": "service_account", "id": account["id"]}
    assert key not in json.dumps(denied_events["value"])

    # Disabling the account stops its key at once, for the very same client.
    with httpx.Client(base_url=server.url, headers={"origin": server.url}, timeout=30) as owner:
        r = owner.post(
            "/api/auth/credentials/sign-in", json={"email": "owner@example.com", "password": PASSWORD}
        )
        assert r.status_code == 200, r.text
        r = owner.patch(f"/api/auth/service-accounts/{account['id']}", json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] is True
        events = owner.get("/api/audit", params={"action": "auth.api-key-create"}).json()["events"]
        assert events[0]["actor"] == {**events[0]["actor"], "type": "system", "id": "cli"}
    [refused] = client_js(server, {"Authorization": f"Bearer {key}"}, ["request", "/audit?limit=1"])
    assert (refused["status"], refused["body"]) == (
        401,
        {"error": "Invalid API key", "message": "The API key's owner is disabled"},
    )
