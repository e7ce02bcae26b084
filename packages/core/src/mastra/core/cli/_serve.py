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
import secrets
import sys
from pathlib import Path
from typing import Any

__all__ = ["SECRET_WARNING", "ensure_secret", "register", "run"]

logger = logging.getLogger("mastra.cli")

SECRET_PATH = Path(".mastra") / "secret"
SECRET_WARNING = "MASTRA_AUTH_SECRET is not set; generated a secret in ./.mastra/secret"  # noqa: S105 - a message


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("serve", help="run the API and studio under uvicorn")
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=4111, help="port (default 4111)")
    parser.add_argument("--config", default=None, help="TOML configuration file (default ./mastra.toml)")
    parser.set_defaults(handler=run)


def ensure_secret(path: Path = SECRET_PATH) -> str:
    """The secret from ``path``, or a new one written there (0600) with a warning.

    The directory ends 0700 either way: one left by an earlier run or another tool
    with looser modes is tightened, since it also holds the database."""
    from ..ee.db import private_directory

    private_directory(path.parent, tighten_existing=True)
    if path.is_file():
        text = path.read_text().strip()
        if len(text) >= 32:
            return text
    secret = secrets.token_urlsafe(36)  # 48 characters
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secret + "\n")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    logger.warning(SECRET_WARNING)
    return secret


def _configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    for name in ("mastra", "mastra.ee", "mastra.cli", "mastra.server", "mastra.audit"):
        log = logging.getLogger(name)
        if not log.handlers:
            log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False
    # Child loggers of "mastra" without handlers propagate to it.


async def _user_count(auth: Any) -> int | None:
    from ..ee.db import dispose_engines
    from ..ee.interfaces import SupportsUserCount, maybe_await

    try:
        provider = auth.user
        if not isinstance(provider, SupportsUserCount):
            return None
        count: int = await maybe_await(provider.count_users())
        return int(count)
    except Exception:
        logger.debug("could not count users", exc_info=True)
        return None
    finally:
        await dispose_engines()  # the server's event loop opens its own connections


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from ..ee.errors import ConfigurationError
    from ..ee.plugins import PluginRegistry, build_auth
    from ..ee.settings import load_settings
    from ..server import create_app

    _configure_logging()
    try:
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
        auth = build_auth(settings, registry)
        # Optional short cache of successful authentications (see server/_authcache.py):
        # revocations by other processes then take effect within this many seconds.
        app = create_app(settings, auth=auth, registry=registry)
    except (ConfigurationError, ValueError, ImportError) as exc:
        print(f"mastra-ee serve: {exc}", file=sys.stderr)
        return 1
    base = settings.public_url or f"http://{_display_host(args.host)}:{args.port}"
    studio = base + settings.normalised_studio_base
    print(f"Mastra EE studio: {studio}", flush=True)
    if asyncio.run(_user_count(auth)) == 0:
        print(f"No users yet: the first account created becomes the owner ({studio}signup)", flush=True)
    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level="info",
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
