"""The app of one ``mastra-ee serve --workers N`` worker process.

uvicorn starts each worker in a fresh interpreter and needs the app as an import
string: :func:`app_factory` builds it as the parent ``serve`` does, from what the
parent resolved and exported (``MASTRA_AUTH_SECRET``, ``MASTRA_WORKERS``, and the
variables below for the ``--config`` file, the bind host and the log level).
"""

from __future__ import annotations

import os
from typing import Any

__all__ = ["CONFIG_ENV", "HOST_ENV", "LOG_LEVEL_ENV", "app_factory"]

#: ``serve --config``: the TOML file every worker loads (empty = ``./mastra.toml``).
CONFIG_ENV = "MASTRA_SERVE_CONFIG"
#: ``serve --host``: allowed as a ``Host`` in development (S22), as in one process.
HOST_ENV = "MASTRA_SERVE_HOST"
LOG_LEVEL_ENV = "MASTRA_SERVE_LOG_LEVEL"


def app_factory() -> Any:
    """The ASGI app of this worker (``uvicorn ... --factory``)."""
    from ._command import configure_logging
    from ._serve import build_app, resolve_settings

    configure_logging(os.environ.get(LOG_LEVEL_ENV) or "info")
    settings = resolve_settings(os.environ.get(CONFIG_ENV) or None, os.environ.get(HOST_ENV, "127.0.0.1"))
    _auth, app = build_app(settings)
    return app
