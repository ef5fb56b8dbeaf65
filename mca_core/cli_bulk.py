"""`python -m mca_core bulk-attest FILE.csv [--dry-run] [--out RESULTS.csv]`.

Exit codes: 0 when every row ended attested, already attested or skipped (would attest, on a dry
run); 1 when some row failed, was invalid or was not sent; 2 when the file itself is unusable
(stderr says why and what to do); 3 when the user's role or partner type may not attest.
Submitting the same file again is safe: rows already done are not sent twice.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path
from typing import IO, Any

from .bulk import BulkReport, read_csv, results_csv, run_bulk
from .cli import EXIT_FAILED, EXIT_INVALID, EXIT_OK, Cli


class BulkProgressLine:
    """Progress on stderr: rewritten in place on a terminal, every 10% otherwise."""

    def __init__(self, stream: IO[str], label: str) -> None:
        self.stream = stream
        self.label = label
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_decile = -1
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if self.tty:
            self.stream.write(f"\r{self.label}: {done}/{total}")
            self.stream.flush()
            self.shown = True
            return
        decile = (done * 10 // total) if total else 10
        if decile != self.last_decile:
            self.stream.write(f"{self.label}: {done}/{total}\n")
            self.last_decile = decile

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
            self.shown = False


def report_text(report: BulkReport, out_path: str | None) -> str:
    """A summary line, then one line per row that needs the user's attention."""
    counts = report.counts
    order = (
        ("would_attest", "would attest"),
        ("attested", "attested"),
        ("already_attested", "already attested"),
        ("skipped_already_accepted", "skipped (already accepted)"),
        ("invalid", "invalid"),
        ("failed", "failed"),
        ("cancelled", "not sent"),
    )
    parts = [f"{counts[key]} {label}" for key, label in order if counts[key]]
    head = "Dry run: " if report.dry_run else ""
    lines = [f"{head}{len(report.outcomes)} rows: " + (", ".join(parts) or "nothing to do")]
    if report.resumed:
        lines.append(f"{report.resumed} rows were handled by an earlier run: not sent again.")
    for o in report.outcomes:
        if o.outcome in ("invalid", "failed", "cancelled"):
            shown = o.outcome == "failed" and o.request_id and o.request_id not in o.message
            rid = f" (MS-RequestId {o.request_id})" if shown else ""
            lines.append(f"  line {o.line} {o.customer}: {o.outcome}: {o.message}{rid}")
    if out_path:
        lines.append(f"Per-row results written to {out_path}.")
    if not report.ok and not report.dry_run:
        lines.append("Fix the rows above and submit the same file again: done rows are skipped.")
    return "\n".join(lines)


def cmd_bulk_attest(cli: Cli) -> int:
    args = cli.args
    path = Path(args.file)
    try:
        data = path.read_bytes()
    except OSError as exc:
        message = f"Cannot read {path}: {exc.strerror or exc}."
        print(message, file=cli.err)
        if cli.json:
            cli.emit({"error": "unreadable_file", "message": message}, message)
        return EXIT_INVALID
    rows = read_csv(data)  # CsvUnusable (InvalidInput) -> exit 2 via cli.report_error
    desk, actor = cli.desk, cli.actor()
    cancel = threading.Event()
    progress = BulkProgressLine(cli.err, "checking" if args.dry_run else "attesting")
    try:
        report = desk.run(
            lambda pc: run_bulk(
                pc,
                desk.store,
                actor.identity,
                rows,
                dry_run=args.dry_run,
                progress=progress,
                cancel=cancel,
            ),
            actor,
        )
    except KeyboardInterrupt:
        cancel.set()
        progress.close()
        print(
            "Interrupted: what was done is kept. Submit the same file again to continue; "
            "nothing is attested twice.",
            file=cli.err,
        )
        return EXIT_FAILED
    finally:
        progress.close()
    if args.out:
        try:
            Path(args.out).write_bytes(results_csv(report))
        except OSError as exc:
            print(f"Cannot write {args.out}: {exc.strerror or exc}.", file=cli.err)
            return EXIT_FAILED
    doc: dict[str, Any] = {"file": str(path), **report.as_dict()}
    if args.out:
        doc["out"] = str(args.out)
    cli.emit(doc, report_text(report, args.out))
    return EXIT_OK if report.ok else EXIT_FAILED


def register(sub: argparse._SubParsersAction) -> None:
    bulk = sub.add_parser(
        "bulk-attest",
        help="attest for many customers from a CSV file (resumable)",
        description=(
            "Attest for every row of a CSV (columns: customer (tenant id or domain), "
            "first_name, last_name, email, phone, date_agreed), UTF-8 or GB18030. Submitting the "
            "same file again sends nothing twice."
        ),
    )
    bulk.add_argument("file", metavar="FILE.csv", help="the CSV file to attest from")
    bulk.add_argument(
        "--dry-run", action="store_true", help="check every row and say what would happen"
    )
    bulk.add_argument("--out", metavar="RESULTS.csv", default=None, help="write per-row results")
    bulk.set_defaults(func=cmd_bulk_attest)
