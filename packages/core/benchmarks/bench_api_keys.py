"""API keys (issue #15): a bearer-key authenticated GET vs the same handler bare, and
``verify`` on a cache hit.

1. HTTP, one uvicorn process (the app of ``bench_http.py`` plus one route), same run,
   endpoints interleaved over several rounds, median round each:

   * ``/bare``                 — the handler, no authentication, first route of the app
     (as in ``bench_http.py``);
   * ``/bare-same-depth``      — the handler, no authentication, routed just before the
     API's router entry, so it pays the same Starlette route scan: the difference to it is
     the authentication and permission check alone;
   * ``/api/bench/protected``  — the handler behind the full EE middleware, called with
     ``Authorization: Bearer mk_…``: key parsed and checksummed, HMAC of the secret,
     provider cache (5 s), owner resolved through the user slot, the owner's current
     permissions narrowed by the key's scopes, ``agents:read`` checked;
   * the same route with the session cookie, for reference.

   The key is created through ``POST /api/auth/api-keys`` (scope ``agents:read``). It runs
   with the shipped auth cache (``auth.cache_ttl`` = 1 s) and with none (every request
   goes through the provider's verification, a cache hit after the first). After the run
   the key is revoked through the API and the very next request must get 401.

2. In process: ``SQLApiKeyProvider.verify`` (SQLite) on a cache hit, µs per call, median
   of batches (the first call, a miss, warms the cache).

Targets: bearer/bare ≥ 0.80 with the cache (against the same-depth bare route); verify
≤ 20 µs on a hit.

    uv run python packages/core/benchmarks/bench_api_keys.py [--duration 5] [--connections 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_http import (
    PASSWORD,
    Target,
    add_http_option,
    build_server_app,
    cpu_ratio,
    interleaved_rounds,
    loadgen_name,
    run_server,
)

RATIO_TARGET = 0.80
VERIFY_TARGET_US = 20.0


# -- 1. HTTP ---------------------------------------------------------------------------------


def build_app(workdir: str, cache_ttl: float) -> Any:
    from starlette.routing import Route

    app = build_server_app(workdir, cache_ttl)
    routes = app.router.routes
    bare = next(r for r in routes if getattr(r, "path", None) == "/bare")
    # The API is one router entry (server/_dispatch.py): the bare copy goes just before it.
    at = next(i for i, r in enumerate(routes) if type(r).__name__ == "ApiRoutes")
    routes.insert(at, Route("/bare-same-depth", bare.endpoint))
    return app


def serve(port: int, workdir: str, cache_ttl: float, http: str = "serve") -> None:
    run_server(build_app(workdir, cache_ttl), port, http)


def _wait(base: str) -> None:
    for _ in range(300):
        try:
            httpx.get(base + "/bare", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the benchmark server did not start")


def measure_http(args: argparse.Namespace, cache_ttl: float) -> dict[str, object]:
    from mastra.core.testing.servers import free_port

    workdir = tempfile.mkdtemp(prefix="mastra-bench-keys-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, __file__, "--serve", "--port", str(port), "--dir", workdir]
    server = subprocess.Popen([*command, "--cache-ttl", str(cache_ttl), "--http", args.http])
    try:
        _wait(base)
        origin = {"origin": base}
        with httpx.Client(base_url=base, headers=origin) as c:
            r = c.post(
                "/api/auth/credentials/sign-up", json={"email": "owner@example.com", "password": PASSWORD}
            )
            assert r.status_code == 201, r.text
            cookie = f"mastra_session={c.cookies['mastra_session']}"
            r = c.post("/api/auth/api-keys", json={"name": "bench", "scopes": ["agents:read"]})
            assert r.status_code == 201, r.text
            key, key_id = r.json()["key"], r.json()["apiKey"]["id"]
        bearer = {"authorization": f"Bearer {key}"}
        with httpx.Client(base_url=base, headers=bearer) as c:
            assert c.get("/api/bench/protected").status_code == 200
            assert c.get("/api/audit").status_code == 403  # out of the key's scope
        targets: dict[str, Target] = {
            "bare": ("/bare", None, {}),
            "bare-same-depth": ("/bare-same-depth", None, {}),
            "api-key": ("/api/bench/protected", None, bearer),
            "session-cookie": ("/api/bench/protected", cookie, {}),
        }
        results, cpu_us = interleaved_rounds(base, targets, args, server.pid)
        with httpx.Client(base_url=base, headers={**origin, "cookie": cookie}) as c:
            assert c.delete(f"/api/auth/api-keys/{key_id}").status_code == 200
        with httpx.Client(base_url=base, headers=bearer) as c:
            revoked = c.get("/api/bench/protected").status_code
        median = {name: statistics.median(values) for name, values in results.items()}
        return {
            "loadgen": loadgen_name(),
            "http": args.http,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "cache_ttl_s": cache_ttl,
            "requests_per_s": {k: round(v, 1) for k, v in median.items()},
            "all_rounds": {k: [round(x, 1) for x in v] for k, v in results.items()},
            "api_key_vs_bare_same_depth": round(median["api-key"] / median["bare-same-depth"], 3),
            "api_key_vs_bare": round(median["api-key"] / median["bare"], 3),
            "api_key_vs_session": round(median["api-key"] / median["session-cookie"], 3),
            "server_cpu_us_per_request": {k: round(statistics.median(v), 1) for k, v in cpu_us.items() if v},
            "api_key_vs_bare_same_depth_cpu": cpu_ratio(cpu_us, "bare-same-depth", "api-key"),
            "session_vs_bare_same_depth_cpu": cpu_ratio(cpu_us, "bare-same-depth", "session-cookie"),
            "revoked_request_status": revoked,
        }
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


# -- 2. verify on a cache hit ---------------------------------------------------------------


async def measure_verify(batches: int, calls: int) -> dict[str, object]:
    from mastra.core.ee.api_keys import ApiKey, SQLApiKeyProvider

    workdir = tempfile.mkdtemp(prefix="mastra-bench-verify-")
    try:
        provider = SQLApiKeyProvider(
            f"sqlite+aiosqlite:///{workdir}/keys.db", secret="bench-secret-0123456789abcdef0123456789"
        )
        created = await provider.create_key("user", "u1", name="bench", scopes=["agents:read"])
        assert isinstance(await provider.verify(created.secret, "127.0.0.1"), ApiKey)  # the miss
        per_call: list[float] = []
        for _ in range(batches):
            start = time.perf_counter()
            for _ in range(calls):
                await provider.verify(created.secret, "127.0.0.1")
            per_call.append((time.perf_counter() - start) / calls * 1e6)
        assert isinstance(await provider.verify(created.secret, "127.0.0.1"), ApiKey)
        await provider.store.engine.dispose()
        return {
            "batches": batches,
            "calls_per_batch": calls,
            "verify_hit_us_median": round(statistics.median(per_call), 2),
            "verify_hit_us_batches": [round(x, 2) for x in per_call],
        }
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", default="")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    add_http_option(parser)
    parser.add_argument("--verify-batches", type=int, default=7)
    parser.add_argument("--verify-calls", type=int, default=20_000)
    parser.add_argument(
        "--cache-ttl",
        type=float,
        action="append",
        help="auth cache TTL(s) to measure (default: 1.0, the shipped default, and 0.0)",
    )
    args = parser.parse_args()
    if args.serve:
        serve(args.port, args.dir, args.cache_ttl[0], args.http)
        return 0
    verify = asyncio.run(measure_verify(args.verify_batches, args.verify_calls))
    print(json.dumps(verify, indent=2))
    failures = 0 if float(verify["verify_hit_us_median"]) <= VERIFY_TARGET_US else 1  # type: ignore[arg-type]
    for ttl in args.cache_ttl or [1.0, 0.0]:
        report = measure_http(args, ttl)
        print(json.dumps(report, indent=2))
        failures += report["revoked_request_status"] != 401
        if ttl > 0 and float(report["api_key_vs_bare_same_depth"]) < RATIO_TARGET:  # type: ignore[arg-type]
            failures += 1
    return 1 if failures else 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
