"""Exports of tables (CSV, JSON, Excel) that are safe to open in a spreadsheet.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a formula by
Excel or LibreOffice (CSV injection, OWASP): such text cells are prefixed with `'` on export.

An Excel workbook is laid out to be read as it opens: columns as wide as their content (East
Asian wide characters count twice), the header row bold and frozen, an autofilter over the
table; with a `summary` (`metrics.Kpis`), a first sheet "Summary" (partner, snapshot time, the
KPIs and the customers per state and status) before the table's sheet "Customers".
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import stat
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from mca_core.usecases.metrics import STATES, STATUSES, Kpis

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ExportFormat = Literal["csv", "json", "xlsx"]
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
#: The workbook's sheet names: stable ASCII in every language (formulas and scripts name them).
SUMMARY_SHEET = "Summary"
CUSTOMERS_SHEET = "Customers"
#: Column widths of a workbook, in characters (a wide East Asian character counts two).
MIN_WIDTH, MAX_WIDTH = 10, 60

#: The summary sheet's texts in English; a localised export passes its own (`labels`).
SUMMARY_LABELS: dict[str, str] = {
    "title": "MCA acceptance report",
    "partner": "Partner",
    "taken_at": "Snapshot taken (UTC)",
    "kpis": "Key figures",
    "customers": "Customers",
    "accepted": "Accepted",
    "rate": "Acceptance rate (%)",
    "by_attestation": "Accepted by partner attestation",
    "directly": "Accepted directly",
    "both": "Both (attested and accepted directly)",
    "reacceptance_required": "Re-acceptance required (earlier MCA only)",
    "not_accepted": "Not accepted",
    "at_risk": "Blocked from ordering",
    "unknown": "Unknown (could not be read)",
    "per_state": "Customers per state",
    "per_status": "Customers per status",
    "count": "Customers",
    "share": "Share",
    "state_accepted": "Accepted",
    "state_reacceptance_required": "Re-acceptance required",
    "state_not_accepted": "Not accepted",
    "state_unknown": "Unknown",
    "status_attested": "Attested by partner",
    "status_direct": "Accepted directly",
    "status_both": "Both",
    "status_reacceptance_required": "Re-acceptance required (earlier MCA)",
    "status_not_accepted": "Not accepted",
    "status_unknown": "Unknown",
}
#: The KPI rows of the summary, in order: label key -> `Kpis` attribute (or property).
SUMMARY_KPIS = (
    ("customers", "customers"),
    ("accepted", "accepted"),
    ("rate", "rate"),
    ("by_attestation", "by_attestation"),
    ("directly", "directly"),
    ("both", "both"),
    ("reacceptance_required", "reacceptance_required"),
    ("not_accepted", "not_accepted"),
    ("at_risk", "at_risk"),
    ("unknown", "unknown"),
)
#: How many customers each state and status counts, as `Kpis` attributes.
STATE_COUNTS = {
    "accepted": "accepted",
    "reacceptance_required": "reacceptance_required",
    "not_accepted": "not_accepted",
    "unknown": "unknown",
}
STATUS_COUNTS = {
    "attested": "by_attestation",
    "direct": "directly",
    "both": "both",
    "reacceptance_required": "reacceptance_required",
    "not_accepted": "not_accepted",
    "unknown": "unknown",
}
NOT_COUNTED = "—"  # a breakdown an older snapshot did not count


def neutralise(value: Any) -> Any:
    """Make a text cell inert in a spreadsheet; other values are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_frame(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object or pd.api.types.is_string_dtype(out[column]):
            out[column] = out[column].map(neutralise)
    out.columns = [neutralise(str(c)) for c in out.columns]
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def export_table(
    rows: pd.DataFrame | Iterable[Mapping[str, Any]],
    fmt: ExportFormat,
    *,
    columns: Sequence[str] | None = None,
    sheet_name: str = CUSTOMERS_SHEET,
    summary: Kpis | None = None,
    partner: str = "",
    taken_at: datetime | None = None,
    labels: Mapping[str, str] | None = None,
    notes: Sequence[tuple[str, Any]] = (),
) -> bytes:
    """Rows as bytes in `fmt`. CSV is UTF-8 with a BOM so Excel (Chinese Windows too) reads it.

    Excel only: with `summary` (the KPIs of these rows, from `metrics.kpis`), the workbook opens
    on a sheet "Summary" naming the `partner` and the snapshot's `taken_at`, with `notes` (label,
    value) below them; `labels` replace the summary's English texts (`SUMMARY_LABELS`). The
    table's sheet is `sheet_name`. CSV and JSON ignore these."""
    frame = rows.copy() if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if columns is not None:
        frame = frame.reindex(columns=list(columns))
    if fmt == "json":
        records = [
            {k: _plain(v) for k, v in rec.items()}
            for rec in frame.astype(object).where(frame.notna(), None).to_dict("records")
        ]
        return json.dumps(records, ensure_ascii=False, indent=2, default=str).encode("utf-8")
    safe = neutralise_frame(frame)
    for column in safe.columns:
        if isinstance(safe[column].dtype, pd.DatetimeTZDtype):
            safe[column] = safe[column].dt.tz_convert("UTC").dt.tz_localize(None)
    if fmt == "csv":
        # CRLF rows, as RFC 4180 and Excel write them: a CR or LF inside a cell is then quoted,
        # so a cell cannot break into a new row that starts with a live formula.
        return safe.to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")
    if fmt == "xlsx":
        buffer = io.BytesIO()
        with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
            if summary is not None:  # first, so the workbook opens on it
                _write_summary(
                    writer.book.create_sheet(SUMMARY_SHEET),
                    summary,
                    partner=partner,
                    taken_at=taken_at,
                    labels={**SUMMARY_LABELS, **(labels or {})},
                    notes=notes,
                )
            name = sheet_name[:31]
            safe.to_excel(writer, index=False, sheet_name=name)
            _lay_out_table(writer.sheets[name], safe)
        return buffer.getvalue()
    raise ValueError(f"unknown export format {fmt!r}: use csv, json or xlsx")


def display_width(value: Any) -> int:
    """How many characters wide `value` shows in a spreadsheet cell: a wide or full-width East
    Asian character (Chinese, Japanese, Korean) takes two; the longest line of a multi-line
    text counts."""
    if value is None or (isinstance(value, float) and value != value):
        return 0
    text = value.isoformat(sep=" ") if isinstance(value, datetime) else str(value)
    return max(
        (
            sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)
            for line in text.splitlines() or [""]
        ),
        default=0,
    )


