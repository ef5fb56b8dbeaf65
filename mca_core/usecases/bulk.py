"""Bulk attestation: a CSV of customers and the people who accepted, attested row by row.

The flow the Attest page and `python -m mca_core bulk-attest` share:

    data = template_csv()                      # what to fill in (UTF-8 with BOM, opens in Excel)
    rows = read_csv(uploaded_bytes)            # CsvUnusable when the FILE cannot be used
    checks = check_rows(rows, customers=..., accepted_ids=...)   # per-row problems and flags
    report = await run_bulk(pc, store, identity, rows, dry_run=True)   # what would happen
    report = await run_bulk(pc, store, identity, rows)                 # do it
    results_csv(report)                        # per-row outcome, downloadable

Files: only what can be proven is decoded: UTF-8 with or without BOM (plain ASCII is UTF-8) and
UTF-16 with a BOM (little- or big-endian). GB18030/GBK (what Excel writes on Chinese Windows) only
when the user chooses it (`read_csv(data, encoding="gb18030")`): a Korean, Japanese or Cyrillic
file decodes as GB18030 too, into plausible Chinese names that would be attested, and an
attestation cannot be withdrawn (issue 11). Every other file (a legacy code page, Big5,
Shift-JIS, UTF-16 without BOM, UTF-32), workbooks and binary files are refused with what to do
instead. Columns are separated by `,`, `;` or tab (found from the header). At most
`MAX_FILE_BYTES` (read from a stream with `read_limited`, never more than that) and `MAX_ROWS`.

Running is safe to repeat. Each row's attestation carries a deterministic MS-RequestId (uuid5 of
partner, customer, contact and date), so the service answers a re-sent row idempotently, and an
identical attestation is refused with 600061 ("already attested"). A journal in the desk's
database (`bulk_journal`) records each row `started` before its call and its outcome after:
submitting the same file again sends nothing that already ended, and a run killed half-way
re-sends only the rows it had started, with the same request ids. Before attesting, the
customer's current acceptance is read: a customer who already accepted is skipped, unless the
attestation found is the one an interrupted earlier run of this journal sent.
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import json
import math
import os
import re
import stat
import threading
import unicodedata
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import IO, Any

from mca_core.domain.errors import (
    AlreadyAttested,
    InvalidInput,
    McaError,
    NotFound,
    PartnerCenterError,
    PermissionDenied,
    Problem,
    Unauthorized,
)
from mca_core.domain.models import AcceptanceStatus, Contact, Customer, Identity
from mca_core.domain.validation import (
    check_date_agreed,
    check_email,
    check_may_attest,
    check_person_name,
    check_phone,
    classify_customer_ref,
)
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.bulk_journal import STARTED, BulkJournal, JournalEntry
from mca_core.store.database import Connection, Store
from mca_core.usecases import audit
from mca_core.usecases.attestation import contact_inputs
from mca_core.usecases.reports import FORMULA_PREFIXES, export_table
from mca_core.usecases.status import acceptance_status, resolve_customer

ACTION = "bulk_attest"
COLUMNS = ("customer", "first_name", "last_name", "email", "phone", "date_agreed")
REQUIRED_COLUMNS = ("customer", "first_name", "last_name", "email", "date_agreed")
#: Header names accepted for each column (compared case-, space- and hyphen-insensitively;
#: a note in parentheses after the name is ignored). For the customer, the first non-empty of
#: several customer columns wins, in this order.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "customer": (
        "customer",
        "customer_id",
        "customerid",
        "tenant_id",
        "tenantid",
        "tenant",
        "customer_tenant_id",
        "domain",
        "customer_domain",
    ),
    "first_name": ("first_name", "firstname", "given_name", "givenname", "first"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "familyname", "last"),
    "email": ("email", "e_mail", "email_address", "emailaddress", "mail"),
    "phone": ("phone", "phone_number", "phonenumber", "telephone", "tel", "mobile"),
    "date_agreed": (
        "date_agreed",
        "dateagreed",
        "agreement_date",
        "date_accepted",
        "accepted_on",
        "accepted_date",
        "date",
    ),
}
MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_ROWS = 10_000
#: Longest value a customer, phone or date cell can sensibly hold (names and emails have their
#: own limits in `validation`). Longer values are reported by length, never echoed.
MAX_CELL_CHARS = {"customer": 256, "phone": 64, "date_agreed": 64}
#: From this many distinct domains on, the customer list is read once instead of one filtered
#: lookup per domain.
DOMAIN_LIST_THRESHOLD = 10
DEFAULT_CONCURRENCY = 8
#: Namespace of the deterministic MS-RequestIds of bulk attestations.
BULK_REQUEST_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mca-desk.invalid/bulk-attest")
OUTCOMES = (
    "attested",
    "already_attested",
    "skipped_already_accepted",
    "would_attest",
    "invalid",
    "failed",
    "cancelled",
)
#: Outcomes after which nothing is left to do for a row.
DONE_OUTCOMES = frozenset(
    {"attested", "already_attested", "skipped_already_accepted", "would_attest"}
)
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
TEMPLATE_HEADER = (
    "customer (tenant id or domain; also read as customer_id, domain, tenant_id)",
    "first_name",
    "last_name",
    "email",
    "phone (optional, international form +CC)",
    "date_agreed (YYYY-MM-DD, not later than today in UTC)",
)
TEMPLATE_EXAMPLE = (
    "contoso.onmicrosoft.com",
    "Jane",
    "Doe",
    "jane@contoso.com",
    "+1 425 555 0100",
    "2025-11-20",
)
ProgressCallback = Callable[[int, int], None]


# --- the file ----------------------------------------------------------------------------------


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


@dataclass(frozen=True)
class BulkRow:
    """One data row of the file as typed (trimmed), with its line number in the file."""

    line: int
    customer: str
    first_name: str
    last_name: str
    email: str
    phone: str
    date_agreed: str
    #: Non-empty cells beyond the header's columns (an unquoted separator inside a value).
    extra_cells: tuple[str, ...] = ()

    def values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in COLUMNS}


def template_csv() -> bytes:
    """The file to fill in: header (each column says what it holds) and one example row."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(TEMPLATE_HEADER)
    writer.writerow(TEMPLATE_EXAMPLE)
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


