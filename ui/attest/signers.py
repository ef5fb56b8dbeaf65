"""The Attest page's bulk tab on the enhanced channel: a CSV of signers read into an editable grid
with each row's checks, a dry run, the run (one acceptance link per customer, with a progress
bar), the per-row states, and two downloads: the results CSV and the invitations zip.

The grid, the progress bar, the report's counts and the downloads are shared with the classic
tab (`grid`); the file, the checks and the run are the core's (`bulk_signers.read_signers_csv`,
`check_signer_rows`, `App.bulk_attest_signers`). Running the same rows again reuses the links
already created: nothing is sent twice.
"""

from __future__ import annotations

import threading
from datetime import UTC
from typing import Any

import pandas as pd
import streamlit as st

from mca_core import (
    BulkSignersReport,
    BulkSignersRequest,
    SignerRow,
    bulk_signers,
)
from ui import attest_blocks as ab
from ui.i18n import t, tn

from . import grid
from .bulk import row_accepted
from .context import AttestContext

COLUMNS: tuple[str, ...] = tuple(bulk_signers.COLUMNS)


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


def judge(ctx: AttestContext, frame: pd.DataFrame) -> dict[int, grid.Verdict]:
    """Each row's problems (the core's row checks), and what the latest sync says of its
    customer (already accepted, not listed)."""
    verdicts: dict[int, grid.Verdict] = {}
    for check in bulk_signers.check_signer_rows(rows_of(frame)):
        flags: list[str] = []
        if ctx.snapshot is not None and check.customer_ref is not None:
            found = synced_row(ctx, check.customer_ref)
            if found is None:
                flags.append("unknown_customer")
            elif row_accepted(ctx, found):
                flags.append("already_accepted")
        verdicts[check.row.line] = (check.problems, flags)
    return verdicts


def run_now(ctx: AttestContext, rows: list[SignerRow], *, dry_run: bool) -> None:
    """The dry run or the run, with a progress bar. The run is a job of the server: leaving the
    page does not stop it; a cancelled or failed run keeps the rows done, and the same rows
    again continue."""

    def start(progress: grid.Progress, cancel: threading.Event) -> BulkSignersReport:
        request = BulkSignersRequest(rows=rows, dry_run=dry_run, progress=progress, cancel=cancel)
        return ctx.app.bulk_attest_signers(ctx.actor, request)

    grid.run_rows(TAB, ctx, rows, dry_run=dry_run, start=start)


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
    grid.show_counts(report, bulk_signers.STATES)
    grid.show_verdict(
        report, dry_note="sig_dry_note", all_done="sig_all_done", resume_hint="sig_resume_hint"
    )
    st.dataframe(report_frame(report), hide_index=True, width="stretch")
    results, invites, _ = st.columns([2, 2, 1])
    grid.download_results(
        report,
        report.results_csv(),
        "mca-signers",
        key=TAB.key("download_results"),
        where=results,
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


TAB = grid.GridTab(
    prefix="sig",
    columns=COLUMNS,
    read=bulk_signers.read_signers_csv,
    rows_of=rows_of,
    judge=judge,
    run=run_now,
    show_report=show_report,
    template=bulk_signers.template_csv,
    template_name="mca-acceptance-links-template.csv",
    intro_key="sig_intro",
    template_key="sig_template",
    submit_key="sig_submit",
)


def render(ctx: AttestContext) -> None:
    grid.render(TAB, ctx)
