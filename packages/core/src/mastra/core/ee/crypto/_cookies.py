"""Cookie naming and ``Set-Cookie`` building (SPEC 8.1, S8)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CookieSpec:
    """Where a project cookie lives: its final name and shared attributes."""

    name: str
    secure: bool = False
    domain: str | None = None
    same_site: str = "Lax"
    http_only: bool = True


def cookie_name(base: str, *, production: bool, domain: str | None = None) -> str:
    """``__Host-`` in production (no Domain allowed); ``__Secure-`` when a Domain is set."""
    if not production:
        return base
    return f"__Secure-{base}" if domain else f"__Host-{base}"


def _attributes(spec: CookieSpec) -> str:
    parts = ["Path=/"]
    if spec.http_only:
        parts.append("HttpOnly")
    parts.append(f"SameSite={spec.same_site}")
    return "; ".join(parts)


def set_cookie(spec: CookieSpec, value: str, *, max_age: int | None) -> str:
    header = f"{spec.name}={value}; {_attributes(spec)}"
    if max_age is not None:
        header += f"; Max-Age={max(0, int(max_age))}"
    if spec.domain:
        header += f"; Domain={spec.domain}"
    if spec.secure:
        header += "; Secure"
    return header


def clear_cookie(spec: CookieSpec) -> str:
    return set_cookie(spec, "", max_age=0)


def parse_cookie_header(header: str | None) -> dict[str, str]:
    """Lenient ``Cookie`` header parsing: a malformed pair never drops the others."""
    result: dict[str, str] = {}
    if not header:
        return result
    for chunk in header.split(";"):
        name, sep, value = chunk.strip().partition("=")
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        result.setdefault(name.strip(), value)
    return result


__all__ = ["CookieSpec", "clear_cookie", "cookie_name", "parse_cookie_header", "set_cookie"]
