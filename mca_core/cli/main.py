"""`python -m mca_core`: the desk's use cases for schedulers and scripts.

Exit codes: a contract scripts and schedulers rely on, the same for every command.

    0    done (an attestation that already exists counts as done, and says so)
    1    failure (with the MS-RequestId when Partner Center answered)
    2    invalid input: stderr names the field or flag (a usage error, an unusable --out included)
    3    refused for the user's role or partner type (by the desk, or by Partner Center's 403)
    4    finalise only: the customer has not accepted yet (the attestation is kept: run it later)
    5    sync only: partial, some customers could not be read (their rows carry the error; with
         --json `complete` is false and `failed` counts them)
    130  interrupted (Ctrl-C): what was done is kept
    141  stdout was closed by its reader (`| head`): the command stops quietly, nothing on stderr
         (the code of a process stopped by SIGPIPE in a shell)

Never a traceback for a user error. With `--json` anywhere in the arguments, every exit prints
exactly one JSON document on stdout (`{"error": "usage" | "interrupted" | ..., "message": ...}`
for failures), except 141 (nobody reads any more) and `--help` (text for a person).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import select
import sys
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any, NoReturn

from mca_core.backends import SandboxBackend, serve_emulator
from mca_core.cli import alerts as alerts_commands
from mca_core.cli import bulk as bulk_commands
from mca_core.cli import digest as digest_commands
from mca_core.cli import enhanced as enhanced_commands
from mca_core.cli import invite as invite_commands
from mca_core.cli import reports as reports_commands
from mca_core.cli._context import (  # noqa: F401  (re-exported: the CLI's shared names)
    EXIT_BUSY,
    EXIT_CLOSED_PIPE,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_INVALID,
    EXIT_NOT_ACCEPTED,
    EXIT_OK,
    EXIT_PARTIAL,
    EXIT_REFUSED,
    SANDBOX_USER_KEYS,
    STDOUT,
    Cli,
    desk_files,
    out_target,
    report_interrupt,
    same_file,
    sqlite_files,
    write_out,
)
from mca_core.cli.alerts import alerts_text, warn_failures
from mca_core.config import day_or_never_arg, error_status_arg, positive_int_arg
from mca_core.domain.errors import (
    AccessRefused,
    AuthenticationError,
    ConfigurationError,
    InvalidInput,
    McaError,
    PartnerCenterError,
    PermissionDenied,
    Problem,
    WorkBusy,
)
from mca_core.domain.models import AcceptanceStatus, AttestationResult, Customer
from mca_core.domain.requests import AttestRequest, SyncRequest

#: The command families beside the core commands below: each has `register(sub)`.
COMMAND_MODULES = (
    bulk_commands,
    invite_commands,
    reports_commands,
    enhanced_commands,
    alerts_commands,
    digest_commands,
)


def customer_document(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "company_name": c.company_name,
        "domain": c.domain,
        "relationship": c.relationship,
    }


def status_document(s: AcceptanceStatus) -> dict[str, Any]:
    latest = s.latest_attestation
    day = s.latest_acceptance_date
    return {
        "customer_id": s.customer_id,
        #: accepted | reacceptance_required | not_accepted (the current MCA; see --help)
        "state": s.state,
        #: true only for "accepted": new orders go through
        "accepted": s.accepted,
        "latest_acceptance_date": day.isoformat() if day else None,
        "current_mca_since": s.current_since.isoformat(),
        "attested": s.attested,
        "direct_signed": s.direct_signed,
        "latest_attestation": None
        if latest is None
        else {
            "date_agreed": latest.date_agreed.date().isoformat(),
            "first_name": latest.primary_contact.first_name,
            "last_name": latest.primary_contact.last_name,
            "email": latest.primary_contact.email,
        },
    }


def attestation_document(r: AttestationResult) -> dict[str, Any]:
    a = r.attestation
    return {
        "customer_id": r.customer_id,
        "outcome": r.outcome,
        "request_id": r.request_id,
        "correlation_id": r.correlation_id,
        "message": r.message or ("Attested." if r.outcome == "attested" else ""),
        "attestation": None
        if a is None
        else {
            "date_agreed": a.date_agreed.date().isoformat(),
            "first_name": a.primary_contact.first_name,
            "last_name": a.primary_contact.last_name,
            "email": a.primary_contact.email,
            "phone_number": a.primary_contact.phone_number,
            "template_id": a.template_id,
            "type": a.type,
        },
    }


# --- commands -----------------------------------------------------------------------------


def cmd_customers(cli: Cli) -> int:
    customers = cli.app.list_customers(cli.actor())
    docs = [customer_document(c) for c in customers]
    lines = [f"{c.id}  {c.domain:<40}  {c.relationship:<9}  {c.company_name}" for c in customers]
    lines.append(f"{len(customers)} customers")
    cli.emit(docs, "\n".join(lines))
    return EXIT_OK


def cmd_status(cli: Cli) -> int:
    status = cli.app.status(cli.actor(), cli.args.customer_id, field="CUSTOMER_ID")
    doc = status_document(status)
    latest = doc["latest_attestation"]
    verdict = {
        "accepted": "ACCEPTED",
        "reacceptance_required": (
            f"RE-ACCEPTANCE REQUIRED: the latest acceptance ({status.latest_acceptance_date}) "
            f"predates the current MCA ({status.current_since}); new orders will be refused "
            "(13605) until the customer accepts it"
        ),
        "not_accepted": "NOT ACCEPTED: orders will be refused (13605)",
    }[status.state]
    text = [
        f"{status.customer_id}: {verdict}",
        f"  attested by partner: {'yes' if status.attested else 'no'}",
        f"  accepted directly by the customer: {'yes' if status.direct_signed else 'no'}",
    ]
    if latest:
        text.append(
            f"  latest attestation: {latest['date_agreed']} {latest['first_name']} "
            f"{latest['last_name']} <{latest['email']}>"
        )
    cli.emit(doc, "\n".join(text))
    return EXIT_OK


def cmd_attest(cli: Cli) -> int:
    from mca_core.usecases.channel import channel_of

    if channel_of(cli.app.settings, getattr(cli.args, "channel", None)) == "enhanced":
        from mca_core.cli.enhanced import cmd_attest_enhanced

        return cmd_attest_enhanced(cli)
    a = cli.args
    request = AttestRequest(
        customer=a.customer_id,
        first_name=a.first_name,
        last_name=a.last_name,
        email=a.email,
        phone=a.phone,
        date_agreed=a.date,
        channel="classic",
    )
    try:
        outcome = cli.app.attest(cli.actor(), request)
    except InvalidInput as exc:
        # the date is never defaulted (it is the legal content of the attestation): say which
        # flag is missing rather than the form's field name
        raise InvalidInput(
            [
                Problem(
                    "--date",
                    "The classic channel needs the date the customer accepted the MCA.",
                    "Add --date YYYY-MM-DD (not later than today in UTC).",
                    code="required",
                )
                if p.field == "date_agreed" and p.code == "required"
                else p
                for p in exc.problems
            ]
        ) from None
    result = outcome.classic
    assert result is not None
    doc = attestation_document(result)
    if result.outcome == "already_attested":
        text = (
            f"{result.customer_id}: already attested with these details; nothing new was "
            f"stored (MS-RequestId {result.request_id})."
        )
    else:
        text = (
            f"{result.customer_id}: attested ({doc['attestation']['date_agreed']}, "
            f"{_contact_name(result)}); MS-RequestId {result.request_id}."
        )
    cli.emit(doc, text)
    return EXIT_OK


def _contact_name(result: AttestationResult) -> str:
    stored = result.attestation
    contact = stored.primary_contact if stored is not None else result.contact
    return contact.full_name if contact is not None else ""


def cmd_sync(cli: Cli) -> int:
    import threading

    cancel = threading.Event()
    progress = ProgressLine(cli.err)
    request = SyncRequest(
        mode="full" if cli.args.full else "default",
        incremental=cli.args.incremental,
        progress=progress,
        cancel=cancel,
        source=cli.args.source.replace("-", "_") if cli.args.source else None,
        notify=cli.args.notify,
    )
    try:
        summary = cli.app.sync(cli.actor(), request)
    finally:
        progress.close()
    doc = summary.as_dict()
    text = (
        f"{summary.customers} customers: {summary.accepted} accepted "
        f"({summary.by_attestation} by attestation, {summary.directly} directly, "
        f"{summary.both} both), "
        f"{summary.reacceptance_required} must re-accept the current MCA, "
        f"{summary.not_accepted} not accepted, {summary.failed} failed; "
        f"{summary.api_calls} API calls in {summary.seconds:.1f} s"
        f" ({'agreement records' if summary.source == 'records' else 'per customer'})"
    )
    if summary.finalised:
        text += f"; first, {summary.finalised} agreement(s) created for accepted links"
    if summary.alerts is not None:
        text += "\n" + alerts_text(summary.alerts)
        warn_failures(cli, summary.alerts)
    elif cli.args.notify and summary.complete:
        print("warning: the alerts could not be computed (see the log).", file=cli.err)
    if summary.failed or not summary.complete:
        # a scheduler must not read this as success: exit 5, and `complete` is false
        doc["complete"] = False
        print(
            f"Partial: {summary.failed} of {summary.customers} customers could not be read (their "
            "rows in the snapshot carry the error). Run sync again.",
            file=cli.err,
        )
        cli.emit(doc, text)
        return EXIT_PARTIAL
    cli.emit(doc, text)
    return EXIT_OK


class ProgressLine:
    """A progress line on stderr: rewritten in place on a terminal, every 10% otherwise."""

    def __init__(self, stream) -> None:
        self.stream = stream
        self.tty = bool(getattr(stream, "isatty", lambda: False)())
        self.last_decile = -1
        self.shown = False

    def __call__(self, done: int, total: int, phase: str) -> None:
        if phase == "listing":
            return
        decile = (done * 10 // total) if total else 10
        if self.tty:
            self.stream.write(f"\rreading acceptance: {done}/{total}")
            self.stream.flush()
            self.shown = True
        elif decile != self.last_decile:
            self.stream.write(f"reading acceptance: {done}/{total}\n")
            self.last_decile = decile

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")


def cmd_emulator(cli: Cli) -> int:
    a = cli.args
    serve_emulator(
        a.emulator_data_dir or str(cli.settings().emulator_dir),
        host=a.host,
        port=a.port,
        customers=a.customers,
        seed=a.seed,
        reset=a.reset,
        faults={
            "latency_ms": a.latency_ms,
            "rate_limit_per_minute": a.rate_limit,
            "fault_429": a.fault_429,
            "fault_5xx": a.fault_5xx,
            "fault_timeout": a.fault_timeout,
            "fault_reset": a.fault_reset,
            "retry_after_seconds": a.retry_after,
            "timeout_hang_seconds": a.timeout_hang_seconds,
            "fault_seed": a.fault_seed,
        },
        announce=lambda line: print(line, file=cli.err, flush=True),
        options={
            "classic_retired_on": a.classic_retired_on,
            "agreement_records": a.agreement_records,
            **{
                name: value
                for name, value in (
                    ("classic_refusal_status", a.classic_refusal_status),
                    ("classic_refusal_code", a.classic_refusal_code),
                    ("records_page_size", a.records_page_size),
                )
                if value is not None
            },
        },
    )
    return EXIT_OK


def cmd_reset_sandbox(cli: Cli) -> int:
    data_dir = SandboxBackend(cli.settings()).reset()
    cli.emit({"reset": True, "data_dir": str(data_dir)}, f"Sandbox reset: {data_dir} reseeded.")
    return EXIT_OK


# --- parsing and the error contract ----------------------------------------------------------


class UsageExit(SystemExit):
    """argparse refused the command line (exit 2); carries the message and usage for --json."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(EXIT_INVALID)
        self.message = message
        self.usage = usage


