"""Bulk attestation on the enhanced channel: a CSV of signers, one acceptance link per customer.

Microsoft retired the classic attestation call and its bulk tool on 2026-01-05 (partner-center-api
section 10); a partner now attests per customer through the enhanced flow (section 9): an
attestation with a link the customer's signer accepts, then the agreement. This module does the
first step for a whole portfolio, from a file:

    rows = read_signers_csv(uploaded_bytes)            # CsvUnusable when the FILE cannot be used
    checks = check_signer_rows(rows)                   # per-row problems, before anything is sent
    report = await run_bulk_signers(pc, store, identity, rows, dry_run=True)   # what would happen
    report = await run_bulk_signers(pc, store, identity, rows)                 # do it
    report.results_csv()                               # per-row state, link, expiry, ids
    report.invitations_zip()                           # one .eml per link (en or zh-CN)

The file is read exactly like the classic bulk file (`usecases.csv_rows`: only proven encodings, a
GB18030 file only when the user says so, the size and row limits, Excel's `sep=` line and its `'`
formula guard, the same CsvUnusable); only the columns differ: `customer_id` (a tenant id or a
domain), `first_name`, `last_name`, `email`, and optional `phone`, `country` (ISO alpha-2),
`language` (default `en`) and `company_name` (country and company name default to Partner
Center's customer record, else the desk's latest sync).

Every row is validated (the enhanced form's own rules, `enhanced.prepare_enhanced`) and its
customer looked up before any attestation is created; a customer named twice is the later line's
problem. Then, per row: a customer with a CURRENT acceptance (`AcceptanceStatus.accepted` under
the `current_mca_since` cutoff) is skipped; a customer holding only a pre-2023 attestation needs
the new MCA and gets a link. Each link is made by `enhanced.create_attestation`, which stores the
attestation `creating` BEFORE its call under a deterministic MS-RequestId (`create_request_id`)
and reuses a valid link of the same request: running the same file again (after Ctrl-C, a crash
or a lost answer) sends nothing twice; an interrupted create is replayed with its request id.

A run first brings the open links of its customers up to date (`enhanced.refresh_attestations`:
the status read where Partner Center offers one), so running the file again also says who
accepted since (`already_accepted`: finalise next).

Auditing: the create use case audits each attempt (`attest_enhanced`); rows that never reach it
(invalid, skipped, not sent after a refusal, unreadable) are audited here as `bulk_attest`, like
the classic bulk, and the run as a whole gets one `bulk_attest` summary row. A dry run reads
Partner Center and the store only, and audits the summary only.

Tokens: the create needs the partner app's App-only token (`pc`); reading a customer's
attestations and direct acceptance needs an App+User token (partner-center-api "Auth modes"), so
the caller may pass the signed-in user's client as `reader`. Where that read is refused, the
desk's latest sync (`snapshot`) decides, or the row is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import threading
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar

from mca_core.domain.errors import (
    InvalidInput,
    McaError,
    NotFound,
    PartnerCenterError,
    PermissionDenied,
    Problem,
    Unauthorized,
)
from mca_core.domain.models import CURRENT_MCA_SINCE, AcceptanceStatus, Customer, Identity
from mca_core.domain.validation import check_may_attest, classify_customer_ref
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.partner_center.enhanced_wire import EnhancedWire
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import (
    AttestationState,
    EnhancedAttestation,
    EnhancedStore,
)
from mca_core.usecases import audit, bulk, csv_rows, enhanced, invitations
from mca_core.usecases.bulk_run import (
    ACTION,
    DEFAULT_CONCURRENCY,
    ProgressCallback,
    RowRun,
    run_key,
    tally,
)
from mca_core.usecases.csv_rows import (
    CsvLayout,
    CsvRow,
    JudgedRow,
    by_column,
    duplicate_row_problem,
    extra_cells_problem,
    read_rows,
)
from mca_core.usecases.reports import export_table
from mca_core.usecases.status import acceptance_status, resolve_customer
from mca_core.usecases.sync import row_state

CHANNEL = "enhanced"
COLUMNS = (
    "customer_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "country",
    "language",
    "company_name",
)
REQUIRED_COLUMNS = ("customer_id", "first_name", "last_name", "email")
#: Header names accepted for each column (compared as the classic file's: case-, space- and
#: hyphen-insensitively, notes in parentheses ignored). The customer and signer columns take the
#: classic file's names, so a classic file (its date column ignored) reads too.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "customer_id": bulk.COLUMN_ALIASES["customer"],
    "first_name": bulk.COLUMN_ALIASES["first_name"],
    "last_name": bulk.COLUMN_ALIASES["last_name"],
    "email": bulk.COLUMN_ALIASES["email"],
    "phone": bulk.COLUMN_ALIASES["phone"],
    "country": ("country", "country_code", "countrycode", "iso_country", "country_iso"),
    "language": ("language", "agreement_language", "lang", "language_tag"),
    "company_name": (
        "company_name",
        "companyname",
        "company",
        "customer_name",
        "organization",
        "organisation",
    ),
}
#: The signers file as `csv_rows` reads it (as the classic file, other columns).
LAYOUT = CsvLayout(
    columns=COLUMNS,
    required=REQUIRED_COLUMNS,
    aliases=COLUMN_ALIASES,
    merged="customer_id",
    header_fix="Use the template's header: customer_id, first_name, last_name, email, phone, "
    "country, language, company_name, separated by commas (the last four optional).",
    duplicates_first=True,
    delimiter_layout=bulk.LAYOUT,  # the delimiter is found as in the classic file
)
#: The agreement language when the row leaves it empty (`enhanced.check_language` accepts any
#: language tag; the desk's default, as `attest --language`'s).
DEFAULT_LANGUAGE = "en"

#: Every state a row ends in.
STATES = (
    "link_created",
    "link_reused",
    "already_accepted",
    "already_attested",
    "skipped_already_accepted",
    "would_create",
    "invalid",
    "failed",
    "refused",
    "cancelled",
)
#: States after which nothing is left to do for the row (exit code 0).
DONE_STATES = frozenset(
    {
        "link_created",
        "link_reused",
        "already_accepted",
        "already_attested",
        "skipped_already_accepted",
        "would_create",
    }
)
#: States whose row carries a link to send (the invitations).
LINK_STATES = frozenset({"link_created", "link_reused"})
_STORED_STATE = {
    AttestationState.LINK_SENT: "link_reused",
    AttestationState.ACCEPTED: "already_accepted",
    AttestationState.AGREEMENT_CREATED: "already_attested",
}
TEMPLATE_HEADER = (
    "customer_id (tenant id or domain)",
    "first_name",
    "last_name",
    "email",
    "phone (optional, international form +CC)",
    "country (optional, ISO code such as US or CN; default: the customer's)",
    "language (optional, e.g. en or zh-CN; default: en)",
    "company_name (optional; default: the customer's)",
)
#: The classic example's customer and signer, then a country, a language and a company name.
TEMPLATE_EXAMPLE = (*bulk.TEMPLATE_EXAMPLE[:5], "US", "en", "Contoso Ltd")
RESULT_COLUMNS = (
    "line",
    "customer",
    "customer_id",
    "company_name",
    "signer",
    "signer_email",
    "state",
    "acceptance_link",
    "expires_at",
    "attestation_id",
    "request_id",
    "message",
)
#: Every file in the invitations zip carries this time: the same report, the same bytes.
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


# --- the file ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SignerRow(CsvRow):
    """One data row of a signers file as typed (trimmed), with its line number in the file."""

    line: int
    customer_id: str
    first_name: str
    last_name: str
    email: str
    phone: str = ""
    country: str = ""
    language: str = ""
    company_name: str = ""
    #: Non-empty cells beyond the header's columns (an unquoted separator inside a value).
    extra_cells: tuple[str, ...] = ()


def template_csv() -> bytes:
    """The signers file to fill in: header (each column says what it holds) and one example."""
    return csv_rows.template_csv(TEMPLATE_HEADER, TEMPLATE_EXAMPLE)


def read_signers_csv(data: bytes, encoding: str = "auto") -> list[SignerRow]:
    """The rows of a signers file, or CsvUnusable saying what is wrong with the file and what
    to do. Decoding, delimiters, limits and CSV errors are the classic bulk file's
    (`csv_rows.read_rows`: `encoding` "gb18030" only when the user chose it); blank rows are
    left out; line numbers are the file's."""
    return read_rows(data, encoding, LAYOUT, SignerRow)


