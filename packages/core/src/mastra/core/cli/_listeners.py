"""The listening sockets of ``mastra-ee serve --workers N``.

uvicorn's supervisor binds one socket and hands it to every worker. Each worker's event
loop then accepts in a loop whatever is queued when it wakes, so a burst of connections
(wrk, a load balancer opening its pool, browsers after a deploy) lands on whichever worker
woke first, and keep-alive pins it there: 64 connections opened at once all went to one of
two workers (``tests/test_serve_workers.py``), which used one core between them.

On Linux each worker gets a listener of its own bound with ``SO_REUSEPORT``, and the
kernel spreads new connections over the listeners by their addresses. The supervisor
keeps a placeholder: bound (the port is reserved and a busy address fails before any
worker starts) but never listening, so no connection waits on it. A worker's listener is
made in the worker (pickling the placeholder to a spawned process creates it), so a worker
that uvicorn restarts gets a fresh one, and only joins the kernel's group when it starts
serving. Connections queued on a worker that dies, and those the kernel hands it in the
few milliseconds it takes to close a dead process's socket, are reset (a shared socket
would have kept them), which a client retries as any reset keep-alive connection;
``net.ipv4.tcp_migrate_req=1`` (Linux 5.14+) moves them to another worker instead.

Elsewhere (macOS does not balance ``SO_REUSEPORT``) the one shared socket stays.
"""

from __future__ import annotations

import socket
import sys
from typing import Any

__all__ = ["balances_workers", "tcp_listener", "worker_listener"]


def balances_workers() -> bool:
    """Whether per-worker listeners are used (Linux, where ``SO_REUSEPORT`` balances)."""
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


def worker_listener(host: str, port: int) -> socket.socket:
    """The supervisor's placeholder for ``host:port`` (see the module): each worker it is
    handed to listens on a ``SO_REUSEPORT`` socket of its own. ``OSError`` when the
    address is in use, also by another server that shares it through ``SO_REUSEPORT``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # First without SO_REUSEPORT: a second `serve` on the same port must fail as it does
    # with one socket, not silently take half of the first one's connections.
    with _tcp_socket(family) as probe:
        probe.bind((host, port))
        address = probe.getsockname()
    placeholder = _tcp_socket(family, _PerWorkerListener)
    try:
        _share_port(placeholder)
        placeholder.bind(address)
    except BaseException:
        placeholder.close()
        raise
    return placeholder


class _PerWorkerListener(socket.socket):
    """Pickled to a spawned worker, a new socket bound to the same address."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_open_in_worker, (self.family, self.getsockname()))


def _open_in_worker(family: socket.AddressFamily, address: Any) -> socket.socket:
    sock = _tcp_socket(family)
    try:
        _share_port(sock)
        sock.bind(address)  # listen() comes with the worker's server: then it gets connections
    except BaseException:
        sock.close()
        raise
    return sock


def _tcp_socket(family: socket.AddressFamily, kind: type[socket.socket] = socket.socket) -> socket.socket:
    # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY on accepted sockets only then (see tcp_listener).
    sock = kind(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    return sock


def _share_port(sock: socket.socket) -> None:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