_ALIAS_TO_COLUMN = {alias: column for column, names in COLUMN_ALIASES.items() for alias in names}


def _map_header(cells: list[str]) -> tuple[dict[str, list[int]], list[str]]:
    """Column -> positions (several only for the customer), and the duplicated column names."""
    positions: dict[str, list[int]] = {}
    seen: dict[str, str] = {}
    duplicates: list[str] = []
    for index, cell in enumerate(cells):
        key = header_key(cell)
        column = _ALIAS_TO_COLUMN.get(key)
        if column is None:
            continue
        if key in seen or (column != "customer" and column in positions):
            duplicates.append(cell.strip() or key)
            continue
        seen[key] = column
        positions.setdefault(column, []).append(index)
    customer = positions.get("customer")
    if customer:  # the customer columns in the order of preference
        order = COLUMN_ALIASES["customer"]
        customer.sort(key=lambda i: order.index(header_key(cells[i])))
    return positions, duplicates


def _first_line(text: str) -> str:
    for line in text.splitlines():
        if line.strip():
            return line
    return ""


SEP_LINE = re.compile(r'"?sep=(.)"?\s*', flags=re.IGNORECASE)


def choose_delimiter(text: str) -> str:
    """The delimiter: Excel's `sep=` line if any, else the split that finds the most columns."""
    first = _first_line(text)
    hint = SEP_LINE.fullmatch(first)
    if hint:
        return hint.group(1)
    scores: dict[str, int] = {}
    for delimiter in (",", ";", "\t"):
        cells = next(csv.reader([first], delimiter=delimiter), [])
        scores[delimiter] = len(_map_header(cells)[0])
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


def read_csv(data: bytes, encoding: str = "auto") -> list[BulkRow]:
    """The rows of an uploaded CSV, or CsvUnusable saying what is wrong with the file and what
    to do. Blank rows are left out; line numbers are the file's. `encoding`: one of
    `ENCODINGS` ("gb18030" only when the user chose it; see `decode_csv`)."""
    text, _encoding = decode_csv(data, encoding)
    try:
        delimiter = choose_delimiter(text)
    except csv.Error as exc:  # a header cell over the csv module's field limit
        raise csv_unusable(exc, header_line_number(text), "Check that line") from exc
    # strict: a quote left open swallows every later line into one cell; refuse that file
    # (naming the line the broken record starts on) instead of attesting garbled rows.
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    previous_end = 0
    try:
        header: list[str] = []
        header_line = 0
        for cells in reader:
            previous_end = reader.line_num
            if any(c.strip() for c in cells):
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
        positions, duplicates = _map_header(header)
        missing = [c for c in REQUIRED_COLUMNS if c not in positions]
        if missing:
            found = ", ".join(h.strip() for h in header if h.strip())[:200]
            raise CsvUnusable(
                f"The header lacks the column(s) {', '.join(missing)} (found: {found}).",
                "Use the template's header: customer, first_name, last_name, email, phone, "
                "date_agreed, separated by commas.",
                code="file_missing_columns",
                missing=", ".join(missing),
                found=found,
            )
        if duplicates:
            raise CsvUnusable(
                f"The header names a column twice: {', '.join(duplicates)}.",
                "Keep one column of each kind and upload again.",
                code="file_duplicate_columns",
                columns=", ".join(duplicates),
            )
        width = len(header)
        rows: list[BulkRow] = []
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
            rows.append(_row_from_cells(line, cells, positions, width))
    except csv.Error as exc:
        raise csv_unusable(exc, previous_end + 1, "Check the quotes on that line") from exc
    if not rows:
        raise CsvUnusable(
            "The file has a header but no rows.",
            "Add one row per customer under the header.",
            code="file_no_rows",
        )
    return rows


