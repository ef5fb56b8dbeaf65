"""The Attest page's bulk tab: a CSV read into an editable grid with each row's checks, a dry
run, the submission (resumable) and the report."""

from __future__ import annotations

import hashlib
import json

import pandas as pd
import streamlit as st

from mca_core import BulkAttestRequest, Customer, McaError, bulk, metrics, reports
from ui import attest_blocks as ab
from ui.i18n import problem_text, t, tn

from .context import AttestContext

ss = st.session_state


# --- bulk (CSV) --------------------------------------------------------------------------------

GRID_ORDER = ("line", "state", "problems", *bulk.COLUMNS)
#: What the bulk tab keeps between runs: the file's bytes, the edited grid, the last report.
BULK_STATE = (
    "bulk_file_fp",
    "bulk_bytes",
    "bulk_name",
    "bulk_base",
    "bulk_file_error",
    "bulk_report",
    "bulk_dry_fp",
)


def known_customers(
    ctx: AttestContext,
) -> tuple[dict[str, Customer] | None, set[str] | None]:
    if ctx.snapshot is None:
        return None, None
    customers = {
        cid: Customer(
            id=cid,
            tenant_id=cid,
            domain=r.get("domain") or "",
            company_name=r.get("company_name") or "",
        )
        for cid, r in ctx.synced.items()
    }
    return customers, {cid for cid, r in ctx.synced.items() if row_accepted(ctx, r)}


def row_accepted(ctx: AttestContext, row: dict) -> bool:
    """Already accepted the current MCA (a customer that must re-accept is not: attesting for
    it is what it needs)."""
    return row.get("accepted") is not None and not metrics.row_blocked(row, ctx.app.current_since)


def annotated(ctx: AttestContext, frame: pd.DataFrame) -> pd.DataFrame:
    """The grid with each row's state and problems beside it (from the core's row checks)."""
    frame = ab.normalise_grid(frame)
    customers, accepted = known_customers(ctx)
    rows = bulk.rows_from_records(frame[["line", *bulk.COLUMNS]].to_dict("records"))
    checks = {
        c.row.line: c for c in bulk.check_rows(rows, customers=customers, accepted_ids=accepted)
    }
    states, problems = [], []
    for line in frame["line"]:
        check = checks.get(int(line))
        if check is None:
            states.append("")
            problems.append("")
            continue
        marks = [("⛔ " + t("row_invalid")) if check.problems else ("✅ " + t("row_ready"))]
        marks += ["⚠️ " + t(f"flag_{flag}") for flag in check.flags]
        states.append(" · ".join(marks))
        problems.append(ab.problem_list(check.problems))
    frame["state"] = states
    frame["problems"] = problems
    return frame


def load_file(ctx: AttestContext, name: str, data: bytes, encoding: str = "auto") -> None:
    # the file and the encoding it is read with: choosing another encoding reads it again
    ss["bulk_file_fp"] = hashlib.sha256(encoding.encode() + b"\0" + data).hexdigest()
    ss["bulk_bytes"], ss["bulk_name"] = data, name
    for key in ("bulk_report", "bulk_dry_fp", "bulk_base", "bulk_file_error"):
        ss.pop(key, None)  # a new file (or encoding): the old grid and reports no longer apply
    try:
        rows = bulk.read_csv(data, encoding)
    except bulk.CsvUnusable as exc:
        ss["bulk_file_error"] = exc
        return
    ss["bulk_base"] = annotated(ctx, ab.grid_from_rows(rows))
    ss["bulk_version"] = ss.get("bulk_version", 0) + 1


def grid_rows() -> list[bulk.BulkRow]:
    base: pd.DataFrame = ss["bulk_base"]
    return bulk.rows_from_records(base[["line", *bulk.COLUMNS]].to_dict("records"))


def rows_fingerprint(rows: list[bulk.BulkRow]) -> str:
    payload = json.dumps([[r.line, *r.values().values()] for r in rows], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def run_bulk_now(ctx: AttestContext, rows: list[bulk.BulkRow], *, dry_run: bool) -> None:
    bar = st.progress(0.0, text=tn("bulk_progress", len(rows), done=0))

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=tn("bulk_progress", total, done=done))

    try:
        report = ctx.app.bulk_attest(
            ctx.actor, BulkAttestRequest(rows=rows, dry_run=dry_run, progress=progress)
        )
    except McaError as exc:
        bar.empty()
        ab.show_error(exc)
        return
    bar.empty()
    ss["bulk_report"] = report
    if dry_run:
        ss["bulk_dry_fp"] = rows_fingerprint(rows)
    st.rerun()


