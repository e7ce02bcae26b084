"""ID-token validator (offline keys), MastraRBACCloud (+ core RBAC conformance), and
plugin wiring (entry point, one instance per name, owns_sessions, license bypass)."""

from __future__ import annotations

import time
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import Key, OctKey, RSAKey
from mastra.auth.cloud import MastraCloudAuth, MastraRBACCloud, OIDCAuth
from mastra.auth.cloud.oidc import validate_id_token
from mastra.core.ee.crypto import TokenInvalid
from mastra.core.ee.errors import ConfigurationError, RoleNotFound
from mastra.core.ee.models import EEUser
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings
from mastra.core.testing.rbac import RBACProviderConformance

ISS, AUD = "https://idp.example", "client-1"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1"})


class OneKey:
    """The IdP's key set, held in memory (the JWKS cache has its own tests in core)."""

    async def key_for(self, kid: str | None, alg: str) -> Key:
        if kid != "k1":
            raise TokenInvalid("unknown signing key")
        return KEY


def sign(claims: dict[str, Any], *, alg: str = "RS256", key: Any = KEY, kid: str | None = "k1") -> str:
    header: dict[str, Any] = {"alg": alg}
    if kid:
        header["kid"] = kid
    return jwt.encode(header, claims, key, algorithms=[alg])


def good(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"iss": ISS, "aud": AUD, "sub": "u1", "exp": now + 300, "iat": now, "nonce": "n1"}
    claims.update(over)
    return claims


async def check(token: str, **kw: Any) -> dict[str, Any]:
    params: dict[str, Any] = dict(issuer=ISS, client_id=AUD, algorithms=["RS256"], nonce="n1")
    params.update(kw)
    return await validate_id_token(token, OneKey(), **params)


async def test_valid_token_and_leeway() -> None:
    assert (await check(sign(good())))["sub"] == "u1"
    now = int(time.time())
    assert await check(sign(good(exp=now - 30, iat=now + 30)))  # within the 60 s leeway


# Factories, not values: the clock is read when the test runs, not when pytest
# collects (a busy machine once ran this minutes later and the skew fell inside the leeway).
@pytest.mark.parametrize(
    "claims",
    [
        lambda: good(iss="https://evil"),
        lambda: good(aud="other"),
        lambda: good(aud=[AUD, "x"]),
        lambda: good(azp="x"),
        lambda: good(exp=int(time.time()) - 120),
        lambda: good(iat=int(time.time()) + 120),
        lambda: good(nonce="n2"),
        lambda: good(sub=""),
        lambda: {k: v for k, v in good().items() if k != "exp"},
        lambda: {k: v for k, v in good().items() if k != "nonce"},
    ],
)
async def test_claim_failures(claims: Any) -> None:
    with pytest.raises(TokenInvalid):
        await check(sign(claims()))


async def test_algorithm_rules() -> None:
    secret = "client-secret-" + "x" * 40
    hs = sign(good(), alg="HS256", key=OctKey.import_key(secret), kid=None)
    with pytest.raises(TokenInvalid):  # not advertised
        await check(hs, client_secret=secret)
    with pytest.raises(TokenInvalid):  # advertised, but no client secret
        await check(hs, algorithms=["RS256", "HS256"])
    assert await check(hs, algorithms=["RS256", "HS256"], client_secret=secret)
    with pytest.raises(TokenInvalid):  # wrong secret
        await check(hs, algorithms=["HS256"], client_secret="y" * 50)
    header, payload, _ = sign(good()).split(".")
    import base64
    import json

    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    for token in (f"{none_header}.{payload}.", "a.b", "x" * 20000, f"{header}.{payload}.AAAA"):
        with pytest.raises(TokenInvalid):
            await check(token, algorithms=["RS256", "none"])
    with pytest.raises(TokenInvalid):
        await check(sign(good(), kid="unknown"))
    other = RSAKey.generate_key(2048, parameters={"kid": "k1"})
    with pytest.raises(TokenInvalid):  # right kid, wrong key
        await check(sign(good(), key=other))


