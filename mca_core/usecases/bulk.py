"""Bulk attestation: a CSV of customers and the people who accepted, attested row by row.

The flow the Attest page and `python -m mca_core bulk-attest` share:

    data = template_csv()                      # what to fill in (UTF-8 with BOM, opens in Excel)
    rows = read_csv(uploaded_bytes)            # CsvUnusable when the FILE cannot be used
    checks = check_rows(rows, customers=..., accepted_ids=...)   # per-row problems and flags
    report = await run_bulk(pc, store, identity, rows, dry_run=True)   # what would happen
    report = await run_bulk(pc, store, identity, rows)                 # do it
    results_csv(report)                        # per-row outcome, downloadable

Files are read by `csv_rows` (shared with the enhanced signers file): only proven encodings
(UTF-8, UTF-16 with a BOM; GB18030 only when the user chooses it: `read_csv(data, "gb18030")`),
`,`, `;` or tab, at most `MAX_FILE_BYTES` and `MAX_ROWS`.

Running is safe to repeat. Each row's attestation carries a deterministic MS-RequestId (uuid5 of
partner, customer, contact and date), so the service answers a re-sent row idempotently, and an
identical attestation is refused with 600061 ("already attested"). A journal in the desk's
database (`bulk_journal`) records each row `started` before its call and its outcome after:
submitting the same file again sends nothing that already ended, and a run killed half-way
re-sends only the rows it had started, with the same request ids. Before attesting, the
customer's current acceptance is read: a customer who already accepted is skipped, unless the
attestation found is the one an interrupted earlier run of this journal sent.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import unicodedata
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any

from mca_core.domain.errors import (
    AlreadyAttested,
    ClassicAttestationRetired,
    InvalidInput,
    McaError,
    NotFound,
    PartnerCenterError,
    PermissionDenied,
    Problem,
    Unauthorized,
)
from mca_core.domain.models import AcceptanceStatus, Contact, Customer, Identity
from mca_core.domain.validation import (
    check_date_agreed,
    check_email,
    check_may_attest,
    check_person_name,
    check_phone,
    classify_customer_ref,
)
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.bulk_journal import STARTED, BulkJournal, JournalEntry
from mca_core.store.database import Connection, Store
from mca_core.usecases import audit, csv_rows
from mca_core.usecases.attestation import contact_inputs
from mca_core.usecases.bulk_run import (
    ACTION,
    DEFAULT_CONCURRENCY,
    ProgressCallback,
    RowRun,
    run_key,
    tally,
)
from mca_core.usecases.csv_rows import (
    ENCODINGS,
    MAX_FILE_BYTES,
    MAX_ROWS,
    CsvLayout,
    CsvRow,
    CsvUnusable,
    JudgedRow,
    by_column,
    clean_cell,
    decode_csv,
    duplicate_row_problem,
    extra_cells_problem,
    header_key,
    read_limited,
    read_rows,
)
from mca_core.usecases.reports import export_table
from mca_core.usecases.status import acceptance_status, resolve_customer

COLUMNS = ("customer", "first_name", "last_name", "email", "phone", "date_agreed")
REQUIRED_COLUMNS = ("customer", "first_name", "last_name", "email", "date_agreed")
#: Header names accepted for each column (compared case-, space- and hyphen-insensitively;
#: a note in parentheses after the name is ignored). For the customer, the first non-empty of
#: several customer columns wins, in this order.
COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "customer": (
        "customer",
        "customer_id",
        "customerid",
        "tenant_id",
        "tenantid",
        "tenant",
        "customer_tenant_id",
        "domain",
        "customer_domain",
    ),
    "first_name": ("first_name", "firstname", "given_name", "givenname", "first"),
    "last_name": ("last_name", "lastname", "surname", "family_name", "familyname", "last"),
    "email": ("email", "e_mail", "email_address", "emailaddress", "mail"),
    "phone": ("phone", "phone_number", "phonenumber", "telephone", "tel", "mobile"),
    "date_agreed": (
        "date_agreed",
        "dateagreed",
        "agreement_date",
        "date_accepted",
        "accepted_on",
        "accepted_date",
        "date",
    ),
}
#: The classic file as `csv_rows` reads it.
LAYOUT = CsvLayout(
    columns=COLUMNS,
    required=REQUIRED_COLUMNS,
    aliases=COLUMN_ALIASES,
    merged="customer",
    header_fix="Use the template's header: customer, first_name, last_name, email, phone, "
    "date_agreed, separated by commas.",
)
#: Longest value a customer, phone or date cell can sensibly hold (names and emails have their
#: own limits in `validation`). Longer values are reported by length, never echoed.
MAX_CELL_CHARS = {"customer": 256, "phone": 64, "date_agreed": 64}
#: From this many distinct domains on, the customer list is read once instead of one filtered
#: lookup per domain.
DOMAIN_LIST_THRESHOLD = 10
#: Namespace of the deterministic MS-RequestIds of bulk attestations.
BULK_REQUEST_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://mca-desk.invalid/bulk-attest")
OUTCOMES = (
    "attested",
    "already_attested",
    "skipped_already_accepted",
    "would_attest",
    "invalid",
    "failed",
    "cancelled",
)
#: Outcomes after which nothing is left to do for a row.
DONE_OUTCOMES = frozenset(
    {"attested", "already_attested", "skipped_already_accepted", "would_attest"}
)
TEMPLATE_HEADER = (
    "customer (tenant id or domain; also read as customer_id, domain, tenant_id)",
    "first_name",
    "last_name",
    "email",
    "phone (optional, international form +CC)",
    "date_agreed (YYYY-MM-DD, not later than today in UTC)",
)
TEMPLATE_EXAMPLE = (
    "contoso.onmicrosoft.com",
    "Jane",
    "Doe",
    "jane@contoso.com",
    "+1 425 555 0100",
    "2025-11-20",
)


# --- the file ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BulkRow(CsvRow):
    """One data row of the file as typed (trimmed), with its line number in the file."""

    line: int
    customer: str
    first_name: str
    last_name: str
    email: str
    phone: str
    date_agreed: str
    #: Non-empty cells beyond the header's columns (an unquoted separator inside a value).
    extra_cells: tuple[str, ...] = ()


def template_csv() -> bytes:
    """The file to fill in: header (each column says what it holds) and one example row."""
    return csv_rows.template_csv(TEMPLATE_HEADER, TEMPLATE_EXAMPLE)


def read_csv(data: bytes, encoding: str = "auto") -> list[BulkRow]:
    """The rows of an uploaded CSV, or CsvUnusable saying what is wrong with the file and what
    to do. Blank rows are left out; line numbers are the file's. `encoding`: one of
    `ENCODINGS` ("gb18030" only when the user chose it; see `decode_csv`)."""
    return read_rows(data, encoding, LAYOUT, BulkRow)


def rows_from_records(records: Iterable[Mapping[str, Any]], first_line: int = 2) -> list[BulkRow]:
    """Rows from the edited grid (a DataFrame's records): column names or their aliases as keys,
    None/NaN as empty. A record's `line` is kept when present; blank records are left out."""
    rows: list[BulkRow] = []
    for index, record in enumerate(records):
        values = {c: "" for c in COLUMNS}
        ranks: dict[str, int] = {}
        order = COLUMN_ALIASES["customer"]
        for key, raw in record.items():
            norm = header_key(str(key))
            column = LAYOUT.alias_to_column.get(norm)
            text = clean_cell(raw)
            if column is None or not text:
                continue
            rank = order.index(norm) if column == "customer" else 0
            if column not in ranks or rank < ranks[column]:
                values[column], ranks[column] = text, rank
        if not any(values.values()):
            continue
        line = record.get("line")
        try:
            number = int(line) if line is not None and not _is_nan(line) else None
        except (TypeError, ValueError):
            number = None
        rows.append(BulkRow(line=number if number is not None else first_line + index, **values))
    return rows


def _is_nan(value: object) -> bool:
    return isinstance(value, float) and math.isnan(value)


# --- checking rows ---------------------------------------------------------------------------


@dataclass
class RowCheck(JudgedRow):
    """One row judged before anything is sent: its problems (invalid when any) and flags."""

    row: BulkRow
    problems: list[Problem]
    #: "duplicate_in_file", "already_accepted", "unknown_customer"
    flags: list[str]
    contact: Contact | None
    day: date | None
    customer_id: str | None
    #: ("id", tenant id) or ("domain", domain) when the customer cell is usable.
    customer_ref: tuple[str, str] | None = None


_LABELS = {
    "customer": "The customer",
    "phone": "The phone",
    "date_agreed": "The acceptance date",
    "email": "The email",
}


def _invisible(text: str) -> str | None:
    for ch in text:
        if unicodedata.category(ch) in ("Cf", "Cc", "Co", "Cs", "Zl", "Zp"):
            return f"U+{ord(ch):04X}"
    return None


def cell_problem(column: str, text: str) -> Problem | None:
    """Length and invisible characters, judged before the rule of the column (never echoed)."""
    limit = MAX_CELL_CHARS.get(column)
    label = _LABELS.get(column, column)
    if limit is not None and len(text) > limit:
        return Problem(
            column,
            f"{label} is {len(text):,} characters long; at most {limit} make sense here.",
            "Check the cell: it probably holds something else pasted by mistake.",
            code="too_long",
            params={"length": str(len(text)), "max": str(limit)},
        )
    if column in _LABELS and (mark := _invisible(text)):
        return Problem(
            column,
            f"{label} contains an invisible character ({mark}), often pasted from a web page "
            "or a chat.",
            "Delete the cell's content and type it again.",
            code="invisible_character",
            params={"character": mark},
        )
    return None


#: Year-first dates, with at most Excel's midnight time (a date cell saved as a date-time):
#: any other time, or text after the date, is refused rather than guessed at.
_YMD = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?(?:[ T]0{1,2}:00(?::00)?)?$"
)


