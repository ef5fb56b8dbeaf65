"""`python -m mca_core bulk-attest FILE.csv [--channel classic|enhanced] [--dry-run]
[--out RESULTS.csv] [--invitations INVITES.zip] [--encoding gb18030]`.

The channel is the installation's `attestation_channel` unless `--channel` names one. Classic:
the file holds the people who accepted and the date (`usecases.bulk`). Enhanced (Microsoft's
current flow): the file holds the signers (customer_id, first_name, last_name, email, optional
phone, country, language, company_name) and each row gets an acceptance link
(`usecases.bulk_signers`); `--invitations` writes one .eml per link (English, or Chinese for
customers in China or a Chinese agreement language) in one zip.

Exit codes: 0 when every row ended done (classic: attested, already attested or skipped;
enhanced: link created or reused, already accepted or attested, skipped; a dry run: would
attest / would create); 1 when some row failed, was invalid or was not sent; 2 when the file
itself is unusable (stderr says why and what to do), or `--out` / `--invitations` is unusable (a
folder, a missing folder, the input file itself, the desk's database); 3 when the user's role or
partner type may not attest (the desk refused, or Partner Center refused every row that failed);
130 interrupted (Ctrl-C). `--out` and `--invitations` are written atomically; `--out -` puts the
results CSV on stdout and the summary on stderr. Running the same file again is safe: rows
already done are not sent twice.
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from mca_core.cli._context import (
    EXIT_FAILED,
    EXIT_INVALID,
    EXIT_OK,
    EXIT_REFUSED,
    STDOUT,
    Cli,
    out_target,
    same_file,
    write_out,
)
from mca_core.domain.errors import InvalidInput, PermissionDenied, Problem
from mca_core.domain.names import format_person_name
from mca_core.domain.requests import BulkAttestRequest, BulkSignersRequest
from mca_core.usecases.bulk import (
    ENCODINGS,
    BulkReport,
    BulkRow,
    read_csv,
    read_limited,
    results_csv,
)
from mca_core.usecases.bulk_signers import (
    LINK_STATES,
    BulkSignersReport,
    SignerRow,
    read_signers_csv,
)
from mca_core.usecases.channel import CHANNELS, ENHANCED, channel_of


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


def encoding_preview(rows: Sequence[BulkRow | SignerRow], encoding: str, shown: int = 3) -> str:
    """The first names as decoded, so a wrong --encoding is seen (run --dry-run first)."""
    names = "; ".join(
        f"line {r.line}: {format_person_name(r.first_name, r.last_name)}" for r in rows[:shown]
    )
    more = f"; ... ({len(rows)} rows)" if len(rows) > shown else ""
    return (
        f"Read as {encoding.upper()}: {names}{more}. If these names look wrong, the file is in "
        "another encoding: save it as 'CSV UTF-8' in Excel."
    )


def read_input(cli: Cli, path: Path) -> bytes | int:
    """The file's bytes, or exit 2 (said on stderr, and as the JSON document) when unreadable.
    At most MAX_FILE_BYTES + 1 bytes: /dev/zero, a FIFO or an 8 GB file is refused by size
    (CsvUnusable -> exit 2) without being read into memory."""
    try:
        with path.open("rb") as stream:
            return read_limited(stream)
    except OSError as exc:
        message = f"Cannot read {path}: {exc.strerror or exc}."
        print(message, file=cli.err)
        if cli.json:
            cli.emit({"error": "unreadable_file", "message": message}, message)
        return EXIT_INVALID


def cmd_bulk_attest(cli: Cli) -> int:
    args = cli.args
    if channel_of(cli.settings(), args.channel) == ENHANCED:
        return cmd_bulk_attest_enhanced(cli)
    if args.invitations:
        raise InvalidInput(
            Problem(
                "--invitations",
                "The classic channel sends no links, so there are no invitations to write.",
                "Add --channel enhanced, or leave --invitations out.",
                code="conflict",
            )
        )
    path = Path(args.file)
    data = read_input(cli, path)
    if isinstance(data, int):
        return data
    # CsvUnusable (InvalidInput) -> exit 2 via cli.report_error; nothing is sent
    rows = read_csv(data, args.encoding)
    if args.encoding != "auto":
        # the user's choice, not a proof: show how the names read before anything is sent
        print(encoding_preview(rows, args.encoding), file=cli.err)
    # before anything is sent: never the input itself nor the desk's database (exit 2)
    target = out_target(cli, args.out, inputs=[path]) if args.out else None
    app, actor = cli.app, cli.actor()
    cancel = threading.Event()
    progress = BulkProgressLine(cli.err, "checking" if args.dry_run else "attesting")
    request = BulkAttestRequest(rows=rows, dry_run=args.dry_run, progress=progress, cancel=cancel)
    try:
        report = app.bulk_attest(actor, request)
    except KeyboardInterrupt:
        cancel.set()
        progress.close()
        return cli.interrupted(
            "Interrupted: what was done is kept. Submit the same file again to continue; "
            "nothing is attested twice."
        )
    finally:
        progress.close()
    if args.out:
        write_out(
            cli,
            target,
            results_csv(report),
            fix="The rows were handled and journaled: submit the same file again with another "
            "--out to get the results (nothing is sent twice).",
        )  # atomically; a failure is exit 2 naming --out
    shown_out = None if not args.out else "stdout" if target is None else str(args.out)
    doc: dict[str, Any] = {"file": str(path), **report.as_dict()}
    if shown_out:
        doc["out"] = shown_out
    code = EXIT_OK if report.ok else EXIT_FAILED
    refusal = None if report.ok else partner_center_refusal(report)
    if refusal:
        code = EXIT_REFUSED
        doc.update(error="refused", message=refusal)
        print(f"Refused by Partner Center: {refusal}", file=cli.err)
    text = report_text(report, shown_out)
    if args.out and target is None:  # stdout carries the results: the summary goes to stderr
        print(text, file=cli.err)
    else:
        cli.emit(doc, text)
    return code


# --- the enhanced channel: a signers file, one acceptance link per row ----------------------


def _for_flag(exc: InvalidInput, flag: str) -> InvalidInput:
    """`out_target`/`write_out` name --out; the same checks for another flag name that flag."""
    return InvalidInput([dataclasses.replace(p, field=flag) for p in exc.problems])


def invitations_target(cli: Cli, value: str, *, inputs: list[Path], out: str | None) -> Path:
    """Check `--invitations` before anything is sent: a zip file (never stdout), not the desk's
    own files, not the input, not the `--out` file."""
    if value == STDOUT:
        raise InvalidInput(
            Problem(
                "--invitations",
                "The invitations are one zip file (binary): they cannot go to stdout.",
                "Give a file name, e.g. --invitations invitations.zip.",
                code="bad_path",
            )
        )
    try:
        target = out_target(cli, value, inputs=inputs)
    except InvalidInput as exc:
        raise _for_flag(exc, "--invitations") from None
    assert target is not None
    if out and out != STDOUT and same_file(Path(out), Path(value)):
        raise InvalidInput(
            Problem(
                "--invitations",
                f"{value} is also the --out file: one would overwrite the other.",
                "Choose two different files.",
                code="conflict",
            )
        )
    return target


#: Each state's words in the summary line: (state, one, several).
SIGNER_STATES = (
    ("would_create", "would get a link", "would get a link"),
    ("link_created", "link created", "links created"),
    ("link_reused", "link reused (still valid)", "links reused (still valid)"),
    ("already_accepted", "link accepted (finalise next)", "links accepted (finalise next)"),
    ("already_attested", "agreement already created", "agreements already created"),
    ("skipped_already_accepted", "skipped (already accepted)", "skipped (already accepted)"),
    ("invalid", "invalid", "invalid"),
    ("failed", "failed", "failed"),
    ("refused", "refused", "refused"),
    ("cancelled", "not sent", "not sent"),
)


def signers_report_text(
    report: BulkSignersReport,
    out_path: str | None,
    invitations_path: str | None,
    *,
    link_reachable: bool = True,
) -> str:
    """A summary line, each link with its expiry, then each row that needs the user."""
    counts = report.counts
    parts = [
        f"{counts[key]} {one if counts[key] == 1 else several}"
        for key, one, several in SIGNER_STATES
        if counts[key]
    ]
    head = "Dry run: " if report.dry_run else ""
    lines = [f"{head}{len(report.outcomes)} rows: " + (", ".join(parts) or "nothing to do")]
    for o in report.outcomes:
        where = f"  line {o.line} {o.customer}"
        if o.state in LINK_STATES and o.acceptance_link:
            until = o.expires_at.strftime("%Y-%m-%d %H:%M UTC") if o.expires_at else "—"
            lines.append(f"{where}: {o.state}: {o.acceptance_link} (valid until {until})")
        elif o.state == "already_accepted":
            lines.append(f"{where}: {o.message} python -m mca_core finalise {o.customer_id}")
        elif o.state in ("invalid", "failed", "refused", "cancelled"):
            shown = o.state != "invalid" and o.request_id and o.request_id not in o.message
            rid = f" (MS-RequestId {o.request_id})" if shown else ""
            lines.append(f"{where}: {o.state}: {o.message}{rid}")
    if report.links and not link_reachable:
        lines.append(
            "Embedded sandbox: no browser can open these links; play the customer with "
            "`python -m mca_core sandbox-accept ATTESTATION_ID` (ids in the results)."
        )
    if out_path:
        lines.append(f"Per-row results written to {out_path}.")
    if invitations_path:
        lines.append(f"{len(report.invitations)} invitation(s) written to {invitations_path}.")
    if not report.ok and not report.dry_run:
        lines.append("Fix the rows above and run the same file again: nothing is sent twice.")
    return "\n".join(lines)


def cmd_bulk_attest_enhanced(cli: Cli) -> int:
    """`bulk-attest` on the enhanced channel: a signers file, one acceptance link per row."""
    args = cli.args
    path = Path(args.file)
    data = read_input(cli, path)
    if isinstance(data, int):
        return data
    # CsvUnusable (InvalidInput) -> exit 2 via cli.report_error; nothing is sent
    rows = read_signers_csv(data, args.encoding)
    if args.encoding != "auto":
        # the user's choice, not a proof: show how the names read before anything is sent
        print(encoding_preview(rows, args.encoding), file=cli.err)
    # before anything is sent: never the input itself nor the desk's files (exit 2)
    target = out_target(cli, args.out, inputs=[path]) if args.out else None
    invites = (
        invitations_target(cli, args.invitations, inputs=[path], out=args.out)
        if args.invitations
        else None
    )
    app, actor = cli.app, cli.actor()
    cancel = threading.Event()
    progress = BulkProgressLine(cli.err, "checking" if args.dry_run else "creating links")
    request = BulkSignersRequest(
        rows=rows,
        dry_run=args.dry_run,
        progress=progress,
        cancel=cancel,
        invitations=invites is not None,
    )
    try:
        report = app.bulk_attest_signers(actor, request)
    except KeyboardInterrupt:
        cancel.set()
        progress.close()
        return cli.interrupted(
            "Interrupted: what was done is kept. Run it again to continue; nothing is sent twice."
        )
    finally:
        progress.close()
    again = "run the same file again with another {flag} (nothing is sent twice)."
    if args.out:
        write_out(
            cli,
            target,
            report.results_csv(),
            fix="The rows were handled and stored: " + again.format(flag="--out"),
        )  # atomically; a failure is exit 2 naming --out
    written = None
    if invites is not None and not report.dry_run:
        try:
            write_out(
                cli,
                invites,
                report.invitations_zip(),
                fix="The links were created and stored: " + again.format(flag="--invitations"),
            )
        except InvalidInput as exc:
            raise _for_flag(exc, "--invitations") from None
        written = str(args.invitations)
    shown_out = None if not args.out else "stdout" if target is None else str(args.out)
    doc: dict[str, Any] = {"file": str(path), **report.as_dict()}
    doc["out"] = shown_out
    doc["invitations_file"] = written
    code = EXIT_OK if report.ok else EXIT_FAILED
    refusal = None if report.ok else report.refusal
    if refusal:
        code = EXIT_REFUSED
        doc.update(error="refused", message=refusal)
        print(f"Refused by Partner Center: {refusal}", file=cli.err)
    text = signers_report_text(report, shown_out, written, link_reachable=app.link_reachable)
    if invites is not None and report.dry_run:
        text += "\nDry run: no invitations written."
    if args.out and target is None:  # stdout carries the results: the summary goes to stderr
        print(text, file=cli.err)
    else:
        cli.emit(doc, text)
    return code


#: How bulk.py words a row Partner Center refused (403), and the rows it then did not send.
REFUSED_PREFIX = f"{PermissionDenied.__name__}:"
NOT_SENT_AFTER = re.compile(r"^Not sent: Partner Center refused line (\d+)\b")


def partner_center_refusal(report: BulkReport) -> str | None:
    """When every failed row failed because Partner Center refused the user's role or token
    kind (403: exit 3, like a refusal by the desk), the first refusal's message; else None."""
    failed = [o for o in report.outcomes if o.outcome == "failed"]
    by_line = {o.line: o for o in report.outcomes}

    def refused(message: str) -> bool:
        return message.startswith(REFUSED_PREFIX)

    def not_sent_after_refusal(message: str) -> bool:
        match = NOT_SENT_AFTER.match(message)
        first = by_line.get(int(match.group(1))) if match else None
        return first is not None and refused(first.message)

    if not failed or not all(
        refused(o.message) or not_sent_after_refusal(o.message) for o in failed
    ):
        return None
    first = next(o for o in failed if refused(o.message))
    return (
        f"{first.message.removeprefix(REFUSED_PREFIX).strip()} Sign in as a user whose role may "
        "attest (admin or sales agent), then submit the same file again: done rows are skipped."
    )


