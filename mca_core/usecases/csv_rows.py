"""Reading an uploaded CSV of rows, whichever bulk file it is: the classic file
(`bulk.read_csv`) and the enhanced signers file (`bulk_signers.read_signers_csv`) are read by the
same code; only their columns differ (a `CsvLayout` each).

Files: only what can be proven is decoded: UTF-8 with or without BOM (plain ASCII is UTF-8) and
UTF-16 with a BOM (little- or big-endian). GB18030/GBK (what Excel writes on Chinese Windows) only
when the user chooses it (`read_rows(data, "gb18030", ...)`): a Korean, Japanese or Cyrillic
file decodes as GB18030 too, into plausible Chinese names that would be attested, and an
attestation cannot be withdrawn (issue 11). Every other file (a legacy code page, Big5,
Shift-JIS, UTF-16 without BOM, UTF-32), workbooks and binary files are refused with what to do
instead. Columns are separated by `,`, `;` or tab (found from the header). At most
`MAX_FILE_BYTES` (read from a stream with `read_limited`, never more than that) and `MAX_ROWS`.
Header cells are compared case-, space- and hyphen-insensitively, a note in parentheses ignored
(`header_key`); each column has its aliases, and one column may be fed by several header cells
(the first non-empty wins, in the order of its aliases).
"""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
import re
import stat
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import IO, TypeVar

from mca_core.domain.errors import InvalidInput, Problem
from mca_core.usecases.reports import FORMULA_PREFIXES

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
SAVE_AS_UTF8 = (
    "In Excel choose File → Save As → 'CSV UTF-8 (Comma delimited) (*.csv)' and use that file."
)
#: The fix for a file in an unproven encoding: the user may say it is GB18030, nothing else.
SAVE_AS_UTF8_OR_GB18030 = (
    "Save it as 'CSV UTF-8' in Excel, or choose GB18030 if it is a Simplified Chinese file "
    "(on the command line: --encoding gb18030)."
)
#: The encodings a user may choose: "auto" decodes only what can be proven (UTF-8, UTF-16 with
#: a BOM); "gb18030" also reads a file without BOM as GB18030 (a superset of GBK and GB2312).
ENCODINGS = ("auto", "gb18030")
#: A file's row (what `read_rows` makes of each record).
R = TypeVar("R")


class CsvUnusable(InvalidInput):
    """The file as a whole cannot be read (encoding, size, columns): nothing in it was checked."""

    def __init__(self, reason: str, fix: str, code: str, **params: object):
        self.problem = Problem(
            "file", reason, fix, code=code, params={k: str(v) for k, v in params.items()}
        )
        super().__init__(self.problem)

    @property
    def code(self) -> str:
        return self.problem.code


def template_csv(header: tuple[str, ...], example: tuple[str, ...]) -> bytes:
    """The file to fill in: `header` (each column says what it holds) and one `example` row
    (UTF-8 with BOM, CRLF: opens in Excel)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerow(example)
    return buffer.getvalue().encode("utf-8-sig")


_UTF8_BOM = b"\xef\xbb\xbf"
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")
_UTF32_BOMS = (b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")
#: The csv module refuses a field longer than this (`_csv.Error: field larger than field limit`).
#: Read, never raised: the limit is process-wide and the default already far exceeds a real cell.
_FIELD_LIMIT_MESSAGE = "field larger than field limit"


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f}"


def _too_big(size: int | None, limit: int = MAX_FILE_BYTES) -> CsvUnusable:
    """The file is over the limit: `size` in bytes when known (None: a stream, only known to be
    longer than the limit)."""
    shown = _mb(size) if size is not None else f">{_mb(limit)}"
    said = f"{_mb(size)} MB" if size is not None else f"larger than {_mb(limit)} MB"
    return CsvUnusable(
        f"The file is {said}; at most {_mb(limit)} MB ({MAX_ROWS:,} rows) can be attested at once.",
        "Split it into smaller files and upload them one after another.",
        code="file_too_big",
        size_mb=shown,
        max_mb=_mb(limit),
        max_rows=MAX_ROWS,
    )


def read_limited(stream: IO[bytes], *, limit: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of an open file, a pipe or a device, reading at most `limit` + 1 of them.

    CsvUnusable (`file_too_big`) when there are more: a regular file is refused by its size
    before anything is read; a FIFO or `/dev/zero` after `limit` + 1 bytes. Never reads a whole
    file of unknown size into memory.
    """
    size: int | None = None
    try:
        info = os.fstat(stream.fileno())
    except (AttributeError, OSError, io.UnsupportedOperation):
        info = None
    if info is not None and stat.S_ISREG(info.st_mode):
        size = info.st_size
        if size > limit:
            raise _too_big(size, limit)
    data = stream.read(limit + 1)  # a buffered read returns that many bytes unless at the end
    if len(data) > limit:
        raise _too_big(size if size is not None and size > limit else None, limit)
    return data


