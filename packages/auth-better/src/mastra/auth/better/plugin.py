"""Entry point of the ``better`` provider (``better = "mastra.auth.better.plugin:plugin"``).

``better`` serves ``user``, ``credentials`` and ``session`` with ONE provider object
per composition: the embedded user provider must be the very object in the session
slot for ``session = better`` to use Better Auth's tables, and remote mode must
satisfy the ``owns_sessions`` identity check.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mastra.core.ee import ProviderOptions, provider_plugin

from ._api import better_auth_routes
from ._options import BetterOptions

if TYPE_CHECKING:
    from .embedded import EmbeddedBetterAuth
    from .remote import RemoteBetterAuth

__all__ = ["create_provider", "plugin"]


def create_provider(options: ProviderOptions) -> EmbeddedBetterAuth | RemoteBetterAuth:
    """A new ``EmbeddedBetterAuth`` or ``RemoteBetterAuth``, as the ``mode`` option says.

    Imported on first use: the embedded mode pulls in SQLAlchemy models."""
    if options.parse(BetterOptions).mode == "remote":
        from .remote import RemoteBetterAuth

        return RemoteBetterAuth.from_options(options)
    from .embedded import EmbeddedBetterAuth

    return EmbeddedBetterAuth.from_options(options)


# Better Auth's own HTTP API (embedded mode; 404 otherwise), beside the core routes.
plugin = provider_plugin(
    "better",
    create_provider,
    capabilities=("user", "credentials", "session"),
    routes=better_auth_routes(),
)
