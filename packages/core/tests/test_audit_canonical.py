"""RFC 8785 canonical JSON, the event hash, metadata hygiene and the glob matcher."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from mastra.core.ee.audit import (
    REDACTED,
    canonical_json,
    compute_event_hash,
    glob_match,
    is_secret_key,
    scrub_metadata,
    validate_action_pattern,
)
from mastra.core.ee.audit._canonical import sealed_event_hash
from mastra.core.ee.audit._chain import chain_events, new_event_ids
from mastra.core.ee.audit._metadata import normalise_metadata
from mastra.core.testing.audit import make_event

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
json_values = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def _encodable(value: object) -> bool:
    try:
        rfc8785.dumps(value)
    except (rfc8785.CanonicalizationError, UnicodeEncodeError):
        return False
    return True


@settings(max_examples=250, deadline=None)
@given(json_values)
def test_canonical_json_equals_the_rfc8785_reference(value: object) -> None:
    if _encodable(value):
        assert canonical_json(value) == rfc8785.dumps(value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [1.0, 2.5, 1e21, -0.0]},  # floats take the reference path
        {"\U0001f600": 1, "\ufb01": 2},  # keys whose UTF-16 and code point orders differ
        {"ctl": '\x00\x1f\x7f\u2028"\\/', "ü": "é"},
        [2**53 - 1, -(2**53) + 1, True, None],
    ],
)
def test_canonical_json_edge_cases(value: object) -> None:
    assert canonical_json(value) == rfc8785.dumps(value)


def test_canonical_json_refuses_what_jcs_refuses() -> None:
    with pytest.raises(ValueError):
        canonical_json({"n": 2**60})
    with pytest.raises(ValueError):
        canonical_json({"x": float("nan")})


def test_event_hash_is_sha256_of_jcs_without_the_hash_key() -> None:
    body = {"seq": 1, "action": "auth.sign-in", "hash": "ignored"}
    import hashlib

    expected = hashlib.sha256(b'{"action":"auth.sign-in","seq":1}').hexdigest()
    assert compute_event_hash(body) == expected


@settings(max_examples=120, deadline=None)
@given(st.dictionaries(st.text(max_size=8), json_values, max_size=5))
def test_sealed_events_hash_exactly_like_the_api_object(metadata: dict[str, object]) -> None:
    (sealed,) = chain_events(
        [make_event(metadata=metadata, resource=("agent", "ä1"), duration=5)],
        last_seq=41,
        last_hash="f" * 64,
        now=datetime(2026, 3, 1, 12, 0, 0, 999_999, tzinfo=UTC),
    )
    event = sealed.event()
    assert sealed.body == event.to_json()
    assert event.hash == compute_event_hash(event.to_json()) == sealed_event_hash(sealed.body)
    assert event.to_json()["timestamp"] == "2026-03-01T12:00:00.999Z"


def test_event_ids_are_distinct_uuid4() -> None:
    import uuid

    ids = new_event_ids(1000)
    assert len(set(ids)) == 1000
    assert all(uuid.UUID(i).version == 4 and str(uuid.UUID(i)) == i for i in ids)


# -- metadata hygiene -----------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        "password",
        "newPassword",
        "refresh_token",
        "accessToken",
        "Cookie",
        "set-cookie",
        "client_secret",
        "Authorization",
        "API_KEY",
        "apiKey",
        "private_key",
        "session_id",
        "credentials",
        "passphrase",
    ],
)
def test_secret_looking_keys_are_detected(key: str) -> None:
    assert is_secret_key(key)


@pytest.mark.parametrize("key", ["method", "reason", "email", "count", "provider", "stage", "from", "to"])
def test_ordinary_keys_are_kept(key: str) -> None:
    assert not is_secret_key(key)


def test_scrub_is_recursive_and_does_not_mutate() -> None:
    original = {
        "method": "password",
        "headers": {"authorization": "Bearer x", "accept": "*/*"},
        "attempts": [{"token": "t"}, "plain"],
    }
    scrubbed = scrub_metadata(original)
    assert scrubbed == {
        "method": "password",
        "headers": {"authorization": REDACTED, "accept": "*/*"},
        "attempts": [{"token": REDACTED}, "plain"],
    }
    assert original["headers"]["authorization"] == "Bearer x"


def test_normalise_makes_values_storable_and_hashable() -> None:
    out = normalise_metadata(
        {
            "big": 2**60,
            "nan": float("nan"),
            "when": datetime(2026, 1, 1, tzinfo=UTC),
            "tuple": (1, 2),
            "surrogate": "a\ud800b",
            3: "int key",
            "secret": "s",
        }
    )
    assert out["big"] == str(2**60) and out["nan"] == "nan" and out["tuple"] == [1, 2]
    assert out["when"] == "2026-01-01 00:00:00+00:00" and out["3"] == "int key"
    assert out["surrogate"] == "a?b" and out["secret"] == REDACTED
    canonical_json(out)  # must not raise
    deep: dict[str, object] = {}
    node = deep
    for _ in range(100):
        node["x"] = {}
        node = node["x"]  # type: ignore[assignment]
    assert "[TRUNCATED]" in str(normalise_metadata(deep))


# -- glob matcher ---------------------------------------------------------------------


def _reference_glob(pattern: str, text: str) -> bool:
    """Textbook dynamic programming: obviously right, quadratic, test-only."""
    m, n = len(pattern), len(text)
    row = [True] + [False] * n
    for i in range(1, m + 1):
        new = [row[0] and pattern[i - 1] == "*"] + [False] * n
        for j in range(1, n + 1):
            if pattern[i - 1] == "*":
                new[j] = new[j - 1] or row[j]
            else:
                new[j] = row[j - 1] and pattern[i - 1] == text[j - 1]
        row = new
    return row[n]


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ab*.", max_size=10), st.text(alphabet="ab.", max_size=14))
def test_glob_match_agrees_with_the_reference(pattern: str, text: str) -> None:
    assert glob_match(pattern, text) == _reference_glob(pattern, text)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("auth.*", "auth.sign-in", True),
        ("auth.*", "authz.denied", False),
        ("*", "", True),
        ("a*a", "a", False),
        ("*.sign-in", "auth.sign-in", True),
        ("auth", "auth.x", False),
        ("a*b*c", "abc", True),
        ("a*b*c", "acb", False),
        ("[a]*", "[a]x", True),
        ("a?c", "abc", False),
    ],
)
def test_glob_examples(pattern: str, text: str, expected: bool) -> None:
    assert glob_match(pattern, text) is expected


def test_glob_match_stays_fast_on_adversarial_input() -> None:
    pattern = validate_action_pattern("*a" * 8 + "b")  # 8 stars, never matches
    text = "a" * 100_000
    started = time.perf_counter()
    for _ in range(100):
        assert not glob_match(pattern, text)
    assert time.perf_counter() - started < 2.0  # a backtracking matcher takes minutes here


def test_pattern_limits() -> None:
    assert validate_action_pattern("*" * 8 + "x" * 192) == "*" * 8 + "x" * 192
    with pytest.raises(ValueError, match=r"too long \(201 characters; the limit is 200\)"):
        validate_action_pattern("x" * 201)
    with pytest.raises(ValueError, match=r"too many '\*' wildcards \(9; the limit is 8\)"):
        validate_action_pattern("*" * 9)


def test_has_secret_keys_finds_nested_keys_without_copying() -> None:
    from mastra.core.ee.audit._metadata import has_secret_keys

    assert not has_secret_keys({"method": "password", "list": [{"count": 1}], "n": None})
    assert has_secret_keys({"list": [{"apiKey": "k"}]})
    assert has_secret_keys({"outer": {"inner": {"Set-Cookie": "c"}}})