def _row_from_cells(
    line: int, cells: list[str], positions: dict[str, list[int]], width: int
) -> BulkRow:
    def cell(index: int) -> str:
        return clean_cell(cells[index]) if index < len(cells) else ""

    values: dict[str, str] = {}
    for column in COLUMNS:
        indexes = positions.get(column, [])
        values[column] = next((v for v in (cell(i) for i in indexes) if v), "")
    extra = tuple(text for text in (clean_cell(c) for c in cells[width:]) if text)
    return BulkRow(line=line, extra_cells=extra, **values)


def rows_from_records(records: Iterable[Mapping[str, Any]], first_line: int = 2) -> list[BulkRow]:
    """Rows from the edited grid (a DataFrame's records): column names or their aliases as keys,
    None/NaN as empty. A record's `line` is kept when present; blank records are left out."""
    rows: list[BulkRow] = []
    for index, record in enumerate(records):
        values = {c: "" for c in COLUMNS}
        ranks: dict[str, int] = {}
        order = COLUMN_ALIASES["customer"]
        for key, raw in record.items():
            norm = header_key(str(key))
            column = _ALIAS_TO_COLUMN.get(norm)
            text = clean_cell(raw)
            if column is None or not text:
                continue
            rank = order.index(norm) if column == "customer" else 0
            if column not in ranks or rank < ranks[column]:
                values[column], ranks[column] = text, rank
        if not any(values.values()):
            continue
        line = record.get("line")
        try:
            number = int(line) if line is not None and not _is_nan(line) else None
        except (TypeError, ValueError):
            number = None
        rows.append(BulkRow(line=number if number is not None else first_line + index, **values))
    return rows


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


# --- checking rows ---------------------------------------------------------------------------


@dataclass
class RowCheck:
    """One row judged before anything is sent: its problems (invalid when any) and flags."""

    row: BulkRow
    problems: list[Problem]
    #: "duplicate_in_file", "already_accepted", "unknown_customer"
    flags: list[str]
    contact: Contact | None
    day: date | None
    customer_id: str | None
    #: ("id", tenant id) or ("domain", domain) when the customer cell is usable.
    customer_ref: tuple[str, str] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def message(self) -> str:
        return " ".join(str(p) for p in self.problems)


_LABELS = {
    "customer": "The customer",
    "phone": "The phone",
    "date_agreed": "The acceptance date",
    "email": "The email",
}


def _invisible(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) in ("Cf", "Cc", "Co", "Cs", "Zl", "Zp"):
            return f"U+{ord(ch):04X}"
    return None


def cell_problem(column: str, text: str) -> Problem | None:
    """Length and invisible characters, judged before the rule of the column (never echoed)."""
    limit = MAX_CELL_CHARS.get(column)
    label = _LABELS.get(column, column)
    if limit is not None and len(text) > limit:
        return Problem(
            column,
            f"{label} is {len(text):,} characters long; at most {limit} make sense here.",
            "Check the cell: it probably holds something else pasted by mistake.",
            code="too_long",
            params={"length": str(len(text)), "max": str(limit)},
        )
    if column in _LABELS and (mark := _invisible(text)):
        return Problem(
            column,
            f"{label} contains an invisible character ({mark}), often pasted from a web page "
            "or a chat.",
            "Delete the cell's content and type it again.",
            code="invisible_character",
            params={"character": mark},
        )
    return None


#: Year-first dates, with at most Excel's midnight time (a date cell saved as a date-time):
#: any other time, or text after the date, is refused rather than guessed at.
_YMD = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]0{1,2}:00(?::00)?)?$"
)