def show_report(report: bulk.BulkReport) -> None:
    counts = report.counts
    st.markdown(f"##### {t('bulk_dry_title') if report.dry_run else t('bulk_result_title')}")
    shown = [k for k in bulk.OUTCOMES if counts.get(k)]
    cols = st.columns(max(1, len(shown)))
    for col, key in zip(cols, shown, strict=False):
        col.metric(t(f"outcome_{key}"), counts[key])
    if report.resumed:
        st.info(tn("bulk_resumed", report.resumed), icon="↩️")
    if report.dry_run:
        st.caption(t("bulk_dry_note"))
    elif report.ok:
        st.success(t("bulk_all_done"), icon="✅")
    else:
        st.warning(t("bulk_resume_hint"), icon="↩️")
    frame = pd.DataFrame(
        [
            {
                t("col_line"): o.line,
                t("col_customer"): o.customer,
                t("col_outcome"): t(f"outcome_{o.outcome}"),
                t("col_message"): o.message,
                t("col_request_id"): o.request_id or "",
            }
            for o in report.outcomes
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        t("bulk_download_results"),
        data=bulk.results_csv(report),
        file_name=f"mca-bulk-{'dry-run' if report.dry_run else 'results'}.csv",
        mime=reports.MEDIA_TYPES["csv"],
        icon="⬇️",
        on_click="ignore",
        key="bulk_download_results",
    )


def render(ctx: AttestContext) -> None:
    ab.classic_retired_warning()  # the classic channel only (the enhanced one: `signers`)
    st.caption(t("bulk_intro"))
    st.download_button(
        t("bulk_template"),
        data=bulk.template_csv(),
        file_name="mca-bulk-attestation-template.csv",
        mime=reports.MEDIA_TYPES["csv"],
        icon="⬇️",
        on_click="ignore",
        key="bulk_template",
    )
    # Only UTF-8 and UTF-16 with a BOM are read unasked; GB18030 is the user's word (issue 11:
    # a Korean file read as GB18030 gives plausible Chinese names), confirmed in the grid below.
    encoding = st.selectbox(
        t("bulk_encoding"),
        bulk.ENCODINGS,
        format_func={key: t(f"bulk_encoding_{key}") for key in bulk.ENCODINGS}.get,
        key="bulk_encoding",
        help=t("bulk_encoding_help"),
    )
    upload = st.file_uploader(
        t("bulk_upload"),
        type=["csv", "txt"],
        key=f"bulk_upload_{ss.get('bulk_upload_n', 0)}",
        help=t("bulk_upload_help"),
    )
    if upload is not None:
        data = upload.getvalue()
        if ss.get("bulk_file_fp") != hashlib.sha256(encoding.encode() + b"\0" + data).hexdigest():
            load_file(ctx, upload.name, data, encoding)
    if ss.get("bulk_name"):
        st.caption(tn("bulk_file", len(ss.get("bulk_bytes") or b""), name=ss["bulk_name"]))
    error = ss.get("bulk_file_error")
    if error is not None:
        st.error(f"{t('bulk_file_unusable')}\n\n{problem_text(error.problem)}", icon="📄")
        return
    base = ss.get("bulk_base")
    if base is None:
        return
    if encoding != "auto":
        st.info(t("bulk_encoding_check", encoding=t(f"bulk_encoding_{encoding}")), icon="🔤")
    if ctx.snapshot is None:
        st.caption(t("bulk_no_snapshot"))
    key = f"bulk_grid_{ss.get('bulk_version', 0)}"
    edited = st.data_editor(
        base,
        key=key,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_order=GRID_ORDER,
        column_config=ab.grid_columns(),
    )
    delta = ss.get(key) or {}
    if any(delta.get(part) for part in ("edited_rows", "added_rows", "deleted_rows")):
        ss["bulk_base"] = annotated(ctx, edited)
        ss["bulk_version"] = ss.get("bulk_version", 0) + 1
        st.rerun()
    rows = grid_rows()
    invalid = int((base["problems"] != "").sum())
    st.caption(tn("bulk_counts", len(rows), invalid=invalid))
    dry_done = ss.get("bulk_dry_fp") == rows_fingerprint(rows)
    dry, submit, reset, _ = st.columns([1, 1, 1, 2])
    if dry.button(t("bulk_dry_run"), key="bulkb_dry", width="stretch", disabled=not rows):
        run_bulk_now(ctx, rows, dry_run=True)
    if submit.button(
        t("bulk_submit"),
        key="bulkb_submit",
        type="primary",
        width="stretch",
        disabled=not (rows and dry_done),
        help=None if dry_done else t("bulk_submit_help"),
    ):
        run_bulk_now(ctx, rows, dry_run=False)
    if reset.button(t("bulk_reset"), key="bulkb_reset", width="stretch"):
        for name in BULK_STATE:
            ss.pop(name, None)
        ss["bulk_upload_n"] = ss.get("bulk_upload_n", 0) + 1  # a fresh, empty uploader
        st.rerun()
    report = ss.get("bulk_report")
    if report is not None:
        show_report(report)
