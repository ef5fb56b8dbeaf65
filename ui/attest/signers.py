"""The Attest page's bulk tab on the enhanced channel: a CSV of signers read into an editable grid
with each row's checks, a dry run, the run (one acceptance link per customer, with a progress
bar), the per-row states, and two downloads: the results CSV and the invitations zip.

The structure is the classic tab's (`bulk`); the file, the checks and the run are the core's
(`bulk_signers.read_signers_csv`, `check_signer_rows`, `App.bulk_attest_signers`). Running the
same rows again reuses the links already created: nothing is sent twice.
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import UTC
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.scriptrunner_utils.exceptions import ScriptControlException

from mca_core import (
    BulkSignersReport,
    BulkSignersRequest,
    McaError,
    SignerRow,
    bulk,
    bulk_signers,
    reports,
)
from ui import attest_blocks as ab
from ui.i18n import problem_text, t, tn

from .bulk import row_accepted
from .context import AttestContext

ss = st.session_state

COLUMNS: tuple[str, ...] = tuple(bulk_signers.COLUMNS)
GRID_ORDER = ("line", "state", "problems", *COLUMNS)
#: What the tab keeps between runs: the file's bytes, the edited grid, the last report.
SIGNERS_STATE = (
    "sig_file_fp",
    "sig_bytes",
    "sig_name",
    "sig_base",
    "sig_file_error",
    "sig_report",
    "sig_dry_fp",
)


def file_fingerprint(data: bytes, encoding: str) -> str:
    return hashlib.sha256(encoding.encode() + b"\0" + data).hexdigest()


def rows_of(frame: pd.DataFrame) -> list[SignerRow]:
    """The grid's rows as the core reads them (text cells, the file's line numbers)."""
    return [
        SignerRow(line=int(r["line"]), **{c: str(r.get(c) or "").strip() for c in COLUMNS})
        for r in frame[["line", *COLUMNS]].to_dict("records")
    ]


def synced_row(ctx: AttestContext, ref: tuple[str, str] | None) -> dict[str, Any] | None:
    """The latest sync's row of a row's customer (by tenant id or domain), if listed."""
    if ref is None:
        return None
    kind, value = ref
    if kind == "id":
        return ctx.synced.get(value.lower()) or ctx.synced.get(value)
    wanted = value.casefold()
    return next(
        (r for r in ctx.synced.values() if str(r.get("domain") or "").casefold() == wanted), None
    )


def annotated(ctx: AttestContext, frame: pd.DataFrame) -> pd.DataFrame:
    """The grid with each row's state and problems beside it (the core's row checks), and what
    the latest sync says of its customer (already accepted, not listed)."""
    frame = ab.normalise_grid(frame, COLUMNS)
    checks = {c.row.line: c for c in bulk_signers.check_signer_rows(rows_of(frame))}
    states, problems = [], []
    for line in frame["line"]:
        check = checks.get(int(line))
        if check is None:
            states.append("")
            problems.append("")
            continue
        marks = [("⛔ " + t("row_invalid")) if check.problems else ("✅ " + t("row_ready"))]
        if ctx.snapshot is not None and check.customer_ref is not None:
            found = synced_row(ctx, check.customer_ref)
            if found is None:
                marks.append("⚠️ " + t("flag_unknown_customer"))
            elif row_accepted(ctx, found):
                marks.append("⚠️ " + t("flag_already_accepted"))
        states.append(" · ".join(marks))
        problems.append(ab.problem_list(check.problems))
    frame["state"] = states
    frame["problems"] = problems
    return frame


def load_file(ctx: AttestContext, name: str, data: bytes, encoding: str = "auto") -> None:
    # the file and the encoding it is read with: choosing another encoding reads it again
    ss["sig_file_fp"] = file_fingerprint(data, encoding)
    ss["sig_bytes"], ss["sig_name"] = data, name
    for key in ("sig_report", "sig_dry_fp", "sig_base", "sig_file_error"):
        ss.pop(key, None)  # a new file (or encoding): the old grid and reports no longer apply
    try:
        rows = bulk_signers.read_signers_csv(data, encoding)
    except bulk.CsvUnusable as exc:
        ss["sig_file_error"] = exc
        return
    ss["sig_base"] = annotated(ctx, ab.grid_from_rows(rows, COLUMNS))
    ss["sig_version"] = ss.get("sig_version", 0) + 1


def rows_fingerprint(rows: list[SignerRow]) -> str:
    payload = json.dumps([[r.line, *r.values().values()] for r in rows], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def run_now(ctx: AttestContext, rows: list[SignerRow], *, dry_run: bool) -> None:
    """The dry run or the run, with a progress bar. Leaving the page mid-way stops starting new
    rows (the core's cancel); the rows done are kept and the same rows again continue."""
    bar = st.progress(0.0, text=tn("bulk_progress", len(rows), done=0))
    cancel = threading.Event()
    left: list[ScriptControlException] = []

    def progress(done: int, total: int) -> None:
        if left:
            return
        try:
            bar.progress(done / total if total else 1.0, text=tn("bulk_progress", total, done=done))
        except ScriptControlException as exc:  # the user left or reran the page
            left.append(exc)
            cancel.set()

    request = BulkSignersRequest(rows=rows, dry_run=dry_run, progress=progress, cancel=cancel)
    try:
        report = ctx.app.bulk_attest_signers(ctx.actor, request)
    except McaError as exc:
        if left:
            raise left[0] from None
        bar.empty()
        ab.show_error(exc)
        return
    if left:
        raise left[0]
    bar.empty()
    ss["sig_report"] = report
    if dry_run:
        ss["sig_dry_fp"] = rows_fingerprint(rows)
    st.rerun()


def report_frame(report: BulkSignersReport) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                t("col_line"): o.line,
                t("col_customer"): o.customer,
                t("pipe_col_company"): o.company_name,
                t("pipe_col_signer"): f"{o.signer} <{o.signer_email}>" if o.signer_email else "",
                t("col_outcome"): t(f"outcome_{o.state}"),
                t("sig_col_link"): o.acceptance_link or "",
                t("pipe_col_expires"): ab.utc_time(o.expires_at.astimezone(UTC))
                if o.expires_at
                else "",
                t("col_message"): o.message,
                t("col_request_id"): o.request_id or "",
            }
            for o in report.outcomes
        ]
    )


