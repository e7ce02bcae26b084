"""The one password and display-text policy of the EE core (SPEC 3.4, 9.4, S18, S26)."""

from __future__ import annotations

import gzip
import subprocess
import sys
from importlib import resources

import pytest
from mastra.core.ee.errors import PasswordPolicyError, SignUpFailed, TextPolicyError
from mastra.core.ee.policy import (
    MAX_PASSWORD_BYTES,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_display_text,
    check_password_policy,
    common_passwords,
    is_common_password,
    unsafe_text_reason,
)

TOO_SHORT = "Password must be at least 8 characters"
TOO_LONG = "Password must be at most 128 characters"
TOO_MANY_BYTES = "Password must be at most 128 bytes"
BLANK = "Password must not be only whitespace"
REPEATED = "Password must not be a single repeated character"
COMMON = "Password is too common"


def test_limits_are_the_spec_numbers() -> None:
    assert (MIN_PASSWORD_LENGTH, MAX_PASSWORD_LENGTH, MAX_PASSWORD_BYTES) == (8, 128, 128)


# -- the shipped list -----------------------------------------------------------------------


def test_shipped_list_has_the_10000_most_common_passwords() -> None:
    listed = common_passwords()
    assert isinstance(listed, frozenset)
    assert len(listed) >= 10_000
    for word in ("password", "123456", "qwerty", "iloveyou", "12345678", "michael", "basketball"):
        assert word in listed, word
    # Entries that start with "#" are passwords, not part of the header.
    assert "#1bitch" in listed
    assert not any(line.startswith("# ") for line in listed)


def test_shipped_list_records_its_provenance() -> None:
    data = resources.files("mastra.core.ee.policy").joinpath("common_passwords.txt.gz").read_bytes()
    header, _, body = gzip.decompress(data).decode("utf-8").partition("\n\n")
    assert "zxcvbn 4.5.0" in header and "MIT" in header
    assert "Django 5.2.19" in header and "BSD-3-Clause" in header
    entries = body.removesuffix("\n").split("\n")
    assert f"Entries: {len(entries)}" in header
    assert len(set(entries)) == len(entries)  # de-duplicated
    assert entries[:2] == ["123456", "password"]  # most common first


def test_list_is_loaded_once_and_only_when_needed() -> None:
    assert common_passwords() is common_passwords()
    # Importing the core (and the policy) does not read the list.
    probe = (
        "import mastra.core.ee, mastra.core.ee.policy as p; "
        "print(p._passwords._load_common_passwords.cache_info().currsize)"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "0"


# -- the password rules ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("", TOO_SHORT),
        ("ｐａｓｓ", TOO_SHORT),
        ("x" * 129, TOO_LONG),
        ("ﬃ" * 43, TOO_LONG),  # 43 characters, 129 after NFKC
        ("éà" * 32 + "x", TOO_MANY_BYTES),  # 65 characters, 129 UTF-8 bytes
        ("密码安全" * 11, TOO_MANY_BYTES),  # 44 characters, 132 bytes
        ("🔑🔒" * 16 + "!", TOO_MANY_BYTES),  # 33 characters, 129 bytes
        ("\u3000" * 8, BLANK),  # ideographic spaces become plain spaces
        (" " * 20, BLANK),
        ("\t\n \r\x0b\x0c  ", BLANK),
        ("\u200b" * 8, BLANK),  # zero-width spaces are just as invisible
        ("aaaaaaaa", REPEATED),
        ("ZzZzZzZzZz", REPEATED),  # case-insensitive
        ("１" * 12, REPEATED),
        ("password", COMMON),
        ("Password", COMMON),
        ("PASSWORD1", COMMON),
        ("ｐａｓｓｗｏｒｄ", COMMON),  # fullwidth letters, NFKC "password"
        ("12345678", COMMON),
        ("①②③④⑤⑥⑦⑧", COMMON),  # circled digits, NFKC "12345678"
        ("iloveyou", COMMON),
        ("Basketball", COMMON),
        ("qwertyuiop", COMMON),
    ],
)
def test_refused(password: str, message: str) -> None:
    with pytest.raises(PasswordPolicyError) as caught:
        check_password_policy(password)
    assert caught.value.message == message
    assert caught.value.status == 400


