"""The listening sockets and the supervisor of ``mastra-ee serve --workers N``.

uvicorn's supervisor binds one socket and hands it to every worker. Each worker's event
loop then accepts in a loop whatever is queued when it wakes, so a burst of connections
(wrk, a load balancer opening its pool, browsers after a deploy) lands on whichever worker
woke first, and keep-alive pins it there: 64 connections opened at once all went to one of
two workers (``tests/test_serve_workers.py``), which used one core between them.

On Linux the supervisor opens one listening socket per worker slot with ``SO_REUSEPORT``
(as nginx's ``reuseport``), and the kernel spreads new connections over them by their
addresses. The supervisor holds every socket for its whole life and starts worker *i*, and
any replacement of it, on socket *i*:

* the port is never free, even with every worker dead: another user cannot bind it and
  collect the next clients' credentials, and a second server on the port fails at once
  (a first version let workers make their own sockets, and the review found both);
* connections that reach a dead worker's socket wait in its queue for the replacement
  instead of being reset.

Elsewhere (macOS does not balance ``SO_REUSEPORT``) the one shared socket stays.
"""

from __future__ import annotations

import logging
import socket
import sys
from typing import Any

from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

__all__ = ["PerWorkerSockets", "balances_workers", "tcp_listener", "worker_listeners"]

logger = logging.getLogger("uvicorn.error")


def balances_workers() -> bool:
    """Whether per-worker sockets are used (Linux, where ``SO_REUSEPORT`` balances)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def tcp_listener(bound: socket.socket) -> socket.socket:
    """``bound`` with its protocol set to TCP, so the workers' connections get ``TCP_NODELAY``.

    uvicorn binds with ``socket.socket(family)`` (protocol 0), accepted sockets inherit
    that 0, and asyncio sets ``TCP_NODELAY`` only on sockets whose protocol is
    ``IPPROTO_TCP``: every keep-alive response then waited for the client's delayed ACK
    (Nagle), about 40 ms, and two workers served 0.16x of one process
    (benchmarks/bench_workers.py). A Unix socket is returned as it is.
    """
    if bound.family not in (socket.AF_INET, socket.AF_INET6) or bound.proto == socket.IPPROTO_TCP:
        return bound
    return socket.socket(bound.family, bound.type, socket.IPPROTO_TCP, fileno=bound.detach())


def worker_listeners(host: str, port: int, count: int, backlog: int) -> list[socket.socket]:
    """``count`` sockets listening on ``host:port`` with ``SO_REUSEPORT``; ``OSError``
    when the address is in use, also by another server sharing it the same way."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # First without SO_REUSEPORT: a second `serve` on the same port must fail as it does
    # with one socket, not silently take half of the first one's connections.
    with _tcp_socket(family) as probe:
        probe.bind((host, port))
        address = probe.getsockname()
    listeners: list[socket.socket] = []
    try:
        for _ in range(count):
            sock = _tcp_socket(family)
            listeners.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            sock.bind(address)
            sock.listen(backlog)
    except BaseException:
        for sock in listeners:
            sock.close()
        raise
    return listeners


def _tcp_socket(family: socket.AddressFamily) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then (see tcp_listener).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    return sock


class PerWorkerSockets(Multiprocess):
    """uvicorn's supervisor (signals, health checks, restarts, ``SIGHUP``) with worker
    *i*, and whatever replaces it, started on ``listeners[i]`` alone.

    uvicorn starts every worker on its whole socket list; the three places it starts one
    are taken over here to hand each its own. A worker added with ``SIGTTIN`` has no slot
    and serves every socket.
    """

    def __init__(self, config: Any, listeners: list[socket.socket]) -> None:
        super().__init__(config, sockets=listeners)
        self.listeners = listeners

    def _started(self, index: int) -> Process:
        sockets = [self.listeners[index]] if index < len(self.listeners) else self.listeners
        process = Process(self.config, sockets)
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self._started(index) for index in range(self.processes_num)]

    def restart_all(self) -> None:
        """``SIGHUP``: each worker's replacement serves before the worker is stopped."""
        for index, old in enumerate(list(self.processes)):
            if self.should_exit.is_set():
                return
            new = self._started(index)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                if not self.should_exit.is_set():
                    logger.error("Worker [%s] did not start in time; keeping [%s].", new.pid, old.pid)
                return
            old.terminate()
            old.join()
            self.processes[index] = new

    def keep_subprocess_alive(self) -> None:
        """A worker that died (or hangs) is replaced on its own socket."""
        if self.should_exit.is_set():
            return
        for index, process in enumerate(self.processes):
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()
            process.join()
            if process.exitcode == STARTUP_FAILURE:
                # It failed before serving (the app or the configuration): every
                # replacement would fail the same way.
                logger.error("Worker [%s] failed to start; stopping.", process.pid)
                self.should_exit.set()
                return
            if self.should_exit.is_set():
                return
            logger.info("Worker [%s] died; starting its replacement", process.pid)
            self.processes[index] = self._started(index)
