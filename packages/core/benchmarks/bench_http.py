"""Throughput of an authenticated, permission-checked GET vs the same handler bare.

One uvicorn process serves, in the same app:

* ``/bare``                     — the handler, no authentication (outside the API prefix);
* ``/api/bench/protected``      — the handler behind the full EE middleware: sealed cookie
  session validated against the SQL registry (SQLite), user lookup, static RBAC,
  permission ``agents:read`` checked;
* ``/fu/protected``             — peer: fastapi-users, cookie transport + database strategy
  (access-token table on SQLite), ``current_user(active=True)``.

The load generator is ``wrk`` (one thread, N connections; an httpx loop without it),
same run, endpoints interleaved over several rounds; the median round per endpoint is
reported. On a shared machine req/s swing with the neighbours' load, so the server's own
CPU time per request (``/proc/<pid>/stat``, all its threads) is reported too: its
bare / mastra-ee ratio is what the req/s ratio tends to when the server has a core of
its own. It runs twice: with the shipped auth cache (``auth.cache_ttl`` = 1 s) and with
none (the session registry read on every request). After each measurement the session
is signed out and the very next request must be refused: revocation is honoured.

    uv run python packages/core/benchmarks/bench_http.py [--duration 5] [--connections 32] [--cache-ttl 0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

import httpx

PASSWORD = "correct horse battery"
BODY = {"ok": True, "items": list(range(10))}


# -- the server ------------------------------------------------------------------------


def _fastapi_users_app(db_url: str) -> Any:
    from collections.abc import AsyncGenerator

    from fastapi import Depends, FastAPI
    from fastapi_users import BaseUserManager, FastAPIUsers, UUIDIDMixin
    from fastapi_users.authentication import AuthenticationBackend, CookieTransport
    from fastapi_users.authentication.strategy.db import DatabaseStrategy
    from fastapi_users_db_sqlalchemy import SQLAlchemyBaseUserTableUUID, SQLAlchemyUserDatabase
    from fastapi_users_db_sqlalchemy.access_token import (
        SQLAlchemyAccessTokenDatabase,
        SQLAlchemyBaseAccessTokenTableUUID,
    )
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    class User(SQLAlchemyBaseUserTableUUID, Base):
        pass

    class AccessToken(SQLAlchemyBaseAccessTokenTableUUID, Base):
        pass

    engine = create_async_engine(db_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)

    async def get_session() -> AsyncGenerator[Any, None]:
        async with sessions() as session:
            yield session

    async def get_user_db(session: Any = Depends(get_session)) -> AsyncGenerator[Any, None]:
        yield SQLAlchemyUserDatabase(session, User)

    async def get_token_db(session: Any = Depends(get_session)) -> AsyncGenerator[Any, None]:
        yield SQLAlchemyAccessTokenDatabase(session, AccessToken)

    class UserManager(UUIDIDMixin, BaseUserManager[Any, uuid.UUID]):
        reset_password_token_secret = "bench-secret-0123456789abcdef0123"
        verification_token_secret = "bench-secret-0123456789abcdef0123"

    async def get_user_manager(user_db: Any = Depends(get_user_db)) -> AsyncGenerator[Any, None]:
        yield UserManager(user_db)

    def get_strategy(token_db: Any = Depends(get_token_db)) -> DatabaseStrategy[Any, Any, Any]:
        return DatabaseStrategy(token_db, lifetime_seconds=3600)

    backend = AuthenticationBackend("cookie", CookieTransport(cookie_secure=False), get_strategy)
    users = FastAPIUsers[Any, uuid.UUID](get_user_manager, [backend])
    current = users.current_user(active=True)

    async def startup() -> None:
        async with engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
        from fastapi_users.schemas import BaseUserCreate

        async with sessions() as session:
            manager = UserManager(SQLAlchemyUserDatabase(session, User))
            await manager.create(BaseUserCreate(email="fu@example.com", password=PASSWORD))

    app = FastAPI()
    app.include_router(users.get_auth_router(backend), prefix="/auth")

    @app.get("/protected")
    async def protected(user: Any = Depends(current)) -> dict[str, Any]:
        return BODY

    app.state.startup = startup
    return app


def build_server_app(workdir: str, cache_ttl: float) -> Any:
    from mastra.core.ee import hookimpl
    from mastra.core.ee.routes import PluginRoute
    from mastra.core.testing.reference import reference_app, reference_settings
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Mount, Route

    async def handler(request: Request) -> JSONResponse:
        return JSONResponse(BODY)

    class BenchPlugin:
        @hookimpl
        def mastra_ee_routes(self) -> list[PluginRoute]:
            return [PluginRoute("GET", "/bench/protected", handler, permission="agents:read")]

    settings = reference_settings(
        f"sqlite+aiosqlite:///{workdir}/mastra.db",
        auth={"rate_limit": {"ip": "100000/60", "account": "100000/60"}},
    )
    app = reference_app(settings, plugins={"bench": BenchPlugin()}, auth_cache_ttl=cache_ttl)
    app.router.routes.insert(0, Route("/bare", handler))
    peer = None
    try:
        peer = _fastapi_users_app(f"sqlite+aiosqlite:///{workdir}/fastapi_users.db")
        app.router.routes.insert(0, Mount("/fu", app=peer))
    except ImportError as exc:  # peer is optional
        print(f"fastapi-users unavailable: {exc}", file=sys.stderr)
    if peer is not None:
        asyncio.run(peer.state.startup())
    return app


def serve(port: int, workdir: str, cache_ttl: float, http: str = "serve") -> None:
    run_server(build_server_app(workdir, cache_ttl), port, http)


def run_server(app: Any, port: int, http: str) -> None:
    """uvicorn on loopback with the ``--http`` protocol (``serve``: what ``mastra-ee serve`` runs)."""
    import uvicorn

    protocol: Any = http
    if http == "serve":
        from mastra.core.server import BoundedHttpToolsProtocol

        protocol = BoundedHttpToolsProtocol
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False, http=protocol)


def add_http_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--http",
        choices=["serve", "h11", "httptools"],
        default="serve",
        help="uvicorn's HTTP/1.1 protocol: serve's (bounded httptools), h11, or uvicorn's httptools",
    )


def loadgen_name() -> str:
    return "wrk" if shutil.which("wrk") else "httpx"


# -- the client ------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of process ``pid`` so far (Linux), else ``None``."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(
    url: str, cookie: str | None, duration: int, connections: int, headers: dict[str, str] | None = None
) -> float:
    cmd = ["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "--latency"]
    if cookie:
        cmd += ["-H", f"Cookie: {cookie}"]
    for name, value in (headers or {}).items():
        cmd += ["-H", f"{name}: {value}"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx responses from {url}:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def httpx_load(
    url: str, cookie: str | None, duration: int, connections: int, headers: dict[str, str] | None = None
) -> float:
    sent = {**({"cookie": cookie} if cookie else {}), **(headers or {})}

    async def run() -> float:
        limits = httpx.Limits(max_connections=connections)
        async with httpx.AsyncClient(headers=sent, limits=limits) as client:
            count = 0
            end = time.monotonic() + duration

            async def worker() -> None:
                nonlocal count
                while time.monotonic() < end:
                    r = await client.get(url)
                    assert r.status_code == 200
                    count += 1

            await asyncio.gather(*(worker() for _ in range(connections)))
            return count / duration

    return asyncio.run(run())


Target = tuple[str, str | None, dict[str, str]]  # path, cookie, extra headers


def interleaved_rounds(
    base: str, targets: dict[str, Target], args: argparse.Namespace, server_pid: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """req/s of every target, round after round (same neighbours for each), and the
    server's CPU µs per request in each round (empty on systems without ``/proc``)."""
    load = wrk if shutil.which("wrk") else httpx_load
    rates: dict[str, list[float]] = {name: [] for name in targets}
    cpu_us: dict[str, list[float]] = {name: [] for name in targets}
    for path, cookie, headers in targets.values():  # warm-up
        load(base + path, cookie, 1, args.connections, headers)
    for _ in range(args.rounds):
        for name, (path, cookie, headers) in targets.items():
            before = cpu_seconds(server_pid)
            rate = load(base + path, cookie, args.duration, args.connections, headers)
            after = cpu_seconds(server_pid)
            rates[name].append(rate)
            if before is not None and after is not None and rate > 0:
                cpu_us[name].append((after - before) / (rate * args.duration) * 1e6)
    return rates, cpu_us


