"""Person names in the order their own script writes them.

Chinese, Japanese and Korean names written in their own script put the family name first, with
no space: first name "伟", last name "张" is 张伟, 山田 + 太郎 is 山田太郎, 김 + 민준 is 김민준.
Showing them "First Last" (伟 张) reads as a mistake to the person named. A name in Latin letters
stays "First Last" whoever reads it (Wei Zhang), and so does a name that mixes a CJK part with
a Latin one: its order is the writer's choice, which we cannot know.

Pure: no Streamlit, no I/O; screens, exports and emails call the same function.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["format_person_name", "is_cjk"]

#: Unicode character-name prefixes of the scripts that write the family name first: Han
#: (unified and compatibility ideographs), Hiragana, Katakana (with its halfwidth forms and
#: the middle dot), Hangul (syllables and jamo).
_CJK_NAME_PREFIXES = (
    "CJK UNIFIED IDEOGRAPH",
    "CJK COMPATIBILITY IDEOGRAPH",
    "IDEOGRAPHIC ITERATION MARK",  # 々, as in 佐々木
    "HIRAGANA",
    "KATAKANA",
    "HALFWIDTH KATAKANA",
    "HANGUL",
    "HALFWIDTH HANGUL",
)


def is_cjk(text: str) -> bool:
    """True when `text` has letters and every one is Han, Hiragana, Katakana or Hangul
    (spaces are ignored)."""
    letters = [ch for ch in text if not ch.isspace()]
    return bool(letters) and all(
        unicodedata.name(ch, "").startswith(_CJK_NAME_PREFIXES) for ch in letters
    )


def format_person_name(first: str | None, last: str | None, locale: str | None = None) -> str:
    """A person's full name for display: "张伟" for a CJK name (family name first, no space),
    "Jane Doe" for any other, in every `locale`.

    `locale` (the reader's language, "en" or "zh-CN") does not change the order: a name is
    written the way its own script writes it, for every reader. It is taken so that screens,
    exports and emails call this one function the same way, should a reader's language ever
    need to matter (a separator, say)."""
    given = (first or "").strip()
    family = (last or "").strip()
    if given and family and is_cjk(given) and is_cjk(family):
        return f"{family}{given}"
    return " ".join(part for part in (given, family) if part)


#: Characters that reorder or hide text (bidi embeddings, overrides, isolates, marks) and other
#: format controls: a name like "1\u202eevil\u202c gnp.exe" must not read as "exe.png live".
_FORMAT_CONTROLS = re.compile(r"[\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff\x00-\x1f\x7f]")
#: The longest name an alert, digest or card shows (the rest is elided).
SHOWN_NAME_LIMIT = 120


def shown_name(value: object, limit: int = SHOWN_NAME_LIMIT) -> str:
    """A name from Partner Center or a file as one plain line for a message: line breaks and
    runs of space folded, format controls removed, at most `limit` characters (… after)."""
    text = _FORMAT_CONTROLS.sub(" ", "" if value is None else str(value))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
