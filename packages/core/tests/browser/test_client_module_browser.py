"""The browser client module (static/client.js) in real Chromium (SPEC 11.1)."""

from __future__ import annotations

import itertools
from importlib.resources import files
from typing import Any

import pytest
from mastra.core.ee.permissions import matches
from mastra.core.testing.servers import BackgroundServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

pytestmark = [pytest.mark.browser, pytest.mark.slow]

IMPORT = "const m = await import('/_studio/static/client.js');"

SPEC_TABLE = [
    ("*", "legacy-admin", True),
    ("*:*", "workflows:delete", True),
    ("*:*", "agents:read:x", True),
    ("*:*", "legacy-admin", False),
    ("agents:*", "agents:read", True),
    ("agents:*", "agents:read:x", True),
    ("agents:*", "workflows:read", False),
    ("*:read", "workflows:read", True),
    ("*:read", "tools:read:t1", True),
    ("*:read", "workflows:write", False),
    ("agents:read", "agents:read:my-agent", True),
    ("agents:read:a", "agents:read:b", False),
    ("agents:read:a", "agents:read", False),
    ("agents:*:a", "agents:write:a", True),
    ("*:execute:a", "tools:execute:a", True),
    ("legacy-admin", "legacy-admin", True),
    ("agents:read", "agents:*", False),
    ("agents:*", "agents:*", True),
]


def permission_pairs() -> list[tuple[str, str]]:
    parts = ["*", "agents", "read", "a", "a:b", ""]
    strings = {":".join(p) for n in (1, 2, 3) for p in itertools.product(parts, repeat=n)}
    ordered = sorted(strings)
    return [(g, r) for g in ordered[::7] for r in ordered[::5]]


async def test_matcher_agrees_with_the_spec_and_the_server(studio: Any, new_page: Any) -> None:
    s = studio()
    page = await new_page()
    await page.goto(s.page_url("login"))
    pairs = [(g, r) for g, r, _ in SPEC_TABLE] + permission_pairs()
    js = await page.evaluate(
        f"async (pairs) => {{ {IMPORT} return pairs.map(([g, r]) => m.matches(g, r)); }}", pairs
    )
    assert js[: len(SPEC_TABLE)] == [expected for _, _, expected in SPEC_TABLE]
    disagreements = [(g, r) for (g, r), got in zip(pairs, js, strict=True) if got != matches(g, r)]
    assert len(pairs) > 500 and disagreements == []


async def test_capabilities_cached_shared_and_errors(studio: Any, new_page: Any) -> None:
    s = studio()
    page = await new_page()
    await page.goto(s.page_url("login"))
    await page.get_by_label("Email").wait_for()
    seen: list[str] = []
    page.on("request", lambda req: seen.append(req.url) if req.url.endswith("/auth/capabilities") else None)
    result = await page.evaluate(
        f"""async () => {{ {IMPORT}
        const c = m.createAuthClient({{ apiPrefix: ' api/ ' }});
        const all = await Promise.all([c.getCapabilities(), c.getCapabilities(), c.getCapabilities()]);
        await c.getCapabilities();
        const perms = await c.permissions();
        let error = null;
        const broken = m.createAuthClient({{ apiPrefix: '/nope' }});
        try {{ await broken.getCapabilities(); }} catch (e) {{ error = e.message; }}
        let sso = null;
        try {{ await c.startSSO('/x'); }} catch (e) {{ sso = e.message; }}
        let signIn = null;
        try {{ await c.signIn('ghost@example.com', 'whatever-pass'); }} catch (e) {{ signIn = e.message; }}
        return {{ type: all[0].login.type, same: all.every(x => x === all[0]), error, sso, signIn,
                 anything: perms.hasPermission('settings:delete'),
                 prefixes: ['/mastra', 'custom-api/', ''].map(m.normalisePrefix) }};
    }}"""
    )
    assert result["type"] == "credentials" and result["same"] is True
    assert len(seen) == 2  # one shared request for four calls, one for the failing client
    assert result["error"] == "Failed to fetch auth capabilities: 404"
    assert result["sso"] == "SSO not configured"  # the server's error text wins over the default
    assert result["signIn"] == "Invalid email or password"
    assert result["anything"] is True  # no user → rbac is not reported → checks pass
    assert result["prefixes"] == ["/mastra", "/custom-api", ""]


