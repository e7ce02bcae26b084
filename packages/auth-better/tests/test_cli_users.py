"""``mastra-ee users ...`` against the embedded Better Auth store (SPEC 1.4)."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path

import pytest
from mastra.core.cli import main

SECRET = "cli-users-secret-0123456789abcdefghijkl"


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTRA_AUTH_SECRET", SECRET)
    return tmp_path


def run(argv: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> int:
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(argv)


def test_create_list_set_role_disable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(
            ["users", "create", "--email", " Ann@Example.COM ", "--password-stdin"],
            monkeypatch,
            "pass-word-1\n",
        )
        == 0
    )
    assert "role=owner" in capsys.readouterr().out  # first account is the owner
    assert (
        run(
            ["users", "create", "--email", "bob@example.com", "--name", "Bob", "--password-stdin"],
            monkeypatch,
            "pass-word-2\n",
        )
        == 0
    )
    assert "role=viewer" in capsys.readouterr().out

    assert run(["users", "list", "--json"], monkeypatch) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["email"], r["role"], r["disabled"]) for r in rows] == [
        ("ann@example.com", "owner", False),
        ("bob@example.com", "viewer", False),
    ]
    assert set(rows[0]) == {"id", "email", "name", "role", "disabled", "created"}

    assert run(["users", "set-role", "bob@example.com", "admin"], monkeypatch) == 0
    assert capsys.readouterr().out.strip() == "bob@example.com: viewer -> admin"
    assert run(["users", "set-role", "bob@example.com", "emperor"], monkeypatch) == 1
    assert "unknown role 'emperor'" in capsys.readouterr().err

    assert run(["users", "disable", "bob@example.com"], monkeypatch) == 0
    capsys.readouterr()
    assert run(["users", "list", "--json"], monkeypatch) == 0
    assert json.loads(capsys.readouterr().out)[1]["disabled"] is True

    # both administrative actions are in the audit log, by system:cli
    assert run(["audit", "list"], monkeypatch) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[4] for line in out] == ["users.disable", "users.role-change"]
    assert all("system:cli" in line for line in out)


def test_bad_input_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        run(["users", "create", "--email", "not-an-email", "--password-stdin"], monkeypatch, "pass-word-1\n")
        == 1
    )
    assert capsys.readouterr().err.startswith("mastra-ee users create: ")
    assert run(["users", "create", "--email", "a@b.io", "--password-stdin"], monkeypatch, "short\n") == 1
    assert "at least 8 characters" in capsys.readouterr().err
    assert run(["users", "disable", "nobody@example.com"], monkeypatch) == 1
    assert "No user with email" in capsys.readouterr().err


async def test_disable_revokes_live_sessions(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    from mastra.core.ee.db import dispose_engines
    from mastra.core.ee.plugins import build_auth
    from mastra.core.ee.settings import Settings

    auth = build_auth(Settings())
    user = await auth.user.create_user("carol@example.com", "pass-word-3")
    session = await auth.session.create_session(user.id)
    assert await auth.session.validate_session(session.id) is not None
    await dispose_engines()
    assert await asyncio.to_thread(run, ["users", "disable", "carol@example.com"], monkeypatch) == 0
    assert await auth.session.validate_session(session.id) is None


async def test_users_list_escapes_control_and_bidi_characters(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """S26: a name or email stored with terminal escapes (inserted through the store,
    past the sign-up validation) prints escaped; ``--json`` stays escaped by json."""
    from mastra.core.ee.db import dispose_engines
    from mastra.core.ee.plugins import build_auth
    from mastra.core.ee.settings import Settings

    name, email = "\x1b[31mMallory\u202elive", "\x1b]0;pwned\x07@example.com"
    auth = build_auth(Settings())
    await auth.user.store.create_user(
        email=email, name=name, password_hash="x", role=None, default_role="viewer"
    )
    await dispose_engines()

    assert await asyncio.to_thread(run, ["users", "list"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\u202e")
    assert "\\x1b[31mMallory\\u202elive" in out and "\\x1b]0;pwned\\x07@example.com" in out

    assert await asyncio.to_thread(run, ["users", "list", "--json"], monkeypatch) == 0
    out = capsys.readouterr().out
    assert not any(c in out for c in "\x1b\x07\u202e")
    assert [(r["email"], r["name"]) for r in json.loads(out)] == [(email, name)]


def test_users_create_leaves_directory_0700_and_database_0600(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """S27 on the CLI path: the first command of a new project creates ``.mastra`` and
    the database; under the usual umask SQLite alone would make them 0755/0644."""
    import os
    import stat

    previous = os.umask(0o022)
    try:
        assert (
            run(
                ["users", "create", "--email", "ann@example.com", "--password-stdin"],
                monkeypatch,
                "pass-word-1\n",
            )
            == 0
        )
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / ".mastra").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / ".mastra" / "mastra.db").stat().st_mode) == 0o600


def test_admin_commands_use_the_secret_serve_generated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without MASTRA_AUTH_SECRET, `users` reads ./.mastra/secret as `serve` does, so the
    audit events it writes join the keyed chain (`audit verify` stays OK)."""
    from mastra.core.cli._serve import ensure_secret

    monkeypatch.delenv("MASTRA_AUTH_SECRET")
    monkeypatch.delenv("BETTER_AUTH_SECRET", raising=False)
    ensure_secret(tmp_path / ".mastra" / "secret")
    capsys.readouterr()
    assert (
        run(
            ["users", "create", "--email", "ann@example.com", "--password-stdin"],
            monkeypatch,
            "pass-word-1\n",
        )
        == 0
    )
    assert (
        run(
            ["users", "create", "--email", "bob@example.com", "--password-stdin"],
            monkeypatch,
            "pass-word-2\n",
        )
        == 0
    )
    assert run(["users", "set-role", "bob@example.com", "admin"], monkeypatch) == 0
    capsys.readouterr()
    assert run(["audit", "verify"], monkeypatch) == 0
    captured = capsys.readouterr()
    assert captured.out.strip() == "OK 1 events"
    assert "unkeyed" not in captured.err


@pytest.mark.parametrize(
    "argv",
    [
        ["users", "list"],
        ["users", "create", "--email", "a@example.com", "--password-stdin"],
        ["users", "set-role", "a@example.com", "admin"],
        ["users", "disable", "a@example.com"],
    ],
    ids=["list", "create", "set-role", "disable"],
)
def test_an_unreachable_database_is_one_line(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASTRA_DATABASE_URL", "postgresql+asyncpg://127.0.0.1:1/x")
    assert run(argv, monkeypatch, "pass-word-1\n") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"mastra-ee users {argv[1]}: "), err
    assert "unreachable" in err or "unavailable" in err, err
