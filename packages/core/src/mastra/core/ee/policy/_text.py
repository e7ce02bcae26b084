"""Names and e-mails must not hide or reorder what is shown (SPEC S26).

Refused, by Unicode general category of each code point:

* ``Cc`` controls (C0, DEL and C1: NUL, ESC sequences, newlines, tabs);
* ``Cf`` format characters: the bidirectional embeddings, overrides, isolates and
  marks (U+202A-U+202E, U+2066-U+2069, U+200E, U+200F, U+061C), zero-width space
  and joiners, soft hyphen, BOM, tag characters. Zero-width joiners also build
  emoji sequences and Persian or Indic spellings; they are refused all the same,
  because an invisible character in a name is how one account imitates another;
* ``Zl``/``Zp`` line and paragraph separators (they break log lines like ``\\n``);
* ``Cs`` lone surrogates (not text; they cannot even be encoded as UTF-8).

Allowed: private-use (``Co``) and unassigned (``Cn``) code points. They are visible
(as a glyph or a box), and refusing ``Cn`` would refuse characters newer than the
running Python's Unicode database, such as recent emoji. Other spaces (no-break,
ideographic) are visible spacing and allowed.
"""

from __future__ import annotations

import unicodedata

from ..errors import TextPolicyError

__all__ = ["UNSAFE_CATEGORIES", "check_display_text", "unsafe_text_reason"]

_BIDI = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_REFUSED = {
    "Cc": "a control character",
    "Cf": "an invisible format character",
    "Zl": "a line or paragraph separator",
    "Zp": "a line or paragraph separator",
    "Cs": "an unpaired surrogate",
}
#: The Unicode general categories refused in names and escaped in terminal output.
UNSAFE_CATEGORIES = frozenset(_REFUSED)


def unsafe_text_reason(text: str) -> str | None:
    """What makes ``text`` unsafe to show, e.g. ``"a control character (U+0007)"``; else ``None``."""
    # Fast path in C: every refused category is also non-printable.
    if text.isprintable():
        return None
    for char in text:
        if char in _BIDI:
            kind: str | None = "a bidirectional control character"
        else:
            kind = _REFUSED.get(unicodedata.category(char))
        if kind is not None:
            return f"{kind} (U+{ord(char):04X})"
    return None


def check_display_text(value: str, field: str) -> str:
    """``value`` unchanged, or ``TextPolicyError("<field> must not contain ...")``.

    ``field`` is the label shown to the user (``"Name"``, ``"Email"``); the audit
    reason is ``unsafe_<field>``.
    """
    reason = unsafe_text_reason(value)
    if reason is not None:
        label = field.strip().lower().replace(" ", "_")
        raise TextPolicyError(f"{field} must not contain {reason}", reason=f"unsafe_{label}")
    return value
