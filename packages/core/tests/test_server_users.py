"""``GET /auth/users`` and ``GET /auth/users/{id}`` (issue #11): the Studio's users hook,
``users:read`` (owner and admin only by default, SPEC 4.5), public fields only."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from mastra.core.ee import provider_plugin
from mastra.core.ee.models import EEUser
from mastra.core.testing.reference import ReferenceProvider, reference_app, reference_settings

ORIGIN = {"origin": "http://localhost"}
PASSWORD = "correct horse battery"


class UnlistedProvider(ReferenceProvider):
    """The reference provider without ``list_users`` (``None`` opts out of the protocol)."""

    list_users = None  # type: ignore[assignment]


class EEUserListingProvider(ReferenceProvider):
    """Lists :class:`EEUser` objects, as the WorkOS provider does, instead of dict rows."""

    async def list_users(self) -> list[EEUser]:  # type: ignore[override]
        return [user.to_user() for user in self.users.values()]


def client_for(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost")


async def sign_up(client: httpx.AsyncClient, email: str) -> dict[str, Any]:
    r = await client.post(
        "/api/auth/credentials/sign-up", json={"email": email, "password": PASSWORD}, headers=ORIGIN
    )
    assert r.status_code == 201, r.text
    user: dict[str, Any] = r.json()["user"]
    return user


@pytest.fixture
async def owner_and_viewer(
    sqlite_url: str,
) -> AsyncIterator[tuple[Any, httpx.AsyncClient, httpx.AsyncClient]]:
    app = reference_app(reference_settings(sqlite_url))
    async with client_for(app) as owner, client_for(app) as viewer:
        await sign_up(owner, "owner@example.com")  # the first user becomes owner
        await sign_up(viewer, "viewer@example.com")
        yield app, owner, viewer


async def test_owner_lists_users_with_public_fields_and_role(owner_and_viewer: Any) -> None:
    app, owner, _ = owner_and_viewer
    provider = app.state.mastra_ee.auth.user
    provider.disable_user(next(u.id for u in provider.users.values() if u.role == "viewer"))
    r = await owner.get("/api/auth/users")
    assert r.status_code == 200, r.text
    users = r.json()["users"]
    assert [(u["email"], u["role"]) for u in users] == [
        ("owner@example.com", "owner"),
        ("viewer@example.com", "viewer"),
    ]
    for user in users:  # the listing's ``disabled`` flag (and anything else) stays inside
        assert set(user) == {"id", "email", "name", "role"}


async def test_owner_gets_one_user(owner_and_viewer: Any) -> None:
    _, owner, viewer = owner_and_viewer
    me = (await viewer.get("/api/auth/me")).json()
    r = await owner.get(f"/api/auth/users/{me['id']}")
    assert r.status_code == 200, r.text
    assert r.json() == {"id": me["id"], "email": "viewer@example.com", "name": "viewer"}


async def test_unknown_user_is_404(owner_and_viewer: Any) -> None:
    _, owner, _ = owner_and_viewer
    r = await owner.get("/api/auth/users/no-such-user")
    assert r.status_code == 404
    assert r.json() == {"error": "User not found", "message": "User not found"}


async def test_viewer_lacks_users_read(owner_and_viewer: Any) -> None:
    _, owner, viewer = owner_and_viewer
    owner_id = (await owner.get("/api/auth/me")).json()["id"]
    for path in ("/api/auth/users", f"/api/auth/users/{owner_id}"):
        r = await viewer.get(path)
        assert r.status_code == 403, path
        assert r.json() == {"error": "Forbidden", "message": "Missing required permission: users:read"}


async def test_anonymous_is_401(owner_and_viewer: Any) -> None:
    app, _, _ = owner_and_viewer
    async with client_for(app) as anonymous:
        for path in ("/api/auth/users", "/api/auth/users/anyone"):
            r = await anonymous.get(path)
            assert r.status_code == 401, path
            assert r.json()["message"]


async def test_provider_without_listing_is_501(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url, auth={"user": "unlisted", "credentials": "unlisted"})
    plugin = provider_plugin("unlisted", UnlistedProvider.from_options, capabilities=("user", "credentials"))
    app = reference_app(settings, plugins={"unlisted": plugin})
    async with client_for(app) as owner:
        user = await sign_up(owner, "owner@example.com")
        r = await owner.get("/api/auth/users")
        assert r.status_code == 501
        message = "Listing users is not supported by the user provider"
        assert r.json() == {"error": message, "message": message}
        assert (await owner.get(f"/api/auth/users/{user['id']}")).status_code == 200  # lookup still works


async def test_listing_of_user_objects_keeps_public_fields(sqlite_url: str) -> None:
    settings = reference_settings(sqlite_url, auth={"user": "objects", "credentials": "objects"})
    capabilities = ("user", "credentials")
    plugin = provider_plugin("objects", EEUserListingProvider.from_options, capabilities=capabilities)
    app = reference_app(settings, plugins={"objects": plugin})
    async with client_for(app) as owner:
        user = await sign_up(owner, "owner@example.com")
        r = await owner.get("/api/auth/users")
        assert r.status_code == 200, r.text
        assert r.json() == {"users": [{"id": user["id"], "email": "owner@example.com", "name": "owner"}]}


async def test_auth_disabled_passes_like_other_protected_routes(sqlite_url: str) -> None:
    app = reference_app(
        reference_settings(sqlite_url, auth={"user": None, "credentials": None, "rbac": None})
    )
    async with client_for(app) as c:
        r = await c.get("/api/auth/users")
        assert r.status_code == 501 and r.json()["message"]
        assert (await c.get("/api/auth/users/anyone")).status_code == 501


async def test_routes_are_in_the_openapi_document(sqlite_url: str) -> None:
    async with client_for(reference_app(reference_settings(sqlite_url))) as c:
        paths = (await c.get("/api/openapi.json")).json()["paths"]
    assert paths["/api/auth/users"]["get"]["x-permission"] == "users:read"
    assert paths["/api/auth/users/{id}"]["get"]["x-permission"] == "users:read"
