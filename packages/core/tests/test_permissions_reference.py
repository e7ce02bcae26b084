"""SPEC 4.2/4.4/4.5 against the published reference, npm ``@mastra/core`` (``auth/ee``).

One Node process answers every question (``peer/reference_permissions.mjs``): its
``PERMISSION_PATTERNS`` must all be ours, and its ``matchesPermission`` / ``hasPermission``
must agree with ours on seeded generated pairs. Two differences are by design and asserted
exactly (docs/decisions.md): the reference's ``stored:<action>`` alias, which 4.2 matches
literally, and ids containing colons, which the reference cuts at the third colon.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from mastra.core.ee.permissions import (
    ACTIONS,
    DEFAULT_ROLES,
    RESOURCES,
    compile_permissions,
    has_permission,
    matches,
    permission_patterns,
    validate_permission,
)
from mastra.core.ee.permissions._grammar import (
    LEGACY_STORED_PATTERNS,
    PROJECT_RESOURCES,
    REFERENCE_ACTIONS,
    REFERENCE_RESOURCES,
)
from mastra.core.testing.node import mastra_core_folder, node_available

pytestmark = pytest.mark.node

SCRIPT = Path(__file__).parent / "peer" / "reference_permissions.mjs"
SEED = 11
RANDOM_PAIRS = 20_000
STORED_FAMILIES = tuple(r for r in REFERENCE_RESOURCES if r.startswith("stored-"))

# Parts the generator draws from: the whole vocabulary, the wildcard, the reference's
# legacy ``stored`` family and a name outside every vocabulary.
RESOURCE_POOL = (*RESOURCES, "stored", "*", "custom")
ACTION_POOL = (*ACTIONS, "*", "custom")
PLAIN_IDS = ("a1", "t-1", "x.y", "*")
COLON_IDS = ("tenant:1", "tenant:2", "tenant", "a:b:c", "a1")
FLAT = ("legacy-admin", "stored", "agents")


def _permission(rng: random.Random, ids: tuple[str, ...]) -> str:
    roll = rng.random()
    if roll < 0.03:
        return rng.choice(FLAT)
    if roll < 0.06:
        return "*"
    base = f"{rng.choice(RESOURCE_POOL)}:{rng.choice(ACTION_POOL)}"
    return f"{base}:{rng.choice(ids)}" if rng.random() < 0.4 else base


def _grant_for(required: str, rng: random.Random, ids: tuple[str, ...]) -> str:
    """A grant close to ``required`` (so about half the pairs match): parts widened to
    ``*``, the id dropped or changed, a stored family replaced by the alias."""
    parts = required.split(":", 2)
    if len(parts) < 2:
        return required if rng.random() < 0.5 else _permission(rng, ids)
    if parts[0] in STORED_FAMILIES and rng.random() < 0.5:
        parts[0] = "stored"
    for index in (0, 1):
        if rng.random() < 0.3:
            parts[index] = "*"
    if len(parts) == 3:
        roll = rng.random()
        if roll < 0.3:
            parts = parts[:2]
        elif roll < 0.5:
            parts[2] = rng.choice(ids)
    elif rng.random() < 0.2:
        parts.append(rng.choice(ids))
    return ":".join(parts)


def generated_pairs(ids: tuple[str, ...], count: int, seed: int) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    pairs: list[tuple[str, str]] = []
    for _ in range(count):
        required = _permission(rng, ids)
        granted = _grant_for(required, rng, ids) if rng.random() < 0.5 else _permission(rng, ids)
        pairs.append((granted, required))
    return pairs


def pattern_product() -> list[tuple[str, str]]:
    """Every listed pattern granted against every concrete ``res:act`` requirement."""
    required = [f"{r}:{a}" for r in RESOURCE_POOL if r != "*" for a in ACTION_POOL if a != "*"]
    return [(g, r) for g in permission_patterns() for r in required]


def stored_alias(granted: str, required: str) -> bool:
    """The reference's expansion: ``stored:<rest>`` counts as ``stored-<family>:<rest>``."""
    g_res, _, rest = granted.partition(":")
    r_res = required.split(":", 1)[0]
    return g_res == "stored" and r_res in STORED_FAMILIES and matches(f"{r_res}:{rest}", required)


def first_three_parts(permission: str) -> str:
    """What the reference compares: it splits on every colon and reads three parts."""
    return ":".join(permission.split(":")[:3])


ROLE_LISTS_REQUIRED = sorted(
    {*(f"{r}:{a}" for r, actions in REFERENCE_ACTIONS.items() for a in actions), *LEGACY_STORED_PATTERNS}
    - {"stored:*"}
)
PLAIN_PAIRS = generated_pairs(PLAIN_IDS, RANDOM_PAIRS, SEED) + pattern_product()
COLON_PAIRS = generated_pairs(COLON_IDS, 2_000, SEED + 1)
ROLE_LISTS = [(role.permissions, p) for role in DEFAULT_ROLES for p in (*ROLE_LISTS_REQUIRED, "audit:read")]


