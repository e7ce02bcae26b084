"""API keys through the one auth pipeline, over HTTP (reference app): ``Bearer mk_…`` and
``x-api-key`` identify the key's owner with the owner's *current* permissions narrowed
by the key's scopes; every refusal is a 401 with the SPEC body (never a 500), counted
toward the per-IP failure limit; out of scope is a 403 audited with the key as actor."""

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


async def echo(request: Request) -> JSONResponse:
    user = request.state.user
    return JSONResponse({"user": user.id, "perms": request.state.permissions, "meta": user.metadata})


class RoutesPlugin:
    @hookimpl
    def mastra_ee_routes(self) -> list[PluginRoute]:
        return [
            PluginRoute("GET", "/custom/x", echo),
            PluginRoute("GET", "/agents/{id}/detail", echo),
            PluginRoute("POST", "/agents/{id}/generate", echo),
        ]


def make_app(sqlite_url: str, **overrides: Any) -> Any:
    return reference_app(reference_settings(sqlite_url, **overrides), plugins={"routes": RoutesPlugin()})


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


@pytest.fixture
def app(sqlite_url: str) -> Any:
    return make_app(sqlite_url)


@pytest.fixture
def keys(app: Any) -> SQLApiKeyProvider:
    provider = app.state.mastra_ee.auth.api_keys
    assert isinstance(provider, SQLApiKeyProvider)
    return provider


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(app) as c:
        yield c


async def sign_up(app: Any, email: str) -> str:
    async with client_for(app) as c:
        r = await c.post(
            "/api/auth/credentials/sign-up", json={"email": email, "password": PASSWORD}, headers=ORIGIN
        )
        assert r.status_code == 201, r.text
        return str(r.json()["user"]["id"])


@pytest.fixture
async def owner_id(app: Any) -> str:
    return await sign_up(app, "owner@example.com")  # the first user is the owner


async def key_for(keys: SQLApiKeyProvider, owner: str, scopes: list[str], **options: Any) -> str:
    created = await keys.create_key("user", owner, name="test", scopes=scopes, **options)
    return created.secret


def invalid(r: httpx.Response, message: str) -> None:
    assert (r.status_code, r.json()) == (401, {"error": "Invalid API key", "message": message}), r.text


