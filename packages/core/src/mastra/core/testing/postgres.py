"""Start a throw-away PostgreSQL cluster on loopback (Debian's server binaries).

``initdb`` refuses to run as root, so when the tests run as root the cluster is
created and started as the ``postgres`` user. Nothing here is skipped in CI: a
missing server is an error there (``CI`` set), a skip elsewhere.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .servers import free_port

__all__ = ["PostgresServer", "find_pg_bin", "start_postgres"]


def find_pg_bin() -> Path | None:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if candidates:
        return Path(candidates[0]).parent
    found = shutil.which("initdb")
    return Path(found).parent if found else None


@dataclass
class PostgresServer:
    bin_dir: Path
    data_dir: Path
    port: int
    run_as: str | None

    @property
    def url(self) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"

    def sync_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *cmd]
        return cmd

    def create_database(self, name: str) -> str:
        subprocess.run(
            self._cmd("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", name),
            check=True,
            capture_output=True,
        )
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{name}"

    def stop_server(self) -> None:
        """Stop the cluster at once (``immediate``: a crash, as an outage is), keeping its
        data directory and port for :meth:`start_server`."""
        subprocess.run(
            self._cmd("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"),
            capture_output=True,
        )

    def start_server(self, *, timeout: float = 30) -> None:
        """Start the cluster on its data directory and port; returns once it accepts connections."""
        base = self.data_dir.parent
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -k {base} -c fsync=off -c max_connections=200"
        )
        subprocess.run(
            self._cmd(
                "pg_ctl", "-D", str(self.data_dir), "-o", options, "-l", str(base / "log"), "-w", "start"
            ),
            check=True,
            capture_output=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = subprocess.run(
                self._cmd("pg_isready", "-h", "127.0.0.1", "-p", str(self.port)), capture_output=True
            )
            if ready.returncode == 0:
                return
            time.sleep(0.2)
        raise RuntimeError("PostgreSQL did not become ready")

    def restart(self) -> None:
        self.stop_server()
        self.start_server()

    def stop(self) -> None:
        """Stop the cluster and delete it."""
        self.stop_server()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)


def start_postgres() -> PostgresServer:
    bin_dir = find_pg_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    run_as = "postgres" if os.geteuid() == 0 else None
    base = Path(tempfile.mkdtemp(prefix="mastra-pg-"))
    data = base / "data"
    if run_as:
        shutil.chown(base, user=run_as)
        os.chmod(base, 0o700)
    server = PostgresServer(bin_dir, data, free_port(), run_as)
    subprocess.run(
        server._cmd("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"),
        check=True,
        capture_output=True,
    )
    try:
        server.start_server()
    except (RuntimeError, subprocess.CalledProcessError):
        server.stop()
        raise
    return server
