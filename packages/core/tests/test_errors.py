"""The one exception tree (``mastra.core.ee.errors``) and errors that render their own
HTTP response (``AuthError.body()`` / ``headers()``)."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re
from typing import Any

import httpx
import pytest
from mastra.core.ee import errors, hookimpl
from mastra.core.ee.audit import ChainKeys, sign_checkpoint
from mastra.core.ee.crypto import Sealer
from mastra.core.ee.errors import (
    AuthError,
    ConfigurationError,
    InvalidPermission,
    MastraEEError,
    RateLimited,
    SealError,
    SecretTooShort,
)
from mastra.core.ee.models import utcnow
from mastra.core.ee.permissions import validate_permission
from mastra.core.ee.routes import PluginRoute
from mastra.core.testing.reference import reference_app, reference_settings
from starlette.requests import Request

SHORT_SECRET_TEXT = "Session secret must be at least 32 bytes (256 bits) for AES-256-GCM encryption"

ERRORS = [getattr(errors, name) for name in errors.__all__]
AUTH_ERRORS = [error for error in ERRORS if issubclass(error, AuthError)]


def test_every_error_is_a_mastra_ee_error() -> None:
    assert all(issubclass(error, MastraEEError) for error in ERRORS)


def _subclasses(base: type[Exception]) -> set[type[Exception]]:
    found = set(base.__subclasses__())
    for sub in list(found):
        found |= _subclasses(sub)
    return found


def test_the_docstring_tree_names_every_error_of_the_ee_core() -> None:
    """The tree drawn in ``errors``' docstring is the whole tree, wherever a class lives."""
    import mastra.core.ee

    for module in pkgutil.walk_packages(mastra.core.ee.__path__, "mastra.core.ee."):
        importlib.import_module(module.name)
    everything = {MastraEEError, *_subclasses(MastraEEError)}
    ours = {error for error in everything if error.__module__.startswith("mastra.core.ee")}
    assert set(ERRORS) <= ours
    tree = inspect.getdoc(errors) or ""
    for error in ours:
        assert re.search(rf"^[ │├└─]*{error.__name__}\b", tree, re.MULTILINE), error.__name__


@pytest.mark.parametrize("error", [SealError, SecretTooShort, InvalidPermission])
def test_former_value_errors_are_still_value_errors(error: type[Exception]) -> None:
    # Callers (and pydantic validators) catch ValueError; that keeps working.
    assert issubclass(error, ValueError) and issubclass(error, MastraEEError)


def test_short_secret_is_a_configuration_error_with_the_spec_text() -> None:
    with pytest.raises(SecretTooShort) as caught:
        Sealer("x" * 31)
    assert isinstance(caught.value, ConfigurationError)
    assert str(caught.value) == SHORT_SECRET_TEXT
    with pytest.raises(SecretTooShort):
        Sealer([])


def test_signing_a_checkpoint_without_the_secret_is_a_secret_error() -> None:
    with pytest.raises(SecretTooShort, match="MASTRA_AUTH_SECRET"):
        sign_checkpoint(ChainKeys.from_secrets(None), 1, "0" * 64, utcnow())


def test_unreadable_seal_is_a_seal_error_from_both_homes() -> None:
    from mastra.core.ee import crypto

    assert crypto.SealError is SealError
    with pytest.raises(SealError):
        Sealer("s" * 32).unseal("v1.deadbeef.AAAA")


def test_malformed_permission_is_invalid_permission_from_both_homes() -> None:
    from mastra.core.ee import permissions

    assert permissions.InvalidPermission is InvalidPermission
    with pytest.raises(InvalidPermission, match="Malformed permission 'Agents:read'"):
        validate_permission("Agents:read")


@pytest.mark.parametrize("error", AUTH_ERRORS, ids=lambda error: error.__name__)
def test_auth_errors_render_the_spec_body(error: type[AuthError]) -> None:
    rendered = error()
    # SPEC 9: ``message`` repeats ``error`` (the reference Studio shows ``message``).
    assert rendered.body() == {"error": rendered.default_message, "message": rendered.default_message}
    expected_headers = [("retry-after", "1")] if error is RateLimited else []
    assert rendered.headers() == expected_headers


def test_rate_limited_carries_retry_after() -> None:
    assert RateLimited(retry_after=42).headers() == [("retry-after", "42")]


class TeapotError(AuthError):
    """An error a plugin defines: its own body and headers reach the client."""

    code = "teapot"
    status = 418

    def body(self) -> dict[str, Any]:
        return {"error": self.message, "code": self.code}

    def headers(self) -> list[tuple[str, str]]:
        return [("x-teapot", "short and stout")]


async def raise_teapot(request: Request) -> Any:
    raise TeapotError("I'm a teapot")


async def raise_rate_limited(request: Request) -> Any:
    raise RateLimited(retry_after=7)


class RaisingRoutes:
    @hookimpl
    def mastra_ee_routes(self) -> list[PluginRoute]:
        return [
            PluginRoute("GET", "/plugin/teapot", raise_teapot, requires_auth=False),
            PluginRoute("GET", "/plugin/limited", raise_rate_limited, requires_auth=False),
        ]


async def test_the_server_renders_an_auth_error_through_its_own_body_and_headers(sqlite_url: str) -> None:
    app = reference_app(reference_settings(sqlite_url), plugins={"raising": RaisingRoutes()})
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://localhost") as c:
        teapot = await c.get("/api/plugin/teapot")
        limited = await c.get("/api/plugin/limited")
    assert teapot.status_code == 418
    # The plugin's own body, with the ``message`` every error under the prefix carries.
    assert teapot.json() == {"error": "I'm a teapot", "code": "teapot", "message": "I'm a teapot"}
    assert teapot.headers["x-teapot"] == "short and stout"
    assert limited.status_code == 429
    too_many = "Too many attempts. Try again later."
    assert limited.json() == {"error": too_many, "message": too_many}
    assert limited.headers["retry-after"] == "7"
