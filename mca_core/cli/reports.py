"""`report`: one row per customer from the latest snapshot, as CSV, JSON or Excel."""

from __future__ import annotations

import argparse

from mca_core.domain.errors import InvalidInput, Problem
from mca_core.usecases.metrics import FRAME_COLUMNS, customers_frame, kpis
from mca_core.usecases.reports import export_table

#: The overview's columns, with the reseller as its tenant id only (`associated_partner_id`).
REPORT_COLUMNS = tuple(c for c in FRAME_COLUMNS if c != "reseller")


def cmd_report(cli) -> int:
    from mca_core.cli._context import EXIT_OK, out_target, write_out

    target = out_target(cli, cli.args.out)  # before anything is read: exit 2 naming --out
    app, actor = cli.app, cli.actor()
    snap = app.latest_snapshot(actor.identity)
    if snap is None:
        raise InvalidInput(
            Problem(
                "snapshot",
                "There is no synced status yet for your partner account.",
                "Run `python -m mca_core sync` first.",
                code="no_snapshot",
            )
        )
    frame = customers_frame(app.snapshot_rows(snap), current_since=app.current_since)
    k = kpis(frame)
    frame["status"] = frame["status"].astype(str)
    frame["state"] = frame["state"].astype(str)
    # `accepted` follows the state: orders go through only on a current acceptance
    frame["accepted"] = [
        None if state == "unknown" else state == "accepted" for state in frame["state"]
    ]
    frame["latest_date_agreed"] = frame["latest_date_agreed"].dt.strftime("%Y-%m-%d")
    # an Excel workbook opens on a summary sheet: the partner, the snapshot's time, its KPIs
    data = export_table(
        frame,
        cli.args.format,
        columns=REPORT_COLUMNS,
        summary=k,
        partner=actor.identity.partner_name or actor.identity.partner_tenant_id,
        taken_at=snap.taken_at,
    )
    write_out(cli, target, data)  # atomically; a failure is exit 2 naming --out
    where = "stdout" if target is None else str(cli.args.out)
    doc = {
        "out": where,
        "format": cli.args.format,
        "rows": len(frame),
        "snapshot_id": snap.id,
        "taken_at": snap.taken_at.isoformat(),
        **k.as_dict(),
    }
    text = (
        f"{len(frame)} customers written to {where} ({cli.args.format}); snapshot of "
        f"{snap.taken_at:%Y-%m-%d %H:%M} UTC: {k.accepted} accepted, "
        f"{k.reacceptance_required} must re-accept the current MCA, "
        f"{k.not_accepted} not accepted."
    )
    if target is None:  # stdout carries the data: the summary goes beside it, on stderr
        print(text, file=cli.err)
    else:
        cli.emit(doc, text)
    return EXIT_OK


def register(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser("report", help="one row per customer from the latest snapshot")
    report.add_argument("--format", choices=("csv", "json", "xlsx"), default="csv")
    report.add_argument(
        "--out",
        required=True,
        help="file to write (atomically; - for stdout); never the desk's own database",
    )
    report.set_defaults(func=cmd_report)
