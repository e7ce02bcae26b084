"""The API key and service account routes (issue #15) over HTTP on the reference app:
every route, every refusal with its SPEC body (never a 500), audit events without the
key, and the capabilities announcement."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from mastra.core.ee import hookimpl
from mastra.core.ee.api_keys import SQLApiKeyProvider, format_key, parse_key
from mastra.core.ee.models import AuditFilter, Pagination, utcnow
from mastra.core.ee.routes import PluginRoute
from mastra.core.testing.reference import reference_app, reference_settings
from starlette.requests import Request
from starlette.responses import JSONResponse

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"
KEYS = "/api/auth/api-keys"
ACCOUNTS = "/api/auth/service-accounts"
RECORD_FIELDS = {
    "id",
    "name",
    "prefix",
    "ownerType",
    "ownerId",
    "scopes",
    "ipAllowlist",
    "createdAt",
    "expiresAt",
    "lastUsedAt",
    "lastUsedIp",
    "revokedAt",
    "graceUntil",
}


async def echo(request: Request) -> JSONResponse:
    return JSONResponse({"user": request.state.user.id})


class RoutesPlugin:
    @hookimpl
    def mastra_ee_routes(self) -> list[PluginRoute]:
        return [
            PluginRoute("GET", "/agents/{id}/detail", echo),
            PluginRoute("POST", "/agents/{id}/generate", echo),
        ]


def make_app(sqlite_url: str, **overrides: Any) -> Any:
    return reference_app(reference_settings(sqlite_url, **overrides), plugins={"routes": RoutesPlugin()})


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://localhost", headers=ORIGIN
    )


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


async def signed_up(app: Any, email: str) -> tuple[httpx.AsyncClient, str]:
    client = client_for(app)
    r = await client.post("/api/auth/credentials/sign-up", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    return client, str(r.json()["user"]["id"])


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return make_app(sqlite_url)


@pytest.fixture
def keys(app: Any) -> SQLApiKeyProvider:
    provider = app.state.mastra_ee.auth.api_keys
    assert isinstance(provider, SQLApiKeyProvider)
    return provider


@pytest.fixture
async def owner(app: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    client, user_id = await signed_up(app, "owner@example.com")  # the first user owns the project
    yield client, user_id
    await client.aclose()


@pytest.fixture
async def viewer(app: Any, owner: Any) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    client, user_id = await signed_up(app, "viewer@example.com")
    yield client, user_id
    await client.aclose()


def error(r: httpx.Response, status: int, error: str, message: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = r.json()
    assert r.status_code == status, r.text
    assert body["error"] == error, body
    assert body["message"] == (message or error), body
    return body


async def events(app: Any, action: str) -> list[Any]:
    page = await app.state.mastra_ee.auth.audit_storage.list(AuditFilter(action=action), Pagination())
    return list(page.events)


# -- own keys ------------------------------------------------------------------------------


async def test_create_list_use_and_revoke_an_own_key(app: Any, owner: Any) -> None:
    client, owner_id = owner
    body = {"name": "ci", "scopes": ["agents:read"], "expiresInDays": 7, "ipAllowlist": ["127.0.0.1"]}
    r = await client.post(KEYS, json=body)
    assert r.status_code == 201, r.text
    created = r.json()
    key, record = created["key"], created["apiKey"]
    assert set(record) == RECORD_FIELDS
    parts = parse_key(key)
    assert parts is not None and record["id"] == parts.key_id
    assert (
        record["prefix"] == f"mk_{parts.environment}_{parts.key_id}…" and parts.secret not in record["prefix"]
    )
    assert record["ownerType"] == "user" and record["ownerId"] == owner_id
    assert record["scopes"] == ["agents:read"] and record["ipAllowlist"] == ["127.0.0.1/32"]
    assert record["createdAt"].endswith("Z") and record["expiresAt"].endswith("Z")
    assert record["lastUsedAt"] is record["revokedAt"] is record["graceUntil"] is None

    async with client_for(app) as machine:
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 200

    listed = (await client.get(KEYS)).json()["keys"]
    assert [k["id"] for k in listed] == [record["id"]]
    assert listed[0]["lastUsedAt"] is not None and listed[0]["lastUsedIp"] == "127.0.0.1"
    assert key not in str(listed) and parts.secret not in str(listed)

    r = await client.delete(f"{KEYS}/{record['id']}")
    assert (r.status_code, r.json()) == (200, {"success": True})
    assert (await client.get(KEYS)).json()["keys"][0]["revokedAt"] is not None
    async with client_for(app) as machine:
        r = await machine.get("/api/agents/a1/detail", headers=bearer(key))
        error(r, 401, "Invalid API key", "The API key has been revoked")
    # Idempotent; audited once, and no event holds the key.
    assert (await client.delete(f"{KEYS}/{record['id']}")).status_code == 200
    [create] = await events(app, "auth.api-key-create")
    [revoke] = await events(app, "auth.api-key-revoke")
    assert create.resource.id == revoke.resource.id == record["id"]
    assert create.actor.type == "user" and create.actor.id == owner_id
    assert create.metadata["scopes"] == ["agents:read"]
    for event in (create, revoke):
        assert parts.secret not in event.model_dump_json()


async def test_rotate_with_grace_then_without(app: Any, owner: Any) -> None:
    client, _ = owner
    first = (await client.post(KEYS, json={"name": "deploy", "scopes": ["agents:*"]})).json()
    old_id = first["apiKey"]["id"]
    r = await client.post(f"{KEYS}/{old_id}/rotate", json={"gracePeriodSeconds": 3600})
    assert r.status_code == 201, r.text
    second = r.json()
    assert second["apiKey"]["name"] == "deploy" and second["apiKey"]["scopes"] == ["agents:*"]
    assert second["key"] != first["key"]
    old = next(k for k in (await client.get(KEYS)).json()["keys"] if k["id"] == old_id)
    assert old["graceUntil"] is not None and old["revokedAt"] is None
    async with client_for(app) as machine:
        for key in (first["key"], second["key"]):  # both work during the grace
            assert (await machine.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 200
    # A replaced key cannot be rotated again.
    r = await client.post(f"{KEYS}/{old_id}/rotate", json={})
    error(r, 409, "Key cannot be rotated", "The key is revoked, expired or already replaced by a rotation")
    # Default grace 0: the old key stops at once.
    r = await client.post(f"{KEYS}/{second['apiKey']['id']}/rotate", json={})
    assert r.status_code == 201
    third = r.json()["key"]
    async with client_for(app) as machine:
        r = await machine.get("/api/agents/a1/detail", headers=bearer(second["key"]))
        error(r, 401, "Invalid API key", "The API key has been revoked")
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(third))).status_code == 200
    [event, _] = await events(app, "auth.api-key-rotate")
    assert event.metadata["replacedBy"] and "key" not in event.metadata


async def test_another_user_s_key_is_a_404_on_every_route(app: Any, owner: Any, viewer: Any) -> None:
    owner_client, _ = owner
    viewer_client, _ = viewer
    theirs = (await owner_client.post(KEYS, json={"name": "mine", "scopes": ["agents:read"]})).json()
    key_id = theirs["apiKey"]["id"]
    error(await viewer_client.delete(f"{KEYS}/{key_id}"), 404, "Key not found")
    error(await viewer_client.post(f"{KEYS}/{key_id}/rotate", json={}), 404, "Key not found")
    error(await viewer_client.delete(f"{KEYS}/{'Z' * 16}"), 404, "Key not found")  # unknown: same answer
    assert (await viewer_client.get(KEYS)).json() == {"keys": []}
    async with client_for(app) as machine:  # untouched
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(theirs["key"]))).status_code == 200


async def test_a_scope_beyond_the_caller_is_a_403(app: Any, viewer: Any) -> None:
    client, _ = viewer
    r = await client.post(KEYS, json={"name": "x", "scopes": ["agents:read", "agents:execute", "*"]})
    error(r, 403, "Scope exceeds your permissions", "You do not hold: agents:execute, *")
    assert (await client.post(KEYS, json={"name": "x", "scopes": ["agents:read"]})).status_code == 201


async def test_a_key_cannot_mint_a_wider_key(app: Any, owner: Any) -> None:
    client, _ = owner
    body = {"name": "n", "scopes": ["agents:read", "api-keys:write"]}
    narrow = (await client.post(KEYS, json=body)).json()["key"]
    async with client_for(app) as machine:
        r = await machine.post(KEYS, json={"name": "w", "scopes": ["*"]}, headers=bearer(narrow))
        error(r, 403, "Scope exceeds your permissions", "You do not hold: *")
        r = await machine.post(KEYS, json={"name": "same", "scopes": ["agents:read"]}, headers=bearer(narrow))
        assert r.status_code == 201 and r.json()["apiKey"]["ownerType"] == "user"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "", "scopes": ["agents:read"]}, "name"),
        ({"name": "x" * 101, "scopes": ["agents:read"]}, "name"),
        ({"name": "a\u202eb", "scopes": ["agents:read"]}, "name"),
        ({"name": "x", "scopes": []}, "scopes"),
        ({"name": "x", "scopes": ["not a permission"]}, "scopes"),
        ({"name": "x", "scopes": ["agents:read"], "expiresInDays": 0}, "expiresInDays"),
        ({"name": "x", "scopes": ["agents:read"], "expiresInDays": 366}, "expiresInDays"),
        ({"name": "x", "scopes": ["agents:read"], "expiresInDays": True}, "expiresInDays"),
        ({"name": "x", "scopes": ["agents:read"], "ipAllowlist": ["10.0.0.0/33"]}, "ipAllowlist"),
        ({"name": "x", "scopes": ["agents:read"], "ipAllowlist": ["nope"]}, "ipAllowlist"),
        ({"scopes": ["agents:read"]}, "name"),
    ],
)
async def test_bad_bodies_are_400_with_issues(owner: Any, body: dict[str, Any], field: str) -> None:
    client, _ = owner
    r = await client.post(KEYS, json=body)
    assert r.status_code == 400, r.text
    issues = r.json()["issues"]
    assert issues and issues[0]["path"][0] == field, issues
    assert r.json()["error"] == "Invalid request"


async def test_bad_rotation_grace_is_a_400(owner: Any) -> None:
    client, _ = owner
    key_id = (await client.post(KEYS, json={"name": "x", "scopes": ["agents:read"]})).json()["apiKey"]["id"]
    for grace in (-1, 604801, "10"):
        r = await client.post(f"{KEYS}/{key_id}/rotate", json={"gracePeriodSeconds": grace})
        assert r.status_code == 400 and r.json()["issues"][0]["path"] == ["gracePeriodSeconds"]


async def test_every_route_needs_a_signed_in_caller(app: Any) -> None:
    async with client_for(app) as anonymous:
        for method, path in [("GET", KEYS), ("DELETE", f"{KEYS}/x"), ("GET", ACCOUNTS)]:
            r = await anonymous.request(method, path)
            assert r.status_code == 401, (method, path, r.text)


# -- refusals of a key while using it ---------------------------------------------------------


async def test_refusals_of_a_key_created_over_http(app: Any, owner: Any, keys: SQLApiKeyProvider) -> None:
    client, _ = owner

    async def create(**extra: Any) -> str:
        r = await client.post(KEYS, json={"name": "k", "scopes": ["agents:read"], **extra})
        assert r.status_code == 201, r.text
        return str(r.json()["key"])

    async with client_for(app) as machine:

        async def refused(key: str, status: int, message: str) -> None:
            r = await machine.get("/api/agents/a1/detail", headers=bearer(key))
            error(r, status, "Invalid API key" if status == 401 else "Forbidden", message)

        scoped = await create()
        r = await machine.post("/api/agents/a1/generate", headers=bearer(scoped))
        error(r, 403, "Forbidden", "Missing required permission: agents:execute")  # out of scope
        await refused(
            await create(ipAllowlist=["10.0.0.0/8"]), 401, "The API key may not be used from this IP address"
        )
        expired = await create(expiresInDays=1)
        await keys.store.update_key(parse_key(expired).key_id, expires_at=utcnow() - timedelta(seconds=1))  # type: ignore[union-attr]
        keys.clear_cache()
        await refused(expired, 401, "The API key has expired")
        await refused("mk_dev_garbage", 401, "The API key is malformed")
        parts = parse_key(scoped)
        assert parts is not None
        await refused(format_key(parts.environment, parts.key_id, "c" * 43), 401, "The API key is not valid")


async def test_a_disabled_owner_s_key_stops(app: Any, owner: Any, viewer: Any) -> None:
    client, viewer_id = viewer
    key = (await client.post(KEYS, json={"name": "k", "scopes": ["agents:read"]})).json()["key"]
    app.state.mastra_ee.auth.user.disable_user(viewer_id)
    app.state.mastra_ee.auth_cache.clear()
    async with client_for(app) as machine:
        r = await machine.get(KEYS, headers=bearer(key))
        error(r, 401, "Invalid API key", "The API key's owner is disabled")


# -- service accounts --------------------------------------------------------------------------


async def test_service_account_lifecycle_and_its_keys(app: Any, owner: Any) -> None:
    client, owner_id = owner
    r = await client.post(ACCOUNTS, json={"name": "ci-bot", "roles": ["viewer"]})
    assert r.status_code == 201, r.text
    account = r.json()
    assert set(account) == {"id", "name", "roles", "disabled", "createdAt", "createdBy"}
    assert (
        account["roles"] == ["viewer"] and account["disabled"] is False and account["createdBy"] == owner_id
    )
    sa = f"{ACCOUNTS}/{account['id']}"
    assert (await client.get(ACCOUNTS)).json() == {"serviceAccounts": [account]}

    # Scopes are checked against the account's roles, not the admin's.
    r = await client.post(f"{sa}/api-keys", json={"name": "deploy", "scopes": ["agents:execute"]})
    error(r, 403, "Scope exceeds your permissions", "The service account's roles do not hold: agents:execute")
    # Its own keys are the account's own: ``api-keys:read`` needs no role.
    r = await client.post(
        f"{sa}/api-keys", json={"name": "deploy", "scopes": ["agents:read", "api-keys:read"]}
    )
    assert r.status_code == 201, r.text
    created = r.json()
    assert (
        created["apiKey"]["ownerType"] == "service_account" and created["apiKey"]["ownerId"] == account["id"]
    )
    key = created["key"]
    assert [k["id"] for k in (await client.get(f"{sa}/api-keys")).json()["keys"]] == [created["apiKey"]["id"]]
    # The owner's own list does not show it.
    assert (await client.get(KEYS)).json() == {"keys": []}

    async with client_for(app) as machine:
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 200
        # The account lists its own keys with its key ("own keys" of a service account).
        own = (await machine.get(KEYS, headers=bearer(key))).json()["keys"]
        assert [k["id"] for k in own] == [created["apiKey"]["id"]]

        r = await client.patch(sa, json={"disabled": True})
        assert r.status_code == 200 and r.json()["disabled"] is True
        r = await machine.get("/api/agents/a1/detail", headers=bearer(key))
        error(r, 401, "Invalid API key", "The API key's owner is disabled")
        r = await client.patch(sa, json={"disabled": False, "roles": ["member"]})
        assert r.json()["roles"] == ["member"] and r.json()["disabled"] is False
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 200

        second = (
            await client.post(f"{sa}/api-keys", json={"name": "b", "scopes": ["agents:execute"]})
        ).json()
        r = await client.delete(f"{sa}/api-keys/{second['apiKey']['id']}")
        assert (r.status_code, r.json()) == (200, {"success": True})
        r = await machine.post("/api/agents/a1/generate", headers=bearer(second["key"]))
        error(r, 401, "Invalid API key", "The API key has been revoked")
        # A key of the account is not reachable through another account or the own-keys route.
        error(await client.delete(f"{KEYS}/{created['apiKey']['id']}"), 404, "Key not found")

        r = await client.delete(sa)
        assert (r.status_code, r.json()) == (200, {"success": True})
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 401
    assert (await client.get(ACCOUNTS)).json() == {"serviceAccounts": []}
    for path, method in [
        (sa, "PATCH"),
        (sa, "DELETE"),
        (f"{sa}/api-keys", "GET"),
        (f"{sa}/api-keys", "POST"),
    ]:
        body = {"disabled": True} if method == "PATCH" else {"name": "x", "scopes": ["agents:read"]}
        r = await client.request(method, path, json=body if method in {"PATCH", "POST"} else None)
        error(r, 404, "Service account not found")
    error(await client.delete(f"{sa}/api-keys/x"), 404, "Service account not found")
    actions = [
        "auth.service-account-create",
        "auth.service-account-update",
        "auth.service-account-delete",
    ]
    for action in actions:
        found = await events(app, action)
        assert found and found[0].resource.id == account["id"], action
    assert len(await events(app, "auth.service-account-update")) == 2


async def test_service_accounts_need_users_write(viewer: Any) -> None:
    client, _ = viewer
    for method, path in [
        ("GET", ACCOUNTS),
        ("POST", ACCOUNTS),
        ("PATCH", f"{ACCOUNTS}/sa_x"),
        ("DELETE", f"{ACCOUNTS}/sa_x"),
        ("GET", f"{ACCOUNTS}/sa_x/api-keys"),
        ("DELETE", f"{ACCOUNTS}/sa_x/api-keys/k"),
    ]:
        body = {"name": "x", "roles": ["viewer"]} if method == "POST" else {"disabled": True}
        r = await client.request(method, path, json=body if method in {"POST", "PATCH"} else None)
        error(r, 403, "Forbidden", "Missing required permission: users:write")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "x", "roles": []},
        {"name": "x", "roles": ["  "]},
        {"name": "", "roles": ["viewer"]},
        {"name": "x", "roles": ["no-such-role"]},
        {"roles": ["viewer"]},
    ],
)
async def test_bad_service_account_bodies_are_400(owner: Any, body: dict[str, Any]) -> None:
    client, _ = owner
    r = await client.post(ACCOUNTS, json=body)
    assert r.status_code == 400 and r.json()["issues"], r.text


async def test_bad_service_account_update_is_400(owner: Any) -> None:
    client, _ = owner
    account = (await client.post(ACCOUNTS, json={"name": "x", "roles": ["viewer"]})).json()
    bodies: list[dict[str, Any]] = [{"roles": ["no-such-role"]}, {"disabled": "yes"}, {"roles": []}]
    for body in bodies:
        r = await client.patch(f"{ACCOUNTS}/{account['id']}", json=body)
        assert r.status_code == 400 and r.json()["issues"], (body, r.text)


# -- configuration ----------------------------------------------------------------------------


async def test_not_configured_is_a_404_on_every_route(sqlite_url: str) -> None:
    app = make_app(sqlite_url, auth={"api_keys": "off"})
    assert app.state.mastra_ee.auth.api_keys is None
    client, _ = await signed_up(app, "owner@example.com")
    try:
        for method, path, body in [
            ("GET", KEYS, None),
            ("POST", KEYS, {"name": "x", "scopes": ["agents:read"]}),
            ("POST", f"{KEYS}/k/rotate", {}),
            ("DELETE", f"{KEYS}/k", None),
            ("GET", ACCOUNTS, None),
            ("POST", ACCOUNTS, {"name": "x", "roles": ["viewer"]}),
            ("PATCH", f"{ACCOUNTS}/sa", {"disabled": True}),
            ("DELETE", f"{ACCOUNTS}/sa", None),
            ("GET", f"{ACCOUNTS}/sa/api-keys", None),
            ("POST", f"{ACCOUNTS}/sa/api-keys", {"name": "x", "scopes": ["agents:read"]}),
            ("DELETE", f"{ACCOUNTS}/sa/api-keys/k", None),
        ]:
            r = await client.request(method, path, json=body)
            error(r, 404, "API keys not configured")
        caps = (await client.get("/api/auth/capabilities")).json()
        assert "apiKeys" not in caps
    finally:
        await client.aclose()


async def test_capabilities_announce_api_keys(app: Any, owner: Any) -> None:
    client, _ = owner
    caps = (await client.get("/api/auth/capabilities")).json()
    assert caps["apiKeys"] == {"enabled": True, "serviceAccounts": True}
    async with client_for(app) as anonymous:
        assert "apiKeys" not in (await anonymous.get("/api/auth/capabilities")).json()


async def test_routes_are_in_the_openapi_document(app: Any) -> None:
    async with client_for(app) as anonymous:
        r = await anonymous.get("/api/openapi.json")
        if r.status_code == 404:
            r = await anonymous.get("/openapi.json")
    assert r.status_code == 200, r.text
    paths = r.json()["paths"]
    for path in [
        "/api/auth/api-keys",
        "/api/auth/api-keys/{keyId}",
        "/api/auth/api-keys/{keyId}/rotate",
        "/api/auth/service-accounts",
        "/api/auth/service-accounts/{id}",
        "/api/auth/service-accounts/{id}/api-keys",
        "/api/auth/service-accounts/{id}/api-keys/{keyId}",
    ]:
        assert path in paths, (path, sorted(paths))
    assert "requestBody" in paths["/api/auth/api-keys"]["post"]


class KeysOnly:
    """An ``api_keys`` provider without service accounts (only IApiKeyProvider's methods)."""

    def __init__(self, inner: SQLApiKeyProvider) -> None:
        self.create_key = inner.create_key
        self.list_keys = inner.list_keys
        self.get_key = inner.get_key
        self.rotate = inner.rotate
        self.revoke = inner.revoke
        self.verify = inner.verify


async def test_a_provider_without_service_accounts(app: Any, keys: SQLApiKeyProvider, owner: Any) -> None:
    client, _ = owner
    app.state.mastra_ee.auth.api_keys = KeysOnly(keys)
    assert (await client.post(KEYS, json={"name": "x", "scopes": ["agents:read"]})).status_code == 201
    for method, path in [("GET", ACCOUNTS), ("DELETE", f"{ACCOUNTS}/sa"), ("GET", f"{ACCOUNTS}/sa/api-keys")]:
        error(await client.request(method, path), 404, "Service accounts not supported")
    caps = (await client.get("/api/auth/capabilities")).json()
    assert caps["apiKeys"] == {"enabled": True, "serviceAccounts": False}


# -- review #15 -----------------------------------------------------------------------------


@pytest.fixture
async def auth_only(sqlite_url: str) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = make_app(sqlite_url, auth={"rbac": None})
    client, _ = await signed_up(app, "owner@example.com")
    yield app, client
    await client.aclose()


async def test_scopes_are_enforced_in_auth_only_mode(auth_only: Any) -> None:
    """H2: without RBAC the owner side counts as ``*``, the key's scopes still bind."""
    app, client = auth_only
    r = await client.post(KEYS, json={"name": "ro", "scopes": ["agents:read"]})
    assert r.status_code == 201, r.text
    narrow = r.json()["key"]
    async with client_for(app) as machine:
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(narrow))).status_code == 200
        r = await machine.get("/api/audit", headers=bearer(narrow))
        error(r, 403, "Forbidden", "Missing required permission: audit:read")
        r = await machine.post("/api/agents/a1/generate", headers=bearer(narrow))
        error(r, 403, "Forbidden", "Missing required permission: agents:execute")
        r = await machine.post(ACCOUNTS, json={"name": "x", "roles": ["owner"]}, headers=bearer(narrow))
        error(r, 403, "Forbidden", "Missing required permission: users:write")