def normalise_date_text(text: str) -> str:
    """Year-first dates as Excel writes them (2026/11/20, 2026.11.20, 2026年11月20日, with an
    optional midnight time) become 2026-11-20; everything else is left for the date rule to judge.
    Day-first and month-first forms are ambiguous and stay refused."""
    match = _YMD.match(text.strip())
    if not match:
        return text
    year, month, day = (int(g) for g in match.groups())
    return f"{year:04d}-{month:02d}-{day:02d}"


def _check_customer(text: str) -> tuple[str, str] | Problem:
    problem = cell_problem("customer", text)
    if problem:
        return problem
    try:
        return classify_customer_ref(text, "customer")
    except InvalidInput as exc:
        return exc.problems[0]


def check_row(row: BulkRow, *, now: datetime | None = None) -> RowCheck:
    """One row on its own (no duplicates, no customer list): the rules of `validation`."""
    problems: list[Problem] = []
    ref = _check_customer(row.customer)
    if isinstance(ref, Problem):
        problems.append(ref)
        ref = None
    judged = {
        "first_name": check_person_name(row.first_name, "first_name", "First name"),
        "last_name": check_person_name(row.last_name, "last_name", "Last name"),
        "email": cell_problem("email", row.email) or check_email(row.email, "email"),
        "phone": cell_problem("phone", row.phone) or check_phone(row.phone, "phone"),
    }
    problems.extend(v for v in judged.values() if isinstance(v, Problem))
    contact: Contact | None = None
    if not any(isinstance(v, Problem) for v in judged.values()):
        phone = judged["phone"]
        contact = Contact(
            first_name=str(judged["first_name"]),
            last_name=str(judged["last_name"]),
            email=str(judged["email"]),
            phone_number=phone if isinstance(phone, str) else None,
        )
    day: date | None = None
    date_problem = cell_problem("date_agreed", row.date_agreed)
    if date_problem:
        problems.append(date_problem)
    else:
        checked = check_date_agreed(normalise_date_text(row.date_agreed), now=now)
        if isinstance(checked, Problem):
            problems.append(checked)
        else:
            day = checked
    if extra := extra_cells_problem(row.line, row.extra_cells):
        problems.append(extra)
    by_column(problems, COLUMNS)
    return RowCheck(
        row=row,
        problems=problems,
        flags=[],
        contact=contact if not problems else None,
        day=day if not problems else None,
        customer_id=ref[1] if ref and ref[0] == "id" else None,
        customer_ref=ref,
    )