# --- checking rows -----------------------------------------------------------------------------


@dataclass
class SignerCheck(JudgedRow):
    """One row judged before anything is sent (invalid when it has problems)."""

    row: SignerRow
    problems: list[Problem]
    #: ("id", tenant id) or ("domain", domain) when the customer cell is usable.
    customer_ref: tuple[str, str] | None = None


def _named(problem: Problem) -> Problem:
    """The classic checks name the customer column `customer`; this file calls it customer_id."""
    if problem.field == "customer":
        return dataclasses.replace(problem, field="customer_id")
    return problem


def check_signer_row(row: SignerRow) -> SignerCheck:
    """One row on its own (no duplicates, no customer lookup): the classic file's cell checks
    (length, invisible characters) and the enhanced form's rules (`prepare_enhanced`). What may
    default from the customer (company name, country, a local phone number's region) is judged
    once the customer is known."""
    problems: list[Problem] = []
    ref: tuple[str, str] | None = None
    customer_cell = bulk.cell_problem("customer", row.customer_id)
    if customer_cell is not None:
        problems.append(_named(customer_cell))
    else:
        try:
            ref = classify_customer_ref(row.customer_id, "customer_id")
        except InvalidInput as exc:
            problems.extend(_named(p) for p in exc.problems)
    cells = {name: bulk.cell_problem(name, getattr(row, name)) for name in ("email", "phone")}
    problems.extend(p for p in cells.values() if p is not None)
    try:
        enhanced.prepare_enhanced(
            row.first_name,
            row.last_name,
            row.email,
            row.phone or None,
            row.company_name or None,
            row.country or None,
            row.language or DEFAULT_LANGUAGE,
            customer_pending=True,
        )
    except InvalidInput as exc:
        problems.extend(p for p in exc.problems if cells.get(p.field) is None)
    if extra := extra_cells_problem(row.line, row.extra_cells):
        problems.append(extra)
    by_column(problems, COLUMNS)
    return SignerCheck(row=row, problems=problems, customer_ref=ref)


