"""Helpers shared by both modes: e-mail normalisation, Better Auth ids, user mapping."""

from __future__ import annotations

import re
import secrets
import string
import unicodedata
from datetime import datetime
from typing import Any

from mastra.core.ee.models import EEUser, format_timestamp

__all__ = ["generate_id", "is_valid_email", "normalise_email", "user_from_better"]

_ALPHABET = string.ascii_letters + string.digits
# Deliberately simple: one ``@``, no whitespace, a dot in the domain. Length per RFC 5321.
_EMAIL_RE = re.compile(r"^[^\s@]+@[^\s@.]+(\.[^\s@.]+)+$")


def generate_id(size: int = 32) -> str:
    """Better Auth's id/token format: ``size`` alphanumerics from ``secrets`` (~190 bits)."""
    return "".join(secrets.choice(_ALPHABET) for _ in range(size))


def normalise_email(email: str) -> str:
    """SPEC 3.4: trimmed, NFKC, lower-cased."""
    return unicodedata.normalize("NFKC", email.strip()).lower()


def is_valid_email(email: str) -> bool:
    return 3 <= len(email) <= 254 and _EMAIL_RE.match(email) is not None


def _timestamp(value: Any) -> Any:
    return format_timestamp(value) if isinstance(value, datetime) else value


def user_from_better(data: dict[str, Any], *, default_role: str | None = None) -> EEUser:
    """A Better Auth user (row or JSON) as an ``EEUser``; ``metadata.role`` feeds static RBAC.

    A user created by a Better Auth server that knows nothing of roles has ``role``
    NULL; it gets ``default_role`` so it is not locked out of a studio it signed in to.
    """
    role = data.get("role") or default_role
    metadata: dict[str, Any] = {
        "emailVerified": bool(data.get("emailVerified")),
        "createdAt": _timestamp(data.get("createdAt")),
        "updatedAt": _timestamp(data.get("updatedAt")),
    }
    if role:
        metadata["role"] = role
    if data.get("banned"):
        metadata["banned"] = True
    return EEUser(
        id=str(data["id"]),
        email=data.get("email"),
        name=data.get("name") or None,
        avatar_url=data.get("image") or None,
        metadata={k: v for k, v in metadata.items() if v is not None},
    )