async def test_a_key_cannot_widen_itself_in_auth_only_mode(auth_only: Any) -> None:
    app, client = auth_only
    r = await client.post(KEYS, json={"name": "k", "scopes": ["agents:read", "api-keys:write"]})
    assert r.status_code == 201, r.text
    key = r.json()["key"]
    async with client_for(app) as machine:
        r = await machine.post(KEYS, json={"name": "w", "scopes": ["*"]}, headers=bearer(key))
        error(r, 403, "Scope exceeds your permissions", "You do not hold: *")


async def test_a_service_account_key_stays_within_the_calling_key_in_auth_only_mode(auth_only: Any) -> None:
    app, client = auth_only
    account = (await client.post(ACCOUNTS, json={"name": "bot", "roles": ["owner"]})).json()
    r = await client.post(KEYS, json={"name": "k", "scopes": ["users:write", "agents:read"]})
    key = r.json()["key"]
    async with client_for(app) as machine:
        r = await machine.post(
            f"{ACCOUNTS}/{account['id']}/api-keys", json={"name": "w", "scopes": ["*"]}, headers=bearer(key)
        )
        error(r, 403, "Scope exceeds your permissions", "You do not hold: *")


async def test_a_key_manages_keys_only_with_an_api_keys_scope(app: Any, owner: Any) -> None:
    """H1: a narrow key can neither list, create, rotate nor revoke sibling keys."""
    client, _ = owner
    narrow = (await client.post(KEYS, json={"name": "ro", "scopes": ["agents:read"]})).json()
    wide = (await client.post(KEYS, json={"name": "admin", "scopes": ["*"]})).json()
    wide_id, narrow_id = wide["apiKey"]["id"], narrow["apiKey"]["id"]
    async with client_for(app) as machine:
        h = bearer(narrow["key"])
        error(
            await machine.get(KEYS, headers=h), 403, "Forbidden", "Missing required permission: api-keys:read"
        )
        r = await machine.post(KEYS, json={"name": "x", "scopes": ["agents:read"]}, headers=h)
        error(r, 403, "Forbidden", "Missing required permission: api-keys:write")
        r = await machine.post(f"{KEYS}/{wide_id}/rotate", json={}, headers=h)
        error(r, 403, "Forbidden", "Missing required permission: api-keys:write")
        r = await machine.delete(f"{KEYS}/{wide_id}", headers=h)
        error(r, 403, "Forbidden", "Missing required permission: api-keys:delete")
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(wide["key"]))).status_code == 200
        # A key may always revoke itself.
        assert (await machine.delete(f"{KEYS}/{narrow_id}", headers=h)).status_code == 200
        assert (await machine.get("/api/agents/a1/detail", headers=h)).status_code == 401


