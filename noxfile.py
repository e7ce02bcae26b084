"""Developer sessions: tests, typecheck, lint, bench, changeset, version.

Each package's tests run in an environment of their own, synced from ``uv.lock``
with only that package (and what it declares) installed, so a missing dependency
shows up as an import error instead of hiding behind a sibling's install.
"""

from __future__ import annotations

import os
import sys
import tomllib
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tooling", "tests"]

ROOT = Path(__file__).parent


def _workspace_packages() -> dict[str, str]:
    """Folder name → distribution name of every ``packages/*`` member (a new provider
    package is picked up by every session without editing this file)."""
    found: dict[str, str] = {}
    for pyproject in sorted(ROOT.glob("packages/*/pyproject.toml")):
        found[pyproject.parent.name] = tomllib.loads(pyproject.read_text())["project"]["name"]
    return found


PACKAGES = _workspace_packages()
SOURCE_ROOTS = sorted(str(p) for p in ROOT.glob("packages/*/src"))


def _sync(session: nox.Session, *args: str) -> None:
    """Install from the lock file into this session's own virtualenv."""
    session.run_install(
        "uv",
        "sync",
        "--locked",
        "--no-default-groups",
        *args,
        env={"UV_PROJECT_ENVIRONMENT": session.virtualenv.location},
        silent=True,
    )


@nox.session
@nox.parametrize("package", list(PACKAGES))
def tests(session: nox.Session, package: str) -> None:
    """One package's tests, in an environment with only that package installed."""
    _sync(session, "--package", PACKAGES[package], "--group", "test")
    args = session.posargs or []
    session.run(
        "python",
        "-m",
        "pytest",
        str(ROOT / "packages" / package / "tests"),
        "-p",
        "no:cacheprovider",
        *args,
        env={"PYTHONDONTWRITEBYTECODE": "1"},
    )


@nox.session
def tooling(session: nox.Session) -> None:
    """Tests of the repository's own scripts (changesets, dev entry point)."""
    # Every package: the docs generators and the host-app example import them.
    _sync(session, "--all-packages", "--group", "test")
    session.run("python", "-m", "pytest", str(ROOT / "scripts" / "tests"), "-p", "no:cacheprovider", "-q")


@nox.session
def typecheck(session: nox.Session) -> None:
    """mypy --strict over every package's sources."""
    _sync(session, "--all-packages", "--group", "dev")
    # The namespace package ``mastra`` spans every src/ folder: mypy finds them through
    # MYPYPATH, built from the same glob as the list of files to check.
    session.run(
        "mypy",
        *[str(Path(src) / "mastra") for src in SOURCE_ROOTS],
        env={"MYPYPATH": os.pathsep.join(SOURCE_ROOTS)},
    )


@nox.session
def lint(session: nox.Session) -> None:
    _sync(session, "--all-packages", "--group", "dev")
    session.run("ruff", "check", "packages", "noxfile.py", "scripts")
    session.run("ruff", "format", "--check", "packages", "noxfile.py", "scripts")


@nox.session
def docs(session: nox.Session) -> None:
    """The documentation site, warnings as errors (mkdocs.yml; generated reference pages)."""
    _sync(session, "--all-packages", "--group", "docs")
    site = session.posargs[0] if session.posargs else str(ROOT / "site")
    session.run(
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(ROOT / "mkdocs.yml"),
        "--site-dir",
        site,
        env={"NO_MKDOCS_2_WARNING": "1"},
    )


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmarks: each prints medians and ratios against a baseline measured in the same run."""
    _sync(session, "--all-packages", "--group", "test", "--group", "bench")
    benches = session.posargs or sorted(str(p) for p in ROOT.glob("packages/*/benchmarks/bench_*.py"))
    for bench_file in benches:
        session.log(f"--- {bench_file}")
        session.run("python", bench_file)


@nox.session(venv_backend="none")
def changeset(session: nox.Session) -> None:
    """Fail when a change under packages/X carries no changeset naming X."""
    base = os.environ.get("CHANGESET_BASE", "origin/main")
    session.run(
        sys.executable, str(ROOT / "scripts" / "changesets.py"), "check", "--base", base, *session.posargs
    )


@nox.session(venv_backend="none")
def version(session: nox.Session) -> None:
    """Apply pending changesets: bump versions, write CHANGELOG.md, delete consumed files."""
    session.run(sys.executable, str(ROOT / "scripts" / "changesets.py"), "version", *session.posargs)
