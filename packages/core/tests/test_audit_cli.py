"""``mastra-ee audit checkpoint`` and ``audit verify [--checkpoint FILE]`` (SPEC 1.4, S28),
run in-process against the project's SQLite database."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path

import pytest
from mastra.core.cli import main
from mastra.core.ee.audit import ChainKey, SQLAuditStorage
from mastra.core.ee.db import dispose_engines
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.settings import Settings
from mastra.core.testing.audit import make_event

SECRET = "cli-audit-secret-0123456789abcdefghijkl"
OLD = "cli-audit-old-secret-0123456789abcdefgh"


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTRA_AUTH_SECRET", SECRET)
    monkeypatch.setenv("MASTRA_AUTH__AUDIT_STORAGE", "sql")
    monkeypatch.delenv("MASTRA_AUTH_PREVIOUS_SECRETS", raising=False)
    return tmp_path


def _db(tmp_path: Path) -> Path:
    return tmp_path / ".mastra" / "mastra.db"


async def _seed(tmp_path: Path, n: int = 5, secret: str | None = SECRET) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{_db(tmp_path)}", auth_secret=secret)
    storage = SQLAuditStorage.from_options(ProviderOptions({}, settings))
    await storage.append_many([make_event(f"test.e{i}") for i in range(n)])
    await dispose_engines()


async def _cli(*argv: str) -> int:
    # The CLI runs its own event loop: call it from a worker thread.
    return await asyncio.to_thread(main, list(argv))


async def test_checkpoint_then_truncation_fails_verify_with_that_checkpoint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await _seed(tmp_path)
    assert await _cli("audit", "checkpoint") == 0
    line = capsys.readouterr().out
    assert line.count("\n") == 1
    data = json.loads(line)
    assert data["seq"] == 5 and data["kid"] == ChainKey.from_secret(SECRET).kid
    (tmp_path / "cp.jsonl").write_text(line)

    assert await _cli("audit", "verify", "--checkpoint", "cp.jsonl") == 0
    captured = capsys.readouterr()
    assert captured.out == "OK 5 events\n" and "extends 1 signed checkpoint" in captured.err

    with sqlite3.connect(_db(tmp_path)) as conn:
        conn.execute("DELETE FROM mastra_audit_events WHERE seq > 3")
    assert await _cli("audit", "verify") == 0  # the shorter chain alone is valid
    capsys.readouterr()
    assert await _cli("audit", "verify", "--checkpoint", "cp.jsonl") == 1
    assert capsys.readouterr().out == (
        "CHECKPOINT seq 5 not extended: the log ends at seq 3 (events after it were removed)\n"
    )


async def test_verify_refuses_a_forged_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    await _seed(tmp_path)
    assert await _cli("audit", "checkpoint") == 0
    data = json.loads(capsys.readouterr().out)
    data["seq"] = 4  # claim an earlier head, keep the signature
    (tmp_path / "forged.json").write_text(json.dumps(data))
    assert await _cli("audit", "verify", "--checkpoint", "forged.json") == 1
    assert capsys.readouterr().out.startswith("CHECKPOINT seq 4 refused: the signature does not verify")


@pytest.mark.parametrize(
    "content, message",
    [
        (None, "cannot read"),
        ("not a checkpoint\n", "line 1: not a checkpoint"),
        ("\n", "no checkpoint found"),
    ],
)
async def test_a_bad_checkpoint_file_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    await _seed(tmp_path)
    if content is not None:
        (tmp_path / "cp.txt").write_text(content)
    assert await _cli("audit", "verify", "--checkpoint", "cp.txt") == 1
    err = capsys.readouterr().err
    assert err.startswith("mastra-ee audit verify: --checkpoint") and message in err


async def test_the_secret_comes_from_dot_mastra_secret_when_the_env_has_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    file_secret = "file-secret-written-by-serve-0123456789ab"
    await _seed(tmp_path, secret=file_secret)
    (tmp_path / ".mastra" / "secret").write_text(file_secret + "\n")
    monkeypatch.delenv("MASTRA_AUTH_SECRET")
    assert await _cli("audit", "verify") == 0
    assert capsys.readouterr().out == "OK 5 events\n"
    assert await _cli("audit", "checkpoint") == 0
    assert json.loads(capsys.readouterr().out)["kid"] == ChainKey.from_secret(file_secret).kid


async def test_rotation_needs_the_previous_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _seed(tmp_path, n=2, secret=OLD)
    await _seed(tmp_path, n=1, secret=SECRET)  # the server now runs with the new secret
    assert await _cli("audit", "verify") == 1
    out = capsys.readouterr().out
    assert out.startswith("BROKEN at seq 1 (id ") and f"audit key id {ChainKey.from_secret(OLD).kid}" in out
    monkeypatch.setenv("MASTRA_AUTH_PREVIOUS_SECRETS", OLD)
    assert await _cli("audit", "verify") == 0
    assert capsys.readouterr().out == "OK 3 events\n"


async def test_checkpoint_needs_a_secret_and_an_intact_chain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    await _seed(tmp_path)
    with sqlite3.connect(_db(tmp_path)) as conn:
        conn.execute("UPDATE mastra_audit_events SET action = 'test.cover-up' WHERE seq = 2")
    assert await _cli("audit", "checkpoint") == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(
        "mastra-ee audit checkpoint: refusing to sign a broken chain: BROKEN at seq 2"
    )
    monkeypatch.delenv("MASTRA_AUTH_SECRET")
    assert await _cli("audit", "checkpoint") == 1
    assert "MASTRA_AUTH_SECRET" in capsys.readouterr().err


async def test_verify_notes_legacy_unkeyed_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MASTRA_AUTH_SECRET")
    await _seed(tmp_path, n=2, secret=None)  # written before keying / without a secret
    monkeypatch.setenv("MASTRA_AUTH_SECRET", SECRET)
    await _seed(tmp_path, n=1)
    assert await _cli("audit", "verify") == 0
    captured = capsys.readouterr()
    assert captured.out == "OK 3 events\n" and "2 events are unkeyed" in captured.err