async def test_a_key_manager_cannot_rotate_a_looser_sibling(app: Any, owner: Any) -> None:
    client, _ = owner
    body = {"name": "m", "scopes": ["agents:read", "api-keys:*"], "ipAllowlist": ["127.0.0.1"]}
    manager = (await client.post(KEYS, json=body)).json()
    wide = (await client.post(KEYS, json={"name": "admin", "scopes": ["*"]})).json()
    same = (await client.post(KEYS, json={"name": "s", "scopes": ["agents:read"]})).json()
    unpinned = (
        await client.post(KEYS, json={"name": "u", "scopes": ["agents:read"], "expiresInDays": 1})
    ).json()
    async with client_for(app) as machine:
        h = bearer(manager["key"])
        r = await machine.post(f"{KEYS}/{wide['apiKey']['id']}/rotate", json={}, headers=h)
        error(r, 403, "Scope exceeds your permissions", "You do not hold: *")
        r = await machine.post(f"{KEYS}/{unpinned['apiKey']['id']}/rotate", json={}, headers=h)
        error(
            r,
            403,
            "Scope exceeds your permissions",
            "The calling key's IP allow-list does not cover: any address",
        )
        assert len((await machine.get(KEYS, headers=h)).json()["keys"]) == 4
        assert (await machine.delete(f"{KEYS}/{same['apiKey']['id']}", headers=h)).status_code == 200


