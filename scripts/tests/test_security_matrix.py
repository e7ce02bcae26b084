"""docs/security.md is a table of ASVS requirements, each naming the tests that prove it.
A row may not outlive its proof: every named test must still exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MATRIX = ROOT / "docs" / "security.md"
REFERENCE = re.compile(r"`([\w./-]+\.py)::(test_\w+)`")


def rows() -> list[str]:
    return [
        line
        for line in MATRIX.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and not line.startswith("| ASVS") and "::" in line
    ]


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_")
    }


def test_matrix_has_at_least_40_requirements_each_with_a_test() -> None:
    found = rows()
    assert len(found) >= 40, len(found)
    for line in found:
        assert REFERENCE.search(line), f"row without a test reference: {line[:80]}"


def test_every_named_test_exists() -> None:
    missing = []
    cache: dict[Path, set[str]] = {}
    for line in rows():
        for file, name in REFERENCE.findall(line):
            path = ROOT / file
            if not path.is_file():
                missing.append(f"{file} (no such file)")
                continue
            if name not in cache.setdefault(path, defined_tests(path)):
                missing.append(f"{file}::{name}")
    assert not missing, "tests named in docs/security.md are gone:\n" + "\n".join(missing)


def test_every_new_security_rule_has_a_row() -> None:
    """S21-S30 (the rules the attack review added) each appear in the matrix."""
    spec_column = " ".join(line.split(" | ")[3] for line in rows())
    for number in range(21, 31):
        assert re.search(rf"\bS{number}\b", spec_column), f"S{number} has no row"


def test_the_checker_notices_a_missing_test(tmp_path: Path) -> None:
    sample = tmp_path / "test_sample.py"
    sample.write_text("def test_present():\n    pass\n\nasync def test_async_present():\n    pass\n")
    assert defined_tests(sample) == {"test_present", "test_async_present"}
