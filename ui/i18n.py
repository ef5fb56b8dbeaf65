"""UI messages in the session's language, from the gettext catalogs in `locale/`.

One source per message: `locale/messages.pot` lists the message ids, `locale/en/LC_MESSAGES/
messages.po` holds the English text and `locale/zh_CN/LC_MESSAGES/messages.po` the Simplified
Chinese (README, "Translations"). The ids are keys, as the call sites name them: `t("app_title")`.
What used to be separate tables lives under a prefix: `field.<name>` (labels of input fields),
`problem.<code>` (core validation problems), `refusal.<code>` (access refusals), `role.<value>`
and `partner_type.<value>`. A message with plural forms has its count as `{n}` and is read with
`tn` (gettext's ngettext: "1 row", "2 rows"; Chinese has one form).

The catalogs are read from their .po files, compiled in memory once per language (no .mo files
to keep in step). As with `gettext.translation(..., fallback=True)`, a message that is missing,
empty or fuzzy in Chinese falls back to English, and one missing everywhere shows as its key.
"""

from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path
from typing import Any

import streamlit as st
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from mca_core import AccessRefused, PartnerType, Problem, Role, format_person_name
from ui.markup import Markdown, format_markdown, md

LANGUAGES = {"en": "English", "zh-CN": "简体中文"}
DEFAULT_LANGUAGE = "en"
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
#: The UI's language codes (BCP 47, as the session and the emails spell them) -> the catalogs'
#: folders (POSIX locale names, as gettext and Babel spell them).
CATALOG_LOCALES = {"en": "en", "zh-CN": "zh_CN"}
#: The msgid_plural of a plural message is its key with this suffix (gettext needs one; the
#: texts are in the catalogs, the ids are never shown).
PLURAL_SUFFIX = "_plural"


# --- the catalogs ---------------------------------------------------------------------------


def catalog_path(lang: str, locale_dir: Path = LOCALE_DIR) -> Path:
    """The .po file of the UI language `lang` ("en", "zh-CN")."""
    return locale_dir / CATALOG_LOCALES[lang] / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f, ignore_obsolete=True)


def is_translated(message: Message) -> bool:
    """A message gettext may use: not fuzzy, and every plural form has text."""
    forms = message.string if isinstance(message.string, (tuple, list)) else (message.string,)
    return not message.fuzzy and bool(forms) and all(forms)


def compile_catalog(path: Path) -> gettext.GNUTranslations:
    """The .po at `path` as gettext translations, compiled in memory. Untranslated and fuzzy
    messages are left out, so that they fall back (Babel would keep an empty plural)."""
    catalog = read_catalog(path)
    for message in list(catalog)[1:]:  # [0] is the header (charset, plural forms)
        if not is_translated(message):
            catalog.delete(message.id, context=message.context)
    buffer = io.BytesIO()
    write_mo(buffer, catalog, use_fuzzy=False)
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


@functools.lru_cache(maxsize=8)  # one per language (a few unknown ones read English)
def translations(lang: str) -> gettext.NullTranslations:
    """The catalog of `lang`, falling back to English (an unknown language is English)."""
    if lang == DEFAULT_LANGUAGE:
        try:
            return compile_catalog(catalog_path(DEFAULT_LANGUAGE))
        except FileNotFoundError:
            return gettext.NullTranslations()  # the keys themselves
    english = translations(DEFAULT_LANGUAGE)
    try:
        own = compile_catalog(catalog_path(lang))
    except (KeyError, FileNotFoundError):  # a language without a catalog
        return english
    own.add_fallback(english)
    return own


@functools.lru_cache(maxsize=1)
def _english_ids() -> dict[str, bool]:
    """Every message id of the English catalog -> whether it has plural forms."""
    try:
        catalog = read_catalog(catalog_path(DEFAULT_LANGUAGE))
    except FileNotFoundError:
        return {}
    return {message_key(message): message.pluralizable for message in list(catalog)[1:]}


def message_key(message: Message) -> str:
    """The key of a catalog entry (a plural entry's id is its singular and plural ids)."""
    return message.id[0] if message.pluralizable else message.id