async def test_a_key_created_key_is_never_looser_than_its_parent(app: Any, owner: Any) -> None:
    """H3: allow-list within the parent's (inherited when none is asked), expiry no later."""
    client, _ = owner
    body = {
        "name": "p",
        "scopes": ["agents:read", "api-keys:write"],
        "ipAllowlist": ["127.0.0.0/8"],
        "expiresInDays": 1,
    }
    parent = (await client.post(KEYS, json=body)).json()
    async with client_for(app) as machine:
        h = bearer(parent["key"])
        r = await machine.post(
            KEYS, json={"name": "c", "scopes": ["agents:read"], "expiresInDays": 365}, headers=h
        )
        assert r.status_code == 201, r.text
        child = r.json()["apiKey"]
        assert child["ipAllowlist"] == ["127.0.0.0/8"]
        assert child["expiresAt"] <= parent["apiKey"]["expiresAt"]
        r = await machine.post(
            KEYS, json={"name": "c", "scopes": ["agents:read"], "ipAllowlist": ["10.0.0.0/8"]}, headers=h
        )
        error(
            r,
            403,
            "Scope exceeds your permissions",
            "The calling key's IP allow-list does not cover: 10.0.0.0/8",
        )
        r = await machine.post(
            KEYS, json={"name": "c", "scopes": ["agents:read"], "ipAllowlist": ["127.0.0.1"]}, headers=h
        )
        assert r.status_code == 201 and r.json()["apiKey"]["ipAllowlist"] == ["127.0.0.1/32"]
        # Rotating itself keeps the old expiry: a key cannot extend its own life.
        r = await machine.post(f"{KEYS}/{parent['apiKey']['id']}/rotate", json={}, headers=h)
        assert r.status_code == 201, r.text
        assert r.json()["apiKey"]["expiresAt"] <= parent["apiKey"]["expiresAt"]
        assert r.json()["apiKey"]["ipAllowlist"] == ["127.0.0.0/8"]


