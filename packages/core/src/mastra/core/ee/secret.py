"""The development server secret in ``./.mastra/secret`` (SPEC 1.4).

Without ``MASTRA_AUTH_SECRET``, ``mastra-ee serve`` and ``mount_ee`` (development
only) use the secret in ``./.mastra/secret``, creating it on first use: 48 random
URL-safe characters, file mode 0600 in a 0700 directory, with a warning. Sessions
sealed by one survive a restart, and the CLI's admin commands find the same key.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .settings import Settings

__all__ = ["SECRET_PATH", "SECRET_WARNING", "ensure_secret", "with_project_secret"]

logger = logging.getLogger("mastra.ee")

SECRET_PATH = Path(".mastra") / "secret"
SECRET_WARNING = "MASTRA_AUTH_SECRET is not set; generated a secret in ./.mastra/secret"  # noqa: S105 - a message


def ensure_secret(path: Path = SECRET_PATH) -> str:
    """The secret from ``path``, or a new one written there (0600) with a warning.

    The directory ends 0700 either way: one left by an earlier run or another tool
    with looser modes is tightened, since it also holds the database."""
    from .db import private_directory

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


def with_project_secret(settings: Settings, path: Path = SECRET_PATH) -> Settings:
    """``settings`` with the :func:`ensure_secret` secret when they carry none, in
    development. Production is left alone: there the secret must be configured
    (``MASTRA_AUTH_SECRET``); a file next to the code is no place for it."""
    if settings.secret or settings.is_production:
        return settings
    from pydantic import SecretStr

    return settings.model_copy(update={"auth_secret": SecretStr(ensure_secret(path))})
