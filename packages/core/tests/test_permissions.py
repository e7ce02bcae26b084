"""SPEC 4: grammar, the matcher truth table, the compiled matcher against a plain
reference implementation, route derivation and the vocabulary."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from mastra.core.ee.permissions import (
    ACTIONS,
    RESOURCES,
    PermissionSet,
    check_role_permissions,
    compile_permissions,
    derive_permission,
    effective_permission,
    has_permission,
    matches,
    permission_patterns,
    validate_permission,
)

TRUTH_TABLE = [
    ("*", "legacy-admin", True),
    ("*", "agents:read", True),
    ("*", "agents:read:x", True),
    ("*:*", "workflows:delete", True),
    ("*:*", "agents:read:x", True),
    ("*:*", "legacy-admin", False),
    ("agents:*", "agents:read", True),
    ("agents:*", "agents:read:x", True),
    ("agents:*", "workflows:read", False),
    ("*:read", "workflows:read", True),
    ("*:read", "tools:read:t1", True),
    ("*:read", "workflows:write", False),
    ("agents:read", "agents:read:my-agent", True),
    ("agents:read:a", "agents:read:b", False),
    ("agents:read:a", "agents:read", False),
    ("agents:*:a", "agents:write:a", True),
    ("*:execute:a", "tools:execute:a", True),
    ("legacy-admin", "legacy-admin", True),
    # A '*' inside a required permission is literal.
    ("agents:read", "agents:*", False),
    ("agents:*", "agents:*", True),
    ("*:read", "agents:*", False),
    ("*:*", "agents:*", True),
    ("*:read", "*:read", True),
    ("agents:read", "*:read", False),
    # Ids may contain colons: split on the first two only.
    ("agents:read:a:b", "agents:read:a:b", True),
    ("agents:read:a", "agents:read:a:b", False),
    ("agents:read", "agents:read:a:b", True),
]


@pytest.mark.parametrize(("granted", "required", "expected"), TRUTH_TABLE)
def test_truth_table(granted: str, required: str, expected: bool) -> None:
    assert matches(granted, required) is expected
    assert compile_permissions([granted]).allows(required) is expected
    assert has_permission([granted], required) is expected
    # The answer is the same when memoised (second call) and among unrelated grants.
    pset = PermissionSet(["zzz:write", granted, "other:read:q"])
    assert pset.allows(required) is expected
    assert pset.allows(required) is expected


def test_required_wildcard_satisfied_only_by_star_forms() -> None:
    granters = [g for g in permission_patterns() if has_permission([g], "agents:*")]
    assert sorted(granters) == ["*", "*:*", "agents:*"]


def test_admin_bypass_flag() -> None:
    assert compile_permissions(["*"]).is_admin
    assert compile_permissions(["agents:read", "*:*"]).is_admin
    assert not compile_permissions(["agents:*", "*:read"]).is_admin
    assert not compile_permissions([]).is_admin


def test_empty_set_denies_and_any_all_rules() -> None:
    pset = compile_permissions([])
    assert not pset.allows("agents:read")
    assert pset.allows_all([]) is True
    assert pset.allows_any([]) is False
    full = compile_permissions(["agents:*"])
    assert full.allows_all(["agents:read", "agents:write:x"])
    assert not full.allows_all(["agents:read", "tools:read"])
    assert full.allows_any(["tools:read", "agents:read"])


def test_compiled_sets_are_shared_per_list() -> None:
    a = compile_permissions(["agents:read", "tools:*"])
    b = compile_permissions(["agents:read", "tools:*"])
    assert a is b
    assert compile_permissions(a) is a
    assert compile_permissions(["tools:*", "agents:read"]) is not a


def test_parse_cache_is_bounded_and_stays_correct() -> None:
    from mastra.core.ee.permissions import _matcher

    pset = PermissionSet(["agents:read:keep"])
    for i in range(_matcher._PARSE_CACHE_LIMIT + 500):
        assert pset.allows(f"agents:read:id{i}") is False  # scoped: only the head is cached
        assert pset.allows(f"path{i}:read") is False  # client-chosen first segment
    assert len(_matcher._parsed) <= _matcher._PARSE_CACHE_LIMIT
    assert pset.allows("agents:read:keep") is True
    assert pset.allows("agents:write:keep") is False


def test_non_string_grants_are_ignored() -> None:
    pset = PermissionSet(["agents:read", None, 3])  # type: ignore[list-item]
    assert pset.permissions == ("agents:read",)


# -- property test: compiled matcher == the rule as written ------------------------------


def reference_has_permission(granted: list[str], required: str) -> bool:
    """SPEC 4.2 transcribed literally, independent of the implementation."""
    for g in granted:
        if g == "*":
            return True
        gp = g.split(":", 2)
        rp = required.split(":", 2)
        if len(gp) < 2 or len(rp) < 2:
            if g == required:
                return True
            continue
        if not (gp[0] == "*" or gp[0] == rp[0]):
            continue
        if not (gp[1] == "*" or gp[1] == rp[1]):
            continue
        if len(gp) < 3:
            return True
        if len(rp) == 3 and rp[2] == gp[2]:
            return True
    return False


_part = st.sampled_from(["*", "agents", "tools", "read", "write", "a", "", "x-y", "*x"])
_id = st.sampled_from(["a", "b", "", "a:b", "*", ":"])


@st.composite
def permission_strings(draw: st.DrawFn) -> str:
    kind = draw(st.integers(min_value=0, max_value=4))
    if kind == 0:
        return draw(st.sampled_from(["*", "legacy-admin", "", "agents", "*:*"]))
    res, act = draw(_part), draw(_part)
    if kind in (1, 2):
        return f"{res}:{act}"
    return f"{res}:{act}:{draw(_id)}"


@settings(max_examples=600, deadline=None)
@given(st.lists(permission_strings(), max_size=6), permission_strings())
def test_compiled_matcher_equals_reference(granted: list[str], required: str) -> None:
    expected = reference_has_permission(granted, required)
    assert PermissionSet(granted).allows(required) is expected
    assert has_permission(granted, required) is expected
    assert any(matches(g, required) for g in granted) is expected


@settings(max_examples=300, deadline=None)
@given(st.lists(st.text(alphabet="ab*:", max_size=7), max_size=5), st.text(alphabet="ab*:", max_size=7))
def test_compiled_matcher_equals_reference_on_arbitrary_text(granted: list[str], required: str) -> None:
    assert PermissionSet(granted).allows(required) is reference_has_permission(granted, required)


# -- grammar -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "permission",
    [
        "*",
        "*:*",
        "agents:read",
        "agents:*",
        "*:read",
        "agents:read:a1",
        "agents:read:a:b",
        "my.res_1-x:act.2",
    ],
)
def test_valid_permissions(permission: str) -> None:
    assert validate_permission(permission) == permission


@pytest.mark.parametrize(
    ("permission", "fragment"),
    [
        ("legacy-admin", "expected '<resource>:<action>[:<id>]'"),
        ("", "expected"),
        ("Agents:read", "resource 'Agents'"),
        ("agents:READ", "action 'READ'"),
        (":read", "resource ''"),
        ("agents:", "action ''"),
        ("agents:re ad", "action 're ad'"),
        ("-agents:read", "resource '-agents'"),
        ("agents*:read", "resource 'agents*'"),
        ("agents:read:", "resource id must be non-empty"),
        ("agents:read:a b", "no whitespace"),
        ("agents:read:a\x00", "control characters"),
    ],
)
def test_malformed_permissions_raise_value_error(permission: str, fragment: str) -> None:
    with pytest.raises(ValueError, match="Malformed permission") as info:
        validate_permission(permission)
    assert fragment in str(info.value)


def test_non_string_permission_is_rejected() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        validate_permission(42)


# -- derivation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/agents", "agents:read"),
        ("POST", "/agents/a1/generate", "agents:execute"),
        ("POST", "/agents", "agents:write"),
        ("DELETE", "/workflows/w/runs/r", "workflows:delete"),
        ("POST", "/workflows/w/runs", "workflows:write"),
        ("POST", "/memory/search", "memory:execute"),
        ("GET", "/.well-known/a/agent-card.json", "a2a:read"),
        ("get", "/agents", "agents:read"),
        ("HEAD", "/tools", "tools:read"),
        ("OPTIONS", "/tools", "tools:read"),
        ("PUT", "/agents/a1", "agents:write"),
        ("patch", "/agents/a1", "agents:write"),
        ("TRACE", "/agents", "agents:read"),
        ("GET", "/custom/x", "custom:read"),
        ("GET", "", None),
        ("GET", "/", None),
        ("POST", "/workflows/w/runs/r/resume", "workflows:execute"),
        ("POST", "/workflows/w/time-travel", "workflows:execute"),
        ("POST", "/agents/a/voice/speak", "agents:execute"),
        ("GET", "/agents/a1/generate", "agents:read"),
        ("DELETE", "/agents/a1/stream", "agents:delete"),
    ],
)
def test_derive_permission(method: str, path: str, expected: str | None) -> None:
    assert derive_permission(method, path) == expected


@pytest.mark.parametrize(
    "marker",
    [
        "generate",
        "stream",
        "execute",
        "start",
        "resume",
        "restart",
        "cancel",
        "approve",
        "decline",
        "speak",
        "listen",
        "query",
        "search",
        "observe",
        "time-travel",
        "enhance",
        "clone",
    ],
)
def test_every_execute_marker(marker: str) -> None:
    assert derive_permission("POST", f"/workflows/w/{marker}") == "workflows:execute"


def test_effective_permission_rules() -> None:
    assert effective_permission(None, "GET", "/agents", requires_auth=False) is None
    assert effective_permission("agents:read", "GET", "/agents", requires_auth=False) is None
    assert effective_permission(False, "GET", "/agents") is None
    assert effective_permission("settings:write", "GET", "/agents") == "settings:write"
    assert effective_permission(["a:read", "b:read"], "GET", "/agents") == ["a:read", "b:read"]
    assert effective_permission(None, "POST", "/agents/x/stream") == "agents:execute"
    assert effective_permission([], "DELETE", "/agents/x") == "agents:delete"


# -- vocabulary ------------------------------------------------------------------------------


def test_permission_patterns_vocabulary() -> None:
    patterns = permission_patterns()
    assert patterns == sorted(patterns)
    assert len(patterns) == len(set(patterns))
    assert ACTIONS == ("read", "write", "execute", "delete", "create", "publish", "share")
    assert len(RESOURCES) == 39 and RESOURCES[-6:] == (
        "studio",
        "settings",
        "users",
        "audit",
        "sessions",
        "api-keys",
    )
    # 2 (*, *:*) + 7 *:<action> + 39 <resource>:* + 89 reference pairs + 4 legacy stored
    # + 6 own resources x 7 actions.
    assert len(patterns) == 183
    for p in (
        "*",
        "*:*",
        "*:share",
        "studio:*",
        "studio:read",
        "sessions:delete",
        "datasets:read",
        "agents:create",
        "stored-agents:publish",
        "stored-skills:share",
        "stored:*",
        "stored:delete",
        "agent-builder:execute",
    ):
        assert p in patterns, p
    # Only what the reference lists for its own resources: no invented pairs.
    for p in ("tools:write", "logs:delete", "a2a:execute", "stored-workflows:delete"):
        assert p not in patterns, p
    with_extra = permission_patterns(["workos:portal", "agents:read"])
    assert "workos:portal" in with_extra and len(with_extra) == 184
    assert with_extra == sorted(with_extra)


def test_stored_alias_is_literal_and_warned_about() -> None:
    # The reference expands 'stored:<action>' to every stored-<family>; SPEC 4.2 does not.
    assert validate_permission("stored:*") == "stored:*"
    assert not has_permission(["stored:*"], "stored-agents:read")
    assert has_permission(["stored:read"], "stored:read")
    [warning] = check_role_permissions({"ops": ["stored:*", "stored-agents:read"]})
    assert warning.startswith("Role 'ops': permission 'stored:*' has an unknown resource 'stored'")
    assert "grants nothing" in warning


def test_new_vocabulary_raises_no_warnings() -> None:
    roles = {
        "ops": ["datasets:create", "schedules:execute", "sessions:delete", "*:share", "stored-agents:share"]
    }
    assert check_role_permissions(roles) == []


def test_requirement_cached_before_a_new_grant_key_still_matches() -> None:
    # Regression for the shared bit masks: a requirement parsed (and cached) before any
    # set used its key must not keep a stale mask once such a set is compiled.
    key = f"fresh{id(object())}:zap"
    before = PermissionSet(["agents:read"])
    assert before.allows(key) is False
    assert before.allows(key + ":id1") is False
    after = PermissionSet([key])
    assert after.allows(key) is True
    assert after.allows(key + ":id1") is True
    wildcard = PermissionSet([key.split(":")[0] + ":*"])
    assert wildcard.allows(key) is True
    assert before.allows(key) is False
