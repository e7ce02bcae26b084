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

__all__ = ["SECRET_PATH", "SECRET_WARNING", "ensure_secret", "register", "run"]

logger = logging.getLogger("mastra.cli")


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("serve", help="run the API and studio under uvicorn")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4111, help="port (default 4111)")
    parser.add_argument("--config", default=None, help="TOML configuration file (default ./mastra.toml)")
    parser.set_defaults(handler=run)


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
    import uvicorn

    from ..ee.errors import RefusedInProduction
    from ..ee.plugins import PluginRegistry, build_auth
    from ..ee.settings import load_settings
    from ..server import create_app

    level = args.log_level or "info"
    configure_logging(level)
    settings = load_settings(args.config)
    if settings.is_production and not settings.public_url:
        # S22: without it, reset links and SSO callbacks would come from request headers.
        print("mastra-ee serve: MASTRA_PUBLIC_URL is required in production", file=sys.stderr)
        return 2
    settings = _allow_bind_host(settings, args.host)
    if not settings.secret:
        os.environ["MASTRA_AUTH_SECRET"] = ensure_secret()
        settings = _allow_bind_host(load_settings(args.config), args.host)
    registry = PluginRegistry.default(settings)
    try:
        auth = build_auth(settings, registry)
        # Optional short cache of successful authentications (see server/_authcache.py):
        # revocations by other processes then take effect within this many seconds.
        app = create_app(settings, auth=auth, registry=registry)
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
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=level,
        lifespan="on",
        # S23: X-Forwarded-* count only through the app's own trusted_proxy_count; uvicorn
        # would otherwise believe them from loopback peers (any local reverse proxy).
        proxy_headers=False,
        server_header=False,
    )
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
