"""``OIDCAuth``: any OpenID Connect issuer (provider name ``oidc``; user, session, SSO).

Login: authorization code + PKCE S256 + nonce, all per login and bound to the
browser by the sealed ``mastra_oidc_login`` cookie ``{state, nonce, verifier, exp}``
(plus the ``redirect_uri`` the exchange must repeat). The callback refuses a state
that is not the one in that cookie, uses each state once, checks the RFC 9207
``iss`` response parameter, and validates the ID token (see :mod:`._tokens`).

Session: the core ``cookie`` session provider under ``mastra_oidc_session`` holding
the user snapshot, the ID token (logout hint) and, when issued, the refresh token.
When the IdP access token has expired, a session refresh redeems the refresh token;
an IdP refusal ends the session, so IdP-side revocation reaches us.

Bearer: access tokens for ``api_audience`` only, never ID tokens (see :mod:`._bearer`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

import httpx
import httpx2
from authlib.integrations.httpx_client import AsyncOAuth2Client
from mastra.core.ee.crypto import (
    JWKSUnavailable,
    SealError,
    TokenInvalid,
    clear_cookie,
    cookie_spec,
    new_secret,
    parse_cookie_header,
    set_cookie,
    sha256_hex,
)
from mastra.core.ee.errors import ProviderUnavailable, SSOError
from mastra.core.ee.models import EEUser, Session, SSOCallbackResult, SSOLoginConfig, SSOTokens, utcnow
from mastra.core.ee.options import ProviderOptions, as_provider_options
from mastra.core.ee.pool import PooledClient
from mastra.core.ee.request_auth import presented_session
from mastra.core.ee.sessions import CookieSessionProvider

from .._browser_login import (
    PendingLogins,
    UsedStates,
    build_sealer,
    same_secret,
)
from ._bearer import BearerVerifier
from ._discovery import DiscoveryError, OIDCMetadata
from ._options import OIDCOptions
from ._tokens import validate_id_token
from ._users import claims_to_user

if TYPE_CHECKING:
    from starlette.requests import Request

__all__ = ["OIDCAuth"]

logger = logging.getLogger("mastra.auth.cloud.oidc")

LOGIN_COOKIE = "mastra_oidc_login"
SESSION_COOKIE = "mastra_oidc_session"
LOGIN_MAX_AGE = 600
_PRIVATE_META = ("idToken", "refreshToken", "atExp", "user")


class OIDCAuth:
    owns_sessions = True

    def __init__(self, options: OIDCOptions) -> None:
        settings = options.settings
        self.settings = settings
        self.issuer = options.issuer
        self.client_id = options.client_id
        self.client_secret = options.client_secret
        self.redirect_uri = options.redirect_uri
        self.scopes = options.scopes
        # Bearer tokens stay off until an API audience distinct from client_id is set (S24).
        self.api_audience = options.api_audience
        self.token_endpoint_auth = options.endpoint_auth
        self.roles_claim = options.roles_claim
        self.label = options.label
        self.timeout = options.timeout
        self.metadata = OIDCMetadata(
            self.issuer, timeout=self.timeout, ttl=options.discovery_ttl, jwks_ttl=options.jwks_ttl
        )
        self.bearer: BearerVerifier | None = None
        if self.api_audience is not None:
            self.bearer = BearerVerifier(
                issuer=self.issuer,
                audience=self.api_audience,
                metadata=self.metadata,
                typed=options.typed_access_tokens,
            )
        self.login_cookie = cookie_spec(
            LOGIN_COOKIE, production=settings.is_production, public_url=settings.public_url
        )
        self._login_sealer = build_sealer(options, info="mastra-oidc-login")
        self.sessions = CookieSessionProvider.from_options(
            ProviderOptions(options.session_options(SESSION_COOKIE), settings)
        )
        self._pending: PendingLogins[tuple[str, str]] = PendingLogins(LOGIN_MAX_AGE)
        self._used_states = UsedStates(LOGIN_MAX_AGE + 60)
        # Pooled connections to the IdP: userinfo on httpx, token requests through
        # Authlib, whose client runs on httpx2 and gets one shared transport.
        self.http = PooledClient(lambda: httpx.AsyncClient(timeout=self.timeout))
        self.oauth_transport = PooledClient(httpx2.AsyncHTTPTransport)

    async def aclose(self) -> None:
        """Close the pooled IdP connections (the host calls this at shutdown)."""
        await self.http.aclose()
        await self.oauth_transport.aclose()

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> OIDCAuth:
        return cls(as_provider_options(options).parse(OIDCOptions))

    # -- SSO ----------------------------------------------------------------------

    def get_login_button_config(self) -> SSOLoginConfig:
        return SSOLoginConfig(provider="oidc", text=self.label)

    async def _md(self) -> dict[str, Any]:
        try:
            return await self.metadata.get()
        except DiscoveryError as exc:
            logger.warning("OIDC discovery failed: %s", exc)
            raise ProviderUnavailable("Identity provider unavailable") from exc

    def _login_secrets(self, state: str) -> tuple[str, str]:
        # (nonce, verifier): 256 bits each, per login (S2, S9).
        return self._pending.get_or_create(state, lambda: (new_secret(32), new_secret(32)))

    def _client(self, redirect_uri: str | None = None, scope: str | None = None) -> AsyncOAuth2Client:
        """A per-call Authlib client (it keeps per-call state: the fetched token) on the
        pooled transport; never closed itself, which would close the shared transport."""
        # Token requests send no scope: a refresh then keeps exactly the granted scope.
        return AsyncOAuth2Client(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method=self.token_endpoint_auth,
            scope=scope,
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.timeout,
            transport=self.oauth_transport.client(),
        )

    async def get_login_url(self, redirect_uri: str, state: str) -> str:
        md = await self._md()
        nonce, verifier = self._login_secrets(state)
        client = self._client(self.redirect_uri or redirect_uri, self.scopes)
        url, _ = client.create_authorization_url(
            md["authorization_endpoint"], state=state, code_verifier=verifier, nonce=nonce
        )
        return str(url)

    def get_login_cookies(self, redirect_uri: str, state: str) -> list[str]:
        nonce, verifier = self._login_secrets(state)
        payload = {
            "state": state,
            "nonce": nonce,
            "verifier": verifier,
            "exp": int(time.time()) + LOGIN_MAX_AGE,
            "redirect_uri": self.redirect_uri or redirect_uri,
        }
        sealed = self._login_sealer.seal_json(payload, aad=LOGIN_COOKIE)
        return [set_cookie(self.login_cookie, sealed, max_age=LOGIN_MAX_AGE)]

    def _read_login_cookie(self, cookie_header: str | None, state: str) -> dict[str, Any]:
        raw = parse_cookie_header(cookie_header).get(self.login_cookie.name)
        if not raw:
            raise SSOError("invalid_state", "login cookie missing")
        try:
            data = self._login_sealer.unseal_json(raw, aad=LOGIN_COOKIE)
        except SealError as exc:
            raise SSOError("invalid_state", "login cookie unreadable") from exc
        if not isinstance(data, dict) or not all(
            isinstance(data.get(k), str) for k in ("state", "nonce", "verifier")
        ):
            raise SSOError("invalid_state", "login cookie unreadable")
        if not isinstance(data.get("exp"), int) or data["exp"] <= time.time():
            raise SSOError("invalid_state", "login expired")
        if not same_secret(state, data["state"]):
            raise SSOError("state_mismatch", "state does not belong to this browser")
        return data

    async def handle_callback(
        self,
        code: str,
        state: str,
        *,
        cookie_header: str | None = None,
        iss: str | None = None,
        request: Request | None = None,
    ) -> SSOCallbackResult:
        """``iss``: the RFC 9207 response parameter; hosts may pass it, or the callback
        ``request`` it is read from. When the request is known and the IdP advertises
        the parameter, its absence is refused too (mix-up defence)."""
        login = self._read_login_cookie(cookie_header, state)
        if not self._used_states.consume(sha256_hex(state)):
            raise SSOError("invalid_state", "state already used")
        if not code:
            raise SSOError("missing_code")
        md = await self._callback_metadata()
        if iss is None and request is not None:
            iss = request.query_params.get("iss")
            if iss is None and md.get("authorization_response_iss_parameter_supported") is True:
                raise SSOError("issuer_mismatch", "iss response parameter missing")
        if iss is not None and iss != self.issuer:
            raise SSOError("issuer_mismatch", "iss response parameter does not match the issuer")

        token = await self._token_request(
            md,
            grant_type="authorization_code",
            code=code,
            code_verifier=login["verifier"],
            redirect_uri=login.get("redirect_uri") or self.redirect_uri,
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SSOError("invalid_id_token", "no id_token in the token response")
        claims = await self._validate_id_token(id_token, nonce=login["nonce"])
        claims = await self._merge_userinfo(md, claims, token.get("access_token"))
        user = claims_to_user(claims, issuer=self.issuer, roles_claim=self.roles_claim)

        meta = self._session_meta(user, id_token, token)
        if request is not None:
            meta["userAgent"] = request.headers.get("user-agent")
            meta["ip"] = request.client.host if request.client else None
        session = await self.sessions.create_session(user.id, meta)
        cookies = [
            clear_cookie(self.login_cookie),
            *(v for _, v in self.sessions.get_session_headers(session)),
        ]
        return SSOCallbackResult(
            user=user,
            tokens=SSOTokens(
                access_token=str(token.get("access_token", "")),
                refresh_token=token.get("refresh_token"),
                id_token=id_token,
                expires_at=_expires_at(token),
            ),
            cookies=cookies,
        )

    async def _callback_metadata(self) -> dict[str, Any]:
        try:
            return await self.metadata.get()
        except DiscoveryError as exc:
            logger.warning("OIDC discovery failed: %s", exc)
            raise SSOError("discovery_failed") from exc

    async def _token_request(self, md: dict[str, Any], **params: Any) -> dict[str, Any]:
        try:
            token = await self._client().fetch_token(md["token_endpoint"], **params)
        except (httpx.TransportError, httpx2.TransportError) as exc:
            # Authlib's client runs on httpx2; discovery and userinfo on httpx.
            raise SSOError("network_error", "identity provider unreachable") from exc
        except Exception as exc:
            logger.warning(
                "OIDC token request (%s) failed: %s %s",
                params.get("grant_type"),
                type(exc).__name__,
                str(exc)[:200],
            )
            raise SSOError("token_exchange_failed") from exc
        return dict(token)

    async def _validate_id_token(self, id_token: str, *, nonce: str | None) -> dict[str, Any]:
        await self._callback_metadata()
        try:
            keys, algorithms = await self.metadata.signing_keys()
            return await validate_id_token(
                id_token,
                keys,
                issuer=self.issuer,
                client_id=self.client_id,
                algorithms=algorithms,
                client_secret=self.client_secret,
                nonce=nonce,
            )
        except JWKSUnavailable as exc:
            logger.warning("OIDC ID token not checked, the IdP's keys are unavailable: %s", exc)
            raise SSOError("provider_unavailable", "identity provider unavailable") from exc
        except TokenInvalid as exc:
            logger.warning("OIDC ID token refused: %s", exc)
            raise SSOError("invalid_id_token") from exc

    async def _merge_userinfo(
        self, md: dict[str, Any], claims: dict[str, Any], access_token: Any
    ) -> dict[str, Any]:
        endpoint = md.get("userinfo_endpoint")
        if not endpoint or not isinstance(access_token, str):
            return claims
        try:
            response = await self.http.client().get(
                endpoint,
                headers={"Authorization": f"Bearer {access_token}", "Accept": "application/json"},
            )
            info = response.json() if response.status_code == 200 else None
        except (httpx.HTTPError, ValueError) as exc:
            raise SSOError("userinfo_failed") from exc
        if not isinstance(info, dict):
            raise SSOError("userinfo_failed")
        if info.get("sub") != claims["sub"]:
            raise SSOError("userinfo_mismatch", "userinfo sub differs from the ID token")
        # ID-token claims win: they are signed, the userinfo answer only adds to them.
        return {**info, **claims}

    @staticmethod
    def _session_meta(user: EEUser, id_token: str, token: dict[str, Any]) -> dict[str, Any]:
        meta: dict[str, Any] = {"user": user.to_json(), "idToken": id_token}
        if isinstance(token.get("refresh_token"), str):
            meta["refreshToken"] = token["refresh_token"]
            expires = _expires_at(token)
            meta["atExp"] = int(expires.timestamp()) if expires else int(time.time()) + 300
        return meta

    async def get_logout_url(self, redirect_uri: str, request: Request) -> str | None:
        payload = self.sessions.unseal(self.get_session_id_from_request(request))
        if payload is None:
            return None
        try:
            md = await self.metadata.get()
        except DiscoveryError:
            return None
        endpoint = md.get("end_session_endpoint")
        if not isinstance(endpoint, str):
            return None
        query: dict[str, str] = {}
        if isinstance(payload.meta.get("idToken"), str):
            query["id_token_hint"] = payload.meta["idToken"]
        query.update(post_logout_redirect_uri=redirect_uri, client_id=self.client_id)
        sep = "&" if "?" in endpoint else "?"
        return f"{endpoint}{sep}{urlencode(query)}"

    # -- users ---------------------------------------------------------------------

    async def get_current_user(self, request: Request) -> EEUser | None:
        # The session the host already validated for this request, else read here.
        session = await presented_session(request, self)
        return session.user if session is not None else None

    async def authenticate_token(self, token: str, request: Request | None = None) -> EEUser | None:
        """Bearer access-token JWTs for ``api_audience``; ``None`` for anything else,
        ID tokens included, and for every token while ``api_audience`` is unset."""
        if self.bearer is None or not token or token.count(".") != 2:
            return None
        try:
            claims = await self.bearer.verify(token)
        except TokenInvalid as exc:  # JWKSUnavailable propagates: a 503-class failure, not a bad token
            logger.debug("OIDC bearer token refused: %s", exc)
            return None
        return claims_to_user(claims, issuer=self.issuer, roles_claim=self.roles_claim)

    async def get_user(self, user_id: str) -> EEUser | None:
        return None  # OIDC has no standard user lookup by id

    # -- sessions (the core cookie mechanism under mastra_oidc_session) ---------------

    def _public(self, session: Session | None) -> Session | None:
        if session is None:
            return None
        snapshot = session.metadata.get("user")
        user = EEUser.model_validate(snapshot) if isinstance(snapshot, dict) else None
        if user is None:
            return None
        meta = {k: v for k, v in session.metadata.items() if k not in _PRIVATE_META}
        return session.model_copy(update={"user": user, "metadata": meta})

    def get_session_id_from_request(self, request: Request) -> str | None:
        return self.sessions.get_session_id_from_request(request)

    async def create_session(self, user_id: str, metadata: dict[str, Any] | None = None) -> Session:
        # A session made for a user another provider signed in carries no IdP snapshot:
        # record the id so validate_session (which reads users from snapshots) accepts it.
        meta = dict(metadata or {})
        if not isinstance(meta.get("user"), dict):
            meta["user"] = {"id": user_id}
        return await self.sessions.create_session(user_id, meta)

    async def validate_session(self, session_id: str) -> Session | None:
        return self._public(await self.sessions.validate_session(session_id))

    async def refresh_session(self, session_id: str) -> Session | None:
        refreshed = await self.sessions.refresh_session(session_id)
        if refreshed is None:
            return None
        payload = self.sessions.unseal(refreshed.id)
        meta = payload.meta if payload is not None else {}
        if (
            payload is None
            or not isinstance(meta.get("refreshToken"), str)
            or meta.get("atExp", 0) > time.time() + 30
        ):
            return self._public(refreshed)
        try:
            md = await self.metadata.get()
            token = await self._token_request(
                md, grant_type="refresh_token", refresh_token=meta["refreshToken"]
            )
            if isinstance(token.get("id_token"), str):
                claims = await self._validate_id_token(token["id_token"], nonce=None)
                if claims["sub"] != refreshed.user_id:
                    raise SSOError("invalid_id_token", "refreshed ID token is for another subject")
        except SSOError as exc:
            if exc.code in {"network_error", "provider_unavailable"}:
                return self._public(refreshed)  # the IdP is down: keep the session as is
            logger.info("OIDC refresh refused (%s); ending the session", exc.code)
            await self.sessions.destroy_session(refreshed.id)
            return None
        except DiscoveryError:
            return self._public(refreshed)
        meta["idToken"] = token.get("id_token") or meta.get("idToken")
        meta["refreshToken"] = token.get("refresh_token") or meta["refreshToken"]
        expires = _expires_at(token)
        meta["atExp"] = int(expires.timestamp()) if expires else int(time.time()) + 300
        payload.meta = meta
        return await self.validate_session(self.sessions.seal(payload))

    async def destroy_session(self, session_id: str) -> None:
        await self.sessions.destroy_session(session_id)

    def get_session_headers(self, session: Session) -> list[tuple[str, str]]:
        return self.sessions.get_session_headers(session)

    def get_clear_session_headers(self) -> list[tuple[str, str]]:
        return [*self.sessions.get_clear_session_headers(), ("set-cookie", clear_cookie(self.login_cookie))]

    async def list_sessions(self, user_id: str) -> list[Session]:
        return await self.sessions.list_sessions(user_id)

    async def revoke_session(self, user_id: str, handle: str) -> bool:
        return await self.sessions.revoke_session(user_id, handle)

    async def revoke_user_sessions(self, user_id: str, except_handle: str | None = None) -> int:
        return await self.sessions.revoke_user_sessions(user_id, except_handle)


def _expires_at(token: dict[str, Any]) -> datetime | None:
    expires_in = token.get("expires_in")
    if isinstance(expires_in, int | float) and not isinstance(expires_in, bool):
        return utcnow() + timedelta(seconds=int(expires_in))
    return None