@pytest.mark.parametrize(
    ("password", "normalised"),
    [
        ("kV9#qL2m", "kV9#qL2m"),  # exactly 8 characters
        ("Correct-Horse-7" * 8 + "Battery!", "Correct-Horse-7" * 8 + "Battery!"),  # 128 bytes
        ("éà" * 32, "éà" * 32),  # 64 characters, exactly 128 bytes
        ("🔑🔒" * 16, "🔑🔒" * 16),  # 32 characters, exactly 128 bytes
        ("  padded  ", "  padded  "),  # never trimmed
        ("⑦③①⑨②⑧⑤④", "73192854"),  # counted and returned after NFKC
        ("ｓｔａｐｌｅ　４３２１", "staple 4321"),
        ("password is long enough", "password is long enough"),  # contains, not equals
    ],
)
def test_accepted_and_normalised(password: str, normalised: str) -> None:
    assert check_password_policy(password) == normalised


def test_byte_limit_counts_after_nfkc() -> None:
    # "ｐ" is 3 bytes; NFKC makes it the 1-byte "p", so 100 of them fit.
    assert check_password_policy("ｐｑ" * 50) == "pq" * 50


def test_is_common_password_matches_after_nfkc_and_case_folding() -> None:
    assert is_common_password("QWERTY")
    assert is_common_password("ｑｗｅｒｔｙ")
    assert not is_common_password("ｑｗｅｒｔｙ ")  # a trailing space is a different password
    assert not is_common_password("kV9#qL2m")


# -- display text (names and e-mails) --------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("Ann\x00", "a control character (U+0000)"),
        ("Ann\x07Lee", "a control character (U+0007)"),
        ("Ann\nLee", "a control character (U+000A)"),
        ("Ann\tLee", "a control character (U+0009)"),
        ("Ann\x7f", "a control character (U+007F)"),
        ("Ann\x85", "a control character (U+0085)"),  # C1
        ("Ann\x9b", "a control character (U+009B)"),
        ("evil\u202egnp.exe", "a bidirectional control character (U+202E)"),
        ("\u202aAnn", "a bidirectional control character (U+202A)"),
        ("Ann\u2066x\u2069", "a bidirectional control character (U+2066)"),
        ("Ann\u200f", "a bidirectional control character (U+200F)"),
        ("Ann\u061c", "a bidirectional control character (U+061C)"),
        ("A\u200bnn", "an invisible format character (U+200B)"),
        ("A\u200dnn", "an invisible format character (U+200D)"),
        ("\ufeffAnn", "an invisible format character (U+FEFF)"),
        ("Ann\u00ad", "an invisible format character (U+00AD)"),
        ("Ann\U000e0041", "an invisible format character (U+E0041)"),
        ("Ann\u2028Lee", "a line or paragraph separator (U+2028)"),
        ("Ann\u2029Lee", "a line or paragraph separator (U+2029)"),
        ("Ann\ud800", "an unpaired surrogate (U+D800)"),
    ],
)
def test_unsafe_text_is_named(text: str, reason: str) -> None:
    assert unsafe_text_reason(text) == reason


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Ann Lee",
        "  Ann  ",
        "Zoë Ångström",
        "José Nuñez-O'Brien",
        "李小龙",
        "محمد",  # right-to-left script without override characters
        "Ann\u00a0Lee",  # no-break space is visible spacing
        "Ann\u3000Lee",
        "Ann 👩🏽",  # emoji with a skin-tone modifier
        "Ann \ue000",  # private use: allowed (documented)
        "Ann \U0010fffd",
        "ann.lee+tag@example.com",
    ],
)
def test_safe_text_passes(text: str) -> None:
    assert unsafe_text_reason(text) is None
    assert check_display_text(text, "Name") == text


def test_check_display_text_raises_the_policy_message() -> None:
    with pytest.raises(TextPolicyError) as caught:
        check_display_text("evil\u202egnp.exe", "Name")
    error = caught.value
    assert isinstance(error, SignUpFailed)  # SPEC 3.4: every other sign-up refusal
    assert error.status == 400
    assert error.code == "text_policy"
    assert error.message == "Name must not contain a bidirectional control character (U+202E)"
    assert error.reason == "unsafe_name"
    with pytest.raises(TextPolicyError) as caught:
        check_display_text("ann\x00@example.com", "Email")
    assert caught.value.message == "Email must not contain a control character (U+0000)"
    assert caught.value.reason == "unsafe_email"