class CliArgumentParser(argparse.ArgumentParser):
    """argparse as usual (usage and message on stderr, exit 2), but the refusal is raised as a
    `UsageExit` so that `main` can also print it as the one JSON document of `--json`.
    Subcommand parsers are of this class too (argparse makes them with the parent's class)."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        text = f"{self.prog}: error: {message}"
        print(text, file=sys.stderr)
        raise UsageExit(text, self.format_usage().strip())

    def print_help(self, file=None) -> None:
        # argparse swallows a failed write (and exits 0); a closed pipe must reach main() (141)
        (file or sys.stdout).write(self.format_help())


def json_requested(argv: Sequence[str]) -> bool:
    """`--json` (or an abbreviation argparse accepts) anywhere before a `--`."""
    for arg in argv:
        if arg == "--":
            return False
        if arg.startswith("--j") and "--json".startswith(arg):
            return True
    return False


EXIT_CODES_EPILOG = (
    "Exit codes: 0 done, 1 failure, 2 invalid input, 3 refused for your role or partner type, "
    "4 finalise: not accepted yet, 5 sync: partial (some customers could not be read), "
    "6 sync: another sync for this partner is running (it names who started it and when), "
    "130 interrupted, 141 stdout closed by its reader."
)


def build_parser() -> argparse.ArgumentParser:
    parser = CliArgumentParser(
        prog="python -m mca_core",
        description="The MCA acceptance desk from the command line.",
        epilog=EXIT_CODES_EPILOG,
    )
    parser.add_argument(
        "--backend",
        choices=("sandbox", "live"),
        default=None,
        help="sandbox (embedded emulator) or live; default MCA_BACKEND or sandbox",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON document")
    parser.add_argument(
        "--as",
        dest="as_user",
        default=os.environ.get("MCA_SANDBOX_USER"),
        choices=SANDBOX_USER_KEYS,
        help="sandbox user acting (MCA_SANDBOX_USER)",
    )
    parser.add_argument(
        "--base-url", default=None, help="live mode: Partner Center base URL (MCA_PC_BASE_URL)"
    )
    parser.add_argument("--data-dir", default=None, help="data folder (MCA_DATA_DIR)")
    parser.add_argument("-v", "--verbose", action="store_true", help="log retries to stderr")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    emu = sub.add_parser("emulator", help="run the Partner Center emulator on loopback")
    emu.add_argument("--host", default="127.0.0.1")
    emu.add_argument("--port", type=int, default=8765)
    emu.add_argument("--customers", type=int, default=1500)
    emu.add_argument("--seed", type=int, default=42)
    emu.add_argument("--latency-ms", type=float, default=0)
    emu.add_argument("--rate-limit", type=float, default=500, help="requests per minute; 0 off")
    emu.add_argument("--fault-429", type=float, default=0)
    emu.add_argument("--fault-5xx", type=float, default=0)
    emu.add_argument("--fault-timeout", type=float, default=0)
    emu.add_argument("--fault-reset", type=float, default=0)
    emu.add_argument(
        "--retry-after", type=int, default=1, help="seconds in Retry-After of the injected 429s"
    )
    emu.add_argument(
        "--timeout-hang-seconds",
        type=float,
        default=30,
        help="how long an injected timeout hangs before answering",
    )
    emu.add_argument(
        "--fault-seed",
        type=int,
        default=None,
        help="seed of the fault RNG (the same faults run after run)",
    )
    emu.add_argument(
        "--data-dir",
        dest="emulator_data_dir",
        default=None,
        help="where the emulator keeps its state (default: the sandbox's)",
    )
    emu.add_argument("--reset", action="store_true", help="wipe and reseed before serving")

    emu.add_argument(
        "--classic-retired-on",
        type=day_or_never_arg,
        default=date(2026, 1, 5),
        metavar="YYYY-MM-DD|never",
        help="refuse the classic attestation call from this day on the emulator's clock, as "
        "production does (Microsoft retired it on 2026-01-05; the default); never: a tenant "
        "that still accepts it",
    )
    emu.add_argument(
        "--classic-refusal-status",
        type=error_status_arg,
        default=None,
        help="HTTP status of that refusal (default 400; Microsoft's real one is not public)",
    )
    emu.add_argument(
        "--classic-refusal-code",
        type=int,
        default=None,
        help="Partner Center error code of that refusal (default 600098; an emulator choice)",
    )
    emu.add_argument(
        "--records-page-size",
        type=positive_int_arg,
        default=None,
        help="agreement records a page (GET /v1/partners/customeragreementrecords; default 500)",
    )
    emu.add_argument(
        "--no-agreement-records",
        dest="agreement_records",
        action="store_false",
        help="answer the agreement records 404, as a partner without them (the sync then reads "
        "customer by customer)",
    )
    emu.set_defaults(func=cmd_emulator)

    reset = sub.add_parser("reset-sandbox", help="wipe the embedded sandbox and reseed it")
    reset.set_defaults(func=cmd_reset_sandbox)

    cust = sub.add_parser("customers", help="one row per customer")
    cust.set_defaults(func=cmd_customers)

    status = sub.add_parser(
        "status",
        help="a customer's MCA acceptance: accepted, reacceptance_required or not_accepted",
    )
    status.add_argument("customer_id", metavar="CUSTOMER_ID", help="tenant id or domain")
    status.set_defaults(func=cmd_status)

    attest = sub.add_parser("attest", help="attest that the customer accepted the MCA")
    attest.add_argument("customer_id", metavar="CUSTOMER_ID", help="tenant id or domain")
    attest.add_argument("--first-name", required=True)
    attest.add_argument("--last-name", required=True)
    attest.add_argument("--email", required=True)
    attest.add_argument("--phone", default=None)
    attest.add_argument(
        "--date",
        default=None,
        help="classic channel (required there): the date the customer accepted, exactly "
        "YYYY-MM-DD, not later than today in UTC; never defaulted",
    )
    attest.add_argument(
        "--channel",
        choices=("classic", "enhanced"),
        default=None,
        help="attestation channel (default: the configured attestation_channel, else classic)",
    )
    attest.add_argument(
        "--company-name",
        default=None,
        help="enhanced: the customer's company name (default: Partner Center's)",
    )
    attest.add_argument(
        "--country", default=None, help="enhanced: ISO country code (default: the customer's)"
    )
    attest.add_argument(
        "--language",
        default=None,
        help="enhanced: the agreement language, e.g. en, zh-CN (default: en)",
    )
    attest.set_defaults(func=cmd_attest)
    sync = sub.add_parser("sync", help="refresh every customer's acceptance into a snapshot")
    sync.add_argument(
        "--full", action="store_true", help="ask attestations AND direct signing for every customer"
    )
    sync.add_argument(
        "--incremental",
        action="store_true",
        help="re-ask only customers not accepted at the last sync, plus new ones",
    )
    sync.add_argument(
        "--source",
        choices=("auto", "records", "per-customer"),
        default=None,
        help="where to read acceptance: the agreement records (one page per 500 customers), "
        "per customer (about 1.5 calls each), or auto: the records when Partner Center answers "
        "them, else per customer (default: the sync_source setting, auto)",
    )
    sync.add_argument(
        "--notify",
        action="store_true",
        help="then send managers what changed (email, Teams); a delivery that fails is a warning "
        "and stays queued for the next run",
    )
    sync.set_defaults(func=cmd_sync)
    for module in COMMAND_MODULES:
        module.register(sub)
    for command in sub.choices.values():  # `sync --json` as well as `--json sync`
        if "--json" not in command._option_string_actions:
            command.add_argument(
                "--json",
                action="store_true",
                default=argparse.SUPPRESS,
                help="print one JSON document (as the global --json)",
            )
    return parser


def report_error(cli: Cli, exc: BaseException) -> int:
    """Print a user-facing message (JSON too when asked) and pick the exit code."""
    if isinstance(exc, InvalidInput):
        code, kind = EXIT_INVALID, "invalid_input"
        lines = [f"Invalid input: {p}" for p in exc.problems]
        extra: dict[str, Any] = {
            "problems": [
                {"field": p.field, "reason": p.reason, "fix": p.fix, "code": p.code}
                for p in exc.problems
            ]
        }
    elif isinstance(exc, WorkBusy):
        code, kind, lines = EXIT_BUSY, "busy", [f"Busy: {exc}"]
        extra = {
            "holder": exc.holder,
            "since": exc.since.isoformat() if exc.since else None,
            "host": exc.host,
            "pid": exc.pid,
        }
    elif isinstance(exc, AccessRefused):
        code, kind, lines, extra = EXIT_REFUSED, "refused", [f"Refused: {exc}"], {}
    elif isinstance(exc, PermissionDenied):
        code, kind, extra = EXIT_REFUSED, "refused", {}
        lines = [f"Refused by Partner Center: {exc}"]
    elif isinstance(exc, ConfigurationError):
        code, kind, lines, extra = EXIT_FAILED, "configuration", [f"Configuration: {exc}"], {}
    elif isinstance(exc, AuthenticationError):
        code, kind, lines, extra = EXIT_FAILED, "authentication", [f"Sign-in failed: {exc}"], {}
    elif isinstance(exc, PartnerCenterError):
        code, kind, lines, extra = EXIT_FAILED, "partner_center", [f"Failed: {exc}"], {}
    elif isinstance(exc, McaError):
        code, kind, lines, extra = EXIT_FAILED, "error", [f"Failed: {exc}"], {}
    else:
        code, kind, extra = EXIT_FAILED, "internal", {}
        lines = [
            f"Unexpected error ({type(exc).__name__}): {exc}. Run again with -v and report "
            "it with this message."
        ]
    for line in lines:
        print(line, file=cli.err)
    if cli.json:
        doc: dict[str, Any] = {"error": kind, "message": " ".join(lines), **extra}
        if isinstance(exc, PartnerCenterError):
            doc.update(
                status=exc.status,
                code=exc.code,
                request_id=exc.request_id,
                correlation_id=exc.correlation_id,
            )
        json.dump(doc, cli.out, ensure_ascii=False, default=str)
        cli.out.write("\n")
    return code


def main(argv: Sequence[str] | None = None, *, out=None, err=None) -> int:
    """Run one command; returns its exit code (usage errors raise SystemExit(2), as argparse)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    out = out or sys.stdout
    err = err or sys.stderr
    as_json = json_requested(argv)
    try:
        try:
            code = _run(argv, out, err, as_json)
        except KeyboardInterrupt:  # while parsing, signing in, or a command that did not catch it
            code = report_interrupt(out, err, as_json)
        flush(out, err)
        return code
    except BrokenPipeError:
        # The reader left (`| head`): stop quietly, like a Unix tool stopped by SIGPIPE. See
        # https://docs.python.org/3/library/signal.html#note-on-sigpipe
        silence_closed_pipes(out, err)
        return EXIT_CLOSED_PIPE


