#!/usr/bin/env python3
"""Changesets for a Python monorepo (stdlib only).

A changeset is ``.changeset/<any-name>.md`` in the Changesets format::

    ---
    "mastra-core": minor
    "mastra-auth-workos": patch
    ---

    What changed, in a sentence or two.

``check`` fails when a change under ``packages/X`` carries no changeset naming X.
``version`` applies every pending changeset: bumps each named distribution by the
highest level asked for, prepends the summaries to its CHANGELOG.md and deletes
the consumed files.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

LEVELS = {"patch": 1, "minor": 2, "major": 3}
HEADINGS = {3: "Major Changes", 2: "Minor Changes", 1: "Patch Changes"}
_FRONT = re.compile(r"\A---\s*\n(?P<front>.*?)\n---\s*\n?(?P<body>.*)\Z", re.S)
_LINE = re.compile(r"""^\s*["']?(?P<name>[A-Za-z0-9_.\-]+)["']?\s*:\s*(?P<level>major|minor|patch)\s*$""")
_VERSION = re.compile(r'(?m)^(version\s*=\s*")(?P<v>\d+\.\d+\.\d+)(")')
# A dependency range on a sibling, as the provider packages declare mastra-core.
_RANGE = re.compile(r'"(?P<name>[A-Za-z0-9_.\-]+)>=(?P<low>\d+(?:\.\d+)*),<(?P<high>\d+(?:\.\d+)*)"')
_NAME = re.compile(r'(?m)^name\s*=\s*"(?P<n>[^"]+)"')


class ChangesetError(ValueError):
    """A changeset file or the repository is not in the expected shape."""


@dataclass
class Changeset:
    path: Path
    bumps: dict[str, int] = field(default_factory=dict)
    summary: str = ""


def parse_changeset(path: Path) -> Changeset:
    text = path.read_text(encoding="utf-8")
    match = _FRONT.match(text)
    if not match:
        raise ChangesetError(f"{path}: missing '---' front matter")
    bumps: dict[str, int] = {}
    for number, line in enumerate(match["front"].splitlines(), start=2):
        if not line.strip():
            continue
        entry = _LINE.match(line)
        if not entry:
            raise ChangesetError(f"{path}:{number}: expected '\"<distribution>\": major|minor|patch'")
        bumps[entry["name"]] = max(bumps.get(entry["name"], 0), LEVELS[entry["level"]])
    if not bumps:
        raise ChangesetError(f"{path}: names no distribution")
    return Changeset(path, bumps, match["body"].strip())


def pending(root: Path) -> list[Changeset]:
    folder = root / ".changeset"
    return [parse_changeset(p) for p in sorted(folder.glob("*.md")) if p.name.lower() != "readme.md"]


def distributions(root: Path) -> dict[str, Path]:
    """Distribution name → package folder."""
    result: dict[str, Path] = {}
    for pyproject in sorted(root.glob("packages/*/pyproject.toml")):
        match = _NAME.search(pyproject.read_text(encoding="utf-8"))
        if match:
            result[match["n"]] = pyproject.parent
    return result


def bump(version: str, level: int) -> str:
    major, minor, patch = (int(x) for x in version.split("."))
    if level == 3:
        return f"{major + 1}.0.0"
    if level == 2:
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def compatible_range(version: str) -> tuple[str, str]:
    """``(low, high)`` of the releases compatible with ``version``: before 1.0 a minor
    release may break (``0.2.0`` -> ``>=0.2,<0.3``), after it a major one (``>=1.4,<2``)."""
    major, minor, _ = (int(x) for x in version.split("."))
    return f"{major}.{minor}", (f"0.{minor + 1}" if major == 0 else f"{major + 1}")


def _release(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


def _current_version(pyproject: Path) -> str:
    current = _VERSION.search(pyproject.read_text(encoding="utf-8"))
    if not current:
        raise ChangesetError(f"{pyproject}: no static version")
    return current["v"]


def _follow_ranges(text: str, new_versions: dict[str, str]) -> str:
    """Dependency ranges on released distributions that no longer admit the new
    version move to its compatible range (``mastra-core>=0.1,<0.2`` -> ``>=0.2,<0.3``)."""

    def rewrite(match: re.Match[str]) -> str:
        new = new_versions.get(match["name"])
        if new is None or _release(new) < _release(match["high"]):
            return match[0]
        low, high = compatible_range(new)
        return f'"{match["name"]}>={low},<{high}"'

    return _RANGE.sub(rewrite, text)


def apply_version(root: Path) -> dict[str, str]:
    changesets = pending(root)
    dists = distributions(root)
    plan: dict[str, int] = {}
    for cs in changesets:
        for name, level in cs.bumps.items():
            if name not in dists:
                raise ChangesetError(f"{cs.path}: unknown distribution '{name}'")
            plan[name] = max(plan.get(name, 0), level)
    # A package whose range on a released sibling must move is released too (a patch:
    # its metadata changed). A patch release stays inside any compatible range, so one
    # pass finds them all.
    new_versions = {
        name: bump(_current_version(dists[name] / "pyproject.toml"), lvl) for name, lvl in plan.items()
    }
    followers: dict[str, list[str]] = {}
    for name, folder in dists.items():
        text = (folder / "pyproject.toml").read_text(encoding="utf-8")
        if _follow_ranges(text, new_versions) == text:
            continue
        moved = [m["name"] for m in _RANGE.finditer(text) if m["name"] in new_versions]
        followers[name] = [f"Depends on {dep} {new_versions[dep]}." for dep in moved]
        plan[name] = max(plan.get(name, 0), 1)
        new_versions.setdefault(name, bump(_current_version(folder / "pyproject.toml"), 1))
    released: dict[str, str] = {}
    for name, _level in sorted(plan.items()):
        folder = dists[name]
        pyproject = folder / "pyproject.toml"
        text = pyproject.read_text(encoding="utf-8")
        new = new_versions[name]
        text = _VERSION.sub(lambda m, new=new: f"{m[1]}{new}{m[3]}", text, count=1)
        pyproject.write_text(_follow_ranges(text, new_versions), encoding="utf-8")
        sections: dict[int, list[str]] = {}
        for cs in changesets:
            if name in cs.bumps and cs.summary:
                sections.setdefault(cs.bumps[name], []).append(cs.summary)
        if name in followers:
            sections.setdefault(1, []).extend(followers[name])
        entry = [f"## {new}", ""]
        for lvl in sorted(sections, reverse=True):
            entry += [f"### {HEADINGS[lvl]}", ""]
            entry += ["- " + s.replace("\n", "\n  ") for s in sections[lvl]]
            entry.append("")
        changelog = folder / "CHANGELOG.md"
        old = changelog.read_text(encoding="utf-8") if changelog.exists() else f"# {name}\n"
        title, _, history = old.partition("\n")
        parts = [title, "", *entry]
        if history.strip():
            parts.append(history.strip("\n"))
        changelog.write_text("\n".join(parts).rstrip("\n") + "\n", encoding="utf-8")
        released[name] = new
    for cs in changesets:
        cs.path.unlink()
    return released


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=root, check=True, capture_output=True, text=True).stdout


def changed_files(root: Path, base: str) -> list[str]:
    try:
        merge_base = _git(root, "merge-base", base, "HEAD").strip()
    except subprocess.CalledProcessError:
        # No such base (first push, detached CI clone): compare with the root commit.
        merge_base = _git(root, "rev-list", "--max-parents=0", "HEAD").split()[-1]
    files = set(_git(root, "diff", "--name-only", merge_base).split())
    files |= set(_git(root, "ls-files", "--others", "--exclude-standard").split())
    return sorted(files)


def check(root: Path, base: str) -> list[str]:
    """Problems found: one line per package changed without a changeset naming it."""
    files = changed_files(root, base)
    dists = {folder.name: name for name, folder in distributions(root).items()}
    touched = {
        dists[f.split("/")[1]] for f in files if f.startswith("packages/") and f.split("/")[1] in dists
    }
    named: set[str] = set()
    for f in files:
        if f.startswith(".changeset/") and f.endswith(".md") and not f.lower().endswith("readme.md"):
            path = root / f
            if path.exists():
                named |= set(parse_changeset(path).bumps)
    return [f"{d}: changed under packages/ but no changeset names it" for d in sorted(touched - named)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="changesets")
    parser.add_argument("--root", default=str(Path(__file__).resolve().parent.parent))
    sub = parser.add_subparsers(dest="command", required=True)
    check_cmd = sub.add_parser("check")
    check_cmd.add_argument("--base", default="origin/main")
    sub.add_parser("version")
    args = parser.parse_args(argv)
    root = Path(args.root)
    try:
        if args.command == "check":
            problems = check(root, args.base)
            for line in problems:
                print(line, file=sys.stderr)
            if not problems:
                print("changesets: OK")
            return 1 if problems else 0
        released = apply_version(root)
        for name, ver in released.items():
            print(f"{name} {ver}")
        if not released:
            print("changesets: nothing to release")
        return 0
    except ChangesetError as exc:
        print(f"changesets: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