def emulator() -> tuple[Starlette, dict[str, Any]]:
    """Serves the real client module plus /api/auth/me answering a scripted status list."""
    state: dict[str, Any] = {"statuses": [], "calls": 0, "content_types": []}

    async def me(request: Request) -> JSONResponse:
        state["content_types"].append(request.headers.get("content-type"))
        statuses = state["statuses"]
        status = statuses[state["calls"]] if state["calls"] < len(statuses) else 200
        state["calls"] += 1
        return JSONResponse({"id": "u1"} if status == 200 else {"error": "x"}, status_code=status)

    async def index(request: Request) -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>emulator</title>")

    static = StaticFiles(directory=str(files("mastra.core.studio") / "static"))
    app = Starlette(
        routes=[Route("/", index), Route("/api/auth/me", me), Mount("/_studio/static", app=static)]
    )
    return app, state


async def test_get_me_retries_only_on_503(new_page: Any) -> None:
    app, state = emulator()
    with BackgroundServer(app) as server:
        page = await new_page()
        await page.goto(server.url + "/")
        script = f"""async () => {{ {IMPORT}
            const c = m.createAuthClient({{ apiPrefix: '/api' }});
            const started = performance.now();
            try {{ return {{ value: await c.getMe(), ms: performance.now() - started }}; }}
            catch (e) {{ return {{ error: e.message, status: e.status, ms: performance.now() - started }}; }}
        }}"""
        state.update(statuses=[503, 503], calls=0)
        ok = await page.evaluate(script)
        assert ok["value"] == {"id": "u1"} and state["calls"] == 3
        assert ok["ms"] >= 1400  # backoff 500 ms then 1000 ms
        for status in (401, 500):
            state.update(statuses=[status], calls=0)
            failed = await page.evaluate(script)
            assert failed["error"] == f"Failed to fetch current user: {status}" and state["calls"] == 1
        assert set(state["content_types"]) == {"application/json"}
        # Content-Type cannot be overridden by a caller.
        await page.evaluate(
            f"async () => {{ {IMPORT} await m.createAuthClient({{}}).request('/auth/me', "
            "{ headers: { 'Content-Type': 'text/plain' } }); }"
        )
        assert state["content_types"][-1] == "application/json"


async def test_change_password_posts_the_contract_and_reports_retry_after(new_page: Any) -> None:
    app, _ = emulator()
    with BackgroundServer(app) as server:
        page = await new_page()
        await page.goto(server.url + "/")
        result = await page.evaluate(
            f"""async () => {{ {IMPORT}
            const sent = [];
            const answers = [
                [429, {{ error: 'Too many attempts', message: 'Too many attempts. Try again later.' }},
                 {{ 'Retry-After': '42' }}],
                [400, {{ error: 'Invalid password', message: 'Invalid password' }}, {{}}],
                [200, {{ success: true }}, {{}}],
            ];
            const fetch = async (url, init) => {{
                sent.push({{ url, method: init.method, body: JSON.parse(init.body) }});
                const [status, body, headers] = answers.shift();
                return new Response(JSON.stringify(body), {{ status, headers }});
            }};
            const c = m.createAuthClient({{ apiPrefix: '/api', fetch }});
            const outcomes = [];
            for (let i = 0; i < 3; i += 1) {{
                try {{ outcomes.push(await c.changePassword('old pass', 'new pass')); }}
                catch (e) {{
                    outcomes.push({{ message: e.message, status: e.status, retryAfter: e.retryAfter }});
                }}
            }}
            return {{ sent, outcomes }};
        }}"""
        )
    assert result["sent"][0] == {
        "url": "/api/auth/credentials/change-password",
        "method": "POST",
        "body": {"currentPassword": "old pass", "newPassword": "new pass"},
    }
    assert result["outcomes"] == [
        {"message": "Too many attempts. Try again later.", "status": 429, "retryAfter": 42},
        {"message": "Invalid password", "status": 400, "retryAfter": None},
        {"success": True},
    ]
