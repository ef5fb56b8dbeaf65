"""Exports of tables (CSV, JSON, Excel) that are safe to open in a spreadsheet.

A cell starting with `=`, `+`, `-`, `@`, a tab or a carriage return would be run as a formula by
Excel or LibreOffice (CSV injection, OWASP): such text cells are prefixed with `'` on export.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import stat
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
ExportFormat = Literal["csv", "json", "xlsx"]
MEDIA_TYPES = {
    "csv": "text/csv",
    "json": "application/json",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


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
    sheet_name: str = "customers",
) -> bytes:
    """Rows as bytes in `fmt`. CSV is UTF-8 with a BOM so Excel (Chinese Windows too) reads it."""
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
            safe.to_excel(writer, index=False, sheet_name=sheet_name[:31])
        return buffer.getvalue()
    raise ValueError(f"unknown export format {fmt!r}: use csv, json or xlsx")


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
