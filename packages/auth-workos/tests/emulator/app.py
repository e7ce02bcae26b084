"""A loopback emulator of the WorkOS API endpoints the provider uses.

Shapes follow WorkOS's published API reference (User, OrganizationMembership, session,
JWKS, audit-log event, portal link, authenticate response); the official SDK parses
every response, so a shape error fails the tests. Behaviour worth emulating:

* ``/user_management/authorize`` 302s to the redirect URI with a single-use code for
  ``login_as`` (the user the "browser" signs in as);
* ``/user_management/authenticate``: ``authorization_code`` and ``refresh_token``
  grants; refresh tokens are single use; revoked sessions refuse refresh; access
  tokens are RS256 JWTs with ``sid``, ``org_id``, ``role``, ``roles``,
  ``permissions``, ``auth_time``, ``exp`` (``access_token_ttl``, may be negative);
* the JWKS endpoint serves the current and previous keys; ``rotate_key()`` switches;
* audit-log events are recorded; ``audit_fail_times`` makes the next N answer 500;
* audit-log exports (``exports``, see :mod:`.exports`): pending, then ready with a
  presigned CSV of the events pushed for that organization and range;
* ``down = True`` answers 503 everywhere (WorkOS outage).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from ._keys import SigningKey, now
from .exports import ExportStore

API_KEY = "sk_test_emulator_key_000000000000"
CLIENT_ID = "client_01EMULATOR"


def _iso(ts: float | None = None) -> str:
    value = datetime.fromtimestamp(ts if ts is not None else time.time(), UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _id(prefix: str) -> str:
    return f"{prefix}_01{secrets.token_hex(12).upper()}"


def _error(status: int, message: str, code: str | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"message": message, **extra}
    if code:
        body["code"] = code
    return JSONResponse(body, status_code=status)


@dataclass
class WorkOSEmulator:
    api_key: str = API_KEY
    client_id: str = CLIENT_ID
    access_token_ttl: int = 300
    base_url: str = ""  # set once served; used as the token issuer
    down: bool = False
    audit_fail_times: int = 0
    audit_status: int = 500
    login_as: str | None = None
    next_session_extra: dict[str, Any] = field(default_factory=dict)  # ip_address, user_agent

    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    memberships: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refresh_tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    audit_events: list[dict[str, Any]] = field(default_factory=list)
    audit_attempts: int = 0
    portal_links: list[dict[str, Any]] = field(default_factory=list)
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    keys: list[SigningKey] = field(default_factory=lambda: [SigningKey.generate()])
    exports: ExportStore = field(init=False)

    def __post_init__(self) -> None:
        self.exports = ExportStore(self.audit_events)

    # -- test controls ------------------------------------------------------------

    def add_user(
        self, email: str, first: str | None = None, last: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        user = {
            "object": "user",
            "id": _id("user"),
            "email": email,
            "first_name": first,
            "last_name": last,
            "profile_picture_url": extra.pop("profile_picture_url", None),
            "email_verified": extra.pop("email_verified", True),
            "external_id": None,
            "last_sign_in_at": None,
            "created_at": _iso(),
            "updated_at": _iso(),
            "metadata": {},
            "locale": None,
            **extra,
        }
        self.users[user["id"]] = user
        return user

    def add_membership(
        self, user_id: str, org_id: str, roles: list[str], status: str = "active"
    ) -> dict[str, Any]:
        membership = {
            "id": _id("om"),
            "user_id": user_id,
            "organization_id": org_id,
            "status": status,
            "roles": roles,
        }
        self.memberships[membership["id"]] = membership
        return membership

    def set_roles(self, membership_id: str, roles: list[str]) -> None:
        self.memberships[membership_id]["roles"] = list(roles)

    def rotate_key(self) -> SigningKey:
        key = SigningKey.generate()
        self.keys = [key, self.keys[0]]  # current + previous
        return key

    @property
    def current_key(self) -> SigningKey:
        return self.keys[0]

    def issuer(self) -> str:
        return f"{self.base_url}/user_management/{self.client_id}"

    def mint_access_token(self, sid: str, *, ttl: int | None = None, key: SigningKey | None = None) -> str:
        session = self.sessions[sid]
        roles = self._roles(session["user_id"], session["organization_id"])
        issued = now()
        claims: dict[str, Any] = {
            "iss": self.issuer(),
            "sub": session["user_id"],
            "sid": sid,
            "jti": secrets.token_hex(8),
            "iat": issued,
            "auth_time": session["auth_time"],
            "exp": issued + (self.access_token_ttl if ttl is None else ttl),
        }
        if session["organization_id"]:
            claims.update(
                {
                    "org_id": session["organization_id"],
                    "role": roles[0] if roles else "member",
                    "roles": roles,
                    "permissions": session.get("permissions", []),
                }
            )
        return (key or self.current_key).sign(claims)

    def mint_id_token(self, sid: str, **claims: Any) -> str:
        """An OIDC ID token for the session's user (``aud`` = client id), signed with the
        same key as access tokens, plus ``claims`` such as ``nonce`` or ``at_hash``."""
        session = self.sessions[sid]
        issued = now()
        body: dict[str, Any] = {
            "iss": self.issuer(),
            "sub": session["user_id"],
            "aud": self.client_id,
            "sid": sid,
            "iat": issued,
            "auth_time": session["auth_time"],
            "exp": issued + self.access_token_ttl,
            "email": self.users[session["user_id"]]["email"],
        }
        body.update(claims)
        return self.current_key.sign(body)

    def start_session(self, user_id: str, org_id: str | None = None, **extra: Any) -> str:
        sid = _id("session")
        self.sessions[sid] = {
            "user_id": user_id,
            "organization_id": org_id,
            "auth_time": now(),
            "status": "active",
            "created_at": _iso(),
            **extra,
        }
        return sid

    # -- helpers ---------------------------------------------------------------------

    def _roles(self, user_id: str, org_id: str | None) -> list[str]:
        for m in self.memberships.values():
            if m["user_id"] == user_id and m["organization_id"] == org_id and m["status"] == "active":
                return list(m["roles"])
        return []

    def _org_of(self, user_id: str) -> str | None:
        orgs = [m["organization_id"] for m in self.memberships.values() if m["user_id"] == user_id]
        return orgs[0] if len(orgs) == 1 else None

    def _membership_json(self, m: dict[str, Any]) -> dict[str, Any]:
        roles = [{"slug": r} for r in m["roles"]]
        return {
            "object": "organization_membership",
            "id": m["id"],
            "user_id": m["user_id"],
            "organization_id": m["organization_id"],
            "organization_name": "Emulated Org",
            "status": m["status"],
            "directory_managed": False,
            "role": roles[0] if roles else {"slug": "member"},
            "roles": roles,
            "user": self.users[m["user_id"]],
            "created_at": _iso(),
            "updated_at": _iso(),
        }

    def _issue_tokens(self, sid: str) -> dict[str, Any]:
        session = self.sessions[sid]
        refresh = secrets.token_urlsafe(24)
        self.refresh_tokens[refresh] = {"sid": sid, "used": False}
        body: dict[str, Any] = {
            "user": self.users[session["user_id"]],
            "access_token": self.mint_access_token(sid),
            "refresh_token": refresh,
            "authentication_method": "SSO",
        }
        if session["organization_id"]:
            body["organization_id"] = session["organization_id"]
        return body

    @staticmethod
    def _page(items: list[dict[str, Any]], request: Request) -> dict[str, Any]:
        limit = int(request.query_params.get("limit") or 10)
        after = request.query_params.get("after")
        start = 0
        if after:
            ids = [item["id"] for item in items]
            start = ids.index(after) + 1 if after in ids else len(items)
        chunk = items[start : start + limit]
        more = start + limit < len(items)
        return {
            "object": "list",
            "data": chunk,
            "list_metadata": {"before": None, "after": chunk[-1]["id"] if more else None},
        }

    # -- the ASGI app --------------------------------------------------------------

    def app(self) -> Starlette:
        emu = self

        def authed(handler: Any) -> Any:
            async def wrapper(request: Request) -> Response:
                emu.requests.append((request.method, request.url.path))
                if emu.down:
                    return _error(503, "Service Unavailable")
                if request.headers.get("authorization") != f"Bearer {emu.api_key}":
                    return _error(401, "Unauthorized")
                return await handler(request)

            return wrapper

        def public(handler: Any) -> Any:
            async def wrapper(request: Request) -> Response:
                emu.requests.append((request.method, request.url.path))
                if emu.down:
                    return _error(503, "Service Unavailable")
                return await handler(request)

            return wrapper

        async def authorize(request: Request) -> Response:
            params = dict(request.query_params)
            emu.authorize_requests.append(params)
            if params.get("client_id") != emu.client_id or params.get("response_type") != "code":
                return _error(400, "invalid authorization request")
            user_id = emu.login_as
            if user_id is None:
                return _error(400, "no user signs in (set login_as)")
            code = secrets.token_urlsafe(16)
            emu.codes[code] = {
                "user_id": user_id,
                "org_id": emu._org_of(user_id),
                "expires": time.time() + 600,
            }
            query = {"code": code}
            if "state" in params:
                query["state"] = params["state"]
            return RedirectResponse(f"{params['redirect_uri']}?{urlencode(query)}", status_code=302)

        async def authenticate(request: Request) -> Response:
            body = await request.json()
            if body.get("client_id") != emu.client_id or body.get("client_secret") != emu.api_key:
                return JSONResponse({"error": "invalid_client", "error_description": "Invalid client"}, 401)
            grant = body.get("grant_type")
            if grant == "authorization_code":
                entry = emu.codes.pop(body.get("code", ""), None)
                if entry is None or entry["expires"] < time.time():
                    return JSONResponse({"error": "invalid_grant", "error_description": "Invalid code"}, 400)
                extra, emu.next_session_extra = emu.next_session_extra, {}
                sid = emu.start_session(entry["user_id"], entry["org_id"], **extra)
                return JSONResponse(emu._issue_tokens(sid))
            if grant == "refresh_token":
                entry = emu.refresh_tokens.get(body.get("refresh_token", ""))
                if entry is None or entry["used"]:
                    return JSONResponse(
                        {"error": "invalid_grant", "error_description": "Invalid refresh token"}, 400
                    )
                entry["used"] = True
                session = emu.sessions[entry["sid"]]
                if session["status"] != "active":
                    return JSONResponse(
                        {"error": "invalid_grant", "error_description": "Session revoked"}, 400
                    )
                if body.get("organization_id"):
                    session["organization_id"] = body["organization_id"]
                return JSONResponse(emu._issue_tokens(entry["sid"]))
            return JSONResponse({"error": "unsupported_grant_type"}, 400)

        async def jwks(request: Request) -> Response:
            if request.path_params["client_id"] != emu.client_id:
                return _error(404, "Not found")
            return JSONResponse({"keys": [k.jwk() for k in emu.keys]})

        async def get_user(request: Request) -> Response:
            user = emu.users.get(request.path_params["user_id"])
            if user is None:
                return _error(404, "User not found", "entity_not_found")
            return JSONResponse(user)

        async def list_users(request: Request) -> Response:
            users = list(emu.users.values())
            email = request.query_params.get("email")
            if email:
                users = [u for u in users if u["email"].lower() == email.lower()]
            org = request.query_params.get("organization_id")
            if org:
                members = {m["user_id"] for m in emu.memberships.values() if m["organization_id"] == org}
                users = [u for u in users if u["id"] in members]
            return JSONResponse(emu._page(users, request))

        async def list_memberships(request: Request) -> Response:
            user_id = request.query_params.get("user_id")
            org_id = request.query_params.get("organization_id")
            if not user_id and not org_id:
                return _error(422, "user_id or organization_id is required")
            statuses = (request.query_params.get("statuses") or "active").split(",")
            items = [
                emu._membership_json(m)
                for m in emu.memberships.values()
                if (not user_id or m["user_id"] == user_id)
                and (not org_id or m["organization_id"] == org_id)
                and m["status"] in statuses
            ]
            return JSONResponse(emu._page(items, request))

        async def update_membership(request: Request) -> Response:
            m = emu.memberships.get(request.path_params["membership_id"])
            if m is None:
                return _error(404, "Organization membership not found", "entity_not_found")
            body = await request.json()
            if "role_slugs" in body:
                m["roles"] = list(body["role_slugs"])
            elif "role_slug" in body:
                m["roles"] = [body["role_slug"]]
            return JSONResponse(emu._membership_json(m))

        async def user_sessions(request: Request) -> Response:
            user_id = request.path_params["user_id"]
            items = [
                {
                    "object": "session",
                    "id": sid,
                    "ip_address": s.get("ip_address"),
                    "user_agent": s.get("user_agent"),
                    "user_id": s["user_id"],
                    "organization_id": s["organization_id"],
                    "auth_method": "sso",
                    "status": s["status"],
                    "expires_at": _iso(time.time() + 86400),
                    "ended_at": None if s["status"] == "active" else _iso(),
                    "created_at": s["created_at"],
                    "updated_at": _iso(),
                }
                for sid, s in emu.sessions.items()
                if s["user_id"] == user_id
            ]
            return JSONResponse(emu._page(items, request))

        async def revoke_session(request: Request) -> Response:
            sid = (await request.json()).get("session_id")
            session = emu.sessions.get(sid)
            if session is None:
                return _error(400, "Session not found")
            session["status"] = "revoked"
            return Response(status_code=204)

        async def logout(request: Request) -> Response:
            return RedirectResponse(request.query_params.get("return_to") or "/", status_code=302)

        async def audit_event(request: Request) -> Response:
            emu.audit_attempts += 1
            if emu.audit_fail_times > 0:
                emu.audit_fail_times -= 1
                return _error(emu.audit_status, "audit log service failure")
            body = await request.json()
            key = request.headers.get("idempotency-key")
            if any(e["idempotency_key"] == key for e in emu.audit_events):
                return JSONResponse({"success": True})
            emu.audit_events.append({**body, "idempotency_key": key})
            return JSONResponse({"success": True}, status_code=201)

        async def portal_link(request: Request) -> Response:
            body = await request.json()
            emu.portal_links.append(body)
            return JSONResponse(
                {"link": f"https://setup.workos.test/portal/launch?secret={secrets.token_hex(8)}"}
            )

        async def create_export(request: Request) -> Response:
            return await emu.exports.create(request, _iso())

        async def get_export(request: Request) -> Response:
            return await emu.exports.get(request, _iso())

        return Starlette(
            routes=[
                Route("/user_management/authorize", public(authorize), methods=["GET"]),
                Route("/user_management/authenticate", public(authenticate), methods=["POST"]),
                Route("/sso/jwks/{client_id}", public(jwks), methods=["GET"]),
                Route("/user_management/users", authed(list_users), methods=["GET"]),
                Route("/user_management/users/{user_id}", authed(get_user), methods=["GET"]),
                Route("/user_management/users/{user_id}/sessions", authed(user_sessions), methods=["GET"]),
                Route("/user_management/organization_memberships", authed(list_memberships), methods=["GET"]),
                Route(
                    "/user_management/organization_memberships/{membership_id}",
                    authed(update_membership),
                    methods=["PUT"],
                ),
                Route("/user_management/sessions/revoke", authed(revoke_session), methods=["POST"]),
                Route("/user_management/sessions/logout", public(logout), methods=["GET"]),
                Route("/audit_logs/events", authed(audit_event), methods=["POST"]),
                Route("/portal/generate_link", authed(portal_link), methods=["POST"]),
                Route("/audit_logs/exports", authed(create_export), methods=["POST"]),
                Route("/audit_logs/exports/{export_id}", authed(get_export), methods=["GET"]),
                Route("/_exports/{export_id}.csv", public(emu.exports.download), methods=["GET"]),
            ]
        )
