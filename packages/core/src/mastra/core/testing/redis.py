"""Start a throw-away Redis server on loopback (Debian's ``redis-server``).

No persistence, no protected-mode surprises: bound to 127.0.0.1 on a free port, its
files in a temporary directory removed at :meth:`RedisServer.stop`. Nothing here is
skipped in CI (``CI`` set): a missing server is an error there, a skip elsewhere.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .servers import free_port

__all__ = ["RedisServer", "find_redis_server", "start_redis"]


def find_redis_server() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if Path("/usr/bin/redis-server").exists() else None
    )


def _ping(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@dataclass
class RedisServer:
    port: int
    directory: Path
    process: subprocess.Popen[bytes] = field(repr=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def flush(self) -> None:
        """Empty every database (a fresh state for the next test)."""
        with socket.create_connection(("127.0.0.1", self.port), timeout=2) as sock:
            sock.sendall(b"FLUSHALL\r\n")
            sock.recv(16)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.directory, ignore_errors=True)

    def kill(self) -> None:
        """``kill -9``: the fault tests' outage (restart with :func:`start_redis` on ``port``)."""
        self.process.kill()
        self.process.wait()


def start_redis(port: int | None = None) -> RedisServer:
    binary = find_redis_server()
    if binary is None:
        raise RuntimeError("redis-server not found (apt-get install redis-server)")
    port = port or free_port()
    directory = Path(tempfile.mkdtemp(prefix="mastra-redis-"))
    process = subprocess.Popen(
        [
            binary,
            "--bind", "127.0.0.1",
            "--port", str(port),
            "--dir", str(directory),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--logfile", str(directory / "log"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    server = RedisServer(port, directory, process)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        if _ping(port):
            return server
        time.sleep(0.05)
    server.stop()
    raise RuntimeError(f"redis-server did not become ready on port {port}")
