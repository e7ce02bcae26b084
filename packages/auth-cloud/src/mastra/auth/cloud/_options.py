"""Options of the ``cloud`` provider name (SPEC 10.3): the Mastra Cloud identity
provider and the stand-alone ``MastraRBACCloud`` read the same table."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from mastra.core.ee.errors import ConfigurationError
from mastra.core.ee.models import RoleMapping
from mastra.core.ee.options import Fallbacks, from_text
from pydantic import NonNegativeFloat, NonNegativeInt, PositiveFloat, field_validator

from ._browser_login import BrowserLoginOptions, default_callback_url

__all__ = ["CloudOptions", "check_role_mapping"]


def check_role_mapping(mapping: Any) -> RoleMapping:
    """``{role: [permissions]}``, or a configuration error naming what is wrong."""
    if not isinstance(mapping, Mapping):
        raise ConfigurationError("cloud role_mapping must be a table of role -> [permissions]")
    result: RoleMapping = {}
    for role, perms in mapping.items():
        if isinstance(perms, str) or not isinstance(perms, Sequence):
            raise ConfigurationError(f"cloud role_mapping[{role!r}] must be a list of permissions")
        result[str(role)] = [str(p) for p in perms]
    return result


class CloudOptions(BrowserLoginOptions):
    """``project_id`` and ``cloud_base_url`` (required for sign-in, not for the RBAC
    alone), ``callback_url`` (default ``<public url><prefix>/auth/sso/callback``),
    ``role_mapping`` (default the SPEC 4.5 roles), ``verify_cache_ttl`` (30 s: a
    revoked Cloud token keeps working at most this long), ``timeout`` (10 s) and
    ``retries`` (2, on network errors and 5xx)."""

    provider_name = "cloud"
    owner: ClassVar[str] = "Mastra Cloud auth"
    fallbacks: ClassVar[Fallbacks] = {
        **BrowserLoginOptions.fallbacks,
        "callback_url": (default_callback_url,),
    }

    project_id: str | None = None
    cloud_base_url: str | None = None
    callback_url: str | None = None
    role_mapping: RoleMapping | None = None
    verify_cache_ttl: NonNegativeFloat = 30.0
    timeout: PositiveFloat = 10.0
    retries: NonNegativeInt = 2

    @field_validator("cloud_base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.lower().startswith(("http://", "https://")):
            raise ValueError(f"must be an http(s) URL, not {value!r}")
        return value

    @field_validator("role_mapping", mode="before")
    @classmethod
    def _role_mapping(cls, value: Any) -> RoleMapping:
        return check_role_mapping(from_text(value))
