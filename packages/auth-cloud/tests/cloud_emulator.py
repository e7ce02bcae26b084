"""A faithful loopback emulator of the Mastra Cloud auth API (SPEC 10.3 endpoints and
shapes): hosted login (auto-approves as ``login_as``), PKCE-checked single-use codes,
token verification with revocation, session validate/destroy, and fault injection."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route


@dataclass
class CloudUser:
    sub: str
    email: str
    name: str | None = None
    avatar_url: str | None = None
    role: str = "member"

    def verify_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"sub": self.sub, "email": self.email, "role": self.role}
        if self.name:
            body["name"] = self.name
        if self.avatar_url:
            body["avatar_url"] = self.avatar_url
        return body


@dataclass
class CloudEmulator:
    project_id: str = "proj_test"
    login_as: CloudUser = field(
        default_factory=lambda: CloudUser("user_1", "ann@example.com", "Ann", role="admin")
    )
    api_tokens: set[str] = field(default_factory=set)
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    tokens: dict[str, dict[str, Any]] = field(default_factory=dict)
    calls: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    fail_next: list[int] = field(default_factory=list)  # statuses to answer next, in order
    client_ports: list[int] = field(default_factory=list)  # caller's TCP port per API call
    down: bool = False  # every API call answers 503

    def count(self, path: str) -> int:
        return sum(1 for p, _ in self.calls if p == path)

    @property
    def connections(self) -> int:
        """Distinct TCP connections the API calls arrived on."""
        return len(set(self.client_ports))

    def revoke(self, token: str) -> None:
        self.tokens[token]["revoked"] = True

    def _fault(self, request: Request) -> Response | None:
        self.calls.append((request.url.path, dict(request.headers)))
        if request.client is not None:
            self.client_ports.append(request.client.port)  # one port per TCP connection
        if self.down:
            return JSONResponse({"message": "unavailable"}, status_code=503)
        if self.fail_next:
            return JSONResponse({"message": "injected"}, status_code=self.fail_next.pop(0))
        return None

    def _bearer(self, request: Request) -> dict[str, Any] | None:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        record = self.tokens.get(token) if scheme.lower() == "bearer" else None
        if record is None or record["revoked"] or record["expires"] < time.time():
            return None
        return record

    async def oss(self, request: Request) -> Response:
        q = request.query_params
        if q.get("project_id") != self.project_id or q.get("code_challenge_method") != "S256":
            return JSONResponse({"code": "invalid_request"}, status_code=400)
        if not q.get("code_challenge") or not q.get("redirect_uri") or not q.get("state"):
            return JSONResponse({"code": "invalid_request"}, status_code=400)
        code = secrets.token_urlsafe(24)
        self.codes[code] = {
            "user": self.login_as,
            "challenge": q["code_challenge"],
            "redirect_uri": q["redirect_uri"],
            "used": False,
            "expires": time.time() + 60,
        }
        sep = "&" if "?" in q["redirect_uri"] else "?"
        return RedirectResponse(
            f"{q['redirect_uri']}{sep}{urlencode({'code': code, 'state': q['state']})}", 302
        )

    async def callback(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        if request.headers.get("x-project-id") != self.project_id:
            return JSONResponse({"code": "invalid_project", "message": "bad project"}, status_code=401)
        body = await request.json()
        record = self.codes.get(body.get("code", ""))
        if record is None or record["used"] or record["expires"] < time.time():
            return JSONResponse({"code": "invalid_grant", "message": "code invalid or used"}, status_code=400)
        record["used"] = True  # single use, even when the rest fails (like a real AS)
        digest = hashlib.sha256(str(body.get("code_verifier", "")).encode()).digest()
        challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
        if challenge != record["challenge"]:
            return JSONResponse({"code": "invalid_grant", "message": "PKCE mismatch"}, status_code=400)
        if body.get("redirect_uri") != record["redirect_uri"]:
            return JSONResponse(
                {"code": "invalid_grant", "message": "redirect_uri mismatch"}, status_code=400
            )
        token = self.issue(record["user"])
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 86400})

    def issue(self, user: CloudUser, ttl: float = 86400) -> str:
        token = "cloud_" + secrets.token_urlsafe(32)
        now = time.time()
        self.tokens[token] = {"user": user, "revoked": False, "created": now, "expires": now + ttl}
        return token

    async def verify(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        if request.headers.get("x-project-id") != self.project_id:
            return JSONResponse({"message": "bad project"}, status_code=401)
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and token in self.api_tokens:
            return JSONResponse({"valid": True, "role": "api", "token_type": "project_api_token"})
        record = self._bearer(request)
        if record is None:
            return JSONResponse({"message": "invalid token"}, status_code=401)
        return JSONResponse(record["user"].verify_body())

    async def session_validate(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        record = self._bearer(request)
        if record is None:
            return JSONResponse({"message": "invalid session"}, status_code=401)
        return JSONResponse(
            {
                "userId": record["user"].sub,
                "createdAt": int(record["created"] * 1000),
                "expiresAt": int(record["expires"] * 1000),
                "projectId": self.project_id,
            }
        )

    async def session_destroy(self, request: Request) -> Response:
        if (fault := self._fault(request)) is not None:
            return fault
        _scheme, _, token = request.headers.get("authorization", "").partition(" ")
        if token in self.tokens:
            self.tokens[token]["revoked"] = True
        return JSONResponse({"success": True})

    async def logout(self, request: Request) -> Response:
        target = request.query_params.get("post_logout_redirect_uri", "/")
        return RedirectResponse(target, 302)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/auth/oss", self.oss, methods=["GET"]),
                Route("/auth/callback", self.callback, methods=["POST"]),
                Route("/auth/verify", self.verify, methods=["POST"]),
                Route("/auth/session/validate", self.session_validate, methods=["POST"]),
                Route("/auth/session/destroy", self.session_destroy, methods=["POST"]),
                Route("/auth/logout", self.logout, methods=["GET"]),
            ]
        )
