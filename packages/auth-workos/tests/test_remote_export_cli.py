"""``mastra-ee audit export --remote workos`` in-process against the WorkOS emulator."""

from __future__ import annotations

import asyncio
import csv
import json
from pathlib import Path
from typing import Any

import pytest
from mastra.core.cli import _audit_remote, main
from mastra.core.ee.models import AuditActor, AuditEventInput

ORG = "org_01EMULATED"


@pytest.fixture(autouse=True)
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workos_options: dict[str, Any]) -> Path:
    """A project whose audit logger is WorkOS (the emulator); fast polling."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTRA_AUTH_SECRET", "cli-remote-export-secret-0123456789abcdef")
    monkeypatch.setattr(_audit_remote, "POLL_INITIAL", 0.05)
    options = "\n".join(
        f"{key} = {json.dumps(value)}" for key, value in workos_options.items() if key != "role_mapping"
    )
    (tmp_path / "mastra.toml").write_text(f'[auth]\naudit = "workos"\n\n[auth.options.workos]\n{options}\n')
    return tmp_path


async def cli(*argv: str) -> int:
    # The CLI runs its own event loop: call it from a worker thread.
    return await asyncio.to_thread(main, ["audit", "export", "--remote", *argv])


async def push(provider: Any, *actions: str) -> None:
    for action in actions:
        actor = AuditActor(type="user", id="user_01", email="a@example.com", organization_id=ORG)
        await provider.log(AuditEventInput(actor=actor, action=action, outcome="success"))
    await provider.flush_audit()


async def test_wait_prints_the_url_and_progress(provider, emulator, capsys) -> None:
    await push(provider, "auth.login", "auth.logout")
    assert await cli("workos", "--wait") == 0
    out, err = capsys.readouterr()
    url = out.strip()
    assert url.startswith(emulator.base_url) and "\n" not in url
    assert err.startswith("export audit_log_export_") and ": pending (" in err
    sent = emulator.exports.created[-1]
    assert sent["organization_id"] == ORG and "actions" not in sent


async def test_output_downloads_the_csv_with_filters(provider, emulator, project, capsys) -> None:
    await push(provider, "auth.login", "auth.logout")
    assert await cli("workos", "--action", "auth.logout", "--actor", "user_01", "--output", "out.csv") == 0
    with open(project / "out.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["Action"], r["Actor ID"]) for r in rows] == [("mastra.auth.logout", "user_01")]
    assert capsys.readouterr().out == ""


async def test_without_wait_prints_the_export_object(emulator, capsys) -> None:
    assert await cli("workos", "--since", "2026-01-01T00:00:00Z", "--until", "2026-01-02T00:00:00") == 0
    created = json.loads(capsys.readouterr().out)
    assert created["state"] == "pending" and created["id"].startswith("audit_log_export_")
    sent = emulator.exports.created[-1]
    assert sent["range_start"].startswith("2026-01-01T00:00:00") and sent["range_end"].startswith(
        "2026-01-02"
    )


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["better"], "--remote better: the configured audit logger (workos) cannot export remotely"),
        (["workos", "--since", "2026-02-01T00:00:00Z", "--until", "2026-01-01T00:00:00Z"], "--since must be"),
        (["workos", "--since", "yesterday"], "--since: not an ISO 8601 date/time"),
        (["workos", "--outcome", "denied"], "--remote filters by exact --action and --actor only"),
    ],
)
async def test_usage_errors_are_one_line(argv: list[str], message: str, emulator, capsys) -> None:
    assert await cli(*argv) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"mastra-ee audit export: {message}") and err.count("\n") == 1
    assert emulator.exports.created == []


async def test_failures_are_one_line(emulator, capsys) -> None:
    emulator.down = True
    assert await cli("workos") == 1
    assert capsys.readouterr().err == "mastra-ee audit export: WorkOS Audit Logs is unavailable\n"
    emulator.down = False

    emulator.exports.fail = True
    assert await cli("workos", "--wait") == 1
    assert capsys.readouterr().err.splitlines()[-1].endswith("ended in state error")

    emulator.exports.fail, emulator.exports.pending_polls = False, 1000
    assert await cli("workos", "--wait", "--timeout", "0.3") == 1
    assert "still pending after" in capsys.readouterr().err.splitlines()[-1]


def test_format_and_remote_exclude_each_other(capsys) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["audit", "export", "--format", "csv", "--remote", "workos"])
    assert exc.value.code == 2
    assert "argument --remote: not allowed with argument --format" in capsys.readouterr().err
