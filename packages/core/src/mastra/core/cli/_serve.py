"""``mastra-ee serve``: the ASGI app under uvicorn on the embedded default (SPEC 1.4).

* Without ``MASTRA_AUTH_SECRET`` the secret comes from ``./.mastra/secret`` (created
  with 48 random URL-safe characters, mode 0600, and a warning).
* ``MASTRA_EE_EXTRA_PLUGINS`` (``Settings.extra_plugins``) registers plugins that are
  not installed as entry points, e.g. local plugins or the test-only
  ``mastra.core.testing.reference:plugin``; every command loads them, not only ``serve``.
* ``MASTRA_AUTH__CACHE_TTL`` (seconds, default 1; 0 = registry read on every request)
  sets the short authentication cache; see ``mastra.core.server._authcache``.
* Ctrl-C stops uvicorn gracefully (lifespan shutdown disposes database engines);
  users, sessions and audit events live in the database and survive a restart.
* ``--workers N`` (N > 1) runs N uvicorn worker processes on one port, each building
  the app through :func:`~._worker_app.app_factory` from what this process resolved
  (passed in the environment). Per-process state would split between them, so memory
  sessions and ``rate_limit.storage = "memory"`` are refused (exit 2). SIGTERM or
  SIGINT stops every worker gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from typing import Any

# The secret file is shared with mount_ee and the admin commands (they import it from here).
from ..ee.secret import SECRET_PATH, SECRET_WARNING, ensure_secret
from ._command import CommandError, configure_logging

__all__ = [
    "SECRET_PATH",
    "SECRET_WARNING",
    "build_app",
    "ensure_secret",
    "per_process_state",
    "register",
    "resolve_settings",
    "run",
]

logger = logging.getLogger("mastra.cli")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("serve", help="run the API and studio under uvicorn")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4111, help="port (default 4111)")
    parser.add_argument("--config", default=None, help="TOML configuration file (default ./mastra.toml)")
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="uvicorn worker processes (default 1); above 1 needs shared sessions and rate limits",
    )
    parser.set_defaults(handler=run)


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def per_process_state(settings: Any) -> str | None:
    """Why ``settings`` cannot run in several processes (the setting to change), or ``None``."""
    auth = settings.auth
    if (auth.session or "").strip().lower() == "memory":
        return "MASTRA_AUTH__SESSION=memory keeps sessions in one process; use cookie (sql registry)"
    session_options = auth.options.get((auth.session or "").strip().lower(), {})
    if str(session_options.get("registry") or "").strip().lower() == "memory":
        return f"[auth.options.{auth.session}] registry = memory keeps sessions in one process; use sql"
    if auth.rate_limit.storage.strip().lower() == "memory":
        return "MASTRA_AUTH__RATE_LIMIT__STORAGE=memory counts per process; use auto, sql or redis"
    return None


def resolve_settings(config: str | None, host: str) -> Any:
    """The settings ``serve`` runs with: the ``--config`` file and environment, the bind
    host allowed in development; a missing secret is generated into ``./.mastra/secret``
    and exported (``MASTRA_AUTH_SECRET``) for the workers."""
    from ..ee.settings import load_settings

    settings = _allow_bind_host(load_settings(config), host)
    if not settings.secret:
        os.environ["MASTRA_AUTH_SECRET"] = ensure_secret()
        settings = _allow_bind_host(load_settings(config), host)
    return settings


def build_app(settings: Any) -> tuple[Any, Any]:
    """``(auth, app)`` for ``settings``: the plugins, the composed providers, the app."""
    from ..ee.plugins import PluginRegistry, build_auth
    from ..server import create_app

    registry = PluginRegistry.default(settings)
    auth = build_auth(settings, registry)
    # Optional short cache of successful authentications (see server/_authcache.py):
    # revocations by other processes then take effect within this many seconds.
    return auth, create_app(settings, auth=auth, registry=registry)


async def _probe(settings: Any, auth: Any) -> int | None:
    """Reach the database (a connection and ``SELECT 1``), then count users: ``None``
    when the user provider cannot count. A database that cannot be reached raises."""
    from sqlalchemy import text

    from ..ee.db import dispose_engines, get_engine
    from ..ee.interfaces import SupportsUserCount, maybe_await

    try:
        async with get_engine(settings.database_url).connect() as connection:
            await connection.execute(text("SELECT 1"))
        provider = auth.user
        if not isinstance(provider, SupportsUserCount):
            return None
        try:
            return int(await maybe_await(provider.count_users()))
        except Exception:
            logger.debug("could not count users", exc_info=True)
            return None
    finally:
        await dispose_engines()  # the server's event loop opens its own connections


def run(args: argparse.Namespace) -> int:
    from ..ee.errors import RefusedInProduction
    from ..ee.settings import load_settings

    level = args.log_level or "info"
    configure_logging(level)
    workers = getattr(args, "workers", 1)
    if workers > 1:
        os.environ["MASTRA_WORKERS"] = str(workers)  # Settings.workers, here and in every worker
    settings = load_settings(args.config)
    if settings.is_production and not settings.public_url:
        # S22: without it, reset links and SSO callbacks would come from request headers.
        print("mastra-ee serve: MASTRA_PUBLIC_URL is required in production", file=sys.stderr)
        return 2
    if workers > 1 and (reason := per_process_state(settings)) is not None:
        print(f"mastra-ee serve: --workers {workers} needs shared state: {reason}", file=sys.stderr)
        return 2
    settings = resolve_settings(args.config, args.host)
    try:
        auth, app = build_app(settings)
    except RefusedInProduction as exc:
        print(f"mastra-ee serve: {exc}", file=sys.stderr)
        return 2
    except ImportError as exc:
        raise CommandError(str(exc)) from exc
    users = asyncio.run(_probe(settings, auth))  # fails here, not on the first request
    base = settings.public_url or f"http://{_display_host(args.host)}:{args.port}"
    studio = base + settings.normalised_studio_base
    print(f"Mastra EE studio: {studio}", flush=True)
    if users == 0:
        print(f"No users yet: the first account created becomes the owner ({studio}signup)", flush=True)
    if workers > 1:
        return _run_workers(args, level, workers)
    return _run_uvicorn(_uvicorn_config(app, args, level), args)


def _uvicorn_config(app: Any, args: argparse.Namespace, level: str, **options: Any) -> Any:
    import uvicorn

    from ..server._httptools import BoundedHttpToolsProtocol

    return uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=level,
        lifespan="on",
        # The C parser at about half of h11's cost per request, with h11's 16 KiB bound
        # on the request head put back (uvicorn's httptools protocol has none).
        http=BoundedHttpToolsProtocol,
        # S23: X-Forwarded-* count only through the app's own trusted_proxy_count; uvicorn
        # would otherwise believe them from loopback peers (any local reverse proxy).
        proxy_headers=False,
        server_header=False,
        **options,
    )


def _run_uvicorn(config: Any, args: argparse.Namespace) -> int:
    import uvicorn

    server = uvicorn.Server(config)
    try:
        server.run()
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully, then re-raises the captured Ctrl-C: that is a clean stop.
        pass
    except SystemExit as exc:
        # uvicorn logs why (e.g. the address is in use), then exits 1 from inside run().
        if exc.code not in (0, None):
            raise CommandError(f"could not listen on {args.host}:{args.port} (see the error above)") from None
    return 0


def _run_workers(args: argparse.Namespace, level: str, workers: int) -> int:
    """N worker processes on one port; uvicorn's supervisor restarts a worker that
    dies and, on SIGTERM or SIGINT, stops them all gracefully. On Linux every worker
    listens on a socket of its own (see :mod:`._workers`)."""
    from uvicorn.supervisors import Multiprocess

    from ._worker_app import CONFIG_ENV, HOST_ENV, LOG_LEVEL_ENV
    from ._workers import PerWorkerSockets, balances_workers, tcp_listener, worker_listeners

    os.environ[CONFIG_ENV] = args.config or ""
    os.environ[HOST_ENV] = args.host
    os.environ[LOG_LEVEL_ENV] = level
    config = _uvicorn_config(
        "mastra.core.cli._worker_app:app_factory", args, level, factory=True, workers=workers
    )
    per_worker = balances_workers()
    try:
        if per_worker:
            listeners = worker_listeners(args.host, args.port, workers, config.backlog)
        else:
            listeners = [tcp_listener(config.bind_socket())]
    except (OSError, SystemExit) as exc:
        if isinstance(exc, OSError):
            logger.error("%s", exc)
        raise CommandError(f"could not listen on {args.host}:{args.port} (see the error above)") from None
    if per_worker:
        port = listeners[0].getsockname()[1]  # the real one, also for --port 0
        logger.info("Listening on %s:%d, one socket per worker", _display_host(args.host), port)
    # Both supervisors take over the signals when made: make only the one that runs.
    supervisor = (PerWorkerSockets if per_worker else Multiprocess)(config, listeners)
    try:
        supervisor.run()
    except KeyboardInterrupt:
        pass
    finally:
        for listener in listeners:
            listener.close()
    return 0


def _allow_bind_host(settings: Any, host: str) -> Any:
    """In development the address ``serve`` listens on is an allowed ``Host`` (S22)."""
    from ..server._hosts import UNSPECIFIED_ADDRESSES

    if not settings.is_dev or host.strip() in UNSPECIFIED_ADDRESSES or host in settings.allowed_hosts:
        return settings
    return settings.model_copy(update={"allowed_hosts": [*settings.allowed_hosts, host]})


def _display_host(host: str) -> str:
    from ..server._hosts import UNSPECIFIED_ADDRESSES

    if host in UNSPECIFIED_ADDRESSES:
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host