async def test_rotation_never_extends_the_expiry(app: Any, owner: Any) -> None:
    client, _ = owner
    old = (await client.post(KEYS, json={"name": "k", "scopes": ["agents:read"], "expiresInDays": 30})).json()
    r = await client.post(f"{KEYS}/{old['apiKey']['id']}/rotate", json={})
    assert r.status_code == 201, r.text
    assert r.json()["apiKey"]["expiresAt"] <= old["apiKey"]["expiresAt"]


async def test_sessions_need_a_sessions_scope(app: Any, owner: Any) -> None:
    """M2: a key reads or kills the owner's sessions only with ``sessions:*`` scopes."""
    client, _ = owner
    narrow = (await client.post(KEYS, json={"name": "ro", "scopes": ["agents:read"]})).json()["key"]
    manager = (await client.post(KEYS, json={"name": "s", "scopes": ["sessions:read"]})).json()["key"]
    async with client_for(app) as machine:
        r = await machine.get("/api/auth/sessions", headers=bearer(narrow))
        error(r, 403, "Forbidden", "Missing required permission: sessions:read")
        r = await machine.delete("/api/auth/sessions", headers=bearer(narrow))
        error(r, 403, "Forbidden", "Missing required permission: sessions:delete")
        r = await machine.delete("/api/auth/sessions/abc", headers=bearer(narrow))
        error(r, 403, "Forbidden", "Missing required permission: sessions:delete")
        assert (await machine.get("/api/auth/sessions", headers=bearer(manager))).status_code == 200
        r = await machine.delete("/api/auth/sessions", headers=bearer(manager))
        error(r, 403, "Forbidden", "Missing required permission: sessions:delete")
    assert (await client.get("/api/auth/me")).json()["id"]  # the owner's session lives


