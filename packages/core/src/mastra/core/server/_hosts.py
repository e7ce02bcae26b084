"""Which ``Host`` a request may name (S22), and the guard that refuses the rest.

The server builds absolute URLs (reset links, the SSO ``redirect_uri``, the logout
return) and compares ``Origin`` headers; if any ``Host`` were accepted, a DNS
rebinding page or a forged header could steer both. Allowed are:

* the host of ``MASTRA_PUBLIC_URL`` and of every trusted origin;
* ``MASTRA_ALLOWED_HOSTS`` (exact names, or ``*.example.com`` for any subdomain);
* in development, the loopback names (``serve`` adds the address it binds to
  to ``allowed_hosts``).

Ports are not compared (a host name is what DNS rebinding forges). Behind trusted
proxies ``X-Forwarded-Host`` is checked the same way, since it then names the host.

The liveness and readiness probes (``<prefix>/system/health``, ``/system/ready``) are
exempt: orchestrators probe a pod by its IP, which no allow-list can name ahead of
time, and those answers build no URL and carry no secret.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ._paths import relative_to_prefix
from ._responses import error_response

if TYPE_CHECKING:
    from ..ee.settings import Settings

__all__ = ["LOOPBACK_HOSTS", "UNSPECIFIED_ADDRESSES", "AllowedHosts", "HostGuard", "hostname_of"]

logger = logging.getLogger("mastra.server")

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
#: Bind addresses that name no host a client could use.
UNSPECIFIED_ADDRESSES = frozenset({"", "0.0.0.0", "::"})  # noqa: S104


def hostname_of(host_header: str) -> str | None:
    """The lower-cased host name of a ``Host`` value (``[::1]:80`` → ``::1``), or
    ``None`` when it is not a plain ``host[:port]``."""
    value = host_header.strip()
    if not value or any(c in value for c in "/\\@?# \t"):
        return None
    try:
        parts = urlsplit(f"//{value}")
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        return None
    return parts.hostname.rstrip(".").lower() if parts.hostname else None


def _normalise(name: str) -> str:
    name = name.strip().lower().rstrip(".")
    if name.startswith("[") and name.endswith("]"):
        name = name[1:-1]
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name


@dataclass(frozen=True)
class AllowedHosts:
    exact: frozenset[str]
    suffixes: tuple[str, ...]  # ".example.com" for "*.example.com"

    @classmethod
    def from_settings(cls, settings: Settings) -> AllowedHosts:
        names: list[str] = []
        for url in [settings.public_url or "", *settings.trusted_origins]:
            host = urlsplit(url.strip()).hostname if url.strip() else None
            if host:
                names.append(host)
        names.extend(settings.allowed_hosts)
        if settings.is_dev:
            names.extend(LOOPBACK_HOSTS)
        return cls.of(names)

    @classmethod
    def of(cls, names: Iterable[str]) -> AllowedHosts:
        exact: set[str] = set()
        suffixes: list[str] = []
        for raw in names:
            name = _normalise(raw)
            if name.startswith("*."):
                suffixes.append(name[1:])
            elif name:
                exact.add(name)
        return cls(frozenset(exact), tuple(suffixes))

    def allows(self, host_header: str) -> bool:
        name = hostname_of(host_header)
        if name is None:
            return False
        name = _normalise(name)
        return name in self.exact or any(name.endswith(s) and len(name) > len(s) for s in self.suffixes)

    def allows_request(self, headers: Headers, trusted_proxies: int) -> bool:
        if not self.allows(headers.get("host", "")):
            return False
        if trusted_proxies > 0:
            forwarded = headers.get("x-forwarded-host")
            if forwarded is not None:
                return self.allows(forwarded.split(",")[0])
        return True


class HostGuard:
    """Pure ASGI middleware: 400 ``Invalid Host header`` before anything else runs.

    ``prefix`` limits the check to paths under it (``mount_ee`` into a host app that
    owns the rest of its paths); ``None`` checks every request (``create_app``).
    """

    _LOGGED_MAX = 100
    _VERDICTS_MAX = 1024

    def __init__(
        self,
        app: ASGIApp,
        *,
        hosts: AllowedHosts,
        trusted_proxies: int = 0,
        prefix: str | None = None,
        exempt: Iterable[str] = (),
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.trusted_proxies = trusted_proxies
        self.prefix = prefix
        self.exempt = frozenset(exempt)
        self._logged: set[str] = set()
        # A server sees a handful of Host values: remember each verdict so the hot path
        # is one dict lookup, not a parse. Bounded, so rotating hosts only costs parses.
        self._verdicts: dict[tuple[str, str | None], bool] = {}

    def _applies(self, path: str) -> bool:
        if path in self.exempt:
            return False
        return self.prefix is None or relative_to_prefix(path, self.prefix) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self._applies(scope["path"]):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        hosts = headers.getlist("host")
        key = (hosts[0] if hosts else "", headers.get("x-forwarded-host") if self.trusted_proxies else None)
        # Two Host headers are refused (RFC 9112 3.2): a proxy in front may route by the
        # other one. h11 refused them; httptools, which serve runs, passes both.
        allowed = self._verdicts.get(key) if len(hosts) < 2 else False
        if allowed is None:
            allowed = self.hosts.allows_request(headers, self.trusted_proxies)
            if len(self._verdicts) >= self._VERDICTS_MAX:
                self._verdicts.clear()
            self._verdicts[key] = allowed
        if allowed:
            await self.app(scope, receive, send)
            return
        self._log(headers.get("host", ""))
        response = error_response("Bad Request", 400, message="Invalid Host header")
        await response(scope, receive, send)

    def _log(self, host: str) -> None:
        # Say once per name how to allow it; bounded so a flood cannot fill memory.
        if host in self._logged or len(self._logged) >= self._LOGGED_MAX:
            return
        self._logged.add(host)
        logger.warning("refused a request for host %r (allow it with MASTRA_ALLOWED_HOSTS)", host[:200])
