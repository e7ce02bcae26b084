"""The changeset tool on a throw-away git repository shaped like this monorepo."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

spec = importlib.util.spec_from_file_location("changesets", Path(__file__).parent.parent / "changesets.py")
assert spec and spec.loader
changesets = importlib.util.module_from_spec(spec)
sys.modules["changesets"] = changesets  # dataclasses look their module up
spec.loader.exec_module(changesets)


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    for folder, name in (("core", "mastra-core"), ("auth-workos", "mastra-auth-workos")):
        pkg = tmp_path / "packages" / folder
        pkg.mkdir(parents=True)
        (pkg / "pyproject.toml").write_text(f'[project]\nname = "{name}"\nversion = "0.1.0"\n')
    (tmp_path / ".changeset").mkdir()
    (tmp_path / ".changeset" / "README.md").write_text("docs\n")
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "add", "-A")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-qm", "init")
    return tmp_path


def test_check_fails_for_package_change_without_changeset(repo: Path) -> None:
    (repo / "packages/core/x.py").write_text("x = 1\n")
    problems = changesets.check(repo, "main")
    assert problems == ["mastra-core: changed under packages/ but no changeset names it"]


def test_check_passes_when_changeset_names_package(repo: Path) -> None:
    (repo / "packages/core/x.py").write_text("x = 1\n")
    (repo / ".changeset/brave-fox.md").write_text('---\n"mastra-core": minor\n---\n\nAdd x.\n')
    assert changesets.check(repo, "main") == []


def test_check_ignores_changes_outside_packages(repo: Path) -> None:
    (repo / "README.md").write_text("hi\n")
    assert changesets.check(repo, "main") == []


def test_version_bumps_writes_changelog_and_consumes(repo: Path) -> None:
    (repo / ".changeset/a.md").write_text('---\n"mastra-core": patch\n---\n\nFix a.\n')
    (repo / ".changeset/b.md").write_text(
        '---\n"mastra-core": minor\n"mastra-auth-workos": major\n---\n\nAdd b.\n'
    )
    released = changesets.apply_version(repo)
    assert released == {"mastra-auth-workos": "1.0.0", "mastra-core": "0.2.0"}
    assert 'version = "0.2.0"' in (repo / "packages/core/pyproject.toml").read_text()
    log = (repo / "packages/core/CHANGELOG.md").read_text()
    assert log.startswith("# mastra-core\n\n## 0.2.0\n")
    assert (
        log.index("### Minor Changes")
        < log.index("- Add b.")
        < log.index("### Patch Changes")
        < log.index("- Fix a.")
    )
    assert sorted(p.name for p in (repo / ".changeset").iterdir()) == ["README.md"]
    # A second release keeps the history below the new entry.
    (repo / ".changeset/c.md").write_text('---\n"mastra-core": patch\n---\n\nFix c.\n')
    changesets.apply_version(repo)
    log = (repo / "packages/core/CHANGELOG.md").read_text()
    assert log.index("## 0.2.1") < log.index("## 0.2.0")


@pytest.mark.parametrize(
    "text, message",
    [
        ("no front matter\n", "missing '---' front matter"),
        ('---\n"mastra-core": huge\n---\n', "expected"),
        ("---\n\n---\nbody\n", "names no distribution"),
    ],
)
def test_malformed_changesets_are_clear_errors(repo: Path, text: str, message: str) -> None:
    (repo / ".changeset/bad.md").write_text(text)
    with pytest.raises(changesets.ChangesetError, match=message):
        changesets.pending(repo)


def test_unknown_distribution_is_refused(repo: Path) -> None:
    (repo / ".changeset/x.md").write_text('---\n"mastra-nope": patch\n---\n\nx\n')
    with pytest.raises(changesets.ChangesetError, match="unknown distribution 'mastra-nope'"):
        changesets.apply_version(repo)


def test_a_minor_core_release_moves_the_providers_range_and_releases_them(repo: Path) -> None:
    workos = repo / "packages/auth-workos/pyproject.toml"
    workos.write_text(workos.read_text() + 'dependencies = ["mastra-core>=0.1,<0.2", "httpx>=0.28"]\n')
    (repo / ".changeset/a.md").write_text('---\n"mastra-core": patch\n---\n\nFix a.\n')
    assert changesets.apply_version(repo) == {"mastra-core": "0.1.1"}  # still inside the range
    assert '"mastra-core>=0.1,<0.2"' in workos.read_text()
    (repo / ".changeset/b.md").write_text('---\n"mastra-core": minor\n---\n\nAdd b.\n')
    released = changesets.apply_version(repo)
    assert released == {"mastra-core": "0.2.0", "mastra-auth-workos": "0.1.1"}
    text = workos.read_text()
    assert '"mastra-core>=0.2,<0.3", "httpx>=0.28"' in text
    assert 'version = "0.1.1"' in text
    assert "- Depends on mastra-core 0.2.0." in (repo / "packages/auth-workos/CHANGELOG.md").read_text()


def test_compatible_ranges() -> None:
    assert changesets.compatible_range("0.2.0") == ("0.2", "0.3")
    assert changesets.compatible_range("1.4.2") == ("1.4", "2")