@pytest.mark.parametrize("name", ["   ", "\xa0", "\u3000", " \t "])
async def test_a_blank_service_account_or_key_name_is_a_400(owner: Any, name: str) -> None:
    """M3: whitespace-only names are refused by the body validator, never a 500."""
    client, _ = owner
    r = await client.post(ACCOUNTS, json={"name": name, "roles": ["viewer"]})
    body = error(r, 400, "Invalid request")
    assert body["issues"][0]["path"] == ["name"], body
    r = await client.post(KEYS, json={"name": name, "scopes": ["agents:read"]})
    body = error(r, 400, "Invalid request")
    assert body["issues"][0]["path"] == ["name"], body


async def test_malformed_path_ids_are_a_404_before_the_database(database_url: str) -> None:
    """M3: a NUL (refused by PostgreSQL) or any id not of the generators' format is a 404."""
    app = make_app(database_url)
    client, _ = await signed_up(app, "owner@example.com")
    try:
        account = (await client.post(ACCOUNTS, json={"name": "bot", "roles": ["viewer"]})).json()
        sa = f"{ACCOUNTS}/{account['id']}"
        for bad in ("%00", "a%00b", "Z" * 15, "Z" * 17, "ZZZZZZZZZZZZZZZ%00"):
            error(await client.delete(f"{KEYS}/{bad}"), 404, "Key not found")
            error(await client.post(f"{KEYS}/{bad}/rotate", json={}), 404, "Key not found")
            error(await client.delete(f"{sa}/api-keys/{bad}"), 404, "Key not found")
        for bad in ("%00", "sa_%00", "sa_" + "0" * 23 + "%00", "sa_" + "G" * 24, "x"):
            path = f"{ACCOUNTS}/{bad}"
            error(await client.patch(path, json={"disabled": True}), 404, "Service account not found")
            error(await client.delete(path), 404, "Service account not found")
            error(await client.get(f"{path}/api-keys"), 404, "Service account not found")
            r = await client.post(f"{path}/api-keys", json={"name": "k", "scopes": ["agents:read"]})
            error(r, 404, "Service account not found")
            error(await client.delete(f"{path}/api-keys/{'Z' * 16}"), 404, "Service account not found")
    finally:
        await client.aclose()