def translated_keys(lang: str, locale_dir: Path = LOCALE_DIR) -> frozenset[str]:
    """The keys that `lang`'s own catalog translates (not fuzzy, no empty form), without the
    English fallback: what a translator has still to do is the rest."""
    catalog = read_catalog(catalog_path(lang, locale_dir))
    return frozenset(message_key(m) for m in list(catalog)[1:] if is_translated(m))


def has_message(key: str) -> bool:
    return key in _english_ids()


def is_plural(key: str) -> bool:
    return _english_ids().get(key, False)


# --- the session's language -------------------------------------------------------------------


def language() -> str:
    lang = st.session_state.get("ui_language", DEFAULT_LANGUAGE)
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def message(key: str, lang: str | None = None, n: int | None = None) -> str:
    """The template of `key` in `lang` (the session's language by default); with `n`, the
    plural form for `n`. Unformatted: see `t`, `tn`, `t_plain`."""
    found = translations(lang or language())
    if n is None:
        return found.gettext(key)
    text = found.ngettext(key, key + PLURAL_SUFFIX, n)
    return key if text == key + PLURAL_SUFFIX else text


def t(key: str, **params: Any) -> Markdown:
    """The UI string `key` in the current language (English when a translation is missing),
    for Markdown: every parameter is data and is escaped (see `ui.markup`), unless it is
    Markdown already (another `t`, or `md`)."""
    text = message(key)
    return format_markdown(text, params) if params else Markdown(text)


def tn(key: str, n: int, **params: Any) -> Markdown:
    """`t` for a message with plural forms: the form for `n`, which the text shows as `{n}`."""
    return format_markdown(message(key, n=n), {**params, "n": n})


def t_plain(key: str, **params: Any) -> str:
    """`t` for places that show plain text (table cells, file names, code blocks)."""
    text = message(key)
    return text.format(**params) if params else text


def plain_text(key: str, lang: str, **params: Any) -> str:
    """A message as plain text in `lang`, outside a session (tests, exports); a plural
    message takes its count from the parameter `n`."""
    n = params.get("n") if is_plural(key) else None
    text = message(key, lang, n=n)
    return text.format(**params) if params else text


# --- values from the core -------------------------------------------------------------------


def field_label(field: str, lang: str | None = None) -> str:
    key = f"field.{field.rsplit('.', 1)[-1]}"
    return message(key, lang) if has_message(key) else field


def problem_plain(problem: Problem, lang: str | None = None) -> str:
    """A core Problem in the UI language, always naming the field and the fix (plain text).
    The English text is the core's own reason and fix; another language words it by code."""
    label = field_label(problem.field, lang)
    english = f"{label}: {problem.reason} {problem.fix}"
    key = f"problem.{problem.code}"
    if not has_message(key):
        return english
    values = {**problem.params, "field_label": label, "reason": problem.reason, "fix": problem.fix}
    try:
        return message(key, lang).format_map(values)
    except (KeyError, IndexError, ValueError):  # a translation naming a parameter not given
        return english


def problem_text(problem: Problem) -> str:
    """`problem_plain` for Markdown: the user's own value, repeated in the reason, is data."""
    return md(problem_plain(problem))


def refusal_text(error: AccessRefused, lang: str | None = None) -> str:
    """An access refusal in the UI language: why, and where to go instead."""
    english = f"{error.reason} {error.fix}"
    key = f"refusal.{error.code}"
    if not has_message(key):
        return english
    try:
        return message(key, lang).format(reason=error.reason, fix=error.fix)
    except (KeyError, IndexError, ValueError):
        return english


def role_label(role: Role | str, lang: str | None = None) -> str:
    """A Partner Center role in the UI language (a value the desk does not know, as it is)."""
    try:
        value = Role(role)
    except ValueError:
        return str(role)
    key = f"role.{value.value}"
    return message(key, lang) if has_message(key) else value.label


def partner_type_label(partner_type: PartnerType | str, lang: str | None = None) -> str:
    try:
        value = PartnerType(partner_type)
    except ValueError:
        return str(partner_type)
    key = f"partner_type.{value.value}"
    return message(key, lang) if has_message(key) else value.label


def person_name(first: str | None, last: str | None) -> str:
    """A contact's or signer's name as people write it (张伟, Jane Doe): see
    `mca_core.domain.names`."""
    return format_person_name(first, last, language())