# -- MastraRBACCloud -----------------------------------------------------------------


class TestMastraRBACCloudConformance(RBACProviderConformance):
    @pytest.fixture
    def provider(self) -> MastraRBACCloud:
        return MastraRBACCloud()

    @pytest.fixture
    def user_with_roles(self) -> Any:
        def factory(roles: list[str]) -> EEUser:
            assert len(roles) <= 1, "Mastra Cloud users hold a single role"
            return EEUser(id="u", metadata={"role": roles[0]} if roles else {})

        return factory

    async def test_user_metadata_not_mutated(self, provider: Any, user_with_roles: Any) -> None:
        # The core test builds a two-role user; Cloud users hold exactly one role.
        user = user_with_roles(["admin"])
        snapshot = user.model_dump()
        await provider.get_permissions(user)
        await provider.get_roles(user)
        assert user.model_dump() == snapshot


async def test_rbac_mapping_and_default() -> None:
    rbac = MastraRBACCloud({"admin": ["*"], "member": ["agents:read"], "_default": ["studio:read"]})
    assert await rbac.get_permissions(EEUser(id="a", metadata={"role": "admin"})) == ["*"]
    assert await rbac.get_permissions(EEUser(id="b", metadata={"role": "ghost"})) == ["studio:read"]
    assert await rbac.get_permissions(EEUser(id="c")) == ["studio:read"]
    assert await rbac.get_roles(EEUser(id="c", metadata={"role": ""})) == []
    assert await rbac.has_permission(EEUser(id="m", metadata={"role": "member"}), "agents:read:x")
    assert not await rbac.has_permission(EEUser(id="m", metadata={"role": "member"}), "agents:write")
    assert [r["id"] for r in await rbac.get_available_roles()] == ["admin", "member"]
    with pytest.raises(RoleNotFound):
        await rbac.get_permissions_for_role("_default")
    caps = rbac.get_capabilities()
    assert caps.provider_managed_roles and caps.role_source == "provider"
    default = MastraRBACCloud()
    assert set(default.role_mapping) == {"owner", "admin", "member", "viewer"}
    with pytest.raises(ConfigurationError):
        MastraRBACCloud({"admin": "*"})  # type: ignore[dict-item]


# -- plugin wiring -----------------------------------------------------------------------


def settings_for(name: str, options: dict[str, Any], **sel: str) -> Settings:
    auth: dict[str, Any] = {"options": {name: options}, **sel}
    return Settings(auth=auth, auth_secret="z" * 40, public_url="http://127.0.0.1:4111")


