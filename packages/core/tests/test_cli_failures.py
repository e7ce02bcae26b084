"""Every ``mastra-ee`` command turns an expected failure into one stderr line
``mastra-ee <command>: <message>`` and exit 1, never a traceback (issue #12)."""

from __future__ import annotations

import argparse
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from mastra.core.cli import build_parser, main
from mastra.core.cli._command import LOGGERS

SECRET = "cli-failure-secret-0123456789abcdefghijkl"
UNREACHABLE_DB = "postgresql+asyncpg://127.0.0.1:1/x"

#: One invocation per leaf command (the meta-test below keeps this table complete).
#: ``composes``: the command builds the providers, so it meets the database and a
#: provider selection; the others only read settings.
COMMANDS: dict[str, tuple[list[str], bool]] = {
    "serve": (["serve", "--port", "1"], True),
    "plugins": (["plugins"], False),
    "config show": (["config", "show"], False),
    "license check": (["license", "check"], False),
    "users create": (["users", "create", "--email", "a@example.com", "--password-stdin"], True),
    "users list": (["users", "list"], True),
    "users set-role": (["users", "set-role", "a@example.com", "admin"], True),
    "users disable": (["users", "disable", "a@example.com"], True),
    "keys create": (
        ["keys", "create", "--user", "a@example.com", "--name", "x", "--scope", "agents:read"],
        True,
    ),
    "keys list": (["keys", "list", "--user", "a@example.com"], True),
    "keys rotate": (["keys", "rotate", "k1", "--user", "a@example.com"], True),
    "keys revoke": (["keys", "revoke", "k1", "--user", "a@example.com"], True),
    "service-accounts create": (["service-accounts", "create", "--name", "x", "--role", "viewer"], True),
    "service-accounts list": (["service-accounts", "list"], True),
    "service-accounts disable": (["service-accounts", "disable", "sa_x"], True),
    "service-accounts enable": (["service-accounts", "enable", "sa_x"], True),
    "service-accounts delete": (["service-accounts", "delete", "sa_x"], True),
    "service-accounts keys create": (
        ["service-accounts", "keys", "create", "sa_x", "--name", "x", "--scope", "agents:read"],
        True,
    ),
    "service-accounts keys list": (["service-accounts", "keys", "list", "sa_x"], True),
    "service-accounts keys rotate": (["service-accounts", "keys", "rotate", "sa_x", "k1"], True),
    "service-accounts keys revoke": (["service-accounts", "keys", "revoke", "sa_x", "k1"], True),
    "audit list": (["audit", "list"], True),
    "audit export": (["audit", "export", "--format", "jsonl"], True),
    "audit verify": (["audit", "verify"], True),
    "audit checkpoint": (["audit", "checkpoint"], True),
}


@pytest.fixture(autouse=True)
def _project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in [name for name in os.environ if name.startswith("MASTRA_")]:
        monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MASTRA_AUTH_SECRET", SECRET)
    monkeypatch.setenv("MASTRA_AUTH__AUDIT_STORAGE", "sql")
    return tmp_path


@pytest.fixture(autouse=True)
def _logging_restored() -> Iterator[None]:
    """``serve`` configures the mastra loggers (handlers, no propagation): undo it, so
    later tests' ``caplog`` still sees their records."""
    saved = [(log, log.level, log.propagate, list(log.handlers)) for log in map(logging.getLogger, LOGGERS)]
    yield
    for log, level, propagate, handlers in saved:
        log.setLevel(level)
        log.propagate = propagate
        log.handlers[:] = handlers


def _leaf_commands(parser: argparse.ArgumentParser, prefix: str = "") -> set[str]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        return {prefix}
    leaves: set[str] = set()
    for name, child in subparsers[0].choices.items():
        leaves |= _leaf_commands(child, f"{prefix} {name}".strip())
    return leaves


def test_the_table_walks_every_command() -> None:
    assert _leaf_commands(build_parser()) == set(COMMANDS)


