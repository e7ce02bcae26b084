"""Sans-I/O operations shared by the sync and async clients.

Each operation is a generator that yields :class:`Call` (perform this request and
send the response back) or :class:`Sleep` (wait, then resume) and returns the parsed
result. The two clients only differ in how they drive it, so retry rules, error texts
and parsing live here once.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from ..ee.models import AuditEvent, AuditFilter, AuditPage, format_timestamp
from ._errors import error_for

__all__ = [
    "EXPORT_FORMATS",
    "Call",
    "Op",
    "Sleep",
    "audit_get",
    "audit_list",
    "audit_params",
    "audit_stats",
    "capabilities",
    "check",
    "me",
    "normalise_prefix",
    "revoke_other_sessions",
    "revoke_session",
    "sessions",
    "sign_in",
    "sign_out",
    "sign_up",
    "start_sso",
]

T = TypeVar("T")
EXPORT_FORMATS = ("json", "csv", "jsonl")
ME_RETRIES = 3


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # prefix-relative
    params: list[tuple[str, str]] | None = None
    json: Any = None


@dataclass(frozen=True)
class Sleep:
    seconds: float


Op = Generator[Call | Sleep, httpx.Response | None, T]


def normalise_prefix(prefix: str | None) -> str:
    """Trim, add a leading ``/``, drop a trailing ``/``; an explicitly empty prefix means none."""
    if prefix is None:
        return "/api"
    text = prefix.strip().strip("/")
    return f"/{text}" if text else ""


def _body(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def check(response: httpx.Response, default: str) -> Any:
    """The JSON body of a 2xx response, else the matching :class:`MastraClientError`."""
    body = _body(response)
    if response.is_success:
        return body
    raise error_for(response.status_code, body, default, response.headers.get("retry-after"))


def _call(response: httpx.Response | None) -> httpx.Response:
    assert response is not None, "the driver must send the response of a Call"
    return response


# -- auth ---------------------------------------------------------------------------------


def capabilities() -> Op[dict[str, Any]]:
    response = _call((yield Call("GET", "/auth/capabilities")))
    if not response.is_success:
        raise error_for(
            response.status_code, None, f"Failed to fetch auth capabilities: {response.status_code}"
        )
    result: dict[str, Any] = response.json()
    return result


def me() -> Op[dict[str, Any] | None]:
    """``/auth/me``; retried only on 503 (3 retries, 0.5 s·2ⁿ capped at 8 s)."""
    attempt = 0
    while True:
        response = _call((yield Call("GET", "/auth/me")))
        if response.is_success:
            result: dict[str, Any] | None = response.json()
            return result
        if response.status_code != 503 or attempt >= ME_RETRIES:
            raise error_for(
                response.status_code, None, f"Failed to fetch current user: {response.status_code}"
            )
        yield Sleep(min(0.5 * 2**attempt, 8.0))
        attempt += 1


def sign_in(email: str, password: str) -> Op[dict[str, Any]]:
    response = _call(
        (yield Call("POST", "/auth/credentials/sign-in", json={"email": email, "password": password}))
    )
    result: dict[str, Any] = check(response, "Invalid email or password")
    return result


def sign_up(email: str, password: str, name: str | None = None) -> Op[dict[str, Any]]:
    payload: dict[str, Any] = {"email": email, "password": password}
    if name:
        payload["name"] = name
    response = _call((yield Call("POST", "/auth/credentials/sign-up", json=payload)))
    result: dict[str, Any] = check(response, "Failed to create account")
    return result


def sign_out() -> Op[dict[str, Any]]:
    response = _call((yield Call("POST", "/auth/logout", json={})))
    result: dict[str, Any] = check(response, f"Failed to logout: {response.status_code}")
    return result


def start_sso(redirect: str | None = None) -> Op[str]:
    """The IdP login URL. The state cookie lands in the client's cookie jar."""
    params = [("redirect_uri", redirect)] if redirect else None
    response = _call((yield Call("GET", "/auth/sso/login", params=params)))
    body = check(response, f"Failed to initiate SSO login: {response.status_code}")
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        raise error_for(502, body, "Failed to initiate SSO login: no url")
    return str(body["url"])


def sessions() -> Op[list[dict[str, Any]]]:
    response = _call((yield Call("GET", "/auth/sessions")))
    body = check(response, "Failed to list sessions")
    return list(body.get("sessions", []))


def revoke_session(handle: str) -> Op[bool]:
    response = _call((yield Call("DELETE", f"/auth/sessions/{quote(handle, safe='')}")))
    body = check(response, "Failed to revoke session")
    return bool(body.get("success", True))


def revoke_other_sessions() -> Op[int]:
    response = _call((yield Call("DELETE", "/auth/sessions")))
    body = check(response, "Failed to revoke sessions")
    return int(body.get("revoked", 0))


# -- audit --------------------------------------------------------------------------------

_FILTER_KEYS = {
    "actor_id": "actorId",
    "actor_type": "actorType",
    "resource_type": "resourceType",
    "resource_id": "resourceId",
    "outcome": "outcome",
    "action_prefix": "actionPrefix",
    "start_date": "startDate",
    "end_date": "endDate",
}


def _text(value: Any) -> str:
    return format_timestamp(value) if isinstance(value, datetime) else str(value)


def audit_params(
    filter: AuditFilter | Mapping[str, Any] | None = None, **kwargs: Any
) -> list[tuple[str, str]]:
    """Query parameters of SPEC 9.6 from an :class:`AuditFilter` and/or snake_case keywords."""
    values: dict[str, Any] = {}
    if isinstance(filter, AuditFilter):
        values.update(filter.model_dump(exclude_none=True, by_alias=False))
    elif filter:
        values.update(filter)
    values.update({k: v for k, v in kwargs.items() if v is not None})
    unknown = set(values) - set(_FILTER_KEYS) - {"action"}
    if unknown:
        raise TypeError(f"unknown audit filter: {', '.join(sorted(unknown))}")
    params: list[tuple[str, str]] = []
    action = values.pop("action", None)
    if isinstance(action, str):
        params.append(("action", action))
    elif action:
        params.extend(("action", str(a)) for a in action)
    params.extend((_FILTER_KEYS[key], _text(value)) for key, value in values.items())
    return params


def audit_list(params: list[tuple[str, str]], page: int, per_page: int) -> Op[AuditPage]:
    call = Call("GET", "/audit", params=[*params, ("page", str(page)), ("perPage", str(per_page))])
    body = check(_call((yield call)), "Failed to list audit events")
    return AuditPage.model_validate(body)


def audit_get(event_id: str) -> Op[AuditEvent]:
    body = check(_call((yield Call("GET", f"/audit/{quote(event_id, safe='')}"))), "Audit event not found")
    return AuditEvent.model_validate(body)


def audit_stats(params: list[tuple[str, str]]) -> Op[list[dict[str, Any]]]:
    body = check(
        _call((yield Call("GET", "/audit/stats", params=[*params, ("bucket", "hour")]))),
        "Failed to load stats",
    )
    return list(body.get("buckets", []))
