"""Refresh every customer's acceptance status and store it as a snapshot.

Spends as few calls as the answer needs: by default a customer's attestations are asked first
and direct signing only when there is none (acceptance = attested OR signed); `full` asks both.
`incremental` re-asks only customers that were not accepted in the last snapshot, plus new ones.
All calls share the client's rate limiter, so a 429 slows the whole sync, not one call. One
customer's failure is recorded on its row and the sync goes on; a cancelled sync keeps what it
fetched (stored as an incomplete snapshot).
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from mca_core.domain import access
from mca_core.domain.errors import McaError, NotFound, PermissionDenied
from mca_core.domain.models import (
    CURRENT_MCA_SINCE,
    AcceptanceState,
    AcceptanceStatus,
    AgreementRecord,
    Contact,
    Customer,
    Identity,
    acceptance_evidence,
    acceptance_state,
)
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.database import Store
from mca_core.usecases import audit
from mca_core.usecases.status import acceptance_status

SyncMode = Literal["default", "full"]
ProgressCallback = Callable[[int, int, str], None]
ACTION = "sync"


@dataclass
class SyncSummary:
    customers: int = 0
    #: accepted + reacceptance_required + not_accepted + failed == customers (a complete sync)
    accepted: int = 0
    reacceptance_required: int = 0
    attested: int = 0
    direct_signed: int = 0
    not_accepted: int = 0
    failed: int = 0
    api_calls: int = 0
    throttled: int = 0
    seconds: float = 0.0
    mode: str = "default"
    incremental: bool = False
    reused: int = 0
    #: Agreements created before the sync for links the customers accepted (auto_finalise).
    finalised: int = 0
    #: Accepted customers by evidence, as the Overview counts them (its deltas compare these).
    by_attestation: int = 0
    directly: int = 0
    both: int = 0
    #: Where acceptance was read: "records" (the agreement records) or "per_customer".
    source: str = "per_customer"
    #: Customers whose row came from their agreement record.
    from_records: int = 0
    #: Direct signing reads for records without a current acceptance (confirm_with_direct_read).
    confirmed: int = 0
    complete: bool = True
    snapshot_id: int | None = None
    #: What the alerts of this sync did (`NotifyOutcome.as_dict`), when it was asked to notify.
    alerts: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def snapshot_scope(identity: Identity, backend: str) -> str:
    """Snapshots belong to one partner tenant on one backend (a reseller sees its own share)."""
    return f"{backend}:{identity.partner_tenant_id or identity.user_id}"


def row_state(
    row: Mapping[str, Any], current_since: date = CURRENT_MCA_SINCE
) -> AcceptanceState | None:
    """A snapshot row's state under the cutoff; None when the sync could not read it. Judged
    from the row's evidence (not its stored `accepted`), so a changed cutoff or a snapshot taken
    before the desk knew the MCA refresh reads right."""
    if row.get("accepted") is None:
        return None
    return acceptance_state(row.get("latest_date_agreed"), row.get("direct_signed"), current_since)


def accepted_changes(
    before: Mapping[str, Any] | None,
    *,
    contact: Contact,
    date_agreed: date | datetime,
    attested_by: str,
    new_attestation: bool,
    current_since: date = CURRENT_MCA_SINCE,
) -> dict[str, Any]:
    """A snapshot row after the desk recorded an acceptance for the customer (an attestation,
    or an enhanced agreement created): what the next sync would read, written through now."""
    before = before or {}
    day = (
        date_agreed
        if isinstance(date_agreed, datetime)
        else datetime(date_agreed.year, date_agreed.month, date_agreed.day, tzinfo=UTC)
    )
    changes: dict[str, Any] = {
        "attested": True,
        "error": None,
        "attestation_count": int(before.get("attestation_count") or 0) + int(new_attestation),
    }
    latest = before.get("latest_date_agreed")
    if latest is None or day >= latest:
        changes.update(
            latest_date_agreed=day,
            latest_contact_name=contact.full_name,
            latest_contact_email=contact.email,
            latest_attested_by=attested_by,
        )
    changes["accepted"] = (
        acceptance_state(
            changes.get("latest_date_agreed", latest), before.get("direct_signed"), current_since
        )
        == "accepted"
    )
    return changes


def finalised_changes(
    before: Mapping[str, Any] | None, outcome: Any, attested_by: str
) -> dict[str, Any]:
    """`accepted_changes` for an enhanced attestation whose agreement was created (an
    `enhanced.FinaliseOutcome`): the signer, on the agreement's date (else today, UTC)."""
    agreement = outcome.agreement
    return accepted_changes(
        before,
        contact=outcome.attestation.signer,
        date_agreed=agreement.date_agreed if agreement is not None else datetime.now(UTC),
        attested_by=attested_by,
        new_attestation=outcome.outcome == "attested",
    )


def new_customer_changes(customer: Customer) -> dict[str, Any]:
    """The row of a customer created on the desk, before any sync read it."""
    return {**status_row(customer, None), "accepted": False, "attested": False}


