"""``MastraCloudAuth``: Mastra Cloud login (PKCE S256), per-request verification,
Cloud-managed sessions and the single-role RBAC of :class:`MastraRBACCloud`.

One instance serves ``user``, ``session``, ``sso`` and ``rbac`` for the name ``cloud``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from mastra.core.ee.cache import TTLCache
from mastra.core.ee.crypto import (
    Sealer,
    SealError,
    clear_cookie,
    cookie_spec,
    parse_cookie_header,
    set_cookie,
    sha256_hex,
)
from mastra.core.ee.errors import ConfigurationError, SSOError
from mastra.core.ee.models import EEUser, Session, SSOCallbackResult, SSOLoginConfig, SSOTokens, utcnow
from mastra.core.ee.options import as_provider_options
from mastra.core.ee.request_auth import bearer_token
from mastra.core.ee.settings import Settings

from ._browser_login import (
    PendingLogins,
    UsedStates,
    build_sealer,
    same_secret,
)
from ._http import CloudAPIError, CloudHTTP, CloudNetworkError
from ._options import CloudOptions
from ._pkce import decode_state, encode_state, new_verifier, s256_challenge, safe_return_to
from ._rbac import MastraRBACCloud

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["MastraCloudAuth"]

logger = logging.getLogger("mastra.auth.cloud")

SESSION_COOKIE = "mastra_cloud_session"
PKCE_COOKIE = "mastra_pkce_verifier"
PKCE_MAX_AGE = 300
SESSION_MAX_AGE = 86400
_CACHE_MAX = 10_000


def _parse_time(value: Any, default: datetime) -> datetime:
    """Cloud timestamps may be ISO strings or epoch (seconds or milliseconds)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = value / 1000 if value > 1e11 else value
        return datetime.fromtimestamp(seconds, UTC)
    if isinstance(value, str) and value:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return default
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
    return default