def check_rows(
    rows: list[BulkRow],
    *,
    now: datetime | None = None,
    customers: Mapping[str, Customer] | None = None,
    accepted_ids: set[str] | None = None,
) -> list[RowCheck]:
    """Every row's problems, plus flags: the same customer on several lines (later lines are
    invalid: one row per customer), customers already accepted in the latest snapshot, and
    customers the customer list does not know (the run asks Partner Center again)."""
    now = now or datetime.now(UTC)
    by_domain = {c.domain.casefold(): c.id for c in (customers or {}).values() if c.domain}
    checks = [check_row(row, now=now) for row in rows]
    first_line: dict[str, int] = {}
    keys: list[str | None] = []
    for check in checks:
        ref = check.customer_ref
        if ref is not None and customers is not None:
            if ref[0] == "domain":
                check.customer_id = by_domain.get(ref[1])
            known = check.customer_id is not None and check.customer_id in customers
            if not known:
                check.flags.append("unknown_customer")
        if check.customer_id and accepted_ids and check.customer_id in accepted_ids:
            check.flags.append("already_accepted")
        key = None
        if check.customer_id:
            key = f"id:{check.customer_id}"
        elif ref is not None:
            key = f"{ref[0]}:{ref[1]}"
        keys.append(key)
        if key is not None:
            first_line.setdefault(key, check.row.line)
    counts = Counter(k for k in keys if k is not None)
    for check, key in zip(checks, keys, strict=True):
        if key is None or counts[key] < 2:
            continue
        check.flags.append("duplicate_in_file")
        first = first_line[key]
        if check.row.line != first:
            check.problems.append(_duplicate_problem(check.row, first))
            check.contact, check.day = None, None
    return checks


