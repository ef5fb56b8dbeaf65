"""Data shown through Streamlit's Markdown, as text and never as markup.

Nearly every Streamlit element that shows text (``st.markdown``, ``st.caption``, alerts, widget
labels, radio options, metrics) interprets GitHub-flavoured Markdown plus Streamlit's own
extensions: ``:material/icon:``, ``:red[...]`` colours, ``:emoji:`` shortcodes and ``$LaTeX$``.
A company name from Partner Center or a CSV such as ``[Sign in](https://evil.example)`` must
show as those characters, not as a link. Backslash escapes (CommonMark) cover the Markdown
syntax; Streamlit's extensions and GFM's autolinks are matched after unescaping (seen in
Chromium with Streamlit 1.67), so a WORD JOINER (U+2060, invisible, zero width) is put after
a ``:`` that starts such a pattern (``:name``, ``://``) and inside ``www.`` to break them.
Email addresses stay as they are (GFM shows them as mailto links; copying them must work).
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Any

#: Characters that Markdown, GFM or Streamlit give a meaning to anywhere in a line. Links and
#: images need `[`; `(`, `)`, `.`, `-` and `!` mean nothing without it, so dates, domains and
#: sentences keep their plain source.
_SPECIAL = re.compile(r"([\\`*_\[\]<>$~|&])")
#: ...and at the start of a line only: headings, quotes, lists, rules, setext underlines.
_LINE_START = re.compile(r"^(\s*)(?:([#>+=-])|(\d+)([.)]))")
_WORD_JOINER = "\u2060"
#: A colon that could open `:material/x:`, `:red[`, `:smile:`, `:+1:` or a URL scheme's `://`;
#: a colon before a digit or a space (times, "Note: ...") is left as it is, so text copied
#: from the page stays what it was.
_DIRECTIVE_COLON = re.compile(r":(?=[A-Za-z_+\-/])")
_WWW = re.compile(r"(?i)(www)(\.)")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


def _escape_line_start(m: re.Match[str]) -> str:
    if m.group(2):  # "# x", "- x", "> x": escape the mark
        return f"{m.group(1)}\\{m.group(2)}"
    return f"{m.group(1)}{m.group(3)}\\{m.group(4)}"  # "1. x": escape the dot


class Markdown(str):
    """Text that is already safe Markdown (our own template, or data escaped by `md`): passed
    as a parameter to `format_markdown` it is not escaped again (the markupsafe idea)."""

    __slots__ = ()


def md(value: object) -> Markdown:
    """`value` as literal text inside Markdown (one line: line breaks become spaces)."""
    if isinstance(value, Markdown):
        return value
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    text = _SPECIAL.sub(r"\\\1", text)
    text = _LINE_START.sub(_escape_line_start, text, count=1)
    text = _DIRECTIVE_COLON.sub(":" + _WORD_JOINER, text)
    return Markdown(_WWW.sub(lambda m: m.group(1) + _WORD_JOINER + m.group(2), text))


def code_text(value: object) -> str:
    """`value` inside a Markdown code span: nothing is interpreted there but a backtick, which
    would close the span, and a line break, which would end the paragraph."""
    text = _LINE_BREAKS.sub(" ", "" if value is None else str(value))
    return text.replace("`", "ˋ")


class _SafeFormatter(string.Formatter):
    """`str.format` that escapes every value for where the template puts it: inside a code span
    (an odd number of backticks before the placeholder) or in Markdown text."""

    def vformat(self, format_string: str, args: Any, kwargs: Mapping[str, Any]) -> str:
        out: list[str] = []
        in_code = False
        for literal, field, spec, conversion in self.parse(format_string):
            out.append(literal)
            in_code ^= literal.count("`") % 2 == 1
            if field is None:
                continue
            value, _ = self.get_field(field, args, kwargs)
            value = self.convert_field(value, conversion)
            if isinstance(value, Markdown) and not spec:
                out.append(value)
                continue
            shown = self.format_field(value, self.format(spec or "", *args, **kwargs))
            out.append(code_text(shown) if in_code else md(shown))
        return "".join(out)


_FORMATTER = _SafeFormatter()


def format_markdown(template: str, params: Mapping[str, Any]) -> Markdown:
    """A Markdown template (ours, trusted) filled with data (not trusted): data stays text."""
    return Markdown(_FORMATTER.vformat(template, (), params))
