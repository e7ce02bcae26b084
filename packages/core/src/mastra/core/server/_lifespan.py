"""Shutdown of the EE parts of an app, on the app's own lifespan.

``mount_ee`` wraps whatever lifespan the host has (its ``lifespan=`` context manager,
``on_startup``/``on_shutdown`` handlers, or nothing), so ``create_app`` and every host
app close the same things, once the host's own shutdown code has run (it may still
audit): providers (buffered audit writes and export queues flushed, HTTP pools
closed), then the database engines.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette

from ..ee.db import dispose_engines
from ..ee.interfaces import maybe_await
from ..ee.provider import MastraAuthProvider
from ..ee.redis import close_redis_clients
from ._context import EEContext

__all__ = ["close_providers", "shutdown_on_lifespan"]

logger = logging.getLogger("mastra.server")


def shutdown_on_lifespan(app: Starlette, ctx: EEContext) -> None:
    """Run :func:`close_ee` when ``app``'s lifespan ends, after the host's own shutdown."""
    host_lifespan = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: Any) -> AsyncIterator[Any]:
        try:
            await ctx.start()
            async with host_lifespan(app) as state:
                yield state
        finally:
            await close_ee(ctx)

    app.router.lifespan_context = lifespan


async def close_ee(ctx: EEContext) -> None:
    # Providers first: what they still hold (buffered audit writes, export queues)
    # goes to the database before its engines go away.
    await close_providers(ctx.auth)
    await ctx.close()
    await close_redis_clients()
    await dispose_engines()


async def close_providers(auth: MastraAuthProvider) -> None:
    """``aclose()`` each distinct slot provider that has one; failures are logged."""
    seen: set[int] = set()
    for provider in auth.slots().values():
        if provider is None or id(provider) in seen:
            continue
        seen.add(id(provider))
        aclose = getattr(provider, "aclose", None)
        if aclose is None:
            continue
        try:
            await maybe_await(aclose())
        except Exception:
            logger.warning("closing %s failed", type(provider).__name__, exc_info=True)