def decode_csv(data: bytes, encoding: str = "auto") -> tuple[str, str]:
    """The file's text and the encoding it was read with ("utf-8", "utf-8-sig", "utf-16",
    "gb18030").

    Only what can be proven is decoded: UTF-8 (plain ASCII is UTF-8), UTF-8 with BOM and UTF-16
    with BOM. GB18030 only when `encoding="gb18030"` (the user said so; a BOM still wins, being
    proof). Everything else is refused with the fix, because a wrong guess would attest with
    garbled names: CP949 (Korean Excel), EUC-JP or Windows-1251 files decode as GB18030 into
    plausible Chinese characters (민준 김 became 刮霖 辫), and an attestation cannot be withdrawn.
    """
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {ENCODINGS}, not {encoding!r}")
    if not data or not data.strip():
        raise CsvUnusable(
            "The file is empty.",
            "Download the template, fill in one row per customer and upload it.",
            code="file_empty",
        )
    if len(data) > MAX_FILE_BYTES:
        raise _too_big(len(data))
    if data.startswith(b"PK\x03\x04") or data.startswith(b"\xd0\xcf\x11\xe0"):
        raise CsvUnusable(
            "This is an Excel workbook, not a CSV file.",
            SAVE_AS_UTF8,
            code="file_workbook",
        )
    if data.startswith(_UTF32_BOMS):
        raise CsvUnusable(
            "The file is encoded as UTF-32, which is not accepted.",
            SAVE_AS_UTF8,
            code="file_encoding",
            encoding="UTF-32",
        )
    if data.startswith(_UTF8_BOM):
        text, used = _decode_proven(data, "utf-8-sig", "UTF-8"), "utf-8-sig"
    elif data.startswith(_UTF16_BOMS):
        # Excel's "Unicode Text" and Notepad's "UTF-16 LE/BE": the BOM says which byte order.
        text, used = _decode_proven(data, "utf-16", "UTF-16"), "utf-16"
    elif _looks_utf16(data):
        raise CsvUnusable(
            "The file looks like UTF-16 without a byte-order mark (BOM), which cannot be read "
            "without guessing the byte order.",
            SAVE_AS_UTF8,
            code="file_encoding",
            encoding="UTF-16 (no BOM)",
        )
    elif b"\x00" in data:
        raise CsvUnusable(
            "The file is not text (it holds binary data).",
            "Upload a CSV file: " + SAVE_AS_UTF8,
            code="file_binary",
        )
    elif encoding == "gb18030":
        text, used = _decode_gb18030(data), "gb18030"
    else:
        try:
            text, used = data.decode("utf-8"), "utf-8"
        except UnicodeDecodeError as exc:
            if _mostly_utf8(data):
                raise CsvUnusable(
                    f"The file is UTF-8 with a few broken bytes (the first at byte {exc.start}), "
                    "for example after two files were pasted together.",
                    SAVE_AS_UTF8,
                    code="file_encoding",
                    encoding="UTF-8 (broken)",
                ) from exc
            raise CsvUnusable(
                f"The file is not UTF-8 (byte {exc.start}): it is in a legacy encoding "
                "(Windows-1252, Korean, Japanese, Cyrillic, Big5, GBK...) that could only be "
                "guessed, and a wrong guess attests garbled names.",
                SAVE_AS_UTF8_OR_GB18030,
                code="file_encoding",
                encoding="not UTF-8",
            ) from exc
    controls = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\t\r\n")
    if controls > max(2, len(text) // 1000):
        raise CsvUnusable(
            "The file is not text (it holds control characters).",
            "Upload a CSV file: " + SAVE_AS_UTF8,
            code="file_binary",
        )
    return text.lstrip("\ufeff"), used


def _decode_proven(data: bytes, codec: str, name: str) -> str:
    """A file whose BOM names its encoding: decoded strictly, refused when it breaks it."""
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise CsvUnusable(
            f"The file starts as {name} (byte-order mark) but is not valid {name} "
            f"(byte {exc.start}).",
            SAVE_AS_UTF8,
            code="file_encoding",
            encoding=f"{name} (broken)",
        ) from exc


def _looks_utf16(data: bytes) -> bool:
    """UTF-16 without a BOM: ASCII text with a NUL beside nearly every character."""
    sample = data[:4096]
    if len(sample) < 4:
        return False
    odd_nuls = sample[1::2].count(0) / max(1, len(sample[1::2]))
    even_nuls = sample[0::2].count(0) / max(1, len(sample[0::2]))
    return max(odd_nuls, even_nuls) > 0.6 and min(odd_nuls, even_nuls) < 0.1


def _mostly_utf8(data: bytes) -> bool:
    """Valid UTF-8 with a few bad bytes: say so, rather than the advice for a legacy file."""
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd")
    good = sum(1 for ch in text if ord(ch) > 127) - bad
    return good >= 5 * bad


def _decode_gb18030(data: bytes) -> str:
    """A file the user declared GB18030 (a superset of GBK and GB2312), decoded strictly.

    Refused when it is not valid GB18030, or when it reads as rare ideographs: Windows-1252
    bytes (a Western Excel's CSV) often decode as GB18030 too, but most characters of a real
    Chinese file are in GB2312's common set. This does not catch every wrong choice (a Korean
    file reads as common characters): the user confirms the names shown before submitting.
    """
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise CsvUnusable(
            f"The file was declared GB18030 but is not valid GB18030 (byte {exc.start}).",
            "Choose 'Automatic' if the file is UTF-8, or save it as 'CSV UTF-8' in Excel "
            "(File → Save As → 'CSV UTF-8 (Comma delimited)') and upload that file.",
            code="file_not_gb18030",
        ) from exc
    wide = [ch for ch in text if ord(ch) > 127]
    common = 0
    for ch in wide:
        try:
            ch.encode("gb2312")
        except UnicodeEncodeError:
            continue
        common += 1
    if wide and common / len(wide) < 0.5:
        raise CsvUnusable(
            "The file was declared GB18030 but does not read as Simplified Chinese text (most "
            "characters come out as rare ideographs: it is probably in another encoding).",
            "Choose 'Automatic' if the file is UTF-8, or save it as 'CSV UTF-8' in Excel "
            "(File → Save As → 'CSV UTF-8 (Comma delimited)') and upload that file.",
            code="file_not_gb18030",
        )
    return text


def header_key(text: str) -> str:
    """A header cell as compared: no notes in parentheses, invisible marks, case or spacing."""
    text = unicodedata.normalize("NFKC", text)
    text = "".join(ch for ch in text if unicodedata.category(ch) not in ("Cf", "Cc"))
    text = re.sub(r"\(.*?\)|\[.*?\]", " ", text).strip().casefold()
    return re.sub(r"[\s\-./]+", "_", text).strip("_")


class CsvRow:
    """A data row of a file as typed (trimmed): a frozen dataclass of its `line` number in the
    file, one field per column in the file's column order, and its `extra_cells`."""

    def values(self) -> dict[str, str]:
        """The row's cells by column, in the file's column order."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if f.name not in ("line", "extra_cells")
        }


@dataclass(frozen=True)
class CsvLayout:
    """One kind of bulk file: its columns, those it cannot do without, and the header names
    read as each column (compared by `header_key`)."""

    columns: tuple[str, ...]
    required: tuple[str, ...]
    aliases: Mapping[str, tuple[str, ...]]
    #: The column several header cells may feed (the customer): the first non-empty cell wins,
    #: in the order of the column's aliases.
    merged: str
    #: The fix for a header that lacks a required column (it names the template's header).
    header_fix: str
    #: Refuse a column named twice before a missing column (the signers file does; the classic
    #: file names the missing column first).
    duplicates_first: bool = False
    #: The layout whose columns choose the delimiter (None: this one).
    delimiter_layout: CsvLayout | None = None
    #: Header key -> column, from `aliases`.
    alias_to_column: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lookup = {alias: column for column, names in self.aliases.items() for alias in names}
        object.__setattr__(self, "alias_to_column", lookup)

    def map_header(self, cells: list[str]) -> tuple[dict[str, list[int]], list[str]]:
        """Column -> positions (several only for the merged column), and the duplicated column
        names."""
        positions: dict[str, list[int]] = {}
        seen: set[str] = set()
        duplicates: list[str] = []
        for index, cell in enumerate(cells):
            key = header_key(cell)
            column = self.alias_to_column.get(key)
            if column is None:
                continue
            if key in seen or (column != self.merged and column in positions):
                duplicates.append(cell.strip() or key)
                continue
            seen.add(key)
            positions.setdefault(column, []).append(index)
        merged = positions.get(self.merged)
        if merged:  # the merged column's cells in the order of preference
            order = self.aliases[self.merged]
            merged.sort(key=lambda i: order.index(header_key(cells[i])))
        return positions, duplicates

    def row_values(
        self, cells: list[str], positions: dict[str, list[int]], width: int
    ) -> tuple[dict[str, str], tuple[str, ...]]:
        """One record's value of each column (trimmed, "" when absent), and its non-empty cells
        beyond the header's `width` (an unquoted separator inside a value)."""

        def cell(index: int) -> str:
            return clean_cell(cells[index]) if index < len(cells) else ""

        values = {
            column: next((v for v in (cell(i) for i in positions.get(column, [])) if v), "")
            for column in self.columns
        }
        extra = tuple(text for text in (clean_cell(c) for c in cells[width:]) if text)
        return values, extra


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


SEP_LINE = re.compile(r'"?sep=(.)"?\s*', flags=re.IGNORECASE)


def choose_delimiter(text: str, layout: CsvLayout) -> str:
    """The delimiter: Excel's `sep=` line if any, else the split that finds the most of
    `layout`'s columns."""
    first = _first_line(text)
    hint = SEP_LINE.fullmatch(first)
    if hint:
        return hint.group(1)
    scores: dict[str, int] = {}
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([first], delimiter=delimiter), [])
        scores[delimiter] = len(layout.map_header(cells)[0])
    best = max(scores.values())
    candidates = [d for d, score in scores.items() if score == best]
    if len(candidates) == 1:
        return candidates[0]
    try:
        sniffed = csv.Sniffer().sniff(text[:8192], delimiters=",;\t").delimiter
    except csv.Error:
        sniffed = ""
    if sniffed in candidates:
        return sniffed
    return max(candidates, key=lambda d: (first.count(d), d == ","))


