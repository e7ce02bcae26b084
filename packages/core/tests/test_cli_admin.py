"""``mastra-ee plugins | config show | license check | audit ...`` run in-process."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest
from mastra.core.cli import main
from mastra.core.cli._command import terminal_safe
from mastra.core.cli._config import MASK, mask_url_password, to_toml
from mastra.core.ee.audit import SQLAuditStorage
from mastra.core.ee.models import AuditActor, AuditEventInput, AuditResource
from mastra.core.ee.options import ProviderOptions

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


def test_config_show_masks_secret_lists_plural_names_and_url_passwords(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """S27: lists of secrets, ``*token*``/``*key*``/``*password*``/``*secret*`` option names
    (plural or not, in any provider table, nested values too) are masked; a URL with a
    password anywhere keeps its shape with only the password replaced."""
    (tmp_path / "mastra.toml").write_text(
        """
[auth]
query_token = true

[auth.options.cookie]
previous_secrets = ["old-secret-one", "old-secret-two"]

[auth.options.oidc]
issuer = "https://idp.example.com"
access_tokens = ["tok-aaa"]
signing_keys = { current = "key-bbb", next = "key-ggg" }
private_key = "key-ccc"
admin_passwords = "pw-ddd"
client_secrets = ["cs-eee"]
webhook_url = "https://hook:hook-pw-fff@hooks.example.com/x"
role_mapping = { admin = ["*"] }
"""
    )
    monkeypatch.setenv("MASTRA_DATABASE_URL", "postgresql+asyncpg://app:db-pass-123@db.internal:5432/mastra")
    monkeypatch.setenv("MASTRA_AUTH__RATE_LIMIT__STORAGE", "redis://:redis-pass-456@cache:6379/0")
    assert main(["config", "show"]) == 0
    out = capsys.readouterr().out
    secrets = ("old-secret", "tok-aaa", "key-bbb", "key-ggg", "key-ccc", "pw-ddd", "cs-eee", "hook-pw-fff")
    leaked = [s for s in (*secrets, "db-pass-123", "redis-pass-456", SECRET) if s in out]
    assert leaked == []
    data = tomllib.loads(out)
    assert data["database_url"] == f"postgresql+asyncpg://app:{MASK}@db.internal:5432/mastra"
    assert data["auth"]["rate_limit"]["storage"] == f"redis://:{MASK}@cache:6379/0"
    assert data["auth"]["query_token"] is True  # a boolean flag carries no secret
    assert data["auth"]["options"]["cookie"] == {"previous_secrets": [MASK, MASK]}
    assert data["auth"]["options"]["oidc"] == {
        "issuer": "https://idp.example.com",
        "access_tokens": [MASK],
        "signing_keys": {"current": MASK, "next": MASK},
        "private_key": MASK,
        "admin_passwords": MASK,
        "client_secrets": [MASK],
        "webhook_url": f"https://hook:{MASK}@hooks.example.com/x",
        "role_mapping": {"admin": ["*"]},
    }


@pytest.mark.parametrize(
    "url, shown",
    [
        ("postgresql+asyncpg://user:pw@host/db", f"postgresql+asyncpg://user:{MASK}@host/db"),
        ("redis://:pw@host:6379/0", f"redis://:{MASK}@host:6379/0"),
        # unencoded '@' or '/' in the password: nothing of it may show
        ("postgresql://u:p@ss@host/db", f"postgresql://u:{MASK}@host/db"),
        ("postgresql://u:pa/ss@host/db", f"postgresql://u:{MASK}@host/db"),
        # no password: unchanged
        ("sqlite+aiosqlite:///./.mastra/mastra.db", "sqlite+aiosqlite:///./.mastra/mastra.db"),
        ("redis://user@host:6379/0", "redis://user@host:6379/0"),
        ("https://example.com:8443/callback", "https://example.com:8443/callback"),
        ("memory", "memory"),
    ],
)
def test_url_password_is_masked_and_the_url_keeps_its_shape(url: str, shown: str) -> None:
    assert mask_url_password(url) == shown


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
    storage = SQLAuditStorage.from_options(ProviderOptions({}, _settings(db)))
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


HOSTILE = "\x1b[31mred\u202eevil"  # an ANSI colour sequence and a right-to-left override


async def test_audit_list_escapes_control_and_bidi_characters(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """S26: values stored in the audit log (written here straight through the storage,
    as a provider or a tampered database could) cannot drive the terminal."""
    import asyncio

    from mastra.core.ee.db import dispose_engines

    storage = SQLAuditStorage.from_options(ProviderOptions({}, _settings(tmp_path / ".mastra" / "mastra.db")))
    await storage.append(
        AuditEventInput(
            actor=AuditActor(type="user", id="u1", email=f"{HOSTILE}@x.io"),
            action="auth.sign-in",
            outcome="success",
            resource=AuditResource(type="user\x07", id=f"id-{HOSTILE}"),
        )
    )
    await dispose_engines()
    assert await asyncio.to_thread(main, ["audit", "list"]) == 0
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\u202e" not in out and "\x07" not in out
    assert "user:\\x1b[31mred\\u202eevil@x.io" in out
    assert "user\\x07:id-\\x1b[31mred\\u202eevil" in out


@pytest.mark.parametrize(
    "raw, shown",
    [
        ("\x00\x07\t\n\r\x1b\x7f", "\\x00\\x07\\x09\\x0a\\x0d\\x1b\\x7f"),  # C0 and DEL
        ("\x85\x9b", "\\x85\\x9b"),  # C1 (NEL, CSI)
        ("\u202a\u202b\u202c\u202d\u202e", "\\u202a\\u202b\\u202c\\u202d\\u202e"),  # bidi overrides
        ("\u2066\u2067\u2068\u2069", "\\u2066\\u2067\\u2068\\u2069"),  # bidi isolates
        ("\u200b\u200f\ufeff\U000e0041", "\\u200b\\u200f\\ufeff\\U000e0041"),  # other format (Cf)
        ("\u2028\u2029", "\\u2028\\u2029"),  # line and paragraph separators
        ("\ud800", "\\ud800"),  # a lone surrogate would make print() raise
        ("back\\x1b", "back\\\\x1b"),  # a literal backslash doubles: escapes cannot be forged
        ("Zoë Ünïcode 日本 café", "Zoë Ünïcode 日本 café"),  # ordinary text unchanged
    ],
)
def test_terminal_safe_escapes_what_could_drive_a_terminal(raw: str, shown: str) -> None:
    assert terminal_safe(raw) == shown


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