class MastraCloudAuth(MastraRBACCloud):
    """Mastra Cloud user/session/SSO provider (SPEC 10.3).

    Verification results are cached for ``verify_cache_ttl`` seconds (default 30)
    keyed by the token's SHA-256, so a revoked token stops working at most that long
    after Cloud revokes it. Only positive results are cached.
    """

    owns_sessions = True
    is_mastra_cloud_auth = True

    def __init__(
        self,
        *,
        project_id: str,
        cloud_base_url: str,
        settings: Settings,
        sealer: Sealer,
        callback_url: str | None = None,
        role_mapping: Mapping[str, Any] | None = None,
        verify_cache_ttl: float = 30.0,
        timeout: float = 10.0,
        retries: int = 2,
        retry_backoff: float = 0.1,
    ) -> None:
        super().__init__(role_mapping=role_mapping)
        if not project_id or not cloud_base_url:
            raise ConfigurationError("Mastra Cloud auth requires project_id and cloud_base_url")
        self.project_id = str(project_id)
        self.cloud_base_url = str(cloud_base_url).rstrip("/")
        self.callback_url = callback_url
        self.settings = settings
        self._sealer = sealer
        self.http = CloudHTTP(
            self.cloud_base_url, self.project_id, timeout=timeout, retries=retries, backoff=retry_backoff
        )
        self.verify_cache_ttl = float(verify_cache_ttl)
        self.session_cookie = cookie_spec(
            SESSION_COOKIE, production=settings.is_production, public_url=settings.public_url
        )
        self.pkce_cookie = cookie_spec(
            PKCE_COOKIE, production=settings.is_production, public_url=settings.public_url
        )
        self._pending: PendingLogins[str] = PendingLogins(PKCE_MAX_AGE)
        self._used_states = UsedStates(PKCE_MAX_AGE + 60)
        # Positive /auth/verify answers by token SHA-256 (monotonic: immune to clock steps).
        self._verify_cache: TTLCache[str, EEUser] = TTLCache(ttl=self.verify_cache_ttl, max_size=_CACHE_MAX)

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> MastraCloudAuth:
        parsed = as_provider_options(options).parse(CloudOptions)
        if not parsed.project_id or not parsed.cloud_base_url:
            raise ConfigurationError(
                "Mastra Cloud auth requires the options project_id and cloud_base_url (http(s) URL)"
            )
        return cls(
            project_id=parsed.project_id,
            cloud_base_url=parsed.cloud_base_url,
            callback_url=parsed.callback_url,
            settings=parsed.settings,
            sealer=build_sealer(parsed, info="mastra-cloud-pkce"),
            role_mapping=parsed.role_mapping,
            verify_cache_ttl=parsed.verify_cache_ttl,
            timeout=parsed.timeout,
            retries=parsed.retries,
        )

    # -- SSO ----------------------------------------------------------------------

    def get_login_button_config(self) -> SSOLoginConfig:
        return SSOLoginConfig(provider="mastra", text="Sign in with Mastra Cloud")

    def _redirect_uri(self, host_redirect_uri: str) -> str:
        # An explicit/derived callback_url wins; otherwise the host's callback URL.
        return self.callback_url or host_redirect_uri

    def _verifier_for(self, state: str) -> str:
        return self._pending.get_or_create(state, new_verifier)

    async def get_login_url(self, redirect_uri: str, state: str, return_to: str | None = None) -> str:
        verifier = self._verifier_for(state)
        query = {
            "project_id": self.project_id,
            "code_challenge": s256_challenge(verifier),
            "code_challenge_method": "S256",
            "redirect_uri": self._redirect_uri(redirect_uri),
            "state": encode_state(state, safe_return_to(return_to)),
        }
        return f"{self.cloud_base_url}/auth/oss?{urlencode(query)}"

    def get_login_cookies(self, redirect_uri: str, state: str) -> list[str]:
        payload = {
            "verifier": self._verifier_for(state),
            "state": state,
            "expiresAt": int(time.time()) + PKCE_MAX_AGE,
            # Extra to SPEC's {verifier, state, expiresAt}: the exchange must repeat it.
            "redirectUri": self._redirect_uri(redirect_uri),
        }
        sealed = self._sealer.seal_json(payload, aad=PKCE_COOKIE)
        return [set_cookie(self.pkce_cookie, sealed, max_age=PKCE_MAX_AGE)]

    def host_state_from_callback(self, state: str) -> str:
        decoded = decode_state(state)
        return decoded["csrf"] if decoded else ""

    def _read_pkce_cookie(self, cookie_header: str | None) -> dict[str, Any]:
        raw = parse_cookie_header(cookie_header).get(self.pkce_cookie.name)
        if not raw:
            raise SSOError("missing_verifier", "PKCE verifier cookie missing")
        try:
            data = self._sealer.unseal_json(raw, aad=PKCE_COOKIE)
        except SealError as exc:
            raise SSOError("pkce_invalid", "PKCE verifier cookie unreadable") from exc
        if not isinstance(data, dict) or not isinstance(data.get("verifier"), str):
            raise SSOError("pkce_invalid", "PKCE verifier cookie unreadable")
        expires = data.get("expiresAt")
        if not isinstance(expires, int | float) or expires <= time.time():
            raise SSOError("pkce_expired", "PKCE verifier expired")
        return data

    async def handle_callback(
        self, code: str, state: str, *, cookie_header: str | None = None, **_: Any
    ) -> SSOCallbackResult:
        if not code:
            raise SSOError("missing_code")
        pkce = self._read_pkce_cookie(cookie_header)
        decoded = decode_state(state)
        if decoded is None:
            raise SSOError("invalid_state")
        # The provider's cookie binds the verifier to the browser that started this login.
        if not same_secret(decoded["csrf"], pkce.get("state")):
            raise SSOError("state_mismatch")
        if not self._used_states.consume(sha256_hex(decoded["csrf"])):
            raise SSOError("invalid_state", "state already used")
        redirect_uri = pkce.get("redirectUri") or self.callback_url or ""
        token = await self._exchange(code, redirect_uri, pkce["verifier"])
        access_token = token["access_token"]
        user = await self._verify_remote(access_token, strict=True)
        if user is None:
            raise SSOError("verification_failed")
        expires_in = token.get("expires_in")
        expires_at = (
            utcnow() + timedelta(seconds=int(expires_in)) if isinstance(expires_in, int | float) else None
        )
        cookies = [
            clear_cookie(self.pkce_cookie),
            set_cookie(self.session_cookie, access_token, max_age=SESSION_MAX_AGE),
        ]
        return SSOCallbackResult(
            user=user,
            tokens=SSOTokens(access_token=access_token, expires_at=expires_at),
            cookies=cookies,
            return_to=decoded["returnTo"],
        )

    async def _exchange(self, code: str, redirect_uri: str, verifier: str) -> dict[str, Any]:
        body = {"code": code, "redirect_uri": redirect_uri, "code_verifier": verifier}
        try:
            response = await self.http.post("/auth/callback", json=body)
        except CloudNetworkError as exc:
            raise _unavailable("network_error", 503) from exc
        except CloudAPIError as exc:
            raise _unavailable("cloud_api_error", 502) from exc
        data = _json_or_none(response)
        if response.status_code >= 400 or not isinstance(data, dict) or not data.get("access_token"):
            error = data if isinstance(data, dict) else {}
            logger.warning(
                "Mastra Cloud token exchange failed: HTTP %d code=%s message=%s",
                response.status_code,
                str(error.get("code", ""))[:100],
                str(error.get("message", ""))[:200],
            )
            raise SSOError("token_exchange_failed")
        return data

    async def get_logout_url(self, redirect_uri: str, request: Request) -> str | None:
        token = self.get_session_id_from_request(request)
        if not token:
            return None
        query = urlencode({"post_logout_redirect_uri": redirect_uri, "id_token_hint": token})
        return f"{self.cloud_base_url}/auth/logout?{query}"

    # -- users ---------------------------------------------------------------------

    async def get_current_user(self, request: Request) -> EEUser | None:
        token = self.get_session_id_from_request(request) or bearer_token(request)
        return await self._verify(token) if token else None

    async def authenticate_token(self, token: str, request: Request | None = None) -> EEUser | None:
        return await self._verify(token) if token else None

    async def get_user(self, user_id: str) -> EEUser | None:
        return None  # Mastra Cloud offers no user lookup endpoint.

    async def _verify(self, token: str) -> EEUser | None:
        if not _sendable(token):
            return None
        key = sha256_hex(token)
        cached = self._verify_cache.get(key)
        if cached is not None:
            return cached
        user = await self._verify_remote(token)
        if user is not None and self.verify_cache_ttl > 0:
            self._verify_cache.set(key, user)
        return user

    async def _verify_remote(self, token: str, *, strict: bool = False) -> EEUser | None:
        """``/auth/verify``; errors are ``None`` (``strict``: network errors raise SSOError)."""
        try:
            response = await self.http.post("/auth/verify", token=token)
        except (CloudNetworkError, CloudAPIError) as exc:
            if strict:
                raise _unavailable("network_error", 503) from exc
            return None
        data = _json_or_none(response)
        if response.status_code >= 300 or not isinstance(data, dict):
            return None
        return _map_user(data)

    def invalidate(self, token: str) -> None:
        self._verify_cache.pop(sha256_hex(token))

    async def aclose(self) -> None:
        """Close the pooled Cloud API client (the host calls this at shutdown)."""
        await self.http.aclose()

    # -- sessions ------------------------------------------------------------------

    def get_session_id_from_request(self, request: Request) -> str | None:
        return request.cookies.get(self.session_cookie.name) or None

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session:
        raise NotImplementedError("Mastra Cloud issues sessions at the SSO callback")

    async def validate_session(self, session_id: str) -> Session | None:
        if not _sendable(session_id):
            return None
        try:
            response = await self.http.post("/auth/session/validate", token=session_id)
        except (CloudNetworkError, CloudAPIError):
            return None
        data = _json_or_none(response)
        if response.status_code >= 300 or not isinstance(data, dict) or not data.get("userId"):
            return None
        now = utcnow()
        expires_at = _parse_time(data.get("expiresAt"), now + timedelta(seconds=SESSION_MAX_AGE))
        if expires_at <= now:
            return None
        return Session(
            id=session_id,
            user_id=str(data["userId"]),
            created_at=_parse_time(data.get("createdAt"), now),
            expires_at=expires_at,
            last_seen_at=now,
        )

    async def refresh_session(self, session_id: str) -> Session | None:
        # Cloud owns the session lifetime; refreshing is re-validating.
        return await self.validate_session(session_id)

    async def destroy_session(self, session_id: str) -> None:
        if not _sendable(session_id):
            return
        self.invalidate(session_id)
        try:
            await self.http.post("/auth/session/destroy", token=session_id, project_header=False)
        except (CloudNetworkError, CloudAPIError) as exc:
            logger.warning("Mastra Cloud session destroy failed: %s", exc)

    def get_session_headers(self, session: Session) -> list[tuple[str, str]]:
        remaining = int((session.expires_at - utcnow()).total_seconds())
        max_age = max(0, min(SESSION_MAX_AGE, remaining))
        return [("set-cookie", set_cookie(self.session_cookie, session.id, max_age=max_age))]

    def get_clear_session_headers(self) -> list[tuple[str, str]]:
        return [
            ("set-cookie", clear_cookie(self.session_cookie)),
            ("set-cookie", clear_cookie(self.pkce_cookie)),
        ]


