"""Loopback helpers: free ports and a uvicorn server running in a background thread."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any, Literal

__all__ = ["BackgroundServer", "free_port"]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
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
