"""``IndexedRequest``: the auth middleware's header lookups answer as Starlette's."""

from __future__ import annotations

import random

from mastra.core.server._authn import Caller
from mastra.core.server._request import IndexedHeaders, IndexedRequest
from starlette.datastructures import Headers

NAMES = ["host", "cookie", "origin", "authorization", "x-api-key", "accept", "Cookie", "X-Api-Key", "absent"]


def test_single_value_lookups_answer_as_starlette_headers() -> None:
    rng = random.Random(7)
    for _ in range(500):
        raw = [
            (rng.choice(NAMES[:6]).encode(), rng.choice(["a", "b", "", "é", "x y"]).encode("latin-1"))
            for _ in range(rng.randint(0, 6))
        ]
        scope = {"type": "http", "headers": raw}
        ours, theirs = IndexedHeaders(scope=dict(scope)), Headers(scope=dict(scope))
        for name in NAMES:
            assert ours.get(name) == theirs.get(name), (raw, name)
            assert ours.get(name, "default") == theirs.get(name, "default"), (raw, name)
            assert (name in ours) == (name in theirs), (raw, name)
            try:
                expected: str | None = theirs[name]
            except KeyError:
                expected = None
            try:
                got: str | None = ours[name]
            except KeyError:
                got = None
            assert got == expected, (raw, name)
            assert ours.getlist(name) == theirs.getlist(name)
        assert list(ours.items()) == list(theirs.items()) and ours.raw == theirs.raw
        assert 1 not in ours


def test_the_request_builds_its_headers_once() -> None:
    request = IndexedRequest({"type": "http", "headers": [(b"cookie", b"a=1")]})
    assert isinstance(request.headers, IndexedHeaders) and request.headers is request.headers
    assert request.cookies == {"a": "1"}


def test_holds_follows_a_replaced_permission_list() -> None:
    """``holds`` remembers its answers for the permission list it was asked about: a
    caller whose permissions are replaced (an API key's intersection) answers anew."""
    caller = Caller(permissions=["agents:read"], rbac=True)
    assert caller.holds(["agents:read"]) and not caller.holds(["agents:write"])
    caller.permissions = ["agents:write"]
    assert caller.holds(["agents:write"]) and not caller.holds(["agents:read"])
    odd = [[f"path{i}:read"] for i in range(200)]  # derived permissions of odd paths: bounded
    assert not any(caller.holds(w) for w in odd)
    assert caller._decisions is not None and len(caller._decisions[3]) <= 64


def test_holds_of_an_api_key_follows_its_owner_and_its_scopes() -> None:
    """An API key's answers are remembered too, for its owner's permissions and its
    scopes: replacing either (a demoted owner, a re-identified key) answers anew."""
    caller = Caller(permissions=["agents:read"], rbac=True, scopes=["agents:*"])
    caller.owner_permissions = ["agents:read", "users:read"]
    assert caller.holds(["agents:read"]) and not caller.holds(["users:read"])
    caller.owner_permissions = ["users:read"]  # the owner lost agents:read
    assert not caller.holds(["agents:read"])
    caller.scopes = ["users:*"]
    assert caller.holds(["users:read"]) and not caller.holds(["agents:read"])