def _unavailable(code: str, status: int) -> SSOError:
    """SSOError carrying 502/503 so hosts that surface a status report Cloud as down."""
    error = SSOError(code, "Mastra Cloud is unavailable")
    error.status = status
    return error


#: What Cloud can have issued: an RFC 6750 ``b64token`` of bounded length. Anything else
#: (non-ASCII, NUL, spaces) is refused here: httpx cannot put it in a header, and a
#: transport error would be retried as if Cloud were down.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")
MAX_TOKEN_LENGTH = 8192


def _sendable(token: str | None) -> bool:
    return bool(token) and len(token) <= MAX_TOKEN_LENGTH and _TOKEN.fullmatch(token) is not None  # type: ignore[arg-type]


def _json_or_none(response: Any) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _map_user(data: dict[str, Any]) -> EEUser | None:
    if data.get("token_type") == "project_api_token" or (data.get("valid") is True and not data.get("sub")):
        return EEUser(
            id="api-token", metadata={"role": str(data.get("role") or "api"), "tokenType": "apikey"}
        )
    sub = data.get("sub")
    if not isinstance(sub, str) or not sub:
        return None
    metadata: dict[str, Any] = {}
    if isinstance(data.get("role"), str):
        metadata["role"] = data["role"]
    return EEUser(
        id=sub,
        email=data.get("email") if isinstance(data.get("email"), str) else None,
        name=data.get("name") if isinstance(data.get("name"), str) else None,
        avatar_url=data.get("avatar_url") if isinstance(data.get("avatar_url"), str) else None,
        metadata=metadata,
    )
