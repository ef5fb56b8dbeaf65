"""The Attest page's bulk tab: a CSV read into an editable grid with each row's checks, a dry
run, the submission (resumable) and the report (the grid and the run: `grid`)."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from mca_core import BulkAttestRequest, Customer, bulk, metrics
from ui import attest_blocks as ab
from ui.i18n import t, tn

from . import grid
from .context import AttestContext


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


def rows_of(frame: pd.DataFrame) -> list[bulk.BulkRow]:
    """The grid's rows as the core reads them."""
    return bulk.rows_from_records(frame[["line", *bulk.COLUMNS]].to_dict("records"))


def judge(ctx: AttestContext, frame: pd.DataFrame) -> dict[int, grid.Verdict]:
    """Each row's problems and flags (the core's row checks, with the latest sync's customers)."""
    customers, accepted = known_customers(ctx)
    checks = bulk.check_rows(rows_of(frame), customers=customers, accepted_ids=accepted)
    return {c.row.line: (c.problems, c.flags) for c in checks}


def run_bulk_now(ctx: AttestContext, rows: list[bulk.BulkRow], *, dry_run: bool) -> None:
    grid.run_rows(
        TAB,
        ctx,
        rows,
        dry_run=dry_run,
        start=lambda progress, _cancel: ctx.app.bulk_attest(
            ctx.actor, BulkAttestRequest(rows=rows, dry_run=dry_run, progress=progress)
        ),
    )


def show_report(report: bulk.BulkReport) -> None:
    grid.show_counts(report, bulk.OUTCOMES)
    if report.resumed:
        st.info(tn("bulk_resumed", report.resumed), icon="↩️")
    grid.show_verdict(
        report, dry_note="bulk_dry_note", all_done="bulk_all_done", resume_hint="bulk_resume_hint"
    )
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
    grid.download_results(
        report, bulk.results_csv(report), "mca-bulk", key=TAB.key("download_results")
    )


TAB = grid.GridTab(
    prefix="bulk",
    columns=tuple(bulk.COLUMNS),
    read=bulk.read_csv,
    rows_of=rows_of,
    judge=judge,
    run=run_bulk_now,
    show_report=show_report,
    template=bulk.template_csv,
    template_name="mca-bulk-attestation-template.csv",
    intro_key="bulk_intro",
    template_key="bulk_template",
    submit_key="bulk_submit",
)


def render(ctx: AttestContext) -> None:
    ab.classic_retired_warning()  # the classic channel only (the enhanced one: `signers`)
    grid.render(TAB, ctx)
