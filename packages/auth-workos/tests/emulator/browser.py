"""Browser-style sign-in against the real server app, through the emulator's AuthKit."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["browser_login"]


async def browser_login(
    http: httpx.AsyncClient, emulator: Any, user_id: str, target: str = "/agents"
) -> httpx.Response:
    emulator.login_as = user_id
    start = await http.get("/api/auth/sso/login", params={"redirect_uri": target})
    assert start.status_code == 200
    async with httpx.AsyncClient() as idp:
        authorize = await idp.get(start.json()["url"])
    assert authorize.status_code == 302
    callback = authorize.headers["location"]
    assert callback.startswith("http://127.0.0.1:4111/api/auth/sso/callback?")
    return await http.get(callback)
