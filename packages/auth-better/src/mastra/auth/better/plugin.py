"""Entry point of the ``better`` provider (group ``mastra_ee``, SPEC 6.4).

``better`` serves ``user``, ``credentials`` and ``session`` with ONE provider object
per composition (``shared_provider``): the embedded user provider must be the very
object in the session slot for ``session = better`` to use Better Auth's tables, and
remote mode must satisfy the ``owns_sessions`` identity check.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from mastra.core.ee import hookimpl
from mastra.core.ee.options import shared_provider

NAME = "better"


def create_provider(options: Mapping[str, Any]) -> Any:
    """A new ``EmbeddedBetterAuth`` or ``RemoteBetterAuth`` for these options."""
    mode = str(options.get("mode") or "embedded").strip().lower()
    if mode == "remote":
        from .remote import RemoteBetterAuth

        return RemoteBetterAuth.from_options(options)
    from .embedded import EmbeddedBetterAuth

    return EmbeddedBetterAuth.from_options(options)


def get_provider(options: Mapping[str, Any]) -> Any:
    """The provider shared by every capability of one composition."""
    return shared_provider(options, create_provider)


@hookimpl
def mastra_ee_provider_names() -> dict[str, list[str]]:
    return {"user": [NAME], "credentials": [NAME], "session": [NAME]}


@hookimpl
def mastra_ee_user_provider(name: str, options: Mapping[str, Any]) -> Any:
    return get_provider(options) if name == NAME else None


@hookimpl
def mastra_ee_credentials_provider(name: str, options: Mapping[str, Any]) -> Any:
    return get_provider(options) if name == NAME else None


@hookimpl
def mastra_ee_session_provider(name: str, options: Mapping[str, Any]) -> Any:
    return get_provider(options) if name == NAME else None
