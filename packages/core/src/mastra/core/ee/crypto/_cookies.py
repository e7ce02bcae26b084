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


def uses_secure_cookies(*, production: bool, public_url: str | None) -> bool:
    """S8: ``Secure`` always in production, and in development when the public origin is https."""
    return production or bool(public_url and public_url.strip().lower().startswith("https://"))


def cookie_spec(
    base: str, *, production: bool, public_url: str | None, domain: str | None = None
) -> CookieSpec:
    """The one S8 rule for every cookie the project names itself (SPEC 8.1).

    Production: ``__Host-<base>`` (which forbids ``Domain``), or ``__Secure-<base>`` when a
    ``domain`` is set, and always ``Secure`` (browsers ignore both prefixes without it).
    Development: ``<base>``, ``Secure`` when ``public_url`` is https.
    """
    name = base
    if production:
        name = f"__Secure-{base}" if domain else f"__Host-{base}"
    secure = uses_secure_cookies(production=production, public_url=public_url)
    return CookieSpec(name=name, secure=secure, domain=domain)


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


__all__ = [
    "CookieSpec",
    "clear_cookie",
    "cookie_spec",
    "parse_cookie_header",
    "set_cookie",
    "uses_secure_cookies",
]
