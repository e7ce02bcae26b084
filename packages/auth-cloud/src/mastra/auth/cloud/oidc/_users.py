"""Claims → :class:`EEUser` mapping for the OIDC provider (SPEC 10.3)."""

from __future__ import annotations

from typing import Any

from mastra.core.ee.models import EEUser

__all__ = ["claims_to_user", "roles_from_claim"]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def roles_from_claim(claims: dict[str, Any], claim: str) -> list[str] | None:
    """A list claim, a space/comma separated string, or a dotted path (``realm_access.roles``)."""
    value: Any = claims
    for part in claim.split("."):
        if not isinstance(value, dict) or part not in value:
            value = claims.get(claim)  # a claim name that itself contains dots
            break
        value = value[part]
    if isinstance(value, str):
        return [r for r in value.replace(",", " ").split() if r]
    if isinstance(value, list):
        return [r for r in value if isinstance(r, str) and r]
    return None


def claims_to_user(claims: dict[str, Any], *, issuer: str, roles_claim: str | None) -> EEUser:
    email = _str(claims.get("email"))
    full = " ".join(p for p in (_str(claims.get("given_name")), _str(claims.get("family_name"))) if p)
    name = _str(claims.get("name")) or full or _str(claims.get("preferred_username")) or email
    metadata: dict[str, Any] = {
        "issuer": issuer,
        "emailVerified": bool(claims.get("email_verified", False)),
    }
    if _str(claims.get("preferred_username")):
        metadata["preferredUsername"] = claims["preferred_username"]
    if roles_claim:
        roles = roles_from_claim(claims, roles_claim)
        if roles is not None:
            metadata["roles"] = roles
    return EEUser(
        id=str(claims["sub"]),
        email=email,
        name=name,
        avatar_url=_str(claims.get("picture")),
        metadata=metadata,
    )
