"""``mastra-ee`` output an operator or a script relies on: ``--json`` on every listing
and report, provider names in ``plugins``, the sign-in-without-users warning, and a
progress bar on a terminal only (issue #12)."""

from __future__ import annotations

import fcntl
import json
import logging
import os
import pty
import select
import struct
import subprocess
import sys
import termios
from pathlib import Path

import pytest
from mastra.core.cli import main
from mastra.core.ee.audit import SQLAuditStorage
from mastra.core.ee.db import dispose_engines
from mastra.core.ee.errors import RefusedInProduction
from mastra.core.ee.options import ProviderOptions
from mastra.core.ee.plugins import PluginRegistry, build_auth
from mastra.core.ee.settings import Settings
from mastra.core.testing.audit import make_event
from mastra.core.testing.reference import reference_plugin

SECRET = "cli-output-secret-0123456789abcdefghijkl"


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [name for name in os.environ if name.startswith("MASTRA_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTRA_AUTH_SECRET", SECRET)
    monkeypatch.setenv("MASTRA_AUTH__AUDIT_STORAGE", "sql")
    return tmp_path


def _seed(tmp_path: Path, n: int) -> None:
    import asyncio

    async def seed() -> None:
        db = tmp_path / ".mastra" / "mastra.db"
        settings = Settings(database_url=f"sqlite+aiosqlite:///{db}", auth_secret=SECRET)
        storage = SQLAuditStorage.from_options(ProviderOptions({}, settings))
        await storage.append_many([make_event(f"test.e{i}") for i in range(n)])
        await dispose_engines()

    asyncio.run(seed())


def test_json_on_every_listing_and_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _seed(tmp_path, 3)
    assert main(["audit", "list", "--json", "--limit", "2"]) == 0
    events = json.loads(capsys.readouterr().out)
    assert [e["action"] for e in events] == ["test.e2", "test.e1"] and events[0]["seq"] == 3

    assert main(["audit", "verify", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True and report["events"] == 3 and report["line"] == "OK 3 events"
    assert report["keyed"] is True and report["broken"] is None

    assert main(["license", "check", "--json"]) == 1
    assert json.loads(capsys.readouterr().out) == {
        "valid": False,
        "tier": None,
        "features": [],
        "dev_exemption": True,
    }

    assert main(["config", "show", "--json"]) == 0
    config = json.loads(capsys.readouterr().out)
    assert config["auth_secret"] == "********" and config["auth"]["audit_storage"] == "sql"


def test_audit_verify_json_names_the_broken_event(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import sqlite3

    _seed(tmp_path, 3)
    with sqlite3.connect(tmp_path / ".mastra" / "mastra.db") as conn:
        conn.execute("UPDATE mastra_audit_events SET action = 'x.y' WHERE seq = 2")
    assert main(["audit", "verify", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and report["broken"]["seq"] == 2
    assert report["line"].startswith("BROKEN at seq 2 (id ")


def test_plugins_shows_the_provider_names_each_plugin_offers(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASTRA_EE_EXTRA_PLUGINS", "mastra.core.testing.reference:plugin")
    assert main(["plugins", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    assert rows["core"]["providers"] == ["console", "cookie", "memory", "sql", "static"]
    assert rows["mastra.core.testing.reference:plugin"]["providers"] == ["reference"]
    assert main(["plugins"]) == 0
    core = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("core "))
    assert "providers: console, cookie, memory, sql, static" in core


# -- credentials without a user provider -------------------------------------------------


def _credentials_only(**values: object) -> tuple[Settings, PluginRegistry]:
    registry = PluginRegistry()
    registry.register_builtin()
    registry.register(reference_plugin(), "reference")
    settings = Settings(auth={"credentials": "reference", "session": "cookie"}, auth_secret=SECRET, **values)
    return settings, registry


def test_credentials_without_a_user_provider_warns_in_development(caplog: pytest.LogCaptureFixture) -> None:
    settings, registry = _credentials_only()
    with caplog.at_level(logging.WARNING, logger="mastra.ee"):
        auth = build_auth(settings, registry)
    assert auth.user is None
    assert (
        "MASTRA_AUTH__CREDENTIALS=reference is set without a user provider, so authentication is "
        "disabled: set MASTRA_AUTH__USER=reference" in caplog.text
    )


def test_credentials_without_a_user_provider_is_refused_in_production() -> None:
    settings, registry = _credentials_only(env="production", ee_license="L" * 40)
    with pytest.raises(RefusedInProduction, match="set MASTRA_AUTH__USER=reference"):
        build_auth(settings, registry)


def _serve_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    env.update(
        MASTRA_AUTH_SECRET=SECRET,
        MASTRA_EE_DISABLED_PLUGINS="better,workos,cloud,oidc",
        MASTRA_EE_EXTRA_PLUGINS="mastra.core.testing.reference:plugin",
        MASTRA_AUTH__CREDENTIALS="reference",
        MASTRA_AUTH__SESSION="cookie",
    )
    return {**env, **extra}


@pytest.mark.slow
def test_serve_refuses_credentials_without_users_in_production(tmp_path: Path) -> None:
    env = _serve_env(MASTRA_ENV="production", MASTRA_PUBLIC_URL="https://ee.example.com")
    result = subprocess.run(
        [sys.executable, "-m", "mastra.core.cli", "serve", "--port", "1"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith(
        "mastra-ee serve: MASTRA_AUTH__CREDENTIALS=reference is set without a user provider"
    )


@pytest.mark.slow
def test_serve_warns_loudly_about_credentials_without_users(tmp_path: Path) -> None:
    from mastra.core.testing.reference import ServeProcess

    server = ServeProcess(tmp_path)
    server.env = _serve_env()
    with server:
        pass
    assert (
        "WARNING mastra.ee: MASTRA_AUTH__CREDENTIALS=reference is set without a user provider"
        in server.stderr
    )


# -- progress on a terminal ------------------------------------------------------------


def _audit(tmp_path: Path, action: list[str], *, tty: bool) -> tuple[bytes, str]:
    """``audit <action>`` with stdout to a file and stderr on a 100-column pseudo-terminal
    (or a pipe)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    env.update(MASTRA_AUTH_SECRET=SECRET, MASTRA_AUTH__AUDIT_STORAGE="sql")
    command = [sys.executable, "-m", "mastra.core.cli", "audit", *action]
    out_path = tmp_path / f"export-{tty}.jsonl"
    if not tty:
        with out_path.open("wb") as out:
            done = subprocess.run(
                command, cwd=tmp_path, env=env, stdout=out, stderr=subprocess.PIPE, timeout=60
            )
        assert done.returncode == 0
        return out_path.read_bytes(), done.stderr.decode()
    controller, terminal = pty.openpty()
    fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    with out_path.open("wb") as out:
        proc = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=out, stderr=terminal)
    os.close(terminal)
    err = b""
    while select.select([controller], [], [], 60)[0]:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the process closed its end
            break
        if not chunk:
            break
        err += chunk
    os.close(controller)
    assert proc.wait(timeout=60) == 0
    return out_path.read_bytes(), err.decode(errors="replace")


@pytest.mark.slow
@pytest.mark.parametrize(
    "action, lines", [(["export", "--format", "jsonl"], 1200), (["verify"], 1)], ids=["export", "verify"]
)
def test_progress_shows_on_a_terminal_and_not_in_a_pipe(
    tmp_path: Path, action: list[str], lines: int
) -> None:
    _seed(tmp_path, 1200)
    piped_out, piped_err = _audit(tmp_path, action, tty=False)
    tty_out, tty_err = _audit(tmp_path, action, tty=True)
    assert piped_err == ""
    assert tty_err.startswith(f"\r{action[0]}:   0%|") and "/1.20k [" in tty_err and "events/s" in tty_err
    assert tty_out == piped_out and piped_out.count(b"\n") == lines