def status_row(
    customer: Customer, status: AcceptanceStatus | None, error: str | None = None
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "customer_id": customer.id,
        "company_name": customer.company_name,
        "domain": customer.domain,
        "country": customer.country,
        "associated_partner_id": customer.associated_partner_id,
        "attested": None,
        "direct_signed": None,
        "accepted": None,
        "attestation_count": None,
        "latest_date_agreed": None,
        "latest_contact_name": None,
        "latest_contact_email": None,
        "latest_attested_by": None,
        "error": error,
    }
    if status is not None:
        latest = status.latest_attestation
        row.update(
            attested=status.attested if status.attestations_checked else None,
            direct_signed=status.direct_signed,
            accepted=status.accepted,
            attestation_count=len(status.attestations),
        )
        if latest is not None:
            row.update(
                latest_date_agreed=latest.date_agreed,
                latest_contact_name=latest.primary_contact.full_name,
                latest_contact_email=latest.primary_contact.email,
                latest_attested_by=latest.user_id,
            )
    return row


SyncSource = Literal["auto", "records", "per_customer"]
#: What a snapshot row keeps from the last sync beside a read that failed now.
_KEPT_ON_ERROR = (
    "attested",
    "direct_signed",
    "accepted",
    "attestation_count",
    "latest_date_agreed",
    "latest_contact_name",
    "latest_contact_email",
    "latest_attested_by",
)


def record_row(
    customer: Customer, record: AgreementRecord, current_since: date = CURRENT_MCA_SINCE
) -> dict[str, Any]:
    """A snapshot row from the customer's agreement record (see `AgreementRecord`): what the
    record says and nothing more. A partner attestation fills the attestation columns (its count
    is not known: None); the customer's own acceptance counts as direct signing when it is of the
    current MCA, else its date stays as an acceptance of an earlier MCA (re-acceptance required).
    Direct signing after a current attestation is not asked (None), as the per-customer read."""
    row = status_row(customer, None)
    when = record.date
    if when is None:
        row.update(attested=False, direct_signed=False, accepted=False)
        return row
    if record.partner_attestation:
        contact = record.contact
        row.update(
            attested=True,
            latest_date_agreed=when,
            latest_contact_name=contact.full_name if contact else None,
            latest_contact_email=(contact.email or None) if contact else None,
        )
    else:
        current = acceptance_state(when, False, current_since) == "accepted"
        row.update(attested=False, direct_signed=current)
        if not current:
            row["latest_date_agreed"] = when
    state = acceptance_state(row["latest_date_agreed"], row["direct_signed"], current_since)
    row["accepted"] = state == "accepted"
    return row


async def read_agreement_records(
    pc: PartnerCenterClient, cancel: threading.Event | None = None
) -> dict[str, AgreementRecord]:
    """Every page of the agreement records, by customer id."""
    records: dict[str, AgreementRecord] = {}
    async for page in pc.iter_agreement_record_pages():
        for record in page:
            records[record.customer_id] = record
        if cancel is not None and cancel.is_set():
            break
    return records