def show_report(report: BulkSignersReport) -> None:
    counts = report.counts
    st.markdown(f"##### {t('bulk_dry_title') if report.dry_run else t('bulk_result_title')}")
    shown = [k for k in bulk_signers.STATES if counts.get(k)]
    cols = st.columns(max(1, len(shown)))
    for col, key in zip(cols, shown, strict=False):
        col.metric(t(f"outcome_{key}"), counts[key])
    if report.dry_run:
        st.caption(t("sig_dry_note"))
    elif report.ok:
        st.success(t("sig_all_done"), icon="✅")
    else:
        st.warning(t("sig_resume_hint"), icon="↩️")
    st.dataframe(report_frame(report), hide_index=True, width="stretch")
    results, invites, _ = st.columns([2, 2, 1])
    results.download_button(
        t("bulk_download_results"),
        data=report.results_csv(),
        file_name=f"mca-signers-{'dry-run' if report.dry_run else 'results'}.csv",
        mime=reports.MEDIA_TYPES["csv"],
        icon="⬇️",
        on_click="ignore",
        key="sig_download_results",
        width="stretch",
    )
    if report.dry_run:
        return
    invites.download_button(
        t("sig_download_invitations"),
        data=report.invitations_zip(),
        file_name="mca-acceptance-invitations.zip",
        mime="application/zip",
        icon="✉️",
        on_click="ignore",
        key="sig_download_invitations",
        disabled=not report.invitations,
        width="stretch",
    )
    st.caption(tn("sig_invitations", len(report.invitations)))


def render(ctx: AttestContext) -> None:
    st.caption(t("sig_intro"))
    st.download_button(
        t("sig_template"),
        data=bulk_signers.template_csv(),
        file_name="mca-acceptance-links-template.csv",
        mime=reports.MEDIA_TYPES["csv"],
        icon="⬇️",
        on_click="ignore",
        key="sig_template",
    )
    # As the classic tab: only UTF-8 and UTF-16 with a BOM are read unasked; GB18030 is the
    # user's word, confirmed in the grid below.
    encoding = st.selectbox(
        t("bulk_encoding"),
        bulk.ENCODINGS,
        format_func={key: t(f"bulk_encoding_{key}") for key in bulk.ENCODINGS}.get,
        key="sig_encoding",
        help=t("bulk_encoding_help"),
    )
    upload = st.file_uploader(
        t("bulk_upload"),
        type=["csv", "txt"],
        key=f"sig_upload_{ss.get('sig_upload_n', 0)}",
        help=t("bulk_upload_help"),
    )
    if upload is not None:
        data = upload.getvalue()
        if ss.get("sig_file_fp") != file_fingerprint(data, encoding):
            load_file(ctx, upload.name, data, encoding)
    if ss.get("sig_name"):
        st.caption(tn("bulk_file", len(ss.get("sig_bytes") or b""), name=ss["sig_name"]))
    error = ss.get("sig_file_error")
    if error is not None:
        st.error(f"{t('bulk_file_unusable')}\n\n{problem_text(error.problem)}", icon="📄")
        return
    base = ss.get("sig_base")
    if base is None:
        return
    if encoding != "auto":
        st.info(t("bulk_encoding_check", encoding=t(f"bulk_encoding_{encoding}")), icon="🔤")
    if ctx.snapshot is None:
        st.caption(t("bulk_no_snapshot"))
    key = f"sig_grid_{ss.get('sig_version', 0)}"
    edited = st.data_editor(
        base,
        key=key,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_order=GRID_ORDER,
        column_config=ab.grid_columns(COLUMNS),
    )
    delta = ss.get(key) or {}
    if any(delta.get(part) for part in ("edited_rows", "added_rows", "deleted_rows")):
        ss["sig_base"] = annotated(ctx, edited)
        ss["sig_version"] = ss.get("sig_version", 0) + 1
        st.rerun()
    rows = rows_of(base)
    invalid = int((base["problems"] != "").sum())
    st.caption(tn("bulk_counts", len(rows), invalid=invalid))
    dry_done = ss.get("sig_dry_fp") == rows_fingerprint(rows)
    dry, submit, reset, _ = st.columns([1, 1, 1, 2])
    if dry.button(t("bulk_dry_run"), key="sigb_dry", width="stretch", disabled=not rows):
        run_now(ctx, rows, dry_run=True)
    if submit.button(
        t("sig_submit"),
        key="sigb_submit",
        type="primary",
        width="stretch",
        disabled=not (rows and dry_done),
        help=None if dry_done else t("bulk_submit_help"),
    ):
        run_now(ctx, rows, dry_run=False)
    if reset.button(t("bulk_reset"), key="sigb_reset", width="stretch"):
        for name in SIGNERS_STATE:
            ss.pop(name, None)
        ss["sig_upload_n"] = ss.get("sig_upload_n", 0) + 1  # a fresh, empty uploader
        st.rerun()
    report = ss.get("sig_report")
    if report is not None:
        show_report(report)
