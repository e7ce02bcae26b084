"""The JWT/JWKS layer (``mastra.core.ee.crypto.verify`` and ``JWKSCache``) against keys
generated here and served by a real loopback JWKS endpoint."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest
from joserfc import jws
from joserfc.jwk import ECKey, Key, OctKey, OKPKey, RSAKey
from mastra.core.ee.crypto import (
    JWKSCache,
    JWKSUnavailable,
    TokenInvalid,
    TokenKind,
    token_type,
    unverified_claims,
    verify,
)
from mastra.core.ee.errors import ProviderUnavailable
from mastra.core.testing.servers import BackgroundServer, free_port
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

ISS = "https://idp.example"
AUD = "urn:api"
RSA_1 = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})
RSA_2 = RSAKey.generate_key(2048, parameters={"kid": "rsa-2"})
STRANGER = RSAKey.generate_key(2048, parameters={"kid": "rsa-1"})  # same kid, not the IdP's key
CLIENT_SECRET = "client-secret-" + "x" * 40


class JWKSEndpoint:
    """The IdP side: serves ``keys`` at ``/jwks``; ``status``/``body`` simulate failures."""

    def __init__(self) -> None:
        self.keys: list[Key] = [RSA_1]
        self.extra: list[dict[str, Any]] = []  # raw JWK entries served as they are
        self.status = 200
        self.body: str | None = None
        self.requests = 0

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]

    def app(self) -> Starlette:
        async def jwks(request: Request) -> Response:
            self.requests += 1
            if self.status != 200:
                return PlainTextResponse("unavailable", status_code=self.status)
            if self.body is not None:
                return PlainTextResponse(self.body)
            return JSONResponse({"keys": [k.as_dict(private=False) for k in self.keys] + self.extra})

        return Starlette(routes=[Route("/jwks", jwks)])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[BackgroundServer, JWKSEndpoint]]:
    endpoint = JWKSEndpoint()
    with BackgroundServer(endpoint.app()) as running:
        yield running, endpoint


@pytest.fixture
def idp(server: tuple[BackgroundServer, JWKSEndpoint]) -> JWKSEndpoint:
    endpoint = server[1]
    endpoint.reset()  # a fresh IdP state per test, one server per module
    return endpoint


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def jwks(server: tuple[BackgroundServer, JWKSEndpoint], idp: JWKSEndpoint, clock: Clock) -> JWKSCache:
    return JWKSCache(f"{server[0].url}/jwks", ttl=3600, refetch_interval=60, clock=clock)


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    body: dict[str, Any] = {"iss": ISS, "aud": AUD, "sub": "user-1", "iat": now, "exp": now + 300}
    body.update(over)
    return {k: v for k, v in body.items() if v is not None}


def sign(body: dict[str, Any], key: Key = RSA_1, *, alg: str = "RS256", **header: Any) -> str:
    """A JWS over ``body`` with exactly this header (``kid`` = the key's unless given)."""
    head: dict[str, Any] = {"alg": alg, **header}
    if key.kid and "kid" not in header:
        head["kid"] = key.kid
    head = {k: v for k, v in head.items() if v is not None}
    return jws.serialize_compact(head, json.dumps(body), key, algorithms=[alg])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forged(header: dict[str, Any], body: dict[str, Any]) -> str:
    """A well-formed token with a header no signer would produce, and a junk signature."""
    return f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}.{b64(b'sig')}"


