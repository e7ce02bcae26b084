"""Request body models of the auth and audit routes: strict text, visible emails."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from ...ee.errors import TextPolicyError
from ...ee.policy import check_display_text

__all__ = [
    "Body",
    "ChangePasswordBody",
    "EmailText",
    "PasswordText",
    "ResetConfirmBody",
    "ResetRequestBody",
    "SafeStr",
    "SignInBody",
    "SignUpBody",
]


def _no_nul_or_surrogates(value: str) -> str:
    # Lone surrogates cannot be encoded (hashing would fail) and NUL breaks PostgreSQL text.
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text") from None
    return value


SafeStr = Annotated[str, AfterValidator(_no_nul_or_surrogates)]


def _visible_email(value: str) -> str:
    # S26: an address that hides or reorders characters is refused before it is used
    # or written to the audit log; pydantic reports the policy's message as the issue.
    try:
        return check_display_text(value, "Email")
    except TextPolicyError as refused:
        raise ValueError(refused.message) from None


#: An email as sign-in and reset requests accept it: shape checked, nothing invisible.
EmailText = Annotated[
    SafeStr,
    Field(min_length=3, max_length=320, pattern=r"^[^@\s]+@[^@\s]+$"),
    AfterValidator(_visible_email),
]


#: A password as every route accepts it (the provider applies the policy).
PasswordText = Annotated[SafeStr, Field(min_length=1, max_length=1024)]


class Body(BaseModel):
    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class SignInBody(Body):
    email: EmailText
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]


class SignUpBody(Body):
    email: Annotated[SafeStr, Field(min_length=1, max_length=320)]
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]
    name: Annotated[SafeStr, Field(max_length=200)] | None = None


class ResetRequestBody(Body):
    email: EmailText


class ResetConfirmBody(Body):
    token: Annotated[SafeStr, Field(min_length=1, max_length=512)]
    password: Annotated[SafeStr, Field(min_length=1, max_length=1024)]


class ChangePasswordBody(Body):
    currentPassword: PasswordText
    newPassword: PasswordText
