"""An in-memory reference user + credentials provider for the core's own tests.

Not registered as a plugin by default. Register it explicitly::

    registry.register(reference_plugin(), "reference")

then select ``MASTRA_AUTH__USER=reference`` and ``MASTRA_AUTH__CREDENTIALS=reference``.
``mastra-ee serve`` loads it with
``MASTRA_EE_EXTRA_PLUGINS=mastra.core.testing.reference:plugin``.

Behaviour mirrors the embedded Better Auth provider where tests care: scrypt hashing
on a worker thread, a dummy hash for unknown emails (same timing), the first user
becomes ``owner``, users resolve through the bound session slot, password reset
revokes every session.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import os
import secrets
import tempfile
import unicodedata
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from ..ee import ProviderPlugin, provider_plugin
from ..ee.errors import InvalidCredentials, InvalidResetToken, SignUpDisabled, SignUpFailed
from ..ee.interfaces import SupportsSessionListing
from ..ee.models import CredentialsResult, EEUser, utcnow
from ..ee.policy import check_display_text, check_password_policy
from ..ee.request_auth import presented_session

__all__ = ["ReferenceProvider", "ReferenceUser", "plugin", "reference_plugin"]

_N, _R, _P = 16384, 16, 1


def _normalise_email(email: str) -> str:
    return unicodedata.normalize("NFKC", email.strip()).lower()


def _scrypt(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(
        unicodedata.normalize("NFKC", password).encode(),
        salt=salt,
        n=_N,
        r=_R,
        p=_P,
        dklen=64,
        maxmem=128 << 20,
    )


async def _hash(password: str) -> str:
    salt = os.urandom(16)
    key = await asyncio.to_thread(_scrypt, password, salt)
    return f"{salt.hex()}:{key.hex()}"


async def _verify(password: str, stored: str) -> bool:
    salt_hex, _, key_hex = stored.partition(":")
    key = await asyncio.to_thread(_scrypt, password, bytes.fromhex(salt_hex))
    return hmac.compare_digest(key.hex(), key_hex)


# Verified against for unknown emails so both paths cost one scrypt (S6).
_DUMMY_HASH = f"{'00' * 16}:{_scrypt('dummy-password', bytes(16)).hex()}"


@dataclass
class ReferenceUser:
    id: str
    email: str
    name: str
    password_hash: str
    role: str
    disabled: bool = False
    created_at: Any = field(default_factory=utcnow)

    def to_user(self) -> EEUser:
        return EEUser(id=self.id, email=self.email, name=self.name, metadata={"role": self.role})


class ReferenceProvider:
    """User + credentials provider over a dict. ``outbox`` collects reset links."""

    name = "reference"

    def __init__(self, *, sign_up_enabled: bool = True, default_role: str = "viewer") -> None:
        self.users: dict[str, ReferenceUser] = {}
        self.api_keys: dict[str, str] = {}
        self.sign_up_enabled = sign_up_enabled
        self.default_role = default_role
        self.outbox: list[tuple[str, str]] = []
        self._resets: dict[str, tuple[str, Any]] = {}
        self._lock = asyncio.Lock()
        self.auth: Any = None

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> ReferenceProvider:
        enabled = options.get("sign_up_enabled", True)
        if isinstance(enabled, str):
            enabled = enabled.strip().lower() not in {"false", "0", "no"}
        return cls(sign_up_enabled=bool(enabled), default_role=str(options.get("default_role", "viewer")))

    def bind(self, auth: Any) -> None:
        self.auth = auth

    # -- helpers ------------------------------------------------------------------

    def _by_email(self, email: str) -> ReferenceUser | None:
        wanted = _normalise_email(email)
        return next((u for u in self.users.values() if u.email == wanted), None)

    async def count_users(self) -> int:
        return len(self.users)

    async def list_users(self) -> list[dict[str, Any]]:
        return [
            {"id": u.id, "email": u.email, "name": u.name, "role": u.role, "disabled": u.disabled}
            for u in self.users.values()
        ]

    async def set_user_role(self, user_id: str, role: str) -> None:
        self.users[user_id].role = role

    def disable_user(self, user_id: str) -> None:
        self.users[user_id].disabled = True

    def add_api_key(self, token: str, user_id: str) -> None:
        self.api_keys[hashlib.sha256(token.encode()).hexdigest()] = user_id

    async def _session_result(self, user: ReferenceUser) -> CredentialsResult:
        return CredentialsResult(user=user.to_user())

    # -- IUserProvider --------------------------------------------------------------

    async def get_current_user(self, request: Any) -> EEUser | None:
        session = getattr(self.auth, "session", None)
        if session is None:
            return None
        found = await presented_session(request, session)
        if found is None:
            return None
        user = self.users.get(found.user_id)
        return user.to_user() if user else None

    async def authenticate_token(self, token: str, request: Any) -> EEUser | None:
        user_id = self.api_keys.get(hashlib.sha256(token.encode()).hexdigest())
        user = self.users.get(user_id) if user_id else None
        if user is None:
            return None
        found = user.to_user()
        found.metadata["tokenType"] = "apikey"
        return found

    async def get_user(self, user_id: str) -> EEUser | None:
        user = self.users.get(user_id)
        return user.to_user() if user else None

    async def is_user_disabled(self, user_id: str) -> bool:
        user = self.users.get(user_id)
        return user is None or user.disabled

    # -- ICredentialsProvider ----------------------------------------------------------

    def is_sign_up_enabled(self) -> bool:
        return self.sign_up_enabled

    async def sign_in(self, email: str, password: str, request: Any) -> CredentialsResult:
        user = self._by_email(email)
        ok = await _verify(password, user.password_hash if user else _DUMMY_HASH)
        if user is None or not ok:
            raise InvalidCredentials()
        if user.disabled:
            raise InvalidCredentials(reason="disabled")
        return await self._session_result(user)

    async def sign_up(self, email: str, password: str, name: str | None, request: Any) -> CredentialsResult:
        if not self.sign_up_enabled:
            raise SignUpDisabled()
        wanted = check_display_text(_normalise_email(email), "Email")
        if name:
            check_display_text(name, "Name")
        check_password_policy(password)
        password_hash = await _hash(password)
        async with self._lock:
            if self._by_email(wanted) is not None:
                raise SignUpFailed(reason="duplicate_email")
            role = "owner" if not self.users else self.default_role
            user = ReferenceUser(str(uuid.uuid4()), wanted, name or wanted.split("@")[0], password_hash, role)
            self.users[user.id] = user
        return await self._session_result(user)

    async def change_password(self, user_id: str, current_password: str, new_password: str) -> None:
        user = self.users.get(user_id)
        if user is None or not await _verify(current_password, user.password_hash):
            raise InvalidCredentials()
        check_password_policy(new_password)
        user.password_hash = await _hash(new_password)  # the host revokes the sessions (S5)

    async def request_password_reset(self, email: str, reset_url: str) -> None:
        user = self._by_email(email)
        if user is None:
            return
        token = secrets.token_urlsafe(32)
        self._resets[hashlib.sha256(token.encode()).hexdigest()] = (user.id, utcnow() + timedelta(minutes=10))
        self.outbox.append((user.email, f"{reset_url}?token={token}"))

    async def reset_password(self, token: str, new_password: str) -> str:
        check_password_policy(new_password)  # before consuming: the user may retry
        entry = self._resets.pop(hashlib.sha256(token.encode()).hexdigest(), None)
        if entry is None or entry[1] < utcnow():
            raise InvalidResetToken()
        user = self.users[entry[0]]
        user.password_hash = await _hash(new_password)
        session = getattr(self.auth, "session", None)
        if isinstance(session, SupportsSessionListing):
            await session.revoke_user_sessions(user.id)
        return user.id


def reference_plugin() -> ProviderPlugin:
    """A fresh plugin object for ``registry.register``: ``reference`` for user and credentials."""
    return provider_plugin("reference", ReferenceProvider.from_options, capabilities=("user", "credentials"))


#: For ``MASTRA_EE_EXTRA_PLUGINS=mastra.core.testing.reference:plugin`` (``serve`` tests).
plugin = reference_plugin()


# -- test helpers ---------------------------------------------------------------------

TEST_SECRET = "reference-test-secret-0123456789abcdefghijklmnop"  # noqa: S105 - tests only


def reference_settings(database_url: str, **overrides: Any) -> Any:
    """Settings selecting the reference provider with core defaults (cookie sessions on
    the SQL registry, static RBAC, memory audit storage), dev environment."""
    from ..ee.settings import Settings

    auth: dict[str, Any] = {
        "user": "reference",
        "credentials": "reference",
        "session": "cookie",
        "rbac": "static",
        "audit_storage": "memory",
    }
    auth.update(overrides.pop("auth", {}))
    values: dict[str, Any] = {"database_url": database_url, "auth_secret": TEST_SECRET}
    values.update(overrides)
    return Settings(auth=auth, **values)


def reference_app(settings: Any, *, plugins: Mapping[str, Any] | None = None, **app_options: Any) -> Any:
    """``create_app`` over a fresh registry holding the core and reference plugins.

    Returns the app; the reference provider is ``app.state.mastra_ee.auth.user``.
    """
    from ..ee.plugins import PluginRegistry, build_auth
    from ..server import create_app

    registry = PluginRegistry.default(settings, load_entry_points=False)
    registry.register(reference_plugin(), "reference")
    for name, plugin in (plugins or {}).items():
        registry.register(plugin, name)
    auth = build_auth(settings, registry)
    app_options.setdefault("sso_state_store", "memory")
    app_options.setdefault("reset_delay", 0.01)
    return create_app(settings, auth=auth, registry=registry, **app_options)


def reference_serve_env(**extra: str) -> dict[str, str]:
    """A ``serve`` environment selecting this module as its user and credentials
    provider (cookie sessions): the caller's ``MASTRA_*`` variables dropped, provider
    plugins that need their own peers blocked, ``extra`` on top."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    env.update(
        MASTRA_EE_DISABLED_PLUGINS="better,workos,cloud,oidc",
        MASTRA_EE_EXTRA_PLUGINS="mastra.core.testing.reference:plugin",
        MASTRA_AUTH__USER="reference",
        MASTRA_AUTH__CREDENTIALS="reference",
        MASTRA_AUTH__SESSION="cookie",
    )
    env.update(extra)
    return env