async def sync_acceptance(
    pc: PartnerCenterClient,
    store: Store,
    identity: Identity,
    *,
    backend: str,
    mode: SyncMode = "default",
    incremental: bool = False,
    progress: ProgressCallback | None = None,
    cancel: threading.Event | None = None,
    concurrency: int = 32,
    current_since: date = CURRENT_MCA_SINCE,
    source: SyncSource = "auto",
    confirm_with_direct_read: bool = False,
) -> SyncSummary:
    """List customers, read each one's acceptance, store a snapshot; return the summary.
    Acceptance is judged against the current MCA (`current_since`).

    `source`: "records" reads every customer's last acceptance from the agreement records (a
    page per 500 customers) and fails when Partner Center does not answer them; "per_customer"
    asks each customer (about 1.5 calls each); "auto" probes the records once and falls back to
    per-customer reads when they answer 404/403. Customers the records do not list are read
    one by one. `confirm_with_direct_read` also asks direct signing of every customer whose
    record shows no current acceptance. `mode="full"` with "auto" reads customer by customer."""
    with audit.attempt(  # a refusal is an attempt too: audited like every other
        store,
        identity,
        ACTION,
        inputs={"mode": mode, "incremental": incremental, "source": source},
        check=access.check_may_sync,
    ) as attempt:
        started = time.monotonic()
        calls_before = pc.stats.calls
        throttled_before = pc.stats.throttled
        scope = snapshot_scope(identity, backend)
        summary = SyncSummary(mode=mode, incremental=incremental)
        report = progress or (lambda done, total, phase: None)
        stopped = (lambda: cancel.is_set()) if cancel is not None else (lambda: False)

        customers: list[Customer] = []

        async def list_all() -> None:
            async for page in pc.iter_customer_pages():  # no list, no snapshot: failed
                customers.extend(page)
                report(0, len(customers), "listing")
                if stopped():
                    break

        records: dict[str, AgreementRecord] | None = None

        async def records_or_none() -> dict[str, AgreementRecord] | None:
            try:
                return await read_agreement_records(pc, cancel)
            except (NotFound, PermissionDenied):
                if source == "records":
                    raise
                return None  # no such source for this partner: read customer by customer

        if source == "per_customer" or (source == "auto" and mode == "full"):
            await list_all()  # `full` asks both reads of every customer: no record does
        else:
            _, records = await asyncio.gather(list_all(), records_or_none())
        summary.source = "records" if records is not None else "per_customer"

        previous: dict[str, dict[str, Any]] = {}
        if incremental and records is None:
            last = store.latest_snapshot(scope)
            if last is not None:
                previous = {r["customer_id"]: r for r in store.snapshot_rows(last.id)}

        rows: dict[str, dict[str, Any]] = {}
        to_ask: list[Customer] = []
        to_confirm: list[Customer] = []
        for customer in customers:
            record = records.get(customer.id) if records is not None else None
            before = previous.get(customer.id)
            if record is not None:
                rows[customer.id] = record_row(customer, record, current_since)
                summary.from_records += 1
                if confirm_with_direct_read and not rows[customer.id]["accepted"]:
                    to_confirm.append(customer)
            elif (
                before is not None
                and not before.get("error")
                and row_state(before, current_since) == "accepted"
            ):
                kept = dict(before)
                kept.update(
                    company_name=customer.company_name,
                    domain=customer.domain,
                    country=customer.country,
                    associated_partner_id=customer.associated_partner_id,
                )
                rows[customer.id] = kept
                summary.reused += 1
            else:
                to_ask.append(customer)

        total = len(customers)
        done = len(rows) - len(to_confirm)
        report(done, total, "status")
        status_mode = "full" if mode == "full" else "first_evidence"

        async def read(customer: Customer) -> None:
            try:
                status = await acceptance_status(
                    pc, customer.id, mode=status_mode, current_since=current_since
                )
                rows[customer.id] = status_row(customer, status)
            except McaError as exc:
                row = status_row(customer, None, error=f"{type(exc).__name__}: {exc}")
                kept = previous.get(customer.id)
                if kept is not None:  # keep the last known answer beside the error
                    row.update({key: kept.get(key) for key in _KEPT_ON_ERROR})
                rows[customer.id] = row

        async def confirm(customer: Customer) -> None:
            row = rows[customer.id]
            try:
                signed = await pc.get_direct_signing_status(customer.id)
            except McaError as exc:
                row["error"] = f"{type(exc).__name__}: {exc}"
                return
            summary.confirmed += 1
            row["direct_signed"] = signed
            row["accepted"] = row_state(row, current_since) == "accepted"

        work: list[tuple[Callable[[Customer], Awaitable[None]], Customer]] = [
            *((read, c) for c in to_ask),
            *((confirm, c) for c in to_confirm),
        ]
        pending = iter(work)

        async def worker() -> None:  # a few workers, not one task per customer (memory)
            nonlocal done
            for action, customer in pending:
                if stopped():
                    return
                await action(customer)
                done += 1
                report(done, total, "status")

        count = min(max(1, concurrency), len(work))
        workers = [asyncio.create_task(worker()) for _ in range(count)]
        try:
            await asyncio.gather(*workers)
        except BaseException:
            for task in workers:
                task.cancel()
            raise

        cancelled = stopped() or len(rows) < total
        ordered = [rows[c.id] for c in customers if c.id in rows]
        evidence: Counter[str] = Counter()  # judged once a row: the state follows from it
        for row in ordered:
            if row.get("error") or row.get("accepted") is None:
                summary.failed += 1
            else:
                evidence[
                    acceptance_evidence(
                        row.get("latest_date_agreed"), bool(row.get("direct_signed")), current_since
                    )
                ] += 1
            summary.attested += bool(row.get("attested"))
            summary.direct_signed += bool(row.get("direct_signed"))
        summary.by_attestation = evidence["attested"]
        summary.directly, summary.both = evidence["direct"], evidence["both"]
        summary.accepted = summary.by_attestation + summary.directly + summary.both
        summary.reacceptance_required = evidence["reacceptance_required"]
        summary.not_accepted = evidence["not_accepted"]
        summary.customers = total
        summary.api_calls = pc.stats.calls - calls_before
        summary.throttled = pc.stats.throttled - throttled_before
        summary.seconds = round(time.monotonic() - started, 3)
        summary.complete = not cancelled
        summary.snapshot_id = store.save_snapshot(
            ordered,
            taken_by=identity.display_name,
            scope=scope,
            mode=f"{mode}{'+incremental' if incremental else ''}",
            summary=summary.as_dict(),
            complete=summary.complete,
        )
        attempt.done(
            "done" if summary.complete else "cancelled",
            detail=(
                f"{summary.customers} customers, {summary.accepted} accepted, "
                f"{summary.failed} failed, {summary.api_calls} calls, source {summary.source}"
            ),
        )
    return summary