def _one_line_failure(command: str, capsys: pytest.CaptureFixture[str], expected: str, *extra: str) -> None:
    assert main([*COMMANDS[command][0], *extra]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith(f"mastra-ee {command}: ") and expected in err, err


@pytest.mark.parametrize("command", list(COMMANDS))
def test_malformed_toml(command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "broken.toml").write_text("[auth\nuser = 'x'\n")
    _one_line_failure(command, capsys, "broken.toml: malformed TOML", "--config", "broken.toml")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_missing_config_file(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    _one_line_failure(command, capsys, "Configuration file not found: nope.toml", "--config", "nope.toml")


@pytest.mark.parametrize("command", list(COMMANDS))
def test_bad_integer_setting(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASTRA_TRUSTED_PROXY_COUNT", "two")
    _one_line_failure(command, capsys, "trusted_proxy_count: Input should be a valid integer")


COMPOSING = [name for name, (_, composes) in COMMANDS.items() if composes]


@pytest.mark.parametrize("command", COMPOSING)
def test_unknown_provider_is_a_configuration_error_with_a_suggestion(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASTRA_AUTH__AUDIT_STORAGE", "sqll")
    _one_line_failure(command, capsys, "Unknown provider 'sqll' for MASTRA_AUTH__AUDIT_STORAGE")


AUDIT = [name for name in COMPOSING if name.startswith("audit")]


@pytest.mark.parametrize("command", AUDIT)
def test_unreachable_database(
    command: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASTRA_DATABASE_URL", UNREACHABLE_DB)
    _one_line_failure(command, capsys, "database unreachable: ")


def test_did_you_mean_names_the_closest_provider(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MASTRA_AUTH__SESSION", "cokie")
    assert main(["audit", "list"]) == 1
    assert capsys.readouterr().err.rstrip().endswith(". Did you mean 'cookie'?")


# -- the real process: exit code and stderr, no traceback --------------------------------


def _run(*argv: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("MASTRA_")}
    return subprocess.run(
        [sys.executable, "-m", "mastra.core.cli", *argv],
        cwd=cwd,
        env={**base, "MASTRA_AUTH_SECRET": SECRET, "MASTRA_AUTH__AUDIT_STORAGE": "sql", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_unreachable_database_in_the_real_process(tmp_path: Path) -> None:
    result = _run("audit", "list", cwd=tmp_path, MASTRA_DATABASE_URL=UNREACHABLE_DB)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines() == [
        "mastra-ee audit list: database unreachable: [Errno 111] Connect call failed ('127.0.0.1', 1)"
    ]


@pytest.mark.slow
def test_serve_probes_the_database_at_start(tmp_path: Path) -> None:
    result = _run("serve", "--port", "1", cwd=tmp_path, MASTRA_DATABASE_URL=UNREACHABLE_DB)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1].startswith("mastra-ee serve: database unreachable: ")
    assert "Mastra EE studio" not in result.stdout  # it never claimed to be up


@pytest.mark.slow
def test_serve_on_a_busy_port_exits_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = _run("serve", "--port", str(port), cwd=tmp_path)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert (
        result.stderr.splitlines()[-1]
        == f"mastra-ee serve: could not listen on 127.0.0.1:{port} (see the error above)"
    )


@pytest.mark.slow
def test_version_lists_the_installed_mastra_distributions(tmp_path: Path) -> None:
    from importlib.metadata import version

    result = _run("--version", cwd=tmp_path)
    assert result.returncode == 0
    assert f"mastra-core {version('mastra-core')}" in result.stdout.splitlines()


@pytest.mark.slow
def test_log_level_shows_what_the_command_otherwise_keeps_quiet(tmp_path: Path) -> None:
    quiet = _run("audit", "list", cwd=tmp_path)
    loud = _run("--log-level", "INFO", "audit", "list", cwd=tmp_path)
    assert quiet.returncode == loud.returncode == 0
    assert "auth: " not in quiet.stderr
    assert "INFO mastra.ee: auth: user=- session=- " in loud.stderr
