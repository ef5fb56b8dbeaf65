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
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from typing import Any, Literal

from mca_core.domain import access
from mca_core.domain.errors import McaError
from mca_core.domain.models import (
    CURRENT_MCA_SINCE,
    AcceptanceState,
    AcceptanceStatus,
    Contact,
    Customer,
    Identity,
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
    complete: bool = True
    snapshot_id: int | None = None

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
) -> SyncSummary:
    """List customers, read each one's acceptance, store a snapshot; return the summary.
    Acceptance is judged against the current MCA (`current_since`)."""
    with audit.attempt(  # a refusal is an attempt too: audited like every other
        store,
        identity,
        ACTION,
        inputs={"mode": mode, "incremental": incremental},
        check=access.check_may_sync,
    ) as attempt:
        started = time.monotonic()
        calls_before = pc.stats.calls
        throttled_before = pc.stats.throttled
        scope = snapshot_scope(identity, backend)
        summary = SyncSummary(mode=mode, incremental=incremental)
        report = progress or (lambda done, total, phase: None)

        customers: list[Customer] = []
        async for page in pc.iter_customer_pages():  # no list, no snapshot: audited as failed
            customers.extend(page)
            report(0, len(customers), "listing")
            if cancel is not None and cancel.is_set():
                break

        previous: dict[str, dict[str, Any]] = {}
        if incremental:
            last = store.latest_snapshot(scope)
            if last is not None:
                previous = {r["customer_id"]: r for r in store.snapshot_rows(last.id)}

        rows: dict[str, dict[str, Any]] = {}
        to_ask: list[Customer] = []
        for customer in customers:
            before = previous.get(customer.id)
            reusable = before is not None and not before.get("error")
            if reusable and row_state(before, current_since) == "accepted":
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
        done = len(rows)
        report(done, total, "status")
        gate = asyncio.Semaphore(max(1, concurrency))
        status_mode = "full" if mode == "full" else "first_evidence"

        async def one(customer: Customer) -> None:
            nonlocal done
            async with gate:
                if cancel is not None and cancel.is_set():
                    return
                try:
                    status = await acceptance_status(
                        pc, customer.id, mode=status_mode, current_since=current_since
                    )
                    rows[customer.id] = status_row(customer, status)
                except McaError as exc:
                    kept = previous.get(customer.id)
                    row = status_row(customer, None, error=f"{type(exc).__name__}: {exc}")
                    if kept is not None:  # keep the last known answer beside the error
                        for key in (
                            "attested",
                            "direct_signed",
                            "accepted",
                            "attestation_count",
                            "latest_date_agreed",
                            "latest_contact_name",
                            "latest_contact_email",
                            "latest_attested_by",
                        ):
                            row[key] = kept.get(key)
                    rows[customer.id] = row
                done += 1
                report(done, total, "status")

        tasks = [asyncio.create_task(one(c)) for c in to_ask]
        try:
            await asyncio.gather(*tasks)
        except asyncio.CancelledError:
            for task in tasks:
                task.cancel()
            raise

        cancelled = (cancel is not None and cancel.is_set()) or len(rows) < total
        ordered = [rows[c.id] for c in customers if c.id in rows]
        for row in ordered:
            state = row_state(row, current_since)
            if row.get("error") or state is None:
                summary.failed += 1
            elif state == "accepted":
                summary.accepted += 1
            elif state == "reacceptance_required":
                summary.reacceptance_required += 1
            else:
                summary.not_accepted += 1
            summary.attested += bool(row.get("attested"))
            summary.direct_signed += bool(row.get("direct_signed"))
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
                f"{summary.failed} failed, {summary.api_calls} calls"
            ),
        )
    return summary