async def test_an_admin_cannot_reach_owner_through_a_service_account(app: Any, owner: Any) -> None:
    """M1: no role beyond the caller's permissions; an account key's scopes within both."""
    owner_client, _ = owner
    client, admin_id = await signed_up(app, "admin@example.com")
    try:
        await app.state.mastra_ee.auth.user.set_user_role(admin_id, "admin")
        app.state.mastra_ee.auth_cache.clear()
        r = await client.post(ACCOUNTS, json={"name": "x", "roles": ["owner"]})
        error(r, 403, "Role exceeds your permissions", "You do not hold every permission of: owner")
        account = (await client.post(ACCOUNTS, json={"name": "bot", "roles": ["viewer"]})).json()
        sa = f"{ACCOUNTS}/{account['id']}"
        r = await client.patch(sa, json={"roles": ["viewer", "owner"]})
        error(r, 403, "Role exceeds your permissions", "You do not hold every permission of: owner")
        assert (await client.patch(sa, json={"roles": ["admin"]})).status_code == 200
        # The owner may; then the admin still cannot mint a key beyond its own grants.
        assert (await owner_client.patch(sa, json={"roles": ["owner"]})).status_code == 200
        r = await client.post(f"{sa}/api-keys", json={"name": "k", "scopes": ["*"]})
        error(r, 403, "Scope exceeds your permissions", "You do not hold: *")
        assert (
            await client.post(f"{sa}/api-keys", json={"name": "k", "scopes": ["agents:*"]})
        ).status_code == 201
    finally:
        await client.aclose()