def _duplicate_problem(row: BulkRow, first: int) -> Problem:
    return duplicate_row_problem("customer", row.line, first, "is attested")


# --- running -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RowOutcome:
    line: int
    customer: str
    customer_id: str | None
    #: One of OUTCOMES.
    outcome: str
    message: str
    request_id: str | None = None


@dataclass
class BulkReport:
    outcomes: list[RowOutcome]
    dry_run: bool
    run_key: str
    #: Rows whose outcome came from the journal of an earlier run (nothing sent again).
    resumed: int
    #: True when the run was cancelled before every row was handled.
    cancelled: bool = False

    @property
    def counts(self) -> dict[str, int]:
        return tally((o.outcome for o in self.outcomes), OUTCOMES)

    @property
    def ok(self) -> bool:
        return all(o.outcome in DONE_OUTCOMES for o in self.outcomes)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_key": self.run_key,
            "dry_run": self.dry_run,
            "resumed": self.resumed,
            "cancelled": self.cancelled,
            "ok": self.ok,
            "counts": self.counts,
            "rows": [asdict(o) for o in self.outcomes],
        }


def _fold(text: str | None) -> str:
    return unicodedata.normalize("NFKC", text or "").strip().casefold()


def _digits(text: str | None) -> str:
    return "".join(ch for ch in (text or "") if ch.isdigit())


def run_key_for(rows: list[BulkRow], partner_tenant_id: str) -> str:
    """The identity of one submitted file: the same rows for the same partner, the same key."""
    normalised = [
        [row.line, *(_fold(v) for v in row.values().values()), len(row.extra_cells)] for row in rows
    ]
    return run_key(partner_tenant_id, normalised)


def bulk_request_id(partner_tenant_id: str, customer_id: str, contact: Contact, day: date) -> str:
    """The MS-RequestId of one attestation: the same whenever the same thing is attested, so a
    re-sent row is answered idempotently by Partner Center."""
    name = "|".join(
        (
            partner_tenant_id,
            customer_id.lower(),
            _fold(contact.first_name),
            _fold(contact.last_name),
            _fold(contact.email),
            _digits(contact.phone_number),
            day.isoformat(),
        )
    )
    return str(uuid.uuid5(BULK_REQUEST_NAMESPACE, name))


def _same_contact(status: AcceptanceStatus, contact: Contact) -> bool:
    wanted = (
        _fold(contact.first_name),
        _fold(contact.last_name),
        _fold(contact.email),
        _digits(contact.phone_number),
    )
    return any(
        (
            _fold(a.primary_contact.first_name),
            _fold(a.primary_contact.last_name),
            _fold(a.primary_contact.email),
            _digits(a.primary_contact.phone_number),
        )
        == wanted
        for a in status.attestations
    )