def clean_cell(value: object) -> str:
    """Trimmed text; undoes the `'` that our own exports put before formula-like values."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    text = str(value).strip()
    if len(text) > 1 and text[0] == "'" and text[1:].startswith(FORMULA_PREFIXES):
        text = text[1:]
    return text


def _line_too_long(line: int) -> CsvUnusable:
    limit = csv.field_size_limit()
    return CsvUnusable(
        f"A value on line {line} is longer than {limit:,} characters (or a quote opened on that "
        "line is never closed).",
        "Check that line: no name, email, customer or date is that long. Fix or delete the cell, "
        "or save the sheet again as CSV UTF-8 from Excel.",
        code="file_line_too_long",
        line=line,
        max_chars=limit,
    )


def header_line_number(text: str) -> int:
    """The file's line number (as the csv reader counts) of the first non-blank line."""
    first = _first_line(text)
    before = text[: text.find(first)] if first else text
    return len(re.findall(r"\r\n|\r|\n", before)) + 1


def csv_unusable(exc: csv.Error, line: int, check: str) -> CsvUnusable:
    """The csv module's refusal as the file problem: a value over its field limit, or a
    malformed record, naming the line."""
    if _FIELD_LIMIT_MESSAGE in str(exc):
        return _line_too_long(line)
    return CsvUnusable(
        f"The file is not a well-formed CSV at line {line}: {exc}.",
        f"{check}, or save the sheet again as CSV UTF-8 from Excel.",
        code="file_malformed",
        line=line,
    )