async def test_a_bearer_key_acts_as_its_owner_within_its_scopes(
    client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    key = await key_for(keys, owner_id, ["agents:read", "custom:read"])
    r = await client.get("/api/custom/x", headers=bearer(key))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["user"] == owner_id and body["perms"] == ["agents:read", "custom:read"]
    assert body["meta"]["tokenType"] == "apikey" and body["meta"]["apiKeyOwner"] == {
        "type": "user",
        "id": owner_id,
    }
    assert (await client.get("/api/agents/a1/detail", headers={"x-api-key": key})).status_code == 200
    assert "set-cookie" not in r.headers


async def test_out_of_scope_is_a_403_audited_with_the_key_as_actor(
    app: Any, client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    key = await key_for(keys, owner_id, ["agents:read"])
    r = await client.post("/api/agents/a1/generate", headers=bearer(key))
    assert (r.status_code, r.json()) == (
        403,
        {"error": "Forbidden", "message": "Missing required permission: agents:execute"},
    )
    page = await app.state.mastra_ee.auth.audit_storage.list(AuditFilter(action="authz.denied"), Pagination())
    [event] = page.events
    assert event.actor.type == "apikey" and event.actor.id == parse_key(key).key_id  # type: ignore[union-attr]
    assert event.metadata["owner"] == {"type": "user", "id": owner_id}
    assert event.actor.ip == "127.0.0.1"


async def test_unsafe_requests_with_a_key_are_csrf_exempt(
    client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    key = await key_for(keys, owner_id, ["agents:execute"])
    r = await client.post(
        "/api/agents/a1/generate", headers={**bearer(key), "origin": "https://evil.example"}
    )
    assert r.status_code == 200, r.text


async def test_every_refusal_is_a_401_with_the_spec_body(
    app: Any, client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    invalid(await client.get("/api/custom/x", headers=bearer("mk_live_nope")), "The API key is malformed")
    invalid(await client.get("/api/custom/x", headers={"x-api-key": "garbage"}), "The API key is malformed")
    valid = await key_for(keys, owner_id, ["*"])
    parts = parse_key(valid)
    assert parts is not None
    unknown = format_key(parts.environment, "Z" * 16, parts.secret)
    invalid(await client.get("/api/custom/x", headers=bearer(unknown)), "The API key is not valid")
    wrong = format_key(parts.environment, parts.key_id, "b" * 43)
    invalid(await client.get("/api/custom/x", headers=bearer(wrong)), "The API key is not valid")

    revoked = await key_for(keys, owner_id, ["*"])
    assert (await client.get("/api/custom/x", headers=bearer(revoked))).status_code == 200
    await keys.revoke(parse_key(revoked).key_id)  # type: ignore[union-attr]
    invalid(await client.get("/api/custom/x", headers=bearer(revoked)), "The API key has been revoked")

    expired = await key_for(keys, owner_id, ["*"])
    await keys.store.update_key(parse_key(expired).key_id, expires_at=utcnow() - timedelta(seconds=1))  # type: ignore[union-attr]
    keys.clear_cache()
    invalid(await client.get("/api/custom/x", headers=bearer(expired)), "The API key has expired")

    elsewhere = await key_for(keys, owner_id, ["*"], ip_allowlist=["10.0.0.0/8"])
    invalid(
        await client.get("/api/custom/x", headers=bearer(elsewhere)),
        "The API key may not be used from this IP address",
    )


async def test_refusals_past_the_secret_are_audited_once_a_minute(
    app: Any, client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    """Only the holder of the real secret can be told "revoked" or "wrong IP": that is a
    leaked or forgotten key in use, worth an audit event; guesses are not (no flood)."""
    revoked = await key_for(keys, owner_id, ["*"])
    await keys.revoke(parse_key(revoked).key_id)  # type: ignore[union-attr]
    pinned = await key_for(keys, owner_id, ["*"], ip_allowlist=["10.0.0.0/8"])
    wrong = format_key("dev", parse_key(pinned).key_id, "c" * 43)  # type: ignore[union-attr]
    for _ in range(2):  # 8 refusals: under the window's 10
        for key in (revoked, pinned, wrong, "mk_x"):
            assert (await client.get("/api/custom/x", headers=bearer(key))).status_code == 401
    storage = app.state.mastra_ee.auth.audit_storage
    page = await storage.list(AuditFilter(action="auth.api-key-use"), Pagination())
    seen = {(e.actor.id, e.outcome, e.metadata["reason"]) for e in page.events}  # type: ignore[union-attr]
    assert len(page.events) == 2 and seen == {
        (parse_key(revoked).key_id, "failure", "revoked"),  # type: ignore[union-attr]
        (parse_key(pinned).key_id, "failure", "ip_not_allowed"),  # type: ignore[union-attr]
    }
    for event in page.events:
        assert event.actor.type == "apikey" and event.actor.ip == "127.0.0.1"  # type: ignore[union-attr]
        assert event.metadata["owner"] == {"type": "user", "id": owner_id}


async def test_a_disabled_user_s_keys_stop_at_once(
    app: Any, client: httpx.AsyncClient, keys: SQLApiKeyProvider
) -> None:
    await sign_up(app, "owner@example.com")
    member = await sign_up(app, "member@example.com")
    key = await key_for(keys, member, ["*"])
    assert (await client.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 200
    app.state.mastra_ee.auth.user.disable_user(member)
    app.state.mastra_ee.auth_cache.clear()  # what every disable path of the server does
    invalid(await client.get("/api/agents/a1/detail", headers=bearer(key)), "The API key's owner is disabled")


async def test_a_demotion_shrinks_every_key_at_once(
    app: Any, client: httpx.AsyncClient, keys: SQLApiKeyProvider
) -> None:
    await sign_up(app, "owner@example.com")
    admin = await sign_up(app, "admin@example.com")
    users = app.state.mastra_ee.auth.user
    await users.set_user_role(admin, "admin")
    wide = await key_for(keys, admin, ["*"])
    narrow = await key_for(keys, admin, ["agents:*"])
    for key in (wide, narrow):
        assert (await client.post("/api/agents/a1/generate", headers=bearer(key))).status_code == 200
    await users.set_user_role(admin, "viewer")
    app.state.mastra_ee.auth_cache.clear()  # what the role-change paths do
    for key in (wide, narrow):
        r = await client.post("/api/agents/a1/generate", headers=bearer(key))
        assert r.status_code == 403 and r.json()["message"] == "Missing required permission: agents:execute"
        assert (await client.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 200
    perms = (await client.get("/api/agents/a1/detail", headers=bearer(narrow))).json()["perms"]
    assert perms == ["agents:read"]


async def test_service_account_keys_use_the_account_s_roles(
    app: Any, client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    account = await keys.create_service_account("ci-bot", ["viewer"], created_by=owner_id)
    created = await keys.create_key("service_account", account.id, name="deploy", scopes=["*"])
    key = created.secret
    r = await client.get("/api/agents/a1/detail", headers=bearer(key))
    assert r.status_code == 200, r.text
    assert r.json()["user"] == account.id and r.json()["meta"]["serviceAccount"] is True
    assert (await client.post("/api/agents/a1/generate", headers=bearer(key))).status_code == 403
    await keys.update_service_account(account.id, roles=["member"])
    assert (await client.post("/api/agents/a1/generate", headers=bearer(key))).status_code == 200
    await keys.update_service_account(account.id, disabled=True)
    invalid(await client.get("/api/agents/a1/detail", headers=bearer(key)), "The API key's owner is disabled")
    await keys.update_service_account(account.id, disabled=False)
    assert (await client.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 200
    await keys.delete_service_account(account.id)
    assert (await client.get("/api/agents/a1/detail", headers=bearer(key))).status_code == 401


async def test_a_revoked_key_stops_at_once_despite_the_auth_cache(
    app: Any, client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    assert app.state.mastra_ee.auth_cache.enabled
    key = await key_for(keys, owner_id, ["*"])
    assert (await client.get("/api/custom/x", headers=bearer(key))).status_code == 200
    rotated = await keys.rotate(parse_key(key).key_id, grace=timedelta(0))  # type: ignore[union-attr]
    assert rotated is not None
    assert (await client.get("/api/custom/x", headers=bearer(key))).status_code == 401
    assert (await client.get("/api/custom/x", headers=bearer(rotated.secret))).status_code == 200


async def test_the_auth_cache_never_carries_a_key_to_another_ip(
    app: Any, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    """A key limited to 10.0.0.0/8, once accepted from 10.0.0.5, must still be refused from
    203.0.113.9 within the cache's lifetime (the cache entry was per credential only)."""
    assert app.state.mastra_ee.auth_cache.enabled
    key = await key_for(keys, owner_id, ["*"], ip_allowlist=["10.0.0.0/8"])

    def from_ip(ip: str) -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=app, client=(ip, 40000))
        return httpx.AsyncClient(transport=transport, base_url="http://localhost")

    async with from_ip("10.0.0.5") as inside, from_ip("203.0.113.9") as outside:
        assert (await inside.get("/api/custom/x", headers=bearer(key))).status_code == 200
        invalid(
            await outside.get("/api/custom/x", headers=bearer(key)),
            "The API key may not be used from this IP address",
        )
        assert (await inside.get("/api/custom/x", headers=bearer(key))).status_code == 200


async def test_failed_keys_count_toward_the_per_ip_limit(sqlite_url: str) -> None:
    app = make_app(sqlite_url, auth={"rate_limit": {"ip": "3/60"}})
    owner = await sign_up(app, "owner@example.com")
    keys = app.state.mastra_ee.auth.api_keys
    good = await key_for(keys, owner, ["*"])
    wrong = format_key("dev", parse_key(good).key_id, "A" * 43)  # well-formed, wrong secret
    async with client_for(app) as client:
        invalid(await client.get("/api/custom/x", headers=bearer("mk_x")), "The API key is malformed")
        for _ in range(2):
            invalid(await client.get("/api/custom/x", headers=bearer(wrong)), "The API key is not valid")
        for bad in ("mk_x", wrong):
            r = await client.get("/api/custom/x", headers=bearer(bad))
            assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
            assert r.json() == {
                "error": "Too many attempts. Try again later.",
                "message": "Too many attempts. Try again later.",
            }
        # A full window refuses failures only: a valid key (256 bits of secret: nothing
        # to guess) still works from that IP, and the sign-in window is its own.
        assert (await client.get("/api/custom/x", headers=bearer(good))).status_code == 200
        r = await client.post(
            "/api/auth/credentials/sign-in",
            json={"email": "owner@example.com", "password": PASSWORD},
            headers=ORIGIN,
        )
        assert r.status_code == 200


async def test_failed_sign_ins_do_not_block_keys(sqlite_url: str) -> None:
    app = make_app(sqlite_url, auth={"rate_limit": {"ip": "3/60", "account": "100/60"}})
    owner = await sign_up(app, "owner@example.com")
    good = await key_for(app.state.mastra_ee.auth.api_keys, owner, ["*"])
    async with client_for(app) as client:
        statuses = [
            (
                await client.post(
                    "/api/auth/credentials/sign-in",
                    json={"email": "owner@example.com", "password": "wrong password!"},
                    headers=ORIGIN,
                )
            ).status_code
            for _ in range(4)
        ]
        assert statuses == [401, 401, 401, 429]
        assert (await client.get("/api/custom/x", headers=bearer(good))).status_code == 200
        invalid(await client.get("/api/custom/x", headers=bearer("mk_x")), "The API key is malformed")


async def test_a_failing_key_store_answers_503_not_500(
    client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    key = await key_for(keys, owner_id, ["*"])
    keys.clear_cache()

    async def broken(key_id: str) -> Any:
        raise RuntimeError("database down")

    keys.store.find_key = broken  # type: ignore[method-assign]
    r = await client.get("/api/custom/x", headers=bearer(key))
    assert r.status_code == 503 and r.json()["error"] == "API key verification is unavailable"


async def test_me_answers_for_a_key(
    client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    key = await key_for(keys, owner_id, ["*"])
    me = (await client.get("/api/auth/me", headers=bearer(key))).json()
    assert me is not None and me["id"] == owner_id


async def test_me_shows_a_key_s_narrowed_permissions(
    client: httpx.AsyncClient, keys: SQLApiKeyProvider, owner_id: str
) -> None:
    """L3: a key's ``/auth/me`` is not its owner's (clients decide what to show from it)."""
    key = await key_for(keys, owner_id, ["agents:read"])
    me = (await client.get("/api/auth/me", headers=bearer(key))).json()
    assert me["id"] == owner_id and me["roles"] == ["owner"]
    assert me["permissions"] == ["agents:read"]
    key_id = me["apiKey"]["id"]
    assert key.split("_")[2] == key_id and me["apiKey"] == {"id": key_id, "scopes": ["agents:read"]}
    session = (await client.get("/api/auth/me")).json()
    assert session is None or "apiKey" not in session


async def test_the_caller_s_repr_never_shows_the_presented_credential(
    keys: SQLApiKeyProvider, owner_id: str
) -> None:
    from mastra.core.server._authn import Caller

    key = await key_for(keys, owner_id, ["*"])
    shown = repr(Caller(token=key))
    assert parse_key(key).secret not in shown and "token" not in shown  # type: ignore[union-attr]