async def test_rotate_a_service_account_key(app: Any, owner: Any) -> None:
    owner_client, _ = owner
    account = (await owner_client.post(ACCOUNTS, json={"name": "bot", "roles": ["owner"]})).json()
    sa = f"{ACCOUNTS}/{account['id']}"
    wide = (await owner_client.post(f"{sa}/api-keys", json={"name": "w", "scopes": ["*"]})).json()
    narrow = (await owner_client.post(f"{sa}/api-keys", json={"name": "n", "scopes": ["agents:*"]})).json()

    r = await owner_client.post(
        f"{sa}/api-keys/{narrow['apiKey']['id']}/rotate", json={"gracePeriodSeconds": 0}
    )
    assert r.status_code == 201, r.text
    rotated = r.json()
    assert rotated["key"].startswith("mk_") and rotated["apiKey"]["scopes"] == ["agents:*"]
    assert (
        rotated["apiKey"]["ownerType"] == "service_account" and rotated["apiKey"]["ownerId"] == account["id"]
    )
    async with client_for(app) as machine:
        assert (await machine.get("/api/agents/a1/detail", headers=bearer(rotated["key"]))).status_code == 200
        r = await machine.get("/api/agents/a1/detail", headers=bearer(narrow["key"]))
        error(r, 401, "Invalid API key", "The API key has been revoked")
    [event] = await events(app, "auth.api-key-rotate")
    assert (
        event.resource.id == narrow["apiKey"]["id"]
        and event.metadata["replacedBy"] == rotated["apiKey"]["id"]
    )
    assert rotated["key"] not in str(event.model_dump())

    again = f"{sa}/api-keys/{narrow['apiKey']['id']}/rotate"
    error(
        await owner_client.post(again, json={}),
        409,
        "Key cannot be rotated",
        "The key is revoked, expired or already replaced by a rotation",
    )
    # Another account's path, the own-keys route, unknown ids: 404 like any unknown key.
    other = (await owner_client.post(ACCOUNTS, json={"name": "other", "roles": ["viewer"]})).json()
    error(
        await owner_client.post(f"{ACCOUNTS}/{other['id']}/api-keys/{wide['apiKey']['id']}/rotate", json={}),
        404,
        "Key not found",
    )
    error(await owner_client.post(f"{KEYS}/{wide['apiKey']['id']}/rotate", json={}), 404, "Key not found")
    error(await owner_client.post(f"{sa}/api-keys/nope/rotate", json={}), 404, "Key not found")

    # An admin (users:write, not *) cannot obtain a fresh secret for a key wider than itself.
    client, admin_id = await signed_up(app, "admin@example.com")
    try:
        await app.state.mastra_ee.auth.user.set_user_role(admin_id, "admin")
        app.state.mastra_ee.auth_cache.clear()
        r = await client.post(f"{sa}/api-keys/{wide['apiKey']['id']}/rotate", json={})
        error(r, 403, "Scope exceeds your permissions", "You do not hold: *")
    finally:
        await client.aclose()
    async with client_for(app) as viewerless:
        r = await viewerless.post(f"{sa}/api-keys/{wide['apiKey']['id']}/rotate", json={})
        assert r.status_code == 401