def _duplicate_problem(line: int, first: int) -> Problem:
    return duplicate_row_problem("customer_id", line, first, "gets a link")


def check_signer_rows(rows: list[SignerRow]) -> list[SignerCheck]:
    """Every row's problems; a customer named on several lines is a problem of the later lines
    (one link per customer). The same customer named by domain and by tenant id is found when
    the run looks the customers up."""
    checks = [check_signer_row(row) for row in rows]
    first_line: dict[tuple[str, str], int] = {}
    for check in checks:
        if check.customer_ref is None:
            continue
        key = (check.customer_ref[0], check.customer_ref[1].casefold())
        first = first_line.setdefault(key, check.row.line)
        if first != check.row.line:
            check.problems.append(_duplicate_problem(check.row.line, first))
    return checks


def email_locale(country: str | None, language: str | None) -> str:
    """The invitation's language: zh-CN for a customer in China or a Chinese agreement
    language, else en (the two languages the emails are written in, `invitations.LOCALES`)."""
    if (country or "").strip().upper() == "CN":
        return "zh-CN"
    if (language or "").strip().replace("_", "-").split("-")[0].casefold() == "zh":
        return "zh-CN"
    return "en"


# --- the report --------------------------------------------------------------------------------


def _utc_text(value: datetime | None) -> str | None:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


@dataclass(frozen=True)
class SignerOutcome:
    """How one row ended: its state, and the link (with its expiry, UTC) when it has one."""

    line: int
    #: The customer cell as typed (a tenant id or a domain).
    customer: str
    #: The customer's tenant id once known.
    customer_id: str | None
    company_name: str
    signer: str
    signer_email: str
    #: One of STATES.
    state: str
    message: str
    acceptance_link: str | None = None
    expires_at: datetime | None = None
    attestation_id: str | None = None
    request_id: str | None = None
    country: str = ""
    language: str = ""

    def as_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["expires_at"] = _utc_text(self.expires_at)
        return values