def normalise_date_text(text: str) -> str:
    """Year-first dates as Excel writes them (2026/11/20, 2026.11.20, 2026年11月20日, with an
    optional midnight time) become 2026-11-20; everything else is left for the date rule to judge.
    Day-first and month-first forms are ambiguous and stay refused."""
    match = _YMD.match(text.strip())
    if not match:
        return text
    year, month, day = (int(g) for g in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def _check_customer(text: str) -> tuple[str, str] | Problem:
    problem = cell_problem("customer", text)
    if problem:
        return problem
    try:
        return classify_customer_ref(text, "customer")
    except InvalidInput as exc:
        return exc.problems[0]


def check_row(row: BulkRow, *, now: datetime | None = None) -> RowCheck:
    """One row on its own (no duplicates, no customer list): the rules of `validation`."""
    problems: list[Problem] = []
    ref = _check_customer(row.customer)
    if isinstance(ref, Problem):
        problems.append(ref)
        ref = None
    judged = {
        "first_name": check_person_name(row.first_name, "first_name", "First name"),
        "last_name": check_person_name(row.last_name, "last_name", "Last name"),
        "email": cell_problem("email", row.email) or check_email(row.email, "email"),
        "phone": cell_problem("phone", row.phone) or check_phone(row.phone, "phone"),
    }
    problems.extend(v for v in judged.values() if isinstance(v, Problem))
    contact: Contact | None = None
    if not any(isinstance(v, Problem) for v in judged.values()):
        phone = judged["phone"]
        contact = Contact(
            first_name=str(judged["first_name"]),
            last_name=str(judged["last_name"]),
            email=str(judged["email"]),
            phone_number=phone if isinstance(phone, str) else None,
        )
    day: date | None = None
    date_problem = cell_problem("date_agreed", row.date_agreed)
    if date_problem:
        problems.append(date_problem)
    else:
        checked = check_date_agreed(normalise_date_text(row.date_agreed), now=now)
        if isinstance(checked, Problem):
            problems.append(checked)
        else:
            day = checked
    if row.extra_cells:
        shown = row.extra_cells[0][:40]
        problems.append(
            Problem(
                "row",
                f"Line {row.line} has {len(row.extra_cells)} more cell(s) than the header "
                f"(starting '{shown}'): a value probably holds the separator without quotes.",
                "Put quotes around that value, or delete the extra cells.",
                code="extra_cells",
                params={"line": str(row.line), "count": str(len(row.extra_cells))},
            )
        )
    order = {c: i for i, c in enumerate((*COLUMNS, "row"))}
    problems.sort(key=lambda p: order.get(p.field, len(order)))
    return RowCheck(
        row=row,
        problems=problems,
        flags=[],
        contact=contact if not problems else None,
        day=day if not problems else None,
        customer_id=ref[1] if ref and ref[0] == "id" else None,
        customer_ref=ref,
    )


def check_rows(
    rows: list[BulkRow],
    *,
    now: datetime | None = None,
    customers: Mapping[str, Customer] | None = None,
    accepted_ids: set[str] | None = None,
) -> list[RowCheck]:
    """Every row's problems, plus flags: the same customer on several lines (later lines are
    invalid: one row per customer), customers already accepted in the latest snapshot, and
    customers the customer list does not know (the run asks Partner Center again)."""
    now = now or datetime.now(UTC)
    by_domain = {c.domain.casefold(): c.id for c in (customers or {}).values() if c.domain}
    checks = [check_row(row, now=now) for row in rows]
    first_line: dict[str, int] = {}
    keys: list[str | None] = []
    for check in checks:
        ref = check.customer_ref
        if ref is not None and customers is not None:
            if ref[0] == "domain":
                check.customer_id = by_domain.get(ref[1])
            known = check.customer_id is not None and check.customer_id in customers
            if not known:
                check.flags.append("unknown_customer")
        if check.customer_id and accepted_ids and check.customer_id in accepted_ids:
            check.flags.append("already_accepted")
        key = None
        if check.customer_id:
            key = f"id:{check.customer_id}"
        elif ref is not None:
            key = f"{ref[0]}:{ref[1]}"
        keys.append(key)
        if key is not None:
            first_line.setdefault(key, check.row.line)
    counts = Counter(k for k in keys if k is not None)
    for check, key in zip(checks, keys, strict=True):
        if key is None or counts[key] < 2:
            continue
        check.flags.append("duplicate_in_file")
        first = first_line[key]
        if check.row.line != first:
            check.problems.append(_duplicate_problem(check.row, first))
            check.contact, check.day = None, None
    return checks


def _duplicate_problem(row: BulkRow, first: int) -> Problem:
    return Problem(
        "customer",
        f"The same customer is already on line {first}; only that line is attested.",
        "Keep one row per customer: delete this row or the other one.",
        code="duplicate_in_file",
        params={"line": str(row.line), "first_line": str(first)},
    )


# --- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowOutcome:
    line: int
    customer: str
    customer_id: str | None
    #: One of OUTCOMES.
    outcome: str
    message: str
    request_id: str | None = None


@dataclass
class BulkReport:
    outcomes: list[RowOutcome]
    dry_run: bool
    run_key: str
    #: Rows whose outcome came from the journal of an earlier run (nothing sent again).
    resumed: int
    #: True when the run was cancelled before every row was handled.
    cancelled: bool = False

    @property
    def counts(self) -> dict[str, int]:
        found = Counter(o.outcome for o in self.outcomes)
        return {name: found.get(name, 0) for name in OUTCOMES}

    @property
    def ok(self) -> bool:
        return all(o.outcome in DONE_OUTCOMES for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_key": self.run_key,
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "cancelled": self.cancelled,
            "ok": self.ok,
            "counts": self.counts,
            "rows": [asdict(o) for o in self.outcomes],
        }


def _fold(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def run_key_for(rows: list[BulkRow], partner_tenant_id: str) -> str:
    """The identity of one submitted file: the same rows for the same partner, the same key."""
    normalised = [
        [row.line, *(_fold(v) for v in row.values().values()), len(row.extra_cells)] for row in rows
    ]
    payload = json.dumps({"partner": partner_tenant_id, "rows": normalised}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def bulk_request_id(partner_tenant_id: str, customer_id: str, contact: Contact, day: date) -> str:
    """The MS-RequestId of one attestation: the same whenever the same thing is attested, so a
    re-sent row is answered idempotently by Partner Center."""
    name = "|".join(
        (
            partner_tenant_id,
            customer_id.lower(),
            _fold(contact.first_name),
            _fold(contact.last_name),
            _fold(contact.email),
            _digits(contact.phone_number),
            day.isoformat(),
        )
    )
    return str(uuid.uuid5(BULK_REQUEST_NAMESPACE, name))


def _same_contact(status: AcceptanceStatus, contact: Contact) -> bool:
    wanted = (
        _fold(contact.first_name),
        _fold(contact.last_name),
        _fold(contact.email),
        _digits(contact.phone_number),
    )
    return any(
        (
            _fold(a.primary_contact.first_name),
            _fold(a.primary_contact.last_name),
            _fold(a.primary_contact.email),
            _digits(a.primary_contact.phone_number),
        )
        == wanted
        for a in status.attestations
    )


def _accepted_message(status: AcceptanceStatus) -> str:
    latest = status.latest_attestation
    if latest is not None:
        who = latest.primary_contact.full_name or latest.primary_contact.email
        return (
            f"Skipped: the customer already accepted the MCA (attested on "
            f"{latest.date_agreed.date().isoformat()}, {who})."
        )
    return "Skipped: the customer already accepted the MCA directly in the admin center."


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Run:
    """The state of one run_bulk call (kept out of the function to keep each step readable)."""

    def __init__(
        self,
        pc: PartnerCenterClient,
        store: Store,
        identity: Identity,
        rows: list[BulkRow],
        *,
        dry_run: bool,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        now: datetime,
        concurrency: int,
    ):
        self.pc, self.store, self.identity, self.rows = pc, store, identity, rows
        self.dry_run, self.cancel, self.now = dry_run, cancel, now
        self.progress = progress or (lambda done, total: None)
        self.concurrency = max(1, concurrency)
        self.partner = identity.partner_tenant_id or identity.user_id
        self.run_key = run_key_for(rows, self.partner)
        self.journal = BulkJournal(store)
        self.outcomes: dict[int, RowOutcome] = {}
        self.resumed = 0
        self.abort: str | None = None

    # bookkeeping ----------------------------------------------------------------------------

    def finish(self, index: int, outcome: RowOutcome) -> None:
        self.outcomes[index] = outcome
        self.progress(len(self.outcomes), len(self.rows))

    def outcome(
        self,
        row: BulkRow,
        customer_id: str | None,
        outcome: str,
        message: str,
        request_id: str | None = None,
    ) -> RowOutcome:
        return RowOutcome(
            line=row.line,
            customer=_short(row.customer),
            customer_id=customer_id,
            outcome=outcome,
            message=message,
            request_id=request_id,
        )

    def from_journal(self, row: BulkRow, entry: JournalEntry, earlier: bool) -> RowOutcome:
        self.resumed += 1
        when = entry.updated_at.strftime("%Y-%m-%d %H:%M UTC")
        source = "an earlier run of this file" if not earlier else "an earlier bulk run"
        return self.outcome(
            row,
            entry.customer_id,
            entry.state,
            f"{entry.message} (done by {source}, {when}; not sent again)".strip(),
            entry.request_id,
        )

    def journal_end(
        self, row: BulkRow, customer_id: str, outcome: RowOutcome, conn: Connection | None = None
    ) -> None:
        if self.dry_run:
            return
        self.journal.end(
            self.run_key,
            row.line,
            outcome.outcome,
            outcome.message,
            partner_tenant_id=self.partner,
            user_id=self.identity.user_id,
            customer_id=customer_id,
            request_id=outcome.request_id,
            conn=conn,
        )

    def settle(self, check: RowCheck, customer_id: str, outcome: RowOutcome) -> RowOutcome:
        """Audit a row's outcome and journal it as ended, in ONE transaction that no other run
        settling this customer runs beside: a kill cannot keep one without the other, and of two
        runs of the same rows at once (issue 11: two `bulk-attest` of one file recorded 400
        "attested" events for 200 attestations) only the first records "attested". The second
        sent the same MS-RequestId and got the stored answer back: it records the replay.
        Returns the outcome as recorded."""
        if self.dry_run:
            return outcome
        request_id = outcome.request_id
        if check.contact is not None and check.day is not None:
            request_id = bulk_request_id(self.partner, customer_id, check.contact, check.day)
        with self.store.serialized(f"bulk:{self.partner}:{customer_id}") as conn:
            own, attested_by = self.journal.settled(
                conn, self.run_key, check.row.line, self.partner, request_id
            )
            if attested_by is not None and outcome.outcome in ("attested", "already_attested"):
                outcome = self.replayed(outcome, attested_by)
            self.audit_row(check, customer_id, outcome, conn=conn)
            if own is None or not own.ended:  # ended by the other run: its outcome stays
                self.journal_end(check.row, customer_id, outcome, conn=conn)
        return outcome

    def replayed(self, outcome: RowOutcome, first: JournalEntry) -> RowOutcome:
        when = first.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return RowOutcome(
            line=outcome.line,
            customer=outcome.customer,
            customer_id=outcome.customer_id,
            outcome="already_attested",
            message=(
                f"Already attested by another bulk run at the same time ({when}); this run's "
                "identical request (same MS-RequestId) was answered with the stored result, a "
                "replay: nothing new was stored."
            ),
            request_id=outcome.request_id,
        )

    def audit_row(
        self, check: RowCheck, customer_id: str, outcome: RowOutcome, conn: Connection | None = None
    ) -> None:
        if self.dry_run:
            return
        inputs = contact_inputs(check.contact, {}, check.day)
        inputs.update(run_key=self.run_key, line=check.row.line)
        audit.record(
            self.store,
            self.identity,
            ACTION,
            outcome.outcome,
            customer_id=customer_id,
            inputs=inputs,
            detail=outcome.message,
            request_id=outcome.request_id,
            conn=conn,
        )

    # steps ------------------------------------------------------------------------------------

    async def resolve_domains(
        self, checks: list[tuple[int, RowCheck]]
    ) -> dict[str, str | McaError]:
        """domain -> customer id, or the error that prevented resolving it."""
        domains = sorted(
            {
                c.customer_ref[1]
                for _, c in checks
                if c.customer_ref and c.customer_ref[0] == "domain"
            }
        )
        found: dict[str, str | McaError] = {}
        if not domains:
            return found
        if len(domains) >= DOMAIN_LIST_THRESHOLD:
            try:
                listed = await self.pc.list_customers()
            except McaError as exc:
                return dict.fromkeys(domains, exc)
            by_domain = {c.domain.casefold(): c.id for c in listed if c.domain}
            for domain in domains:
                if domain in by_domain:
                    found[domain] = by_domain[domain]
                else:
                    found[domain] = _unknown_domain(domain)
            return found
        for domain in domains:
            try:
                found[domain] = (await resolve_customer(self.pc, domain)).id
            except McaError as exc:
                found[domain] = exc
        return found

    async def one(
        self,
        index: int,
        check: RowCheck,
        customer_id: str,
        gate: asyncio.Semaphore,
        entry: JournalEntry | None,
        earlier: list[JournalEntry],
    ) -> None:
        row = check.row
        async with gate:
            await asyncio.sleep(0)  # a point where a cancelled or dying run stops between rows
            if self.cancel is not None and self.cancel.is_set():
                self.finish(
                    index,
                    self.outcome(
                        row,
                        customer_id,
                        "cancelled",
                        "Not sent: the run was cancelled. Submit the same file again to continue.",
                    ),
                )
                return
            if self.abort is not None:
                self.finish(index, self.outcome(row, customer_id, "failed", self.abort))
                return
            try:
                outcome = await self.attest_row(check, customer_id, entry, earlier)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # one row's surprise never stops the others
                outcome = self.outcome(
                    row, customer_id, "failed", f"Unexpected error ({type(exc).__name__}): {exc}"
                )
                self.settle(check, customer_id, outcome)
            self.finish(index, outcome)

    async def attest_row(
        self,
        check: RowCheck,
        customer_id: str,
        entry: JournalEntry | None,
        earlier: list[JournalEntry],
    ) -> RowOutcome:
        row, contact, day = check.row, check.contact, check.day
        assert contact is not None and day is not None
        request_id = bulk_request_id(self.partner, customer_id, contact, day)
        # Sent before and maybe applied (killed mid-call, or retries ran out after a lost
        # answer): if the customer now holds this very contact, the attestation is ours.
        sent_before = {STARTED, "failed"}
        ours_started = (entry is not None and entry.state in sent_before) or any(
            e.state in sent_before for e in earlier
        )
        try:
            status = await acceptance_status(self.pc, customer_id, mode="first_evidence")
        except NotFound:
            return self.outcome(
                row,
                customer_id,
                "invalid",
                f"customer: No customer with tenant id {customer_id} is visible to your partner "
                "account. Check the id, or use the customer's domain.",
            )
        except PartnerCenterError as exc:
            outcome = self.outcome(
                row,
                customer_id,
                "failed",
                f"Could not read the customer's acceptance: {exc}",
                exc.request_id,
            )
            self.note_refusal(exc, row)
            self.settle(check, customer_id, outcome)
            return outcome
        resend = ours_started and _same_contact(status, contact)
        if status.accepted and not resend:
            outcome = self.outcome(
                row, customer_id, "skipped_already_accepted", _accepted_message(status)
            )
            self.settle(check, customer_id, outcome)
            return outcome
        if self.dry_run:
            message = "Would attest on submit."
            if resend:
                message = (
                    "Would confirm the attestation an interrupted run sent (same "
                    "MS-RequestId: nothing is attested twice)."
                )
            return self.outcome(row, customer_id, "would_attest", message, request_id)
        ended = self.journal.start(
            self.run_key,
            row.line,
            partner_tenant_id=self.partner,
            user_id=self.identity.user_id,
            customer_id=customer_id,
            request_id=request_id,
        )
        if ended is not None:  # another run of the same rows, at the same time, did it first
            return self.from_journal(row, ended, earlier=False)
        try:
            result = await self.pc.attest(customer_id, contact, day, request_id=request_id)
            outcome = self.outcome(row, customer_id, "attested", "Attested.", result.request_id)
        except AlreadyAttested as exc:
            if ours_started:
                outcome = self.outcome(
                    row,
                    customer_id,
                    "attested",
                    "Attested (by an interrupted earlier run; Partner Center holds it once).",
                    exc.request_id or request_id,
                )
            elif not _same_contact(status, contact):
                # Read just before: no attestation with these details. It appeared during this
                # call: an attempt whose answer was lost was stored, and the retry after a 429 or
                # 5xx had to carry a new MS-RequestId, so it met 600061 instead of the replay.
                outcome = self.outcome(
                    row,
                    customer_id,
                    "attested",
                    "Attested (the answer to a first attempt was lost; a retry found it stored: "
                    "Partner Center holds it once).",
                    exc.request_id or request_id,
                )
            else:
                outcome = self.outcome(
                    row,
                    customer_id,
                    "already_attested",
                    "Already attested with these details: nothing new was stored.",
                    exc.request_id or request_id,
                )
        except PartnerCenterError as exc:
            outcome = self.outcome(
                row,
                customer_id,
                "failed",
                f"{type(exc).__name__}: {exc}",
                exc.request_id or request_id,
            )
            self.note_refusal(exc, row)
        return self.settle(check, customer_id, outcome)

    def note_refusal(self, exc: PartnerCenterError, row: BulkRow) -> None:
        """A refusal of the user (role, token, MFA) would repeat on every row: stop sending."""
        if isinstance(exc, Unauthorized | PermissionDenied) and self.abort is None:
            self.abort = (
                f"Not sent: Partner Center refused line {row.line} ({exc}). Fix the sign-in or "
                "role, then submit the same file again."
            )

    async def run(self) -> BulkReport:
        entries = {} if not self.rows else self.journal.entries(self.run_key)
        checks = check_rows(self.rows, now=self.now)
        pending: list[tuple[int, RowCheck]] = []
        claimed: dict[str, int] = {}  # customer id -> line that attests it
        for index, check in enumerate(checks):
            row = check.row
            entry = entries.get(row.line)
            if entry is not None and entry.ended:
                self.finish(index, self.from_journal(row, entry, earlier=False))
                if entry.customer_id:
                    claimed.setdefault(entry.customer_id, row.line)
            elif check.problems:
                self.finish(index, self.outcome(row, check.customer_id, "invalid", check.message))
            else:
                pending.append((index, check))
        resolved = await self.resolve_domains(pending)
        ready: list[tuple[int, RowCheck, str]] = []
        for index, check in pending:
            row, ref = check.row, check.customer_ref
            assert ref is not None
            target = ref[1] if ref[0] == "id" else resolved[ref[1]]
            if isinstance(target, InvalidInput):
                self.finish(index, self.outcome(row, None, "invalid", str(target)))
                continue
            if isinstance(target, McaError):
                message = f"Could not look the domain up: {target}"
                request_id = getattr(target, "request_id", None)
                self.finish(index, self.outcome(row, None, "failed", message, request_id))
                continue
            first = claimed.setdefault(target, row.line)
            if first != row.line:
                problem = _duplicate_problem(row, first)
                self.finish(index, self.outcome(row, target, "invalid", str(problem)))
                continue
            check.customer_id = target
            ready.append((index, check, target))
        earlier = self.earlier_entries(ready)
        gate = asyncio.Semaphore(self.concurrency)
        tasks = []
        for index, check, customer_id in ready:
            assert check.contact is not None and check.day is not None
            request_id = bulk_request_id(self.partner, customer_id, check.contact, check.day)
            other_runs = [e for e in earlier.get(request_id, []) if e.run_key != self.run_key]
            done_before = next(
                (e for e in other_runs if e.state in ("attested", "already_attested")), None
            )
            if done_before is not None:
                self.finish(index, self.from_journal(check.row, done_before, earlier=True))
                continue
            entry = entries.get(check.row.line)
            tasks.append(
                asyncio.create_task(self.one(index, check, customer_id, gate, entry, other_runs))
            )
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # cancelled or dying: start nothing more (the journal holds the rest)
            for task in tasks:
                task.cancel()
            raise
        report = BulkReport(
            outcomes=[self.outcomes[i] for i in sorted(self.outcomes)],
            dry_run=self.dry_run,
            run_key=self.run_key,
            resumed=self.resumed,
            cancelled=any(o.outcome == "cancelled" for o in self.outcomes.values()),
        )
        self.audit_run(report)
        return report

    def earlier_entries(self, ready: list[tuple[int, RowCheck, str]]) -> dict[str, list]:
        ids = []
        for _, check, customer_id in ready:
            assert check.contact is not None and check.day is not None
            ids.append(bulk_request_id(self.partner, customer_id, check.contact, check.day))
        return self.journal.by_request_ids(self.partner, ids)

    def audit_run(self, report: BulkReport) -> None:
        counts = {k: v for k, v in report.counts.items() if v}
        outcome = "dry_run" if report.dry_run else ("cancelled" if report.cancelled else "done")
        audit.record(
            self.store,
            self.identity,
            ACTION,
            outcome,
            inputs={
                "run_key": report.run_key,
                "rows": len(self.rows),
                "counts": counts,
                "resumed": report.resumed,
            },
            detail=", ".join(f"{n} {k}" for k, n in counts.items()) or "no rows",
        )


def accepted_rows(
    report: BulkReport, rows: Iterable[BulkRow]
) -> Iterator[tuple[str, Contact, date, bool]]:
    """(customer id, contact, date, new attestation?) of every row the run attested or found
    attested already: what the desk writes through to the latest snapshot."""
    by_line = {row.line: row for row in rows}
    for outcome in report.outcomes:
        row = by_line.get(outcome.line)
        if (
            report.dry_run
            or row is None
            or not outcome.customer_id
            or outcome.outcome not in ("attested", "already_attested")
        ):
            continue
        check = check_row(row)
        if check.contact is not None and check.day is not None:
            yield outcome.customer_id, check.contact, check.day, outcome.outcome == "attested"


async def run_bulk(
    pc: PartnerCenterClient,
    store: Store,
    identity: Identity,
    rows: list[BulkRow],
    *,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> BulkReport:
    """Attest every valid row (or, with `dry_run`, say what would happen, attesting nothing).

    Enforces the access rule first (refusals are audited once). One row's failure never stops
    the others; the client's retry policy absorbs throttling, 5xx and timeouts, and a row whose
    retries run out ends `failed` with the error and its MS-RequestId. `progress(done, total)`
    is called after each row; `cancel` stops starting new rows (what was done stays journaled).
    """
    # The refusal only: rows are audited one by one, and the run as a whole, by `_Run`.
    with audit.attempt(store, identity, ACTION, inputs={"rows": len(rows), "dry_run": dry_run}):
        check_may_attest(identity)
    run = _Run(
        pc,
        store,
        identity,
        list(rows),
        dry_run=dry_run,
        progress=progress,
        cancel=cancel,
        now=now or datetime.now(UTC),
        concurrency=concurrency,
    )
    return await run.run()


def _unknown_domain(domain: str) -> InvalidInput:
    return InvalidInput(
        Problem(
            "customer",
            f"No customer with domain {domain} is visible to your partner account.",
            "Check the spelling, or use the tenant id.",
            code="unknown_customer",
            params={"value": domain},
        )
    )


RESULT_COLUMNS = ("line", "customer", "customer_id", "outcome", "message", "request_id")


def results_csv(report: BulkReport) -> bytes:
    """The per-row outcomes as CSV (UTF-8 with BOM, formula-like cells neutralised)."""
    return export_table([asdict(o) for o in report.outcomes], "csv", columns=RESULT_COLUMNS)


__all__ = [
    "COLUMNS",
    "ENCODINGS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "OUTCOMES",
    "BulkReport",
    "BulkRow",
    "CsvUnusable",
    "RowCheck",
    "RowOutcome",
    "check_row",
    "check_rows",
    "decode_csv",
    "read_csv",
    "read_limited",
    "results_csv",
    "rows_from_records",
    "run_bulk",
    "template_csv",
]