def _duplicate_columns(duplicates: list[str]) -> CsvUnusable:
    return CsvUnusable(
        f"The header names a column twice: {', '.join(duplicates)}.",
        "Keep one column of each kind and upload again.",
        code="file_duplicate_columns",
        columns=", ".join(duplicates),
    )


def _header_positions(header: list[str], layout: CsvLayout) -> dict[str, list[int]]:
    """The header's columns, or CsvUnusable for a required column missing or one named twice."""
    positions, duplicates = layout.map_header(header)
    if duplicates and layout.duplicates_first:
        raise _duplicate_columns(duplicates)
    missing = [c for c in layout.required if c not in positions]
    if missing:
        found = ", ".join(h.strip() for h in header if h.strip())[:200]
        raise CsvUnusable(
            f"The header lacks the column(s) {', '.join(missing)} (found: {found}).",
            layout.header_fix,
            code="file_missing_columns",
            missing=", ".join(missing),
            found=found,
        )
    if duplicates:
        raise _duplicate_columns(duplicates)
    return positions


def read_rows(data: bytes, encoding: str, layout: CsvLayout, make_row: Callable[..., R]) -> list[R]:
    """The rows of an uploaded file of `layout`, each `make_row(line=, extra_cells=, **values)`,
    or CsvUnusable saying what is wrong with the file and what to do. Blank rows are left out;
    line numbers are the file's. `encoding`: one of `ENCODINGS` ("gb18030" only when the user
    chose it; see `decode_csv`)."""
    text, _encoding = decode_csv(data, encoding)
    try:
        delimiter = choose_delimiter(text, layout.delimiter_layout or layout)
    except csv.Error as exc:  # a header cell over the csv module's field limit
        raise csv_unusable(exc, header_line_number(text), "Check that line") from exc
    # strict: a quote left open swallows every later line into one cell; refuse that file
    # (naming the line the broken record starts on) instead of attesting garbled rows.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous_end = 0
    rows: list[R] = []
    try:
        header: list[str] = []
        header_line = 0
        for cells in reader:
            previous_end = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if not header_line and SEP_LINE.fullmatch(delimiter.join(cells)):
                header_line = reader.line_num  # Excel's `sep=;` line: not the header
                continue
            header, header_line = cells, reader.line_num
            break
        if not header:
            raise CsvUnusable(
                "The file has no header and no rows.",
                "Download the template, fill in one row per customer and upload it.",
                code="file_empty",
            )
        positions = _header_positions(header, layout)
        previous_end = header_line
        for cells in reader:
            line = previous_end + 1
            previous_end = reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if len(rows) >= MAX_ROWS:
                raise CsvUnusable(
                    f"The file has more than {MAX_ROWS:,} rows.",
                    f"Split it into files of at most {MAX_ROWS:,} rows each.",
                    code="file_too_many_rows",
                    max_rows=MAX_ROWS,
                )
            values, extra = layout.row_values(cells, positions, len(header))
            rows.append(make_row(line=line, extra_cells=extra, **values))
    except csv.Error as exc:
        raise csv_unusable(exc, previous_end + 1, "Check the quotes on that line") from exc
    if not rows:
        raise CsvUnusable(
            "The file has a header but no rows.",
            "Add one row per customer under the header.",
            code="file_no_rows",
        )
    return rows