@dataclass(frozen=True)
class SignerInvitation:
    """The email carrying one row's link, rendered once (its .eml bytes) for the zip."""

    line: int
    customer_id: str
    locale: str
    file_name: str
    email: invitations.Email
    eml: bytes = field(repr=False)


@dataclass
class BulkSignersReport:
    """What a run did: the rows read, one outcome per row (in file order), the invitations."""

    rows: list[SignerRow]
    outcomes: list[SignerOutcome]
    dry_run: bool
    run_key: str
    run_at: datetime
    #: True when the run was cancelled before every row was handled.
    cancelled: bool = False
    invitations: list[SignerInvitation] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        return tally((o.state for o in self.outcomes), STATES)

    @property
    def ok(self) -> bool:
        return all(o.state in DONE_STATES for o in self.outcomes)

    @property
    def links(self) -> list[SignerOutcome]:
        return [o for o in self.outcomes if o.state in LINK_STATES and o.acceptance_link]

    @property
    def refusal(self) -> str | None:
        """When rows were refused by Partner Center (a 403: the role or the partner type) and
        none failed otherwise, the first refusal's message (the CLI's exit 3); else None."""
        if any(o.state == "failed" for o in self.outcomes):
            return None
        return next((o.message for o in self.outcomes if o.state == "refused"), None)

    def as_dict(self) -> dict[str, Any]:
        return {
            "channel": CHANNEL,
            "run_key": self.run_key,
            "dry_run": self.dry_run,
            "cancelled": self.cancelled,
            "ok": self.ok,
            "counts": self.counts,
            "invitations": len(self.invitations),
            "rows": [o.as_dict() for o in self.outcomes],
        }

    def results_csv(self) -> bytes:
        """One line per input row (state, link, expiry in UTC, ids, message) as CSV: UTF-8 with
        BOM, formula-like cells neutralised (`reports.export_table`)."""
        return export_table([o.as_dict() for o in self.outcomes], "csv", columns=RESULT_COLUMNS)

    def invitations_zip(self) -> bytes:
        """One .eml per row with a link, in one zip: file names `<line>-enhanced_acceptance-
        <tenant id>.eml` in file order, the same bytes for the same report."""
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for invite in sorted(self.invitations, key=lambda i: (i.line, i.file_name)):
                info = zipfile.ZipInfo(invite.file_name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o644 << 16
                archive.writestr(info, invite.eml)
        return buffer.getvalue()


def run_key_for(rows: list[SignerRow], partner_tenant_id: str) -> str:
    """The identity of one submitted file (the audit rows of its runs carry it)."""
    normalised = [
        [row.line, *(" ".join(v.split()).casefold() for v in row.values().values())] for row in rows
    ]
    return run_key(partner_tenant_id, normalised)


# --- running -----------------------------------------------------------------------------------


def _accepted_message(status: AcceptanceStatus) -> str:
    latest = status.latest_attestation
    if latest is not None and status.latest_acceptance_date:
        day = status.latest_acceptance_date
        if day >= status.current_since:
            who = latest.primary_contact.full_name or latest.primary_contact.email
            return (
                f"Skipped: the customer already accepted the current MCA (attested on "
                f"{day.isoformat()}, {who}); no link is needed."
            )
    return (
        "Skipped: the customer already accepted the current MCA directly in the Microsoft 365 "
        "admin center; no link is needed."
    )


class _Run(RowRun[SignerOutcome]):
    """The state of one run_bulk_signers call."""

    CANCELLED = (
        "Not sent: the run was cancelled. Run the same file again to continue; nothing is sent "
        "twice."
    )
    TAG: ClassVar[dict[str, str]] = {"channel": CHANNEL}

    def __init__(
        self,
        pc: PartnerCenterClient,
        store: Store,
        identity: Identity,
        rows: list[SignerRow],
        *,
        dry_run: bool,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        wire: EnhancedWire | None,
        link_lifetime: timedelta | None,
        now: datetime | None,
        concurrency: int,
        current_since: date,
        reader: PartnerCenterClient | None,
        snapshot: Mapping[str, Mapping[str, Any]] | None,
        want_invitations: bool,
    ):
        super().__init__(
            pc,
            store,
            identity,
            rows,
            dry_run=dry_run,
            progress=progress,
            cancel=cancel,
            concurrency=concurrency,
        )
        self.reader = reader or pc
        self.wire, self.link_lifetime, self.now = wire, link_lifetime, now
        self.moment = (now or datetime.now(UTC)).astimezone(UTC)
        self.current_since = current_since
        self.snapshot = snapshot or {}
        self.want_invitations = want_invitations
        self.partner = identity.partner_tenant_id
        self.run_key = run_key_for(rows, self.partner or identity.user_id)
        self.journal = EnhancedStore(store)
        self.records: dict[int, EnhancedAttestation] = {}

    # bookkeeping ----------------------------------------------------------------------------

    def outcome(
        self,
        row: SignerRow,
        state: str,
        message: str,
        *,
        customer: Customer | None = None,
        request: enhanced.EnhancedRequest | None = None,
        record: EnhancedAttestation | None = None,
        request_id: str | None = None,
    ) -> SignerOutcome:
        signer = request.signer if request is not None else None
        name = signer.full_name if signer else " ".join(f"{row.first_name} {row.last_name}".split())
        link = record.acceptance_link if record is not None and state in LINK_STATES else None
        return SignerOutcome(
            line=row.line,
            customer=row.customer_id[:200],
            customer_id=customer.id if customer is not None else None,
            company_name=(
                request.company_name
                if request is not None
                else (customer.company_name if customer else row.company_name)
            ),
            signer=name,
            signer_email=signer.email if signer else row.email[:256],
            state=state,
            message=message,
            acceptance_link=link,
            expires_at=record.expires_at if link else None,
            attestation_id=record.attestation_id if record is not None else None,
            request_id=request_id or (record.last_request_id if record is not None else None),
            country=request.country if request is not None else row.country,
            language=request.language if request is not None else row.language,
        )

    def audit_row(self, row: SignerRow, outcome: SignerOutcome) -> None:
        """A row the create use case did not audit (it never reached it)."""
        if self.dry_run:
            return
        inputs: dict[str, Any] = {k: v[:200] for k, v in row.values().items() if v}
        inputs.update(channel=CHANNEL, run_key=self.run_key, line=row.line)
        audit.record(
            self.store,
            self.identity,
            ACTION,
            outcome.state,
            customer_id=outcome.customer_id,
            inputs=inputs,
            detail=outcome.message,
            request_id=outcome.request_id,
        )

    def settle(self, index: int, row: SignerRow, outcome: SignerOutcome) -> None:
        self.audit_row(row, outcome)
        self.finish(index, outcome)

    # steps ------------------------------------------------------------------------------------

    async def resolve(self, refs: list[tuple[str, str]]) -> dict[tuple[str, str], Any]:
        """Each distinct customer reference -> its Customer, or the error that prevented it."""
        gate = asyncio.Semaphore(self.concurrency)

        async def one(ref: tuple[str, str]) -> Customer | McaError:
            async with gate:
                try:
                    return await resolve_customer(self.pc, ref[1], field="customer_id")
                except McaError as exc:
                    return exc

        found = await asyncio.gather(*(one(ref) for ref in refs))
        return dict(zip(refs, found, strict=True))

    def with_defaults(self, customer: Customer) -> Customer:
        """Partner Center's record, completed by the desk's latest sync where it says nothing."""
        row = self.snapshot.get(customer.id) or {}
        update = {
            name: row[name]
            for name in ("company_name", "country")
            if not getattr(customer, name) and row.get(name)
        }
        return customer.model_copy(update=update) if update else customer

    def stored_record(
        self, customer: Customer, request: enhanced.EnhancedRequest
    ) -> EnhancedAttestation | None:
        """The customer's newest attestation in the store when it is this very request."""
        history = self.journal.for_customer(self.partner, customer.id)
        latest = history[0] if history else None
        if latest is not None and latest.same_request(
            request.signer, request.company_name, request.country, request.language
        ):
            return latest
        return None

    def stored(
        self, customer: Customer, request: enhanced.EnhancedRequest
    ) -> tuple[str, EnhancedAttestation] | None:
        """What the store already holds for this very request (a dry run's answer)."""
        latest = self.stored_record(customer, request)
        state = _STORED_STATE.get(latest.current_state(self.moment)) if latest else None
        return (state, latest) if state is not None and latest is not None else None

    def note_refusal(self, exc: PartnerCenterError, row: SignerRow, what: str) -> None:
        """A refusal of the user (role, token, MFA) would repeat on every row: stop sending."""
        if isinstance(exc, Unauthorized | PermissionDenied) and self.abort is None:
            state = "refused" if isinstance(exc, PermissionDenied) else "failed"
            self.abort = (
                state,
                f"Not sent: Partner Center refused {what} of line {row.line} ({exc}). Fix the "
                "sign-in or role, then run the same file again: nothing is sent twice.",
            )

    async def acceptance(
        self, check: SignerCheck, customer: Customer, request: enhanced.EnhancedRequest
    ) -> AcceptanceStatus | bool | SignerOutcome:
        """The customer's current acceptance: its status read, or the latest sync's verdict
        when the read is refused, or the row's final outcome when neither is known."""
        row = check.row
        try:
            return await acceptance_status(
                self.reader, customer.id, mode="first_evidence", current_since=self.current_since
            )
        except NotFound:
            return self.outcome(
                row,
                "invalid",
                f"customer_id: No customer with tenant id {customer.id} is visible to your "
                "partner account. Check the id, or use the customer's domain.",
                customer=customer,
                request=request,
            )
        except (PermissionDenied, Unauthorized) as exc:
            synced = self.snapshot.get(customer.id)
            state = row_state(synced, self.current_since) if synced else None
            if state is not None:
                return state == "accepted"
            self.note_refusal(exc, row, "reading the customer's acceptance")
            return self.outcome(
                row,
                "refused" if isinstance(exc, PermissionDenied) else "failed",
                f"{type(exc).__name__}: Partner Center refused reading the customer's "
                f"acceptance ({exc}); the desk has no synced state for it either. Sign in as an "
                "admin or sales agent (App+User), or run a sync, then run the same file again.",
                customer=customer,
                request=request,
                request_id=exc.request_id,
            )
        except PartnerCenterError as exc:
            return self.outcome(
                row,
                "failed",
                f"Could not read the customer's acceptance: {exc}",
                customer=customer,
                request=request,
                request_id=exc.request_id,
            )

    async def one(
        self,
        index: int,
        check: SignerCheck,
        customer: Customer,
        request: enhanced.EnhancedRequest,
    ) -> None:
        row = check.row

        def not_sent(state: str, message: str) -> SignerOutcome:
            outcome = self.outcome(row, state, message, customer=customer, request=request)
            if state != "cancelled":  # not sent after a refusal: audited (a cancelled row is not)
                self.audit_row(row, outcome)
            return outcome

        def failed(message: str) -> SignerOutcome:
            outcome = self.outcome(row, "failed", message, customer=customer, request=request)
            self.audit_row(row, outcome)
            return outcome

        await self.in_turn(
            index,
            lambda: self.link_row(index, check, customer, request),
            not_sent=not_sent,
            failed=failed,
        )

    async def link_row(
        self,
        index: int,
        check: SignerCheck,
        customer: Customer,
        request: enhanced.EnhancedRequest,
    ) -> None:
        row = check.row
        accepted = await self.acceptance(check, customer, request)
        if isinstance(accepted, SignerOutcome):
            self.settle(index, row, accepted)
            return
        if accepted is True or (isinstance(accepted, AcceptanceStatus) and accepted.accepted):
            message = (
                _accepted_message(accepted)
                if isinstance(accepted, AcceptanceStatus)
                else "Skipped: the desk's latest sync shows a current MCA acceptance; no link is "
                "needed."
            )
            outcome = self.outcome(
                row, "skipped_already_accepted", message, customer=customer, request=request
            )
            self.settle(index, row, outcome)
            return
        if self.dry_run:
            known = self.stored(customer, request)
            if known is not None:
                state, record = known
                self.records[index] = record
                message = enhanced.CREATE_MESSAGES[state]
            else:
                state, record, message = "would_create", None, "Would create a link on submit."
            self.finish(
                index,
                self.outcome(
                    row, state, message, customer=customer, request=request, record=record
                ),
            )
            return
        signer = request.signer
        try:
            created = await enhanced.create_attestation(
                self.pc,
                self.store,
                self.identity,
                customer=customer.id,
                first_name=signer.first_name,
                last_name=signer.last_name,
                email=signer.email,
                phone=signer.phone_number,
                company_name=request.company_name,
                country=request.country,
                language=request.language,
                wire=self.wire,
                link_lifetime=self.link_lifetime,
                now=self.now,
            )
        except InvalidInput as exc:  # audited by the create use case
            outcome = self.outcome(row, "invalid", str(exc), customer=customer, request=request)
        except PartnerCenterError as exc:  # audited by the create use case
            kept = self.stored_record(customer, request)
            outcome = self.outcome(
                row,
                "refused" if isinstance(exc, PermissionDenied) else "failed",
                f"{type(exc).__name__}: {exc}",
                customer=customer,
                request=request,
                request_id=exc.request_id or (kept.request_id if kept else None),
            )
            self.note_refusal(exc, row, "the attestation")
        except McaError as exc:  # audited by the create use case
            outcome = self.outcome(
                row, "failed", f"{type(exc).__name__}: {exc}", customer=customer, request=request
            )
        else:
            self.records[index] = created.attestation
            outcome = self.outcome(
                row,
                created.outcome,
                created.message,
                customer=customer,
                request=request,
                record=created.attestation,
                request_id=created.request_id or created.attestation.request_id,
            )
        self.finish(index, outcome)

    async def refresh(self, customer_ids: list[str]) -> None:
        """The open links of these customers as Partner Center now sees them (where it offers a
        status read), so a rerun says who accepted since; a create whose answer was lost is
        replayed with its request id. The store's last known state decides when this fails."""
        if self.cancel is not None and self.cancel.is_set():
            return
        with contextlib.suppress(McaError):  # audited by the refresh use case
            await enhanced.refresh_attestations(
                self.pc,
                self.store,
                self.identity,
                customer_ids=customer_ids,
                wire=self.wire,
                link_lifetime=self.link_lifetime,
                now=self.now,
            )

    def invitations(self) -> list[SignerInvitation]:
        """The email of every row with a link (each audited as an invitation)."""
        found: list[SignerInvitation] = []
        sender = self.identity.email or None
        for index in sorted(self.outcomes):
            outcome, record = self.outcomes[index], self.records.get(index)
            if outcome.state not in LINK_STATES or record is None:
                continue
            locale = email_locale(record.country, record.language)
            try:
                email = enhanced.acceptance_invitation(
                    self.store,
                    self.identity,
                    record,
                    to=record.signer.email,
                    locale=locale,
                    now=self.moment,
                )
            except McaError as exc:
                self.outcomes[index] = dataclasses.replace(
                    outcome, message=f"{outcome.message} No invitation was written: {exc}"
                )
                continue
            name = f"{outcome.line:05d}-{invitations.eml_file_name(email)}"
            found.append(
                SignerInvitation(
                    line=outcome.line,
                    customer_id=record.customer_id,
                    locale=locale,
                    file_name=name,
                    email=email,
                    eml=invitations.eml_for(email, sender, now=self.moment),
                )
            )
        return found

    async def run(self) -> BulkSignersReport:
        checks = check_signer_rows(self.rows)
        pending: list[tuple[int, SignerCheck]] = []
        for index, check in enumerate(checks):
            if check.problems:
                self.settle(index, check.row, self.outcome(check.row, "invalid", check.message))
            else:
                pending.append((index, check))
        refs = sorted({c.customer_ref for _, c in pending if c.customer_ref is not None})
        resolved = await self.resolve(refs)
        claimed: dict[str, int] = {}  # tenant id -> the line that gets its link
        ready: list[tuple[int, SignerCheck, Customer, enhanced.EnhancedRequest]] = []
        for index, check in pending:
            row = check.row
            assert check.customer_ref is not None
            found = resolved[check.customer_ref]
            if isinstance(found, InvalidInput):
                message = " ".join(str(_named(p)) for p in found.problems)
                self.settle(index, row, self.outcome(row, "invalid", message))
                continue
            if isinstance(found, McaError):
                rid = getattr(found, "request_id", None)
                message = f"Could not look the customer up: {type(found).__name__}: {found}"
                self.settle(index, row, self.outcome(row, "failed", message, request_id=rid))
                continue
            customer = self.with_defaults(found)
            first = claimed.setdefault(customer.id, row.line)
            if first != row.line:
                problem = _duplicate_problem(row.line, first)
                outcome = self.outcome(row, "invalid", str(problem), customer=customer)
                self.settle(index, row, outcome)
                continue
            try:
                request = enhanced.prepare_enhanced(
                    row.first_name,
                    row.last_name,
                    row.email,
                    row.phone or None,
                    row.company_name or None,
                    row.country or None,
                    row.language or DEFAULT_LANGUAGE,
                    customer=customer,
                )
            except InvalidInput as exc:
                outcome = self.outcome(row, "invalid", str(exc), customer=customer)
                self.settle(index, row, outcome)
                continue
            assert request is not None
            ready.append((index, check, customer, request))
        # every row is judged and every customer known: only now is anything sent
        if ready and not self.dry_run:
            await self.refresh([customer.id for _, _, customer, _ in ready])
        tasks = [
            asyncio.create_task(self.one(index, check, customer, request))
            for index, check, customer, request in ready
        ]
        await self.gather(tasks)  # cancelled or dying: the store keeps the rest
        invites = self.invitations() if self.want_invitations and not self.dry_run else []
        report = BulkSignersReport(
            rows=self.rows,
            outcomes=[self.outcomes[i] for i in sorted(self.outcomes)],
            dry_run=self.dry_run,
            run_key=self.run_key,
            run_at=self.moment,
            cancelled=any(o.state == "cancelled" for o in self.outcomes.values()),
            invitations=invites,
        )
        self.audit_run(report, invitations=len(report.invitations))
        return report


async def run_bulk_signers(
    pc: PartnerCenterClient,
    store: Store,
    identity: Identity,
    rows: list[SignerRow],
    *,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    wire: EnhancedWire | None = None,
    link_lifetime: timedelta | None = None,
    now: datetime | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    current_since: date = CURRENT_MCA_SINCE,
    reader: PartnerCenterClient | None = None,
    snapshot: Mapping[str, Mapping[str, Any]] | None = None,
    invitations: bool = True,
) -> BulkSignersReport:
    """One enhanced attestation (an acceptance link) per valid row; with `dry_run`, what would
    happen (Partner Center and the store are read, nothing is created).

    `pc` must hold the partner app's App-only token (refused otherwise, before any row);
    `reader`, the client that reads each customer's acceptance (an App+User token; default
    `pc`); `snapshot`, the desk's latest sync by tenant id (defaults for company name and
    country, and the acceptance when the read is refused); `current_since`, the current MCA's
    cutoff. The access rule runs first (a refusal is audited once). One row's failure never
    stops the others; a refusal of the user (401/403) stops sending the rest. `progress(done,
    total)` after each row; `cancel` stops starting new rows (run the same file again to
    continue: nothing is sent twice). `invitations`: render each link's email (audited as an
    invitation) for `BulkSignersReport.invitations_zip`.
    """
    # The refusal only: rows are audited one by one, and the run as a whole, by `_Run`.
    with audit.attempt(
        store,
        identity,
        ACTION,
        inputs={"channel": CHANNEL, "rows": len(rows), "dry_run": dry_run},
        check=check_may_attest,
    ):
        enhanced.require_app_only(pc)
    run = _Run(
        pc,
        store,
        identity,
        list(rows),
        dry_run=dry_run,
        progress=progress,
        cancel=cancel,
        wire=wire,
        link_lifetime=link_lifetime,
        now=now,
        concurrency=concurrency,
        current_since=current_since,
        reader=reader,
        snapshot=snapshot,
        want_invitations=invitations,
    )
    return await run.run()


__all__ = [
    "COLUMNS",
    "DEFAULT_LANGUAGE",
    "DONE_STATES",
    "LINK_STATES",
    "REQUIRED_COLUMNS",
    "RESULT_COLUMNS",
    "STATES",
    "BulkSignersReport",
    "SignerCheck",
    "SignerInvitation",
    "SignerOutcome",
    "SignerRow",
    "check_signer_row",
    "check_signer_rows",
    "email_locale",
    "read_signers_csv",
    "run_bulk_signers",
    "template_csv",
]