def hand_signed(header: dict[str, Any], body: dict[str, Any], hmac_key: bytes) -> str:
    """An HS256 token built by hand (joserfc refuses PEM text as an HMAC key, attackers don't)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    signature = hmac.new(hmac_key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


async def check(token: str, keys: JWKSCache, **kw: Any) -> dict[str, Any]:
    params: dict[str, Any] = {"issuer": ISS, "audience": AUD}
    params.update(kw)
    return await verify(token, keys, **params)


# -- valid tokens ----------------------------------------------------------------------------


async def test_valid_token_returns_its_claims_and_keys_are_cached(jwks: JWKSCache, idp: JWKSEndpoint) -> None:
    body = claims(role="admin")
    assert await check(sign(body), jwks) == body
    assert await check(sign(claims(sub="user-2")), jwks)
    assert (jwks.fetches, idp.requests) == (1, 1)


async def test_ec_and_okp_keys(jwks: JWKSCache, idp: JWKSEndpoint) -> None:
    ec = ECKey.generate_key("P-256", parameters={"kid": "ec-1"})
    ed = OKPKey.generate_key("Ed25519", parameters={"kid": "ed-1"})
    idp.keys = [RSA_1, ec, ed]
    assert await check(sign(claims(), ec, alg="ES256"), jwks, algorithms=["ES256"])
    assert await check(sign(claims(), ed, alg="Ed25519"), jwks, algorithms=["Ed25519"])
    # the kid names an EC key: an RSA algorithm never picks it
    with pytest.raises(TokenInvalid):
        await check(sign(claims(), RSA_1, kid="ec-1"), jwks)


async def test_clock_skew_within_the_leeway_is_accepted(jwks: JWKSCache) -> None:
    now = int(time.time())
    assert await check(sign(claims(exp=now - 30, iat=now + 30, nbf=now + 30)), jwks)
    with pytest.raises(TokenInvalid, match="expired"):
        await check(sign(claims(exp=now - 30)), jwks, leeway=0)


# -- refusals --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: sign(claims(iss="https://evil.example")), "iss mismatch"),
        (lambda: sign(claims(iss=ISS + "/")), "iss mismatch"),
        (lambda: sign(claims(aud="urn:other")), "aud mismatch"),
        (lambda: sign(claims(aud=["urn:other", "urn:third"])), "aud mismatch"),
        (lambda: sign(claims(aud=None)), "aud missing"),
        (lambda: sign(claims(), alg="RS384"), "not allowed"),
        (lambda: sign(claims(exp=int(time.time()) - 120)), "expired"),
        (lambda: sign(claims(nbf=int(time.time()) + 120)), "not valid yet"),
        (lambda: sign(claims(iat=int(time.time()) + 120)), "iat in the future"),
        (lambda: sign(claims(exp=None)), "exp missing"),
        (lambda: sign(claims(iat=None)), "iat missing"),
        (lambda: sign(claims(sub=None)), "sub missing"),
        (lambda: sign(claims(sub="")), "sub malformed"),
        (lambda: sign(claims(exp="tomorrow")), "exp malformed"),
        (lambda: sign(claims(exp=True)), "exp malformed"),
        (
            lambda: forged({"alg": "RS256", "kid": "rsa-1", "crit": ["b64"], "b64": False}, claims()),
            "critical",
        ),
        (lambda: forged({"alg": "RS256", "kid": 7}, claims()), "malformed token header"),
        (lambda: forged({"alg": "RS256", "kid": "rsa-1", "typ": 1}, claims()), "typ malformed"),
        (lambda: forged({"alg": "RS256", "kid": "rsa-1"}, [claims()]), "not an object"),
        (lambda: "not-a-jwt", "malformed"),
        (lambda: "a.b", "malformed"),
        (lambda: "x" * 20_000, "malformed"),
        (lambda: "e30.e30.", "malformed"),
    ],
)
async def test_a_token_failing_on_its_face_is_refused_without_a_download(
    jwks: JWKSCache, idp: JWKSEndpoint, make: Any, reason: str
) -> None:
    with pytest.raises(TokenInvalid, match=reason):
        await check(make(), jwks)
    assert idp.requests == 0  # refused before any key was needed


async def test_unsigned_tokens_are_refused_even_when_allowed(jwks: JWKSCache) -> None:
    payload = sign(claims()).split(".")[1]
    for alg in ("none", "None", "NONE"):
        unsigned = f"{b64(json.dumps({'alg': alg}).encode())}.{payload}."
        with pytest.raises(TokenInvalid, match="unsigned"):
            await check(unsigned, jwks, algorithms=["RS256", alg])


async def test_bad_signatures_are_refused(jwks: JWKSCache) -> None:
    token = sign(claims())
    header, _, signature = token.split(".")
    other_payload = b64(json.dumps(claims(sub="admin")).encode())
    with pytest.raises(TokenInvalid, match="bad signature"):
        await check(f"{header}.{other_payload}.{signature}", jwks)
    with pytest.raises(TokenInvalid, match="bad signature"):  # the IdP's kid, another key
        await check(sign(claims(), STRANGER), jwks)


async def test_hmac_only_with_the_callers_secret_never_with_jwks_keys(
    jwks: JWKSCache, idp: JWKSEndpoint
) -> None:
    hs = sign(claims(), OctKey.import_key(CLIENT_SECRET), alg="HS256")
    assert await check(hs, jwks, algorithms=["RS256", "HS256"], secret=CLIENT_SECRET)
    with pytest.raises(TokenInvalid, match="not allowed"):
        await check(hs, jwks, secret=CLIENT_SECRET)  # HS256 not in the allow-list
    with pytest.raises(TokenInvalid, match="shared secret"):
        await check(hs, jwks, algorithms=["HS256"])
    with pytest.raises(TokenInvalid, match="bad signature"):
        await check(hs, jwks, algorithms=["HS256"], secret="y" * 50)
    # Algorithm confusion: HMAC keyed by the IdP's public key (which anyone can fetch).
    public_pem = RSA_1.as_pem(private=False)
    confused = hand_signed({"alg": "HS256", "kid": "rsa-1"}, claims(), public_pem)
    with pytest.raises(TokenInvalid):
        await check(confused, jwks, algorithms=["RS256", "HS256"], secret=CLIENT_SECRET)
    # A symmetric key published in the JWKS signs for anyone: it is never used.
    published = "published-" + "k" * 40
    idp.extra = [{"kty": "oct", "kid": "shared", "k": b64(published.encode())}]
    leaked = sign(claims(), OctKey.import_key(published, parameters={"kid": "shared"}), alg="HS256")
    with pytest.raises(TokenInvalid, match="shared secret"):
        await check(leaked, jwks, algorithms=["HS256"])
    with pytest.raises(TokenInvalid, match="unknown signing key"):
        await jwks.key_for("shared", "HS256")


@pytest.mark.parametrize(
    ("typ", "access", "typed_access"),
    [
        (None, True, False),
        ("JWT", True, False),
        ("at+jwt", True, True),
        ("application/AT+JWT", True, True),
        ("logout+jwt", False, False),
        ("dpop+jwt", False, False),
    ],
)
async def test_typ_rules(jwks: JWKSCache, typ: str | None, access: bool, typed_access: bool) -> None:
    token = sign(claims(), typ=typ)
    assert await check(token, jwks, kind=TokenKind.ID_TOKEN)  # ID tokens: typ not checked
    for kind, accepted in ((TokenKind.ACCESS_TOKEN, access), (TokenKind.TYPED_ACCESS_TOKEN, typed_access)):
        if accepted:
            assert await check(token, jwks, kind=kind)
        else:
            with pytest.raises(TokenInvalid, match="typed"):
                await check(token, jwks, kind=kind)


@pytest.mark.parametrize("marks", [{"nonce": "n-1"}, {"at_hash": "x4Qy3WZ0a7Jb"}])
async def test_id_token_claims_are_never_an_access_token(jwks: JWKSCache, marks: dict[str, str]) -> None:
    token = sign(claims(**marks))
    assert await check(token, jwks, kind=TokenKind.ID_TOKEN)
    for kind in (TokenKind.ACCESS_TOKEN, TokenKind.TYPED_ACCESS_TOKEN):
        with pytest.raises(TokenInvalid, match="ID token"):
            await check(sign(claims(**marks), typ="at+jwt"), jwks, kind=kind)


async def test_issuer_and_audience_none_skip_those_checks_only(jwks: JWKSCache) -> None:
    token = sign(claims(iss="https://other.example", aud=None))
    assert await verify(token, jwks, issuer=None, audience=None)
    with pytest.raises(TokenInvalid, match="expired"):
        await verify(sign(claims(aud=None, exp=int(time.time()) - 120)), jwks, issuer=None, audience=None)
    expired = sign(claims(exp=int(time.time()) - 120))
    assert await check(expired, jwks, check_expiry=False)  # authenticity only


# -- key selection ------------------------------------------------------------------------------


async def test_key_selection_by_use_alg_and_kid(jwks: JWKSCache, idp: JWKSEndpoint) -> None:
    only = RSAKey.generate_key(2048, parameters={"kid": "only"})
    idp.keys = []
    idp.extra = [
        {**only.as_dict(private=False), "use": "enc"},
        {**RSA_2.as_dict(private=False), "alg": "RS512"},
    ]
    jwks.refetch_interval = 0
    with pytest.raises(TokenInvalid, match="unknown signing key"):  # an encryption key
        await check(sign(claims(), only), jwks)
    with pytest.raises(TokenInvalid, match="unknown signing key"):  # a key for RS512 only
        await check(sign(claims(), RSA_2), jwks)
    assert await check(sign(claims(), RSA_2, alg="RS512"), jwks, algorithms=["RS512"])
    # Without a kid, only an unambiguous key answers.
    idp.extra = []
    idp.keys = [RSA_1]
    assert await check(sign(claims(), RSA_1, kid=None), jwks)
    idp.keys = [RSA_1, RSA_2]
    jwks.clear()
    with pytest.raises(TokenInvalid, match="unknown signing key"):
        await check(sign(claims(), RSA_1, kid=None), jwks)


# -- rotation and the unknown-kid budget ------------------------------------------------------------


async def test_unknown_kid_refetches_once_and_picks_up_rotated_keys(
    jwks: JWKSCache, idp: JWKSEndpoint, clock: Clock
) -> None:
    assert await check(sign(claims()), jwks)
    idp.keys = [RSA_2]  # the IdP rotates: rsa-1 retired, rsa-2 signs
    assert await check(sign(claims(), RSA_2), jwks)
    assert jwks.fetches == 2
    # rsa-1 is gone from the set, and the rotation refetch was spent: no download
    with pytest.raises(TokenInvalid, match="unknown signing key"):
        await check(sign(claims()), jwks)
    assert jwks.fetches == 2
    # the regular TTL refresh picks keys up too
    idp.keys = [RSA_1, RSA_2]
    clock.now += 3600
    assert await check(sign(claims()), jwks)
    assert jwks.fetches == 3


async def test_unknown_kid_storm_is_bounded_to_one_download_per_interval(
    jwks: JWKSCache, idp: JWKSEndpoint, clock: Clock
) -> None:
    assert await check(sign(claims()), jwks)

    async def storm(count: int) -> None:
        for _ in range(count):
            with pytest.raises(TokenInvalid, match="unknown signing key"):
                await check(sign(claims(), STRANGER, kid=secrets.token_hex(8)), jwks)

    await storm(50)
    assert (jwks.fetches, idp.requests) == (2, 2)  # the first fetch + one refetch
    clock.now += 59
    await storm(20)
    assert idp.requests == 2
    clock.now += 1
    await storm(20)
    assert idp.requests == 3  # one more per refetch_interval, however many kids


async def test_concurrent_first_use_shares_one_download(jwks: JWKSCache, idp: JWKSEndpoint) -> None:
    tokens = [sign(claims(sub=f"user-{i}")) for i in range(20)]
    results = await asyncio.gather(*(check(token, jwks) for token in tokens))
    assert [r["sub"] for r in results] == [f"user-{i}" for i in range(20)]
    assert idp.requests == 1


# -- the IdP unreachable ---------------------------------------------------------------------


async def test_jwks_down_is_provider_unavailable_not_an_invalid_token(
    jwks: JWKSCache, idp: JWKSEndpoint, clock: Clock
) -> None:
    idp.status = 503
    token = sign(claims())
    with pytest.raises(JWKSUnavailable, match="HTTP 503") as info:
        await check(token, jwks)
    error = info.value
    assert isinstance(error, ProviderUnavailable) and not isinstance(error, TokenInvalid)
    assert (error.status, error.code, error.message) == (
        503,
        "provider_unavailable",
        "Auth provider unavailable",
    )
    # a failed download is not retried at once: a burst of requests costs the IdP nothing
    for _ in range(10):
        with pytest.raises(JWKSUnavailable):
            await check(token, jwks)
    assert idp.requests == 1
    # back up: the next attempt after the interval succeeds
    idp.status = 200
    clock.now += 60
    assert await check(token, jwks)
    assert idp.requests == 2


@pytest.mark.parametrize("body", ["<html>maintenance</html>", '{"keys": "none"}', "[1, 2]"])
async def test_a_broken_jwks_document_is_unavailable(jwks: JWKSCache, idp: JWKSEndpoint, body: str) -> None:
    idp.body = body
    with pytest.raises(JWKSUnavailable):
        await check(sign(claims()), jwks)


async def test_jwks_unreachable_is_provider_unavailable() -> None:
    closed = JWKSCache(f"http://127.0.0.1:{free_port()}/jwks", timeout=2)
    with pytest.raises(JWKSUnavailable, match="unreachable"):
        await check(sign(claims()), closed)


async def test_known_keys_keep_working_while_the_jwks_is_down(
    jwks: JWKSCache, idp: JWKSEndpoint, clock: Clock
) -> None:
    token = sign(claims())
    assert await check(token, jwks)
    idp.status = 500
    clock.now += 3600  # the set is due for a refresh, which fails
    assert await check(token, jwks)
    assert await check(token, jwks)
    assert idp.requests == 2  # one failed refresh, not one per token
    # a new kid cannot be checked while the IdP is down: that is not the token's fault
    with pytest.raises(JWKSUnavailable):
        await check(sign(claims(), RSA_2), jwks)
    # ...and the refetch budget is spent, so a stream of new kids is refused locally
    with pytest.raises(TokenInvalid, match="unknown signing key"):
        await check(sign(claims(), RSA_2), jwks)
    assert idp.requests == 2
    idp.status = 200
    idp.keys = [RSA_1, RSA_2]
    clock.now += 60
    assert await check(sign(claims(), RSA_2), jwks)
    assert idp.requests == 3


# -- helpers ------------------------------------------------------------------------------------


def test_unverified_claims_and_token_type() -> None:
    body = claims()
    token = sign(body, typ="Application/At+JWT")
    assert unverified_claims(token) == body
    assert token_type(token) == "at+jwt"
    assert token_type(sign(body)) is None
    for garbage in ("", "a.b", "a.b.c", "e30.W10.x"):
        with pytest.raises(TokenInvalid):
            unverified_claims(garbage)
