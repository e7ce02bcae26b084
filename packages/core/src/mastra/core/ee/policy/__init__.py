"""The one password and display-text policy of the EE core (SPEC 3.4, 9.4, S18, S26).

Every credentials provider (embedded and remote Better Auth, the test reference)
and the HTTP body models call these functions, so a password or a name is judged
the same way wherever it arrives.

* :func:`check_password_policy` returns the NFKC password or raises
  :class:`~mastra.core.ee.errors.PasswordPolicyError` with the message to show;
* :func:`check_display_text` refuses names and e-mails carrying control,
  bidirectional or other invisible format characters with
  :class:`~mastra.core.ee.errors.TextPolicyError`; :func:`unsafe_text_reason` is the
  same test as a predicate for validators that raise their own error.

The common-password list ships as ``common_passwords.txt.gz`` in this package
(built by ``scripts/common_passwords.py`` from zxcvbn 4.5.0, MIT, and Django 5.2.19,
BSD-3-Clause: the first 10,000 of each, 15,892 entries); it is read on first use.
"""

from ._passwords import (
    MAX_PASSWORD_BYTES,
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    check_password_policy,
    common_passwords,
    is_common_password,
    normalise_password,
)
from ._text import UNSAFE_CATEGORIES, check_display_text, unsafe_text_reason

__all__ = [
    "MAX_PASSWORD_BYTES",
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "UNSAFE_CATEGORIES",
    "check_display_text",
    "check_password_policy",
    "common_passwords",
    "is_common_password",
    "normalise_password",
    "unsafe_text_reason",
]
