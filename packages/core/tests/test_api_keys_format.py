"""The key format (docs/api-keys.md): the documented regex, the CRC32 checksum a scanner
can check offline, 256-bit secrets; and the effective permissions of a scoped key."""

from __future__ import annotations

import re
import secrets
import zlib
from pathlib import Path

import pytest
from mastra.core.ee.api_keys import (
    API_KEY_PATTERN,
    API_KEY_REGEX,
    generate_key,
    looks_like_api_key,
    parse_key,
)
from mastra.core.ee.api_keys._format import BASE62
from mastra.core.ee.permissions import intersect_permissions

DOC = Path(__file__).resolve().parents[3] / "docs" / "api-keys.md"


def test_generated_keys_match_the_pattern_and_checksum() -> None:
    for env in ("live", "test", "dev", "eu1"):
        text, parts = generate_key(env)
        match = API_KEY_REGEX.fullmatch(text)
        assert match is not None and match["env"] == env and match["key_id"] == parts.key_id
        assert looks_like_api_key(text)
        assert len(parts.secret) == 43 and len(BASE62) ** 43 >= 2**256


def test_the_checksum_is_crc32_in_base62_computable_by_a_scanner() -> None:
    """Recomputed here from the documentation's recipe, not with the module's helper."""
    text, _ = generate_key("live")
    body, tail = text[:-6], text[-6:]
    number, digits = zlib.crc32(body.encode()), ""
    while number:
        number, digit = divmod(number, 62)
        digits = BASE62[digit] + digits
    assert tail == digits.rjust(6, "0")


def test_random_text_of_the_right_shape_is_not_a_key() -> None:
    """About one in 5.7e10 random strings has a valid checksum: none of 2000 should."""
    text, _ = generate_key("live")
    shape = text[: len("mk_live_")]
    fakes = [
        shape
        + "".join(secrets.choice(BASE62) for _ in range(16))
        + "_"
        + "".join(secrets.choice(BASE62) for _ in range(49))
        for _ in range(2000)
    ]
    assert all(API_KEY_REGEX.fullmatch(f) for f in fakes)
    assert not any(looks_like_api_key(f) for f in fakes)


@pytest.mark.parametrize("bad", ["mk_Live_x", "", "mk_", "sk_live_" + "a" * 66, "mk_live_" + "a" * 66])
def test_malformed_text_does_not_parse(bad: str) -> None:
    assert parse_key(bad) is None


def test_a_scanner_finds_keys_inside_text() -> None:
    text, _ = generate_key("live")
    found = API_KEY_REGEX.findall(f'export MASTRA_KEY="{text}" # leaked')
    assert len(found) == 1


def test_the_documented_regex_is_the_code_s() -> None:
    assert API_KEY_PATTERN in DOC.read_text()
    assert re.compile(API_KEY_PATTERN).pattern == API_KEY_REGEX.pattern


def test_parsed_key_repr_hides_the_secret() -> None:
    text, parts = generate_key("live")
    assert parts.secret not in repr(parse_key(text))


@pytest.mark.parametrize(
    ("permissions", "scopes", "expected"),
    [
        (["*"], ["agents:read"], ["agents:read"]),
        (["agents:read", "workflows:read"], ["*"], ["agents:read", "workflows:read"]),
        (["agents:read"], ["agents:*"], ["agents:read"]),
        (["studio:read", "agents:read"], ["agents:read:a1"], ["agents:read:a1"]),
        (["agents:read"], ["workflows:read"], []),
        ([], ["*"], []),
    ],
)
def test_effective_permissions_of_a_scoped_key(
    permissions: list[str], scopes: list[str], expected: list[str]
) -> None:
    assert intersect_permissions(permissions, scopes) == expected