@pytest.fixture(scope="module")
def reference() -> Iterator[dict[str, Any]]:
    if not node_available():
        if os.environ.get("CI"):
            pytest.fail("Node.js/npm not installed")
        pytest.skip("Node.js/npm not installed")
    folder = mastra_core_folder()
    # ESM resolves packages relative to the script, so the script lives next to node_modules.
    shutil.copyfile(SCRIPT, folder / SCRIPT.name)
    payload = {"pairs": PLAIN_PAIRS + COLON_PAIRS, "lists": ROLE_LISTS}
    started = time.perf_counter()
    run = subprocess.run(
        ["node", SCRIPT.name],
        cwd=folder,
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    answer = json.loads(run.stdout)
    answer["wallSeconds"] = time.perf_counter() - started
    print(
        f"\nreference: {len(payload['pairs'])} pairs + {len(ROLE_LISTS)} lists in one Node process, "
        f"{answer['wallSeconds']:.2f} s wall, {answer['elapsedMs']:.1f} ms matching"
    )
    yield answer


def test_every_reference_pattern_is_ours_and_valid(reference: dict[str, Any]) -> None:
    ours = permission_patterns()
    assert len(reference["patterns"]) == 134 and reference["patternsValid"]
    assert reference["patterns"] == reference["patternValues"]
    assert sorted(set(reference["patterns"]) - set(ours)) == []
    for pattern in reference["patterns"]:
        assert validate_permission(pattern) == pattern
    # Ours adds only '*:*' and the project's own resources.
    extras = set(ours) - set(reference["patterns"])
    assert {p for p in extras if p.split(":")[0] not in PROJECT_RESOURCES} == {"*:*"}


def test_reference_vocabulary_copy_is_exact(reference: dict[str, Any]) -> None:
    assert list(REFERENCE_RESOURCES) == reference["resources"]
    assert sorted(ACTIONS) == sorted(reference["actions"])
    listed_pairs = {p for p in reference["patterns"] if "*" not in p and not p.startswith("stored:")}
    ours = {f"{r}:{a}" for r, actions in REFERENCE_ACTIONS.items() for a in actions}
    assert ours == listed_pairs and set(reference["permissions"]) <= ours
    assert {p for p in reference["patterns"] if p.startswith("stored:")} == set(LEGACY_STORED_PATTERNS)


def test_matcher_agrees_except_the_stored_alias(reference: dict[str, Any]) -> None:
    answers = reference["matches"][: len(PLAIN_PAIRS)]
    assert len(PLAIN_PAIRS) >= 10_000
    disagreements = []
    for (granted, required), theirs in zip(PLAIN_PAIRS, answers, strict=True):
        ours = matches(granted, required)
        assert compile_permissions([granted]).allows(required) is ours, (granted, required)
        if ours is not theirs:
            disagreements.append((granted, required, theirs))
    alias_pairs = [(g, r) for g, r in PLAIN_PAIRS if stored_alias(g, r)]
    # Exactly the alias: the reference grants, we do not, and every alias pair disagrees.
    assert [(g, r) for g, r, theirs in disagreements if not (theirs and stored_alias(g, r))] == []
    assert sorted((g, r) for g, r, _ in disagreements) == sorted(alias_pairs)
    # The generator exercises both answers, the wildcards and the alias.
    granted_count = sum(answers)
    assert 0.2 < sum(answers[:RANDOM_PAIRS]) / RANDOM_PAIRS < 0.8
    assert len(alias_pairs) >= 100
    assert any(g.startswith("*:") for g, _ in PLAIN_PAIRS) and any(":*" in g for g, _ in PLAIN_PAIRS)
    print(
        f"\npairs compared: {len(PLAIN_PAIRS)}, reference granted {granted_count}, "
        f"disagreements {len(disagreements)} (all stored alias)"
    )


def test_ids_with_colons_are_stricter_than_the_reference(reference: dict[str, Any]) -> None:
    answers = reference["matches"][len(PLAIN_PAIRS) :]
    differing = 0
    for (granted, required), theirs in zip(COLON_PAIRS, answers, strict=True):
        ours = matches(granted, required)
        # The reference reads three colon-separated parts; SPEC 4.1 keeps the whole id.
        assert theirs is (
            matches(first_three_parts(granted), first_three_parts(required))
            or stored_alias(first_three_parts(granted), first_three_parts(required))
        ), (granted, required)
        # Never the other way round: ours grants nothing the reference denies.
        assert not (ours and not theirs), (granted, required)
        differing += ours is not theirs
    assert differing > 0


def test_has_permission_agrees_on_the_default_roles(reference: dict[str, Any]) -> None:
    for (granted, required), theirs in zip(ROLE_LISTS, reference["listed"], strict=True):
        expected = theirs and not any(stored_alias(g, required) for g in granted)
        assert has_permission(granted, required) is expected, (granted, required)


def test_default_roles_against_the_reference_roles(reference: dict[str, Any]) -> None:
    """Member and viewer grant what the reference's do on its permissions; admin also
    creates and deletes; nothing reaches the legacy ``stored`` family."""
    ours = {role.id: role.permissions for role in DEFAULT_ROLES}
    concrete = [p for p in reference["patterns"] if "*" not in p]
    for role_id, theirs in reference["roleGrants"].items():
        granted = [p for p in concrete if has_permission(ours[role_id], p)]
        if role_id == "owner":
            assert granted == theirs
        elif role_id == "admin":
            assert set(theirs) - set(granted) == {"stored:read", "stored:write"}
            assert {p.split(":")[1] for p in set(granted) - set(theirs)} == {"create", "delete"}
        else:
            assert set(theirs) - set(granted) == {"stored:read"} and set(granted) <= set(theirs)
