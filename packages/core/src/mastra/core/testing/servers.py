"""Loopback helpers: free ports and a uvicorn server running in a background thread."""

from __future__ import annotations

import atexit
import collections
import socket
import threading
import time
from typing import Any, Literal

__all__ = ["BackgroundServer", "free_port"]


# Reservations older than this are released: a test binds its port within seconds, and a
# long pytest run must not hold hundreds of descriptors.
_RESERVATION_SECONDS = 300.0
_reservations: collections.deque[tuple[float, socket.socket]] = collections.deque()
_reservations_lock = threading.Lock()


@atexit.register
def _release_reservations() -> None:
    with _reservations_lock:
        while _reservations:
            _reservations.popleft()[1].close()


def free_port() -> int:
    """A loopback port that the kernel hands to nobody else for a few minutes.

    The port stays bound (``SO_REUSEADDR``, never listening) after it is returned. Linux
    skips a bound port when it picks one for another ``bind(0)`` or an outgoing connection,
    while a server that sets ``SO_REUSEADDR`` (uvicorn, asyncio, Node, PostgreSQL, Redis)
    can still listen on it. Releasing the port at once let a Node peer or a client
    connection take it before the test's server bound it ("address already in use").
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    now = time.monotonic()
    with _reservations_lock:
        while _reservations and now - _reservations[0][0] > _RESERVATION_SECONDS:
            _reservations.popleft()[1].close()
        _reservations.append((now, sock))
    return int(sock.getsockname()[1])


class BackgroundServer:
    """Serve an ASGI app on 127.0.0.1 in a thread (emulators of remote APIs)."""

    def __init__(self, app: Any, port: int | None = None, *, lifespan: Literal["on", "off"] = "off") -> None:
        """``lifespan="on"`` for an app whose shutdown matters (``create_app`` closes its
        providers and their pooled connections there)."""
        import uvicorn

        self.port = port or free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan=lifespan)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> BackgroundServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("background server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