class ServeProcess:
    """``mastra-ee serve`` as a subprocess on a free loopback port (end-to-end tests).

    ``with ServeProcess(cwd, env) as server: httpx.get(server.url + "/api/...")``;
    leaving the block sends SIGINT (Ctrl-C) and waits for a clean exit.
    """

    def __init__(
        self,
        cwd: Any,
        env: Mapping[str, str] | None = None,
        *,
        port: int | None = None,
        args: tuple[str, ...] = (),
    ) -> None:
        from .servers import free_port

        self.cwd = cwd
        self.port = port or free_port()
        self.env = {**os.environ, **(env or {})}
        self.args = args
        self.process: Any = None
        self.returncode: int | None = None
        self.stdout = ""
        self.stderr = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServeProcess:
        import subprocess
        import sys
        import time

        import httpx

        command = [sys.executable, "-m", "mastra.core.cli", "serve", "--port", str(self.port), *self.args]
        # Files, not pipes: under load the access log would fill a pipe nobody reads
        # until the end and stall the server.
        base = Path(tempfile.mkdtemp(prefix="mastra-serve-"))
        self._out, self._err = base / "stdout", base / "stderr"
        with self._out.open("w") as out, self._err.open("w") as err:
            self.process = subprocess.Popen(
                command, cwd=self.cwd, env=self.env, stdout=out, stderr=err, text=True
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self._collect()
                raise RuntimeError(f"mastra-ee serve exited early: {self.stderr[-2000:]}")
            try:
                httpx.get(self.url + "/api/auth/capabilities", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("mastra-ee serve did not become ready")

    def _collect(self) -> None:
        self.process.wait(timeout=30)
        self.stdout, self.stderr = self._out.read_text(), self._err.read_text()
        self.returncode = self.process.returncode

    def kill(self) -> None:
        """``kill -9``: no shutdown code runs (the fault tests' crash)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
        self._collect()

    def stop(self) -> int:
        import signal

        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        if self.process is not None and self.returncode is None:
            try:
                self._collect()
            except Exception:
                self.process.kill()
                self._collect()
        return self.returncode if self.returncode is not None else -1

    def __exit__(self, *exc: object) -> None:
        self.stop()