def cpu_ratio(cpu_us: dict[str, list[float]], bare: str, other: str) -> float | None:
    """Per round (same neighbours), then the median: ``bare`` CPU / ``other`` CPU."""
    if not cpu_us[bare] or not cpu_us[other]:
        return None
    return round(statistics.median(b / o for b, o in zip(cpu_us[bare], cpu_us[other], strict=True)), 3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--dir", default="")
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    add_http_option(parser)
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
    failures = 0
    for ttl in args.cache_ttl or [1.0, 0.0]:
        failures += measure(args, ttl)
    return 1 if failures else 0


def measure(args: argparse.Namespace, cache_ttl: float) -> int:
    """One server with ``cache_ttl``; bare vs mastra-ee vs fastapi-users, medians of rounds."""

    from mastra.core.testing.servers import free_port

    workdir = tempfile.mkdtemp(prefix="mastra-bench-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [
            sys.executable,
            __file__,
            "--serve",
            "--port",
            str(port),
            "--dir",
            workdir,
            "--cache-ttl",
            str(cache_ttl),
            "--http",
            args.http,
        ]
    )
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/bare", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        origin = {"origin": base}
        with httpx.Client(base_url=base, headers=origin) as c:
            c.post("/api/auth/credentials/sign-up", json={"email": "owner@example.com", "password": PASSWORD})
            c.cookies.clear()
            r = c.post(
                "/api/auth/credentials/sign-up", json={"email": "member@example.com", "password": PASSWORD}
            )
            assert r.status_code == 201, r.text
            ours = f"mastra_session={c.cookies['mastra_session']}"
            assert c.get("/api/bench/protected").status_code == 200  # viewer holds agents:read
        peer_cookie = None
        with httpx.Client(base_url=base) as c:
            r = c.post("/fu/auth/login", data={"username": "fu@example.com", "password": PASSWORD})
            if r.status_code in (200, 204):
                peer_cookie = f"fastapiusersauth={c.cookies['fastapiusersauth']}"
        targets: dict[str, Target] = {
            "bare": ("/bare", None, {}),
            "mastra-ee": ("/api/bench/protected", ours, {}),
        }
        if peer_cookie:
            targets["fastapi-users"] = ("/fu/protected", peer_cookie, {})
        results, cpu_us = interleaved_rounds(base, targets, args, server.pid)
        # Revocation is still honoured after the run, at once (same process as the logout).
        with httpx.Client(base_url=base, headers={**origin, "cookie": ours}) as c:
            assert c.post("/api/auth/logout").status_code == 200
            revoked = c.get("/api/bench/protected").status_code
        best = {name: statistics.median(values) for name, values in results.items()}
        report = {
            "loadgen": loadgen_name(),
            "http": args.http,
            "connections": args.connections,
            "duration_s": args.duration,
            "rounds": args.rounds,
            "cache_ttl_s": cache_ttl,
            "requests_per_s": {k: round(v, 1) for k, v in best.items()},
            "all_rounds": {k: [round(x, 1) for x in v] for k, v in results.items()},
            "mastra_vs_bare": round(best["mastra-ee"] / best["bare"], 3),
            "server_cpu_us_per_request": {k: round(statistics.median(v), 1) for k, v in cpu_us.items() if v},
            "all_rounds_cpu_us": {k: [round(x, 1) for x in v] for k, v in cpu_us.items()},
            "revoked_request_status": revoked,
        }
        if "fastapi-users" in best:
            report["fastapi_users_vs_bare"] = round(best["fastapi-users"] / best["bare"], 3)
        report["mastra_vs_bare_cpu"] = cpu_ratio(cpu_us, "bare", "mastra-ee")
        print(json.dumps(report, indent=2))
        return 0 if revoked == 401 else 1
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONWARNINGS", "ignore")
    sys.exit(main())
