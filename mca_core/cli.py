"""`python -m mca_core`: the desk's use cases for schedulers and scripts.

Exit codes (a contract scripts rely on): 0 done (an attestation that already exists counts as
done and says so), 2 invalid input (stderr names the field), 3 refused for the user's role or
partner type, 1 any other failure (with the MS-RequestId). Never a traceback for a user error.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .config import Settings, load_settings
from .desk import Actor, Desk, run_sync
from .errors import (
    AccessRefused,
    AuthenticationError,
    ConfigurationError,
    InvalidInput,
    McaError,
    PartnerCenterError,
    PermissionDenied,
)
from .models import AcceptanceStatus, AttestationResult, Customer

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_REFUSED = 0, 1, 2, 3
#: Modules adding subcommands: each has `register(sub)`; their handlers take a `Cli`.
COMMAND_MODULES = ("cli_bulk", "cli_invite", "cli_reports", "cli_enhanced")
SANDBOX_USER_KEYS = (
    "admin-agent",
    "sales-agent",
    "helpdesk-agent",
    "provider-admin",
    "indirect-reseller",
)


class Cli:
    """Shared state of one invocation: parsed args, settings, the desk, output mode."""

    def __init__(self, args: argparse.Namespace, out=None, err=None):
        self.args = args
        self.out = out or sys.stdout
        self.err = err or sys.stderr
        self._desk: Desk | None = None

    @property
    def json(self) -> bool:
        return bool(self.args.json)

    def settings(self) -> Settings:
        overrides: dict[str, Any] = {
            "backend": self.args.backend,
            "pc_base_url": self.args.base_url,
            "data_dir": self.args.data_dir,
            "sandbox_user": self.args.as_user,
        }
        return load_settings(overrides)

    @property
    def desk(self) -> Desk:
        if self._desk is None:
            self._desk = Desk(self.settings())
        return self._desk

    def actor(self) -> Actor:
        desk = self.desk
        if desk.is_sandbox:
            return desk.sandbox_actor()
        return run_sync(desk.live_actor(device_code_prompt=lambda msg: print(msg, file=self.err)))

    def emit(self, document: Any, text: str) -> None:
        if self.json:
            json.dump(document, self.out, ensure_ascii=False, indent=2, default=str)
            self.out.write("\n")
        else:
            self.out.write(text.rstrip("\n") + "\n")


# --- documents (the JSON field names are part of the contract) --------------------------------


def customer_document(c: Customer) -> dict[str, Any]:
    return {
        "id": c.id,
        "company_name": c.company_name,
        "domain": c.domain,
        "relationship": c.relationship,
    }


def status_document(s: AcceptanceStatus) -> dict[str, Any]:
    latest = s.latest_attestation
    return {
        "customer_id": s.customer_id,
        "accepted": s.accepted,
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
    desk, actor = cli.desk, cli.actor()
    customers = desk.run(lambda pc: pc.list_customers(), actor)
    docs = [customer_document(c) for c in customers]
    lines = [f"{c.id}  {c.domain:<40}  {c.relationship:<9}  {c.company_name}" for c in customers]
    lines.append(f"{len(customers)} customers")
    cli.emit(docs, "\n".join(lines))
    return EXIT_OK


def cmd_status(cli: Cli) -> int:
    from .status import acceptance_status, resolve_customer

    desk, actor = cli.desk, cli.actor()

    async def work(pc):
        customer = await resolve_customer(pc, cli.args.customer_id, field="CUSTOMER_ID")
        return await acceptance_status(pc, customer.id, mode="full")

    status = desk.run(work, actor)
    doc = status_document(status)
    latest = doc["latest_attestation"]
    verdict = "ACCEPTED" if status.accepted else "NOT ACCEPTED: orders will be refused (13605)"
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
    from .attestation import attest_customer
    from .channels import channel_of

    if channel_of(cli.desk.settings, getattr(cli.args, "channel", None)) == "enhanced":
        from .cli_enhanced import cmd_attest_enhanced

        return cmd_attest_enhanced(cli)
    desk, actor = cli.desk, cli.actor()
    a = cli.args
    result = desk.run(
        lambda pc: attest_customer(
            pc,
            desk.store,
            actor.identity,
            customer=a.customer_id,
            first_name=a.first_name,
            last_name=a.last_name,
            email=a.email,
            phone=a.phone,
            date_agreed=a.date,
        ),
        actor,
    )
    doc = attestation_document(result)
    if result.outcome == "already_attested":
        text = (
            f"{result.customer_id}: already attested with these details; nothing new was "
            f"stored (MS-RequestId {result.request_id})."
        )
    else:
        text = (
            f"{result.customer_id}: attested ({doc['attestation']['date_agreed']}, "
            f"{a.first_name} {a.last_name}); MS-RequestId {result.request_id}."
        )
    cli.emit(doc, text)
    return EXIT_OK


def cmd_sync(cli: Cli) -> int:
    import threading

    from .sync import sync_acceptance

    desk, actor = cli.desk, cli.actor()
    cancel = threading.Event()
    progress = ProgressLine(cli.err)
    try:
        summary = desk.run(
            lambda pc: sync_acceptance(
                pc,
                desk.store,
                actor.identity,
                backend=desk.settings.backend,
                mode="full" if cli.args.full else "default",
                incremental=cli.args.incremental,
                progress=progress,
                cancel=cancel,
            ),
            actor,
        )
    finally:
        progress.close()
    doc = summary.as_dict()
    text = (
        f"{summary.customers} customers: {summary.accepted} accepted "
        f"({summary.attested} attested, {summary.direct_signed} directly signed), "
        f"{summary.not_accepted} not accepted, {summary.failed} failed; "
        f"{summary.api_calls} API calls in {summary.seconds:.1f} s"
    )
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
    from .emulator import Emulator, FaultConfig, serve

    a = cli.args
    data_dir = a.emulator_data_dir or str(cli.settings().emulator_dir)
    faults = FaultConfig(
        latency_ms=a.latency_ms,
        rate_limit_per_minute=a.rate_limit,
        fault_429=a.fault_429,
        fault_5xx=a.fault_5xx,
        fault_timeout=a.fault_timeout,
        fault_reset=a.fault_reset,
        retry_after_seconds=a.retry_after,
        timeout_hang_seconds=a.timeout_hang_seconds,
        fault_seed=a.fault_seed,
    )
    emulator = Emulator(data_dir, customers=a.customers, seed=a.seed, faults=faults)
    if a.reset:
        emulator.reset()
    print(
        f"Partner Center emulator on http://{a.host}:{a.port} (data: {data_dir}); "
        "tokens at POST /sandbox/token; Ctrl+C stops it.",
        file=cli.err,
        flush=True,
    )
    serve(emulator, host=a.host, port=a.port)
    return EXIT_OK


def cmd_reset_sandbox(cli: Cli) -> int:
    from .emulator import Emulator

    settings = cli.settings()
    emulator = Emulator(
        settings.emulator_dir, customers=settings.sandbox_customers, seed=settings.sandbox_seed
    )
    emulator.reset()
    cli.emit(
        {"reset": True, "data_dir": str(settings.emulator_dir)},
        f"Sandbox reset: {settings.emulator_dir} reseeded.",
    )
    return EXIT_OK


# --- parsing and the error contract ----------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m mca_core",
        description="The MCA acceptance desk from the command line.",
        epilog="Exit codes: 0 done, 1 failure, 2 invalid input, 3 refused for your role.",
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
    emu.set_defaults(func=cmd_emulator)

    reset = sub.add_parser("reset-sandbox", help="wipe the embedded sandbox and reseed it")
    reset.set_defaults(func=cmd_reset_sandbox)

    cust = sub.add_parser("customers", help="one row per customer")
    cust.set_defaults(func=cmd_customers)

    status = sub.add_parser("status", help="a customer's MCA acceptance")
    status.add_argument("customer_id", metavar="CUSTOMER_ID", help="tenant id or domain")
    status.set_defaults(func=cmd_status)

    attest = sub.add_parser("attest", help="attest that the customer accepted the MCA")
    attest.add_argument("customer_id", metavar="CUSTOMER_ID", help="tenant id or domain")
    attest.add_argument("--first-name", required=True)
    attest.add_argument("--last-name", required=True)
    attest.add_argument("--email", required=True)
    attest.add_argument("--phone", default=None)
    attest.add_argument(
        "--date", default=None, help="YYYY-MM-DD, not later than today in UTC (default: today, UTC)"
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
    sync.set_defaults(func=cmd_sync)
    for name in COMMAND_MODULES:
        if importlib.util.find_spec(f"{__package__}.{name}") is not None:
            importlib.import_module(f"{__package__}.{name}").register(sub)
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
    parser = build_parser()
    args = parser.parse_args(argv)
    cli = Cli(args, out=out, err=err)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=cli.err,
        format="%(levelname)s %(name)s: %(message)s",
    )
    from .auth import SecretRedactingFilter

    # Redact for this command only: a caller embedding main() (tests, scripts) keeps its own
    # handlers as they were afterwards.
    redacting = SecretRedactingFilter()
    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(redacting)
    func: Callable[[Cli], int] = args.func
    try:
        return func(cli)
    except KeyboardInterrupt:
        print("Interrupted.", file=cli.err)
        return EXIT_FAILED
    except Exception as exc:  # the contract: a message and an exit code, never a traceback
        if args.verbose and not isinstance(exc, McaError):
            logging.getLogger(__name__).exception("unexpected error")
        return report_error(cli, exc)
    finally:
        for handler in handlers:
            handler.removeFilter(redacting)
