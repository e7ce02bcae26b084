"""``mastra-ee plugins | config show | license check | audit ...`` run in-process."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from mastra.core.cli import main
from mastra.core.cli._config import MASK, to_toml
from mastra.core.ee.audit import SQLAuditStorage
from mastra.core.ee.models import AuditActor, AuditEventInput, AuditResource

SECRET = "cli-test-secret-0123456789abcdefghijkl"


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTRA_AUTH_SECRET", SECRET)
    # core alone: select the SQL audit storage explicitly (no embedded provider here)
    monkeypatch.setenv("MASTRA_AUTH__AUDIT_STORAGE", "sql")
    return tmp_path


def test_plugins_json_lists_core_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    core = next(r for r in rows if r["name"] == "core")
    assert core["status"] == "active" and core["distribution"] == "mastra-core"
    assert "mastra_ee_session_provider" in core["hooks"]


def test_plugins_shows_blocked(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("MASTRA_EE_DISABLED_PLUGINS", "core")
    assert main(["plugins"]) == 0
    core_line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("core "))
    assert "blocked" in core_line


def test_config_show_masks_every_secret_and_reads_back(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASTRA_EE_LICENSE", "L" * 40)
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__API_KEY", "sk_live_123")
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__COOKIE_PASSWORD", "p" * 32)
    monkeypatch.setenv("MASTRA_AUTH__OPTIONS__WORKOS__CLIENT_ID", "client_1")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    for secret in (SECRET, "L" * 40, "sk_live_123", "p" * 32):
        assert secret not in out
    data = tomllib.loads(out)
    assert data["auth_secret"] == MASK and data["ee_license"] == MASK
    assert data["auth"]["options"]["workos"] == {
        "api_key": MASK,
        "cookie_password": MASK,
        "client_id": "client_1",
    }
    assert data["auth"]["audit_storage"] == "sql"


def test_toml_writer_round_trips_nested_option_values() -> None:
    data = {
        "a": 'quote " and \\ backslash',
        "auth": {
            "options": {"workos": {"role_mapping": {"admin": ["*"], "_default": []}, "n": 3, "on": True}}
        },
    }
    assert tomllib.loads(to_toml(data)) == data


def test_license_check_exit_codes(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["license", "check"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("invalid\n") and "dev exemption: yes" in out
    monkeypatch.setenv("MASTRA_EE_LICENSE", "x" * 32)
    from mastra.core.ee.license import clear_license_cache

    clear_license_cache()
    assert main(["license", "check"]) == 0
    assert capsys.readouterr().out.startswith("valid\ntier: enterprise\n")


async def _seed(db: Path) -> None:
    storage = SQLAuditStorage.from_options({"_settings": _settings(db)})
    for i, (action, outcome) in enumerate(
        [("auth.sign-in", "success"), ("auth.sign-in", "failure"), ("authz.denied", "denied")]
    ):
        await storage.append(
            AuditEventInput(
                actor=AuditActor(type="user", id=f"u{i}", email=f"=cmd{i}@x.io"),
                action=action,
                outcome=outcome,
                resource=AuditResource(type="user", id=f"u{i}"),
            )
        )


def _settings(db: Path):  # type: ignore[no-untyped-def]
    from mastra.core.ee.settings import Settings

    return Settings(database_url=f"sqlite+aiosqlite:///{db}")


async def test_audit_list_export_verify(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio

    await _seed(tmp_path / ".mastra" / "mastra.db")
    from mastra.core.ee.db import dispose_engines

    await dispose_engines()
    # The CLI runs its own event loop: call it from a worker thread.
    code = await asyncio.to_thread(main, ["audit", "list", "--outcome", "failure"])
    out = capsys.readouterr().out
    assert code == 0 and out.count("\n") == 1 and "auth.sign-in" in out and "failure" in out

    out_file = tmp_path / "export.csv"
    assert (
        await asyncio.to_thread(main, ["audit", "export", "--format", "csv", "--output", str(out_file)]) == 0
    )
    lines = out_file.read_bytes().decode().split("\r\n")
    assert lines[0].startswith("id,timestamp,actorType") and len([line for line in lines if line]) == 4
    assert '"\'=cmd2@x.io"' in lines[1]  # formula neutralised

    assert await asyncio.to_thread(main, ["audit", "verify"]) == 0
    assert capsys.readouterr().out.strip() == "OK 3 events"


async def test_audit_verify_names_tampered_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import asyncio
    import sqlite3

    db = tmp_path / ".mastra" / "mastra.db"
    await _seed(db)
    from mastra.core.ee.db import dispose_engines

    await dispose_engines()
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE mastra_audit_events SET action = 'auth.sign-out' WHERE seq = 2")
    assert await asyncio.to_thread(main, ["audit", "verify"]) == 1
    assert capsys.readouterr().out.startswith("BROKEN at seq 2 (id ")


@pytest.mark.parametrize(
    "argv, message",
    [
        (["audit", "list", "--since", "yesterday"], "--since: not an ISO 8601 date/time"),
        (["audit", "list", "--limit", "0"], "--limit must be between 1 and 500"),
        (["audit", "list", "--action", "*" * 9], "*"),
    ],
)
def test_audit_bad_input_is_a_clear_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mastra-ee {argv[0]} {argv[1]}: ") and message in err


def test_users_commands_need_embedded_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["users", "list"]) == 1
    assert "require the embedded Better Auth mode" in capsys.readouterr().err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as exc:
        main(["audit", "export"])  # --format is required
    assert exc.value.code == 2