def _run(argv: list[str], out, err, as_json: bool) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageExit as exc:
        if as_json:
            json.dump({"error": "usage", "message": exc.message, "usage": exc.usage}, out)
            out.write("\n")
        flush(out, sys.stdout)
        raise
    except SystemExit:  # --help: argparse printed it (and ignored a closed pipe)
        flush(out, sys.stdout)
        raise
    cli = Cli(args, out=out, err=err)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=cli.err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from mca_core.auth.providers import SecretRedactingFilter

    # Redact for this command only: a caller embedding main() (tests, scripts) keeps its own
    # handlers as they were afterwards.
    redacting = SecretRedactingFilter()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redacting)
    func: Callable[[Cli], int] = args.func
    try:
        return func(cli)
    except BrokenPipeError:  # stdout's reader left: main() exits quietly
        raise
    except Exception as exc:  # the contract: a message and an exit code, never a traceback
        if args.verbose and not isinstance(exc, McaError):
            logging.getLogger(__name__).exception("unexpected error")
        return report_error(cli, exc)
    finally:
        for handler in handlers:
            handler.removeFilter(redacting)


def flush(*streams) -> None:
    for stream in streams:
        flush_stream = getattr(stream, "flush", None)
        if flush_stream is not None:
            flush_stream()


def silence_closed_pipes(*streams) -> None:
    """Point each std stream whose reader left at /dev/null: nothing more fails or speaks (not
    even Python's own flush at exit). Where poll() is missing, stdout is taken as the one."""
    targets = []
    for stream in {id(s): s for s in (*streams, sys.stdout, sys.stderr)}.values():
        try:
            fd = stream.fileno()
        except (AttributeError, OSError, ValueError):
            continue
        gone = _reader_gone(fd) if hasattr(select, "poll") else stream is sys.stdout
        if gone:
            targets.append(fd)
    if not targets:
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        for fd in targets:
            os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _reader_gone(fd: int) -> bool:
    """A pipe (or socket) whose reading end is closed polls as POLLERR (Linux, BSD, macOS)."""
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    try:
        events = poller.poll(0)
    except OSError:
        return False
    return any(event & (select.POLLERR | select.POLLHUP) for _, event in events)