def test_cloud_plugin_one_instance_and_license_bypass(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MASTRA_ENV", "production")  # no license: only Cloud auth may configure RBAC
    options = {"project_id": "p", "cloud_base_url": "http://127.0.0.1:9"}
    settings = settings_for("cloud", options, user="cloud", session="cloud", sso="cloud", rbac="cloud")
    settings = settings.model_copy(update={"env": "production"})
    registry = PluginRegistry.default(settings)
    assert registry.plugins["cloud"].status == "active"
    auth = build_auth(settings, registry)
    assert isinstance(auth.user, MastraCloudAuth)
    assert auth.user is auth.session is auth.sso is auth.rbac
    assert auth.is_mastra_cloud_auth is True
    names = registry.provider_names()
    assert "cloud" in names["rbac"] and "oidc" in names["sso"]


def test_owns_sessions_is_enforced() -> None:
    options = {"issuer": "http://127.0.0.1:9", "client_id": "c", "registry": "memory"}
    settings = settings_for("oidc", options, user="oidc", sso="oidc", session="cookie")
    with pytest.raises(ConfigurationError, match="manages its own sessions; set MASTRA_AUTH__SESSION=oidc"):
        build_auth(settings, PluginRegistry.default(settings))
    ok = settings_for("oidc", options, user="oidc", sso="oidc", session="oidc")
    auth = build_auth(ok, PluginRegistry.default(ok))
    assert isinstance(auth.sso, OIDCAuth) and auth.sso is auth.session is auth.user
    assert auth.is_mastra_cloud_auth is False


def test_rbac_cloud_alone_uses_the_mapping_only() -> None:
    settings = settings_for("cloud", {"role_mapping": {"x": ["*"]}}, user="cloud")
    registry = PluginRegistry.default(settings)
    rbac = registry.create_provider("rbac", "cloud", settings.provider_options("cloud"))
    assert type(rbac) is MastraRBACCloud and rbac.role_mapping == {"x": ["*"]}


def test_oidc_env_fallbacks_and_required(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OIDC_ISSUER", "http://127.0.0.1:9")
    monkeypatch.setenv("OIDC_CLIENT_ID", "from-env")
    provider = OIDCAuth.from_options(ProviderOptions({"registry": "memory", "secret": "q" * 40}, Settings()))
    assert provider.client_id == "from-env" and provider.token_endpoint_auth == "none"
    assert provider.scopes == "openid profile email"
    assert provider.api_audience is None  # bearer tokens are off until an API audience is set (S24)
    monkeypatch.setenv("OIDC_AUDIENCE", "urn:legacy")
    assert OIDCAuth.from_options({"registry": "memory", "secret": "q" * 40}).api_audience == "urn:legacy"
    monkeypatch.setenv("OIDC_API_AUDIENCE", "urn:api")
    assert OIDCAuth.from_options({"registry": "memory", "secret": "q" * 40}).api_audience == "urn:api"
    aliased = OIDCAuth.from_options({"registry": "memory", "secret": "q" * 40, "audience": "urn:option"})
    assert aliased.api_audience == "urn:option"  # options win over the environment
    monkeypatch.delenv("OIDC_ISSUER")
    with pytest.raises(ConfigurationError):
        OIDCAuth.from_options(ProviderOptions({"registry": "memory"}, Settings()))


@pytest.mark.parametrize(
    ("options", "env"),
    [
        ({"api_audience": "c"}, {}),
        ({"audience": "c"}, {}),
        ({}, {"OIDC_API_AUDIENCE": "c"}),
        ({}, {"OIDC_AUDIENCE": "c"}),
    ],
)
def test_api_audience_equal_to_client_id_is_a_startup_error(
    monkeypatch: pytest.MonkeyPatch, options: dict[str, str], env: dict[str, str]
) -> None:
    """S24: ID tokens are addressed to ``client_id``; an API audience equal to it would make
    every ID token a bearer token again, so the server refuses to start."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    base = {"issuer": "http://127.0.0.1:9", "client_id": "c", "registry": "memory", **options}
    settings = settings_for("oidc", base, user="oidc", sso="oidc", session="oidc")
    with pytest.raises(ConfigurationError, match="api_audience must differ from client_id"):
        build_auth(settings, PluginRegistry.default(settings))


def test_typed_access_tokens_option_is_validated() -> None:
    base = {"issuer": "http://127.0.0.1:9", "client_id": "c", "registry": "memory", "secret": "q" * 40}
    with pytest.raises(ConfigurationError, match="typed_access_tokens"):
        OIDCAuth.from_options({**base, "typed_access_tokens": "sometimes"})


def test_cloud_rbac_beside_another_identity_provider_is_not_license_exempt(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Finding 13: the Cloud exemption follows the identity provider (user/SSO) only.
    `rbac=cloud` with a non-Cloud user provider licensed RBAC and audit in unlicensed
    production."""
    from mastra.core.testing.reference import reference_plugin

    monkeypatch.setenv("MASTRA_ENV", "production")
    settings = settings_for("cloud", {"project_id": "p", "cloud_base_url": "http://127.0.0.1:9"})
    settings = settings.model_copy(
        update={
            "env": "production",
            "auth": settings.auth.model_copy(
                update={"user": "reference", "credentials": "reference", "session": "cookie", "rbac": "cloud"}
            ),
        }
    )
    registry = PluginRegistry.default(settings)
    registry.register(reference_plugin(), "reference")
    with pytest.raises(ConfigurationError, match="RBAC is configured but no valid EE license was found"):
        build_auth(settings, registry)