def _accepted_message(status: AcceptanceStatus) -> str:
    latest = status.latest_attestation
    if latest is not None:
        who = latest.primary_contact.full_name or latest.primary_contact.email
        return (
            f"Skipped: the customer already accepted the MCA (attested on "
            f"{latest.date_agreed.date().isoformat()}, {who})."
        )
    return "Skipped: the customer already accepted the MCA directly in the admin center."


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class _Run(RowRun[RowOutcome]):
    """The state of one run_bulk call (kept out of the function to keep each step readable)."""

    CANCELLED = "Not sent: the run was cancelled. Submit the same file again to continue."

    def __init__(
        self,
        pc: PartnerCenterClient,
        store: Store,
        identity: Identity,
        rows: list[BulkRow],
        *,
        dry_run: bool,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        now: datetime,
        concurrency: int,
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
        self.now = now
        self.partner = identity.partner_tenant_id or identity.user_id
        self.run_key = run_key_for(rows, self.partner)
        self.journal = BulkJournal(store)
        self.resumed = 0

    # bookkeeping ----------------------------------------------------------------------------

    def outcome(
        self,
        row: BulkRow,
        customer_id: str | None,
        outcome: str,
        message: str,
        request_id: str | None = None,
    ) -> RowOutcome:
        return RowOutcome(
            line=row.line,
            customer=_short(row.customer),
            customer_id=customer_id,
            outcome=outcome,
            message=message,
            request_id=request_id,
        )

    def from_journal(self, row: BulkRow, entry: JournalEntry, earlier: bool) -> RowOutcome:
        self.resumed += 1
        when = entry.updated_at.strftime("%Y-%m-%d %H:%M UTC")
        source = "an earlier run of this file" if not earlier else "an earlier bulk run"
        return self.outcome(
            row,
            entry.customer_id,
            entry.state,
            f"{entry.message} (done by {source}, {when}; not sent again)".strip(),
            entry.request_id,
        )

    def journal_end(
        self, row: BulkRow, customer_id: str, outcome: RowOutcome, conn: Connection | None = None
    ) -> None:
        if self.dry_run:
            return
        self.journal.end(
            self.run_key,
            row.line,
            outcome.outcome,
            outcome.message,
            partner_tenant_id=self.partner,
            user_id=self.identity.user_id,
            customer_id=customer_id,
            request_id=outcome.request_id,
            conn=conn,
        )

    def settle(self, check: RowCheck, customer_id: str, outcome: RowOutcome) -> RowOutcome:
        """Audit a row's outcome and journal it as ended, in ONE transaction that no other run
        settling this customer runs beside: a kill cannot keep one without the other, and of two
        runs of the same rows at once (issue 11: two `bulk-attest` of one file recorded 400
        "attested" events for 200 attestations) only the first records "attested". The second
        sent the same MS-RequestId and got the stored answer back: it records the replay.
        Returns the outcome as recorded."""
        if self.dry_run:
            return outcome
        request_id = outcome.request_id
        if check.contact is not None and check.day is not None:
            request_id = bulk_request_id(self.partner, customer_id, check.contact, check.day)
        with self.store.serialized(f"bulk:{self.partner}:{customer_id}") as conn:
            own, attested_by = self.journal.settled(
                conn, self.run_key, check.row.line, self.partner, request_id
            )
            if attested_by is not None and outcome.outcome in ("attested", "already_attested"):
                outcome = self.replayed(outcome, attested_by)
            self.audit_row(check, customer_id, outcome, conn=conn)
            if own is None or not own.ended:  # ended by the other run: its outcome stays
                self.journal_end(check.row, customer_id, outcome, conn=conn)
        return outcome

    def replayed(self, outcome: RowOutcome, first: JournalEntry) -> RowOutcome:
        when = first.updated_at.strftime("%Y-%m-%d %H:%M:%S UTC")
        return RowOutcome(
            line=outcome.line,
            customer=outcome.customer,
            customer_id=outcome.customer_id,
            outcome="already_attested",
            message=(
                f"Already attested by another bulk run at the same time ({when}); this run's "
                "identical request (same MS-RequestId) was answered with the stored result, a "
                "replay: nothing new was stored."
            ),
            request_id=outcome.request_id,
        )

    def audit_row(
        self, check: RowCheck, customer_id: str, outcome: RowOutcome, conn: Connection | None = None
    ) -> None:
        if self.dry_run:
            return
        inputs = contact_inputs(check.contact, {}, check.day)
        inputs.update(run_key=self.run_key, line=check.row.line)
        audit.record(
            self.store,
            self.identity,
            ACTION,
            outcome.outcome,
            customer_id=customer_id,
            inputs=inputs,
            detail=outcome.message,
            request_id=outcome.request_id,
            conn=conn,
        )

    # steps ------------------------------------------------------------------------------------

    async def resolve_domains(
        self, checks: list[tuple[int, RowCheck]]
    ) -> dict[str, str | McaError]:
        """domain -> customer id, or the error that prevented resolving it."""
        domains = sorted(
            {
                c.customer_ref[1]
                for _, c in checks
                if c.customer_ref and c.customer_ref[0] == "domain"
            }
        )
        found: dict[str, str | McaError] = {}
        if not domains:
            return found
        if len(domains) >= DOMAIN_LIST_THRESHOLD:
            try:
                listed = await self.pc.list_customers()
            except McaError as exc:
                return dict.fromkeys(domains, exc)
            by_domain = {c.domain.casefold(): c.id for c in listed if c.domain}
            for domain in domains:
                if domain in by_domain:
                    found[domain] = by_domain[domain]
                else:
                    found[domain] = _unknown_domain(domain)
            return found
        for domain in domains:
            try:
                found[domain] = (await resolve_customer(self.pc, domain)).id
            except McaError as exc:
                found[domain] = exc
        return found

    async def one(
        self,
        index: int,
        check: RowCheck,
        customer_id: str,
        entry: JournalEntry | None,
        earlier: list[JournalEntry],
    ) -> None:
        def not_sent(state: str, message: str) -> RowOutcome:
            return self.outcome(check.row, customer_id, state, message)

        def failed(message: str) -> RowOutcome:
            outcome = self.outcome(check.row, customer_id, "failed", message)
            self.settle(check, customer_id, outcome)
            return outcome

        await self.in_turn(
            index,
            lambda: self.attest_row(check, customer_id, entry, earlier),
            not_sent=not_sent,
            failed=failed,
        )

    async def attest_row(
        self,
        check: RowCheck,
        customer_id: str,
        entry: JournalEntry | None,
        earlier: list[JournalEntry],
    ) -> RowOutcome:
        row, contact, day = check.row, check.contact, check.day
        assert contact is not None and day is not None
        request_id = bulk_request_id(self.partner, customer_id, contact, day)
        # Sent before and maybe applied (killed mid-call, or retries ran out after a lost
        # answer): if the customer now holds this very contact, the attestation is ours.
        sent_before = {STARTED, "failed"}
        ours_started = (entry is not None and entry.state in sent_before) or any(
            e.state in sent_before for e in earlier
        )
        try:
            status = await acceptance_status(self.pc, customer_id, mode="first_evidence")
        except NotFound:
            return self.outcome(
                row,
                customer_id,
                "invalid",
                f"customer: No customer with tenant id {customer_id} is visible to your partner "
                "account. Check the id, or use the customer's domain.",
            )
        except PartnerCenterError as exc:
            outcome = self.outcome(
                row,
                customer_id,
                "failed",
                f"Could not read the customer's acceptance: {exc}",
                exc.request_id,
            )
            self.note_refusal(exc, row)
            self.settle(check, customer_id, outcome)
            return outcome
        resend = ours_started and _same_contact(status, contact)
        if status.accepted and not resend:
            outcome = self.outcome(
                row, customer_id, "skipped_already_accepted", _accepted_message(status)
            )
            self.settle(check, customer_id, outcome)
            return outcome
        if self.dry_run:
            message = "Would attest on submit."
            if resend:
                message = (
                    "Would confirm the attestation an interrupted run sent (same "
                    "MS-RequestId: nothing is attested twice)."
                )
            return self.outcome(row, customer_id, "would_attest", message, request_id)
        ended = self.journal.start(
            self.run_key,
            row.line,
            partner_tenant_id=self.partner,
            user_id=self.identity.user_id,
            customer_id=customer_id,
            request_id=request_id,
        )
        if ended is not None:  # another run of the same rows, at the same time, did it first
            return self.from_journal(row, ended, earlier=False)
        try:
            result = await self.pc.attest(customer_id, contact, day, request_id=request_id)
            outcome = self.outcome(row, customer_id, "attested", "Attested.", result.request_id)
        except AlreadyAttested as exc:
            if ours_started:
                outcome = self.outcome(
                    row,
                    customer_id,
                    "attested",
                    "Attested (by an interrupted earlier run; Partner Center holds it once).",
                    exc.request_id or request_id,
                )
            elif not _same_contact(status, contact):
                # Read just before: no attestation with these details. It appeared during this
                # call: an attempt whose answer was lost was stored, and the retry after a 429 or
                # 5xx had to carry a new MS-RequestId, so it met 600061 instead of the replay.
                outcome = self.outcome(
                    row,
                    customer_id,
                    "attested",
                    "Attested (the answer to a first attempt was lost; a retry found it stored: "
                    "Partner Center holds it once).",
                    exc.request_id or request_id,
                )
            else:
                outcome = self.outcome(
                    row,
                    customer_id,
                    "already_attested",
                    "Already attested with these details: nothing new was stored.",
                    exc.request_id or request_id,
                )
        except PartnerCenterError as exc:
            if ClassicAttestationRetired.matches(exc):
                exc = ClassicAttestationRetired.from_error(exc)
            outcome = self.outcome(
                row,
                customer_id,
                "failed",
                f"{type(exc).__name__}: {exc}",
                exc.request_id or request_id,
            )
            self.note_refusal(exc, row)
        return self.settle(check, customer_id, outcome)

    def note_refusal(self, exc: PartnerCenterError, row: BulkRow) -> None:
        """A refusal of the user (role, token, MFA), or of the retired classic call, would
        repeat on every row: stop sending."""
        if isinstance(exc, ClassicAttestationRetired) and self.abort is None:
            self.abort = ("failed", f"Not sent: {exc} (line {row.line}).")
        if isinstance(exc, Unauthorized | PermissionDenied) and self.abort is None:
            self.abort = (
                "failed",
                f"Not sent: Partner Center refused line {row.line} ({exc}). Fix the sign-in or "
                "role, then submit the same file again.",
            )

    async def run(self) -> BulkReport:
        entries = {} if not self.rows else self.journal.entries(self.run_key)
        checks = check_rows(self.rows, now=self.now)
        pending: list[tuple[int, RowCheck]] = []
        claimed: dict[str, int] = {}  # customer id -> line that attests it
        for index, check in enumerate(checks):
            row = check.row
            entry = entries.get(row.line)
            if entry is not None and entry.ended:
                self.finish(index, self.from_journal(row, entry, earlier=False))
                if entry.customer_id:
                    claimed.setdefault(entry.customer_id, row.line)
            elif check.problems:
                self.finish(index, self.outcome(row, check.customer_id, "invalid", check.message))
            else:
                pending.append((index, check))
        resolved = await self.resolve_domains(pending)
        ready: list[tuple[int, RowCheck, str]] = []
        for index, check in pending:
            row, ref = check.row, check.customer_ref
            assert ref is not None
            target = ref[1] if ref[0] == "id" else resolved[ref[1]]
            if isinstance(target, InvalidInput):
                self.finish(index, self.outcome(row, None, "invalid", str(target)))
                continue
            if isinstance(target, McaError):
                message = f"Could not look the domain up: {target}"
                request_id = getattr(target, "request_id", None)
                self.finish(index, self.outcome(row, None, "failed", message, request_id))
                continue
            first = claimed.setdefault(target, row.line)
            if first != row.line:
                problem = _duplicate_problem(row, first)
                self.finish(index, self.outcome(row, target, "invalid", str(problem)))
                continue
            check.customer_id = target
            ready.append((index, check, target))
        earlier = self.earlier_entries(ready)
        tasks = []
        for index, check, customer_id in ready:
            assert check.contact is not None and check.day is not None
            request_id = bulk_request_id(self.partner, customer_id, check.contact, check.day)
            other_runs = [e for e in earlier.get(request_id, []) if e.run_key != self.run_key]
            done_before = next(
                (e for e in other_runs if e.state in ("attested", "already_attested")), None
            )
            if done_before is not None:
                self.finish(index, self.from_journal(check.row, done_before, earlier=True))
                continue
            entry = entries.get(check.row.line)
            tasks.append(
                asyncio.create_task(self.one(index, check, customer_id, entry, other_runs))
            )
        await self.gather(tasks)  # cancelled or dying: the journal holds the rest
        report = BulkReport(
            outcomes=[self.outcomes[i] for i in sorted(self.outcomes)],
            dry_run=self.dry_run,
            run_key=self.run_key,
            resumed=self.resumed,
            cancelled=any(o.outcome == "cancelled" for o in self.outcomes.values()),
        )
        self.audit_run(report, resumed=report.resumed)
        return report

    def earlier_entries(self, ready: list[tuple[int, RowCheck, str]]) -> dict[str, list]:
        ids = []
        for _, check, customer_id in ready:
            assert check.contact is not None and check.day is not None
            ids.append(bulk_request_id(self.partner, customer_id, check.contact, check.day))
        return self.journal.by_request_ids(self.partner, ids)


def accepted_rows(
    report: BulkReport, rows: Iterable[BulkRow]
) -> Iterator[tuple[str, Contact, date, bool]]:
    """(customer id, contact, date, new attestation?) of every row the run attested or found
    attested already: what the desk writes through to the latest snapshot."""
    by_line = {row.line: row for row in rows}
    for outcome in report.outcomes:
        row = by_line.get(outcome.line)
        if (
            report.dry_run
            or row is None
            or not outcome.customer_id
            or outcome.outcome not in ("attested", "already_attested")
        ):
            continue
        check = check_row(row)
        if check.contact is not None and check.day is not None:
            yield outcome.customer_id, check.contact, check.day, outcome.outcome == "attested"


async def run_bulk(
    pc: PartnerCenterClient,
    store: Store,
    identity: Identity,
    rows: list[BulkRow],
    *,
    dry_run: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    now: datetime | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> BulkReport:
    """Attest every valid row (or, with `dry_run`, say what would happen, attesting nothing).

    Enforces the access rule first (refusals are audited once). One row's failure never stops
    the others; the client's retry policy absorbs throttling, 5xx and timeouts, and a row whose
    retries run out ends `failed` with the error and its MS-RequestId. `progress(done, total)`
    is called after each row; `cancel` stops starting new rows (what was done stays journaled).
    """
    # The refusal only: rows are audited one by one, and the run as a whole, by `_Run`.
    with audit.attempt(store, identity, ACTION, inputs={"rows": len(rows), "dry_run": dry_run}):
        check_may_attest(identity)
    run = _Run(
        pc,
        store,
        identity,
        list(rows),
        dry_run=dry_run,
        progress=progress,
        cancel=cancel,
        now=now or datetime.now(UTC),
        concurrency=concurrency,
    )
    return await run.run()


def _unknown_domain(domain: str) -> InvalidInput:
    return InvalidInput(
        Problem(
            "customer",
            f"No customer with domain {domain} is visible to your partner account.",
            "Check the spelling, or use the tenant id.",
            code="unknown_customer",
            params={"value": domain},
        )
    )


RESULT_COLUMNS = ("line", "customer", "customer_id", "outcome", "message", "request_id")


def results_csv(report: BulkReport) -> bytes:
    """The per-row outcomes as CSV (UTF-8 with BOM, formula-like cells neutralised)."""
    return export_table([asdict(o) for o in report.outcomes], "csv", columns=RESULT_COLUMNS)


__all__ = [
    "COLUMNS",
    "ENCODINGS",
    "MAX_FILE_BYTES",
    "MAX_ROWS",
    "OUTCOMES",
    "BulkReport",
    "BulkRow",
    "CsvUnusable",
    "RowCheck",
    "RowOutcome",
    "check_row",
    "check_rows",
    "decode_csv",
    "read_csv",
    "read_limited",
    "results_csv",
    "rows_from_records",
    "run_bulk",
    "template_csv",
]
