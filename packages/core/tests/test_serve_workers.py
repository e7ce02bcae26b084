"""``mastra-ee serve --workers N``: N uvicorn workers on one port, per-process state
refused, SIGTERM stops them all (issue #14)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from mastra.core.cli._serve import per_process_state
from mastra.core.ee.settings import Settings
from mastra.core.testing.reference import ServeProcess, reference_serve_env

# A test-only plugin route answering with the worker's process id (nothing new is exposed).
PID_PLUGIN = """
import os
from mastra.core.ee.hookspecs import hookimpl
from mastra.core.ee.routes import PluginRoute
from starlette.responses import JSONResponse


async def pid(request):
    settings = request.app.state.mastra_ee.settings
    return JSONResponse({"pid": os.getpid(), "workers": settings.workers})


class _Plugin:
    @hookimpl
    def mastra_ee_routes(self):
        return [PluginRoute("GET", "/test/pid", pid, requires_auth=False)]


plugin = _Plugin()
"""


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


@pytest.mark.slow
def test_two_workers_answer_and_sigterm_stops_them_all(tmp_path: Path) -> None:
    (tmp_path / "pidplugin.py").write_text(PID_PLUGIN)
    env = reference_serve_env(
        MASTRA_EE_EXTRA_PLUGINS="mastra.core.testing.reference:plugin,pidplugin:plugin",
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    )
    server = ServeProcess(tmp_path, env, args=("--workers", "2"))
    server.env = env
    with server:
        seen: dict[int, int] = {}
        deadline = time.monotonic() + 30
        while len(seen) < 2 and time.monotonic() < deadline:
            with httpx.Client(timeout=5) as client:  # a new connection each time
                body = client.get(server.url + "/api/test/pid").json()
            seen[body["pid"]] = body["workers"]
        assert len(seen) == 2, seen  # two processes answer on one port
        assert set(seen.values()) == {2}  # Settings.workers in every worker
        assert set(seen) <= _children(server.process.pid)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        for pid in seen:
            assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text()
    assert server.stderr.count("Finished server process") == 2, server.stderr[-2000:]  # graceful


@pytest.mark.parametrize(
    ("variable", "value", "named"),
    [
        ("MASTRA_AUTH__SESSION", "memory", "MASTRA_AUTH__SESSION=memory"),
        ("MASTRA_AUTH__RATE_LIMIT__STORAGE", "memory", "MASTRA_AUTH__RATE_LIMIT__STORAGE=memory"),
    ],
)
def test_workers_refuse_per_process_state(tmp_path: Path, variable: str, value: str, named: str) -> None:
    env = reference_serve_env(MASTRA_AUTH_SECRET="s" * 40, **{variable: value})
    result = subprocess.run(
        [sys.executable, "-m", "mastra.core.cli", "serve", "--port", "1", "--workers", "2"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and named in lines[0] and "--workers 2" in lines[0], result.stderr


def test_per_process_state_names_the_setting() -> None:
    assert per_process_state(Settings()) is None
    assert per_process_state(Settings(workers=2)) is None  # auto storage: the limiter's choice
    cookie_memory = Settings(auth={"session": "cookie", "options": {"cookie": {"registry": "memory"}}})
    assert "[auth.options.cookie] registry = memory" in (per_process_state(cookie_memory) or "")
    assert (
        "rate_limit"
        in (per_process_state(Settings(auth={"rate_limit": {"storage": "memory"}})) or "").lower()
    )


def test_workers_must_be_positive(tmp_path: Path) -> None:
    from mastra.core.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["serve", "--workers", "0"])
    assert exc.value.code == 2


async def test_worker_connections_get_tcp_nodelay() -> None:
    """The socket handed to the workers makes asyncio set TCP_NODELAY on each connection:
    without it every keep-alive response waited ~40 ms for a delayed ACK (bench_workers)."""
    import asyncio
    import socket

    import uvicorn
    from mastra.core.cli._serve import tcp_listener

    listener = tcp_listener(uvicorn.Config("x:app", host="127.0.0.1", port=0).bind_socket())
    accepted: asyncio.Future[int] = asyncio.get_running_loop().create_future()

    async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connection = writer.get_extra_info("socket")
        accepted.set_result(connection.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY))
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(on_connect, sock=listener)
    try:
        _reader, writer = await asyncio.open_connection(*listener.getsockname()[:2])
        try:
            assert await asyncio.wait_for(accepted, 5) != 0
        finally:
            writer.close()
            await writer.wait_closed()
    finally:
        server.close()
        await server.wait_closed()