# --- the rows' own problems --------------------------------------------------------------------


class JudgedRow:
    """A row judged before anything is sent (a dataclass with the row's `problems`): invalid
    when it has any."""

    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        return " ".join(str(p) for p in self.problems)


def extra_cells_problem(line: int, extra_cells: tuple[str, ...]) -> Problem | None:
    """A row with more cells than the header (`extra_cells`, never echoed past 40 characters)."""
    if not extra_cells:
        return None
    return Problem(
        "row",
        f"Line {line} has {len(extra_cells)} more cell(s) than the header "
        f"(starting '{extra_cells[0][:40]}'): a value probably holds the separator without quotes.",
        "Put quotes around that value, or delete the extra cells.",
        code="extra_cells",
        params={"line": str(line), "count": str(len(extra_cells))},
    )


def duplicate_row_problem(field_name: str, line: int, first: int, kept: str) -> Problem:
    """A customer already named on line `first`: `kept` says what only that line gets."""
    return Problem(
        field_name,
        f"The same customer is already on line {first}; only that line {kept}.",
        "Keep one row per customer: delete this row or the other one.",
        code="duplicate_in_file",
        params={"line": str(line), "first_line": str(first)},
    )


def by_column(problems: list[Problem], columns: tuple[str, ...]) -> list[Problem]:
    """`problems` sorted in place in the file's column order (the row's own problems last)."""
    order = {c: i for i, c in enumerate((*columns, "row"))}
    problems.sort(key=lambda p: order.get(p.field, len(order)))
    return problems


__all__ = [
    "ENCODINGS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "CsvLayout",
    "CsvRow",
    "CsvUnusable",
    "JudgedRow",
    "by_column",
    "choose_delimiter",
    "clean_cell",
    "decode_csv",
    "duplicate_row_problem",
    "extra_cells_problem",
    "header_key",
    "read_limited",
    "read_rows",
    "template_csv",
]
