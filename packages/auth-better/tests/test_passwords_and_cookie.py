"""The Better Auth password handler and cookie signer against real 1.7.25 vectors."""

from __future__ import annotations

import asyncio
import time

import pytest
from mastra.auth.better import BetterCookie, PasswordHasher, better_scrypt, sign_token, unsign_value
from mastra.core.ee.errors import PasswordPolicyError
from mastra.core.ee.policy import check_password_policy


def test_verifies_real_better_auth_hash(vectors: dict) -> None:
    hasher = PasswordHasher()
    assert hasher.verify_and_update_sync(vectors["password"], vectors["storedHash"]) == (True, None)
    assert hasher.verify_and_update_sync(vectors["password"] + " ", vectors["storedHash"])[0] is False
    assert better_scrypt.identify(vectors["storedHash"])


def test_nfkc_vector_verifies_both_spellings(vectors: dict) -> None:
    hasher = PasswordHasher()
    assert hasher.verify_and_update_sync(vectors["nfkcPassword"], vectors["nfkcStoredHash"])[0]
    assert hasher.verify_and_update_sync("password123", vectors["nfkcStoredHash"])[0]
    assert not hasher.verify_and_update_sync("password124", vectors["nfkcStoredHash"])[0]


def test_hash_format_uses_hex_string_salt(vectors: dict) -> None:
    stored = PasswordHasher().hash_sync("some password")
    salt, key = stored.split(":")
    assert len(salt) == 32 and len(key) == 128
    import hashlib

    expected = hashlib.scrypt(
        b"some password", salt=salt.encode(), n=16384, r=16, p=1, dklen=64, maxmem=1 << 27
    )
    assert key == expected.hex()


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "zz",
        "b9ec66bfa5599f2dcb80dbdf39ccde3b",
        "B9EC66BFA5599F2DCB80DBDF39CCDE3B:" + "A" * 128,
        "x:y",
        "$2b$10$abc",
    ],
)
def test_malformed_hashes_fail_closed(bad: str) -> None:
    assert PasswordHasher().verify_and_update_sync("whatever password", bad) == (False, None)


def test_argon2_choice_and_rehash_on_scheme_change(vectors: dict) -> None:
    argon = PasswordHasher("argon2")
    stored = argon.hash_sync("an argon password")
    assert stored.startswith("$argon2id$")
    ok, new_hash = argon.verify_and_update_sync(vectors["password"], vectors["storedHash"])
    assert ok and new_hash and new_hash.startswith("$argon2id$")
    ok, back = PasswordHasher().verify_and_update_sync("an argon password", stored)
    assert ok and back and better_scrypt.identify(back)
    with pytest.raises(ValueError):
        PasswordHasher("md5_crypt")


@pytest.mark.parametrize("size", [73, 4097, 20000])
def test_huge_passwords_never_crash(size: int) -> None:
    hasher = PasswordHasher()
    stored = hasher.hash_sync("regular password")
    assert hasher.verify_and_update_sync("p" * size, stored) == (False, None)


def test_policy_counts_nfkc_characters() -> None:
    assert check_password_policy("⑦③①⑨②⑧⑤④") == "73192854"
    with pytest.raises(PasswordPolicyError, match="at most 128"):
        check_password_policy("ﬃ" * 43)
    with pytest.raises(PasswordPolicyError, match="at least 8"):
        check_password_policy("ｐａｓｓ")
    assert check_password_policy("  padded  ") == "  padded  "  # never trimmed


async def test_hashing_never_blocks_the_event_loop() -> None:
    hasher = PasswordHasher()
    gaps: list[float] = []
    done = asyncio.Event()

    async def ticker() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.005)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    task = asyncio.create_task(ticker())
    start = time.perf_counter()
    stored = await hasher.hash("a password to hash")
    await hasher.verify_and_update("a password to hash", stored)
    elapsed = time.perf_counter() - start
    done.set()
    await task
    # Two scrypt runs take tens of milliseconds; the loop kept ticking meanwhile.
    assert elapsed > 0.03
    assert max(gaps) < elapsed * 0.8


def test_cookie_matches_real_set_cookie(vectors: dict) -> None:
    signed = sign_token(vectors["sessionToken"], vectors["secret"])
    assert BetterCookie().set_header(signed, 604800) == vectors["setCookie"]
    assert unsign_value(signed, vectors["secret"]) == vectors["sessionToken"]
    raw = vectors["setCookie"].split(";", 1)[0].split("=", 1)[1]
    from urllib.parse import unquote

    assert unsign_value(unquote(raw), vectors["secret"]) == vectors["sessionToken"]


def _tampered(signed: str) -> list[str]:
    from urllib.parse import unquote

    plain = unquote(signed)
    token, _, sig = plain.rpartition(".")
    return [
        "",
        ".",
        "%",
        "%zz",
        token,
        f"{token}.",
        f".{sig}",
        f"{token}x.{sig}",
        f"{token}.{sig[:-2]}",
        f"{token[:-1]}A.{sig}" if token[-1] != "A" else f"{token[:-1]}B.{sig}",
        f"{token}.{'A' * 44}",
        f"{token}.{sig}.{sig}",
        plain + "A",
        "a" * 5000,
        "💥.💥",
        "\x00." + sig,
    ]


def test_tampered_cookie_values_are_rejected(vectors: dict) -> None:
    signed = sign_token(vectors["sessionToken"], vectors["secret"])
    for value in _tampered(signed):
        assert unsign_value(value, vectors["secret"]) is None, value
    other = vectors["secret"][:-1] + ("y" if vectors["secret"].endswith("x") else "x")
    assert unsign_value(signed, other) is None


def test_secure_cookie_naming() -> None:
    secure = BetterCookie("better-auth", secure=True)
    assert secure.name == "__Secure-better-auth.session_token"
    assert secure.set_header("v", 10).endswith("; Secure")
    assert secure.read("__Secure-better-auth.session_token=abc") == "abc"
    assert secure.read("better-auth.session_token=plain") == "plain"
    assert all(h.startswith("__Secure-") and "Max-Age=0" in h for h in secure.clear_headers())
    assert BetterCookie("myapp").name == "myapp.session_token"


async def test_hashing_runs_on_one_thread_per_core() -> None:
    """A burst of sign-ins never runs more hashes at once than there are cores: more
    starved the event loop (503s under 500 concurrent sign-ins, bench_signins)."""
    import asyncio
    import os
    import threading
    import time

    hasher = PasswordHasher()
    active, peak = 0, 0
    lock = threading.Lock()

    def slow_verify(password: str, stored: str | None) -> tuple[bool, str | None]:
        nonlocal active, peak
        with lock:
            active += 1
            peak = max(peak, active)
        time.sleep(0.05)
        with lock:
            active -= 1
        return False, None

    hasher.verify_and_update_sync = slow_verify  # type: ignore[method-assign]
    cores = os.cpu_count() or 1
    await asyncio.gather(*(hasher.verify_and_update("pw", None) for _ in range(cores * 4 + 8)))
    assert peak == cores
