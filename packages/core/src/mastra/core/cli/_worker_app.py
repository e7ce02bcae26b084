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
    from ._serve import build_app, per_process_state, resolve_settings

    configure_logging(os.environ.get(LOG_LEVEL_ENV) or "info")
    settings = resolve_settings(os.environ.get(CONFIG_ENV) or None, os.environ.get(HOST_ENV, "127.0.0.1"))
    # uvicorn restarts a dead worker from the configuration as it is *now*: the parent's
    # refusals must hold here too (a changed mastra.toml cannot split state silently).
    reason = per_process_state(settings)
    if reason is not None:
        raise RuntimeError(f"--workers needs shared state: {reason}")
    if settings.is_production and not settings.public_url:
        raise RuntimeError("MASTRA_PUBLIC_URL is required in production")
    _auth, app = build_app(settings)
    return app