def register(sub: argparse._SubParsersAction) -> None:
    bulk = sub.add_parser(
        "bulk-attest",
        help="attest for many customers from a CSV file (resumable)",
        description=(
            "Attest for every row of a CSV. Classic channel (columns: customer (tenant id or "
            "domain), first_name, last_name, email, phone, date_agreed): each row is attested. "
            "Enhanced channel (columns: customer_id (tenant id or domain), first_name, "
            "last_name, email, optional phone, country, language, company_name): each row gets "
            "an acceptance link for the signer; customers with a current MCA are skipped. The "
            "file is read as UTF-8 or UTF-16 with a BOM; a Simplified Chinese GB18030/GBK file "
            "only with --encoding gb18030; any other encoding is refused (exit 2). Running the "
            "same file again sends nothing twice."
        ),
    )
    bulk.add_argument("file", metavar="FILE.csv", help="the CSV file to attest from")
    bulk.add_argument(
        "--channel",
        choices=CHANNELS,
        default=None,
        help="attestation channel (default: the configured attestation_channel, else classic)",
    )
    bulk.add_argument(
        "--dry-run", action="store_true", help="check every row and say what would happen"
    )
    bulk.add_argument("--out", metavar="RESULTS.csv", default=None, help="write per-row results")
    bulk.add_argument(
        "--invitations",
        metavar="INVITES.zip",
        default=None,
        help="enhanced: write one .eml per acceptance link (English, or Chinese for customers "
        "in China) into this zip",
    )
    bulk.add_argument(
        "--encoding",
        choices=ENCODINGS,
        default="auto",
        help="auto (default): UTF-8, or UTF-16 with a BOM, nothing guessed; gb18030: the file is "
        "Simplified Chinese GB18030/GBK (the names read are shown on stderr)",
    )
    bulk.set_defaults(func=cmd_bulk_attest)
