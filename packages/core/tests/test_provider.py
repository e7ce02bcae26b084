"""MastraAuthProvider and with_ee composition (SPEC 6.1–6.2)."""

from __future__ import annotations

from typing import Any

import pytest
from mastra.core.ee import EEUser, MastraAuthProvider, with_ee


class Users:
    def __init__(self, user: EEUser | None, token_user: EEUser | None = None, disabled: bool = False):
        self.user, self.token_user, self.disabled = user, token_user, disabled
        self.bound: list[Any] = []

    async def get_current_user(self, request: Any) -> EEUser | None:
        return self.user

    async def authenticate_token(self, token: str, request: Any) -> EEUser | None:
        return self.token_user if token == "good" else None

    async def get_user(self, user_id: str) -> EEUser | None:
        return self.user

    def is_user_disabled(self, user_id: str) -> bool:  # sync accessor: the host awaits either
        return self.disabled

    def bind(self, auth: MastraAuthProvider) -> None:
        self.bound.append(auth)


async def test_authenticate_tries_token_then_cookies_and_rejects_disabled() -> None:
    cookie_user, token_user = EEUser(id="c"), EEUser(id="t")
    auth = with_ee(user=Users(cookie_user, token_user))
    assert (await auth.authenticate(object(), "good")).id == "t"
    assert (await auth.authenticate(object(), "bad")).id == "c"
    assert (await auth.authenticate(object(), None)).id == "c"
    assert await with_ee(user=Users(cookie_user, disabled=True)).authenticate(object(), None) is None
    assert await MastraAuthProvider().authenticate(object(), "good") is None


def test_with_ee_overrides_copies_and_binds_once() -> None:
    base_users, new_users = Users(None), Users(None)
    base = MastraAuthProvider("host", user=base_users, sso=base_users, is_mastra_cloud_auth=True)
    composed = with_ee(base, user=new_users, rbac=new_users)
    assert composed.name == "host-ee" and composed.is_mastra_cloud_auth
    assert composed.user is new_users and composed.sso is base_users
    # one bind per distinct provider object, with the composed provider
    assert new_users.bound == [composed] and base_users.bound == [composed]


def test_capability_flags_audit_means_storage() -> None:
    caps = with_ee(user=Users(None), audit=object()).get_capabilities()
    assert caps == {
        "user": True,
        "session": False,
        "sso": False,
        "credentials": False,
        "rbac": False,
        "acl": False,
        "audit": False,
    }


def test_unknown_slot_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="unknown slots: nope"):
        with_ee(nope=1)
