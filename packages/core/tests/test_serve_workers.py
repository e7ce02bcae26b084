"""``mastra-ee serve --workers N``: N uvicorn workers on one port, per-process state
refused, SIGTERM stops them all (issue #14)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
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
    env = _pid_env(tmp_path)
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
            assert _gone(pid)
    assert server.stderr.count("Finished server process") == 2, server.stderr[-2000:]  # graceful


# Another user's process binding the port the way a server would, with SO_REUSEPORT too.
_INTRUDER = """
import socket, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
try:
    sock.bind(("127.0.0.1", int(sys.argv[1])))
    sock.listen()
    print("listening")
except OSError as exc:
    print("refused", exc.errno)
"""


def _pid_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a ``serve`` with the pid route (written to ``tmp_path``)."""
    (tmp_path / "pidplugin.py").write_text(PID_PLUGIN)
    return reference_serve_env(
        MASTRA_EE_EXTRA_PLUGINS="mastra.core.testing.reference:plugin,pidplugin:plugin",
        PYTHONPATH=os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")])),
    )


@contextlib.contextmanager
def _two_workers(tmp_path: Path) -> Iterator[tuple[ServeProcess, set[int]]]:
    """``serve --workers 2`` with the pid route, once both workers answer (their pids)."""
    with ServeProcess(tmp_path, _pid_env(tmp_path), args=("--workers", "2")) as server:
        deadline = time.monotonic() + 30
        while len(workers := set(_pids_behind(server.url, 16))) < 2:
            assert time.monotonic() < deadline, "the second worker never answered"
            time.sleep(0.2)
        yield server, workers


def _gone(pid: int) -> bool:
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def _listening_sockets(port: int) -> int:
    """Sockets listening on ``port`` on IPv4 (``/proc/net/tcp``, state 0A)."""
    count = 0
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state == "0A" and int(local.rsplit(":", 1)[1], 16) == port:
            count += 1
    return count


def _pids_behind(url: str, connections: int) -> list[int]:
    """Open ``connections`` keep-alive connections at once (as wrk does), then ask each
    which worker holds it."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    socks = [socket.create_connection((parts.hostname, parts.port), timeout=10) for _ in range(connections)]
    request = f"GET /api/test/pid HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode()
    pids = []
    try:
        for sock in socks:
            sock.sendall(request)
        for sock in socks:
            reply = b""
            while b'"pid"' not in reply or not reply.rstrip().endswith(b"}"):
                chunk = sock.recv(4096)
                assert chunk, reply
                reply += chunk
            pids.append(int(reply.split(b'"pid":')[1].split(b",")[0]))
    finally:
        for sock in socks:
            sock.close()
    return pids


@pytest.mark.slow
def test_a_burst_of_connections_is_spread_over_the_workers(tmp_path: Path) -> None:
    """wrk opens its connections at once: on one shared socket the worker that woke first
    accepted most of them and the other idled (bench_workers.py: two workers used 1.0
    core in two rounds of three). Each worker has a listener of its own (SO_REUSEPORT),
    and the kernel spreads connections over them by address: 64 connections, each
    worker holds at least a quarter (a fair split misses that once in ~50,000 runs)."""
    with _two_workers(tmp_path) as (server, _workers):
        for _ in range(3):
            pids = _pids_behind(server.url, 64)
            counts = sorted(pids.count(pid) for pid in set(pids))
            assert len(counts) == 2 and counts[0] >= 16, counts
        # A worker killed: connections to its socket wait for the replacement uvicorn
        # starts on that very socket (none is reset), which then takes its share.
        victim = pids[0]
        os.kill(victim, signal.SIGKILL)
        while not _gone(victim):
            time.sleep(0.01)
        assert set(_pids_behind(server.url, 16)) <= _children(server.process.pid) - {victim}
        deadline = time.monotonic() + 60
        while len(set(pids := _pids_behind(server.url, 64))) < 2:
            assert time.monotonic() < deadline, "no replacement worker"
            time.sleep(0.5)
        assert victim not in pids and min(pids.count(pid) for pid in set(pids)) >= 16, pids


@pytest.mark.slow
def test_sighup_replaces_each_worker_on_its_own_socket(tmp_path: Path) -> None:
    """uvicorn's rolling restart, slot by slot: afterwards two new workers still share the
    connections (no socket is left without a worker to accept on it)."""
    with _two_workers(tmp_path) as (server, before):
        server.process.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 60
        while True:
            pids = _pids_behind(server.url, 64)  # answered all along: none is reset or lost
            if not set(pids) & before and len(set(pids)) == 2:
                break
            assert time.monotonic() < deadline, f"workers not replaced: {sorted(set(pids))} vs {before}"
            time.sleep(0.5)
        assert min(pids.count(pid) for pid in set(pids)) >= 16, pids


@pytest.mark.slow
def test_a_second_server_on_the_same_port_fails_instead_of_sharing_it(tmp_path: Path) -> None:
    """Per-worker listeners share their port through SO_REUSEPORT: a second ``serve`` on
    that port must still fail (exit 1, the reason shown), not take half the connections."""
    env = reference_serve_env(MASTRA_EE_EXTRA_PLUGINS="mastra.core.testing.reference:plugin")
    with ServeProcess(tmp_path, env, args=("--workers", "2")) as first:
        port = int(first.url.rsplit(":", 1)[1])
        for args in (("--workers", "2"), ()):
            second = subprocess.run(
                [sys.executable, "-m", "mastra.core.cli", "serve", "--port", str(port), *args],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert second.returncode == 1, second.stderr
            lines = second.stderr.strip().splitlines()
            assert lines[-1] == f"mastra-ee serve: could not listen on 127.0.0.1:{port} (see the error above)"
            assert "address already in use" in second.stderr.lower(), second.stderr
        assert httpx.get(first.url + "/api/auth/capabilities", timeout=5).status_code == 200


@pytest.mark.slow
def test_the_port_stays_held_while_no_worker_runs(tmp_path: Path) -> None:
    """Review of the per-worker sockets: the supervisor's placeholder never listened, so
    with every worker dead (crashed, being restarted) anyone could bind the port and
    collect the next clients' cookies, or a second server could join it. The supervisor
    holds every worker's listening socket for its whole life: the port is never free, and
    connections made meanwhile wait for the replacement instead of failing."""
    import socket

    with _two_workers(tmp_path) as (server, workers):
        port = int(server.url.rsplit(":", 1)[1])
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        for pid in workers:
            while not _gone(pid):
                time.sleep(0.01)
        assert _listening_sockets(port) == 2  # held by the supervisor
        with socket.socket() as intruder:
            intruder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            with pytest.raises(OSError) as refused:
                intruder.bind(("127.0.0.1", port))
                intruder.listen()
            assert refused.value.errno == 98  # EADDRINUSE
        system_python = Path("/usr/bin/python3")  # one "nobody" may run (not the venv's)
        if os.geteuid() == 0 and system_python.exists():  # nor may another user join the group
            other_user = subprocess.run(
                [str(system_python), "-c", _INTRUDER, str(port)],
                user=65534,
                cwd="/",
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert other_user.stdout.strip() == "refused 98", other_user.stdout + other_user.stderr
        pids = _pids_behind(server.url, 32)  # queued meanwhile, answered by the replacements
        assert not set(pids) & workers and set(pids) <= _children(server.process.pid)


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
    from mastra.core.cli._workers import tcp_listener

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