def _fit(width: int) -> float:
    return float(min(MAX_WIDTH, max(MIN_WIDTH, width + 2)))


def _lay_out_table(sheet: Worksheet, table: pd.DataFrame) -> None:
    """Header bold and frozen, an autofilter over the table, columns fitted to their content."""
    if not len(table.columns):
        return
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    last = get_column_letter(len(table.columns))
    sheet.auto_filter.ref = f"A1:{last}{len(table) + 1}"
    for index, column in enumerate(table.columns, start=1):
        values = table.iloc[:, index - 1].dropna()
        # each distinct value once: a status or country column has a handful
        widest = max((display_width(v) for v in pd.unique(values.astype(object))), default=0)
        # the header also carries the autofilter's drop-down button: two more characters
        width = max(widest, display_width(column) + 2)
        sheet.column_dimensions[get_column_letter(index)].width = _fit(width)


def _write_summary(
    sheet: Worksheet,
    kpis: Kpis,
    *,
    partner: str,
    taken_at: datetime | None,
    labels: Mapping[str, str],
    notes: Sequence[tuple[str, Any]],
) -> None:
    """The summary sheet: title, partner, snapshot time, KPIs, customers per state and status.
    Every text goes through `neutralise` (a partner's name comes from outside)."""
    bold = Font(bold=True)

    def row(*values: Any, font: Font | None = None, formats: Sequence[str | None] = ()) -> None:
        sheet.append([neutralise(v) for v in values])
        for cell, number_format in zip(sheet[sheet.max_row], formats, strict=False):
            if number_format:
                cell.number_format = number_format
        if font is not None:
            for cell in sheet[sheet.max_row]:
                cell.font = font

    def count(attribute: str) -> Any:
        value = getattr(kpis, attribute)
        return NOT_COUNTED if value is None else value

    def share(value: Any) -> Any:
        if not isinstance(value, int) or not kpis.customers:
            return None
        return value / kpis.customers

    row(labels["title"], font=Font(bold=True, size=14))
    row()
    row(labels["partner"], partner or NOT_COUNTED)
    when = NOT_COUNTED
    if taken_at is not None:
        utc = taken_at.astimezone(UTC) if taken_at.tzinfo else taken_at
        when = utc.strftime("%Y-%m-%d %H:%M")
    row(labels["taken_at"], when)
    for label, value in notes:
        row(label, value)
    row()
    row(labels["kpis"], font=bold)
    for key, attribute in SUMMARY_KPIS:
        if attribute == "rate":
            row(labels[key], kpis.rate, formats=(None, "0.0%"))
        else:
            row(labels[key], count(attribute), formats=(None, "#,##0"))
    for heading, names, attributes, prefix in (
        ("per_state", STATES, STATE_COUNTS, "state_"),
        ("per_status", STATUSES, STATUS_COUNTS, "status_"),
    ):
        row()
        row(labels[heading], labels["count"], labels["share"], font=bold)
        for name in names:
            value = count(attributes[name])
            row(labels[prefix + name], value, share(value), formats=(None, "#,##0", "0.0%"))
    widths = [0, 0, 0]
    for cells in sheet.iter_rows(min_row=2):  # the title may overflow into empty cells
        for i, cell in enumerate(cells[:3]):
            shown = f"{cell.value:,}" if isinstance(cell.value, int) else cell.value
            widths[i] = max(widths[i], display_width(shown))
    for i, width in enumerate(widths, start=1):
        sheet.column_dimensions[get_column_letter(i)].width = _fit(width)


def write_atomically(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to `path` so that a reader, or a crash, sees the old file or the new one and
    never half of one: a temporary file in the same folder, then `os.replace`.

    A symlink is followed (the link keeps pointing at the new file) and an existing file keeps
    its permissions; a new one gets the usual ones (0666 less the umask). Something that is not
    a regular file (/dev/null, a FIFO, a terminal) is written in place. Returns the file written.
    """
    target = Path(os.path.realpath(path))
    try:
        mode: int | None = target.stat().st_mode
    except FileNotFoundError:
        mode = None
    if mode is not None and not stat.S_ISREG(mode):
        with open(target, "wb") as stream:
            stream.write(data)
        return target
    temporary = target.with_name(f".{target.name[:200]}.{secrets.token_hex(4)}.tmp")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    fd = os.open(temporary, flags, 0o666 if mode is None else 0o600)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        if mode is not None:
            os.chmod(temporary, stat.S_IMODE(mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
    return target
