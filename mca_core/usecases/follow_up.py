"""The follow-up list: customers invited more than N days ago who have still not accepted.

A customer is listed when its newest invitation (generated or sent, `invitation_log.INVITED`)
is older than `older_than_days` (setting `follow_up_after_days`) and the latest snapshot still
finds it blocked (`metrics.BLOCKED_STATUSES`: not accepted, or only an acceptance of an earlier
MCA, judged against `current_mca_since`). One query joins the log's newest rows with the
snapshot; nothing is asked of Partner Center.

The one-click reminder is the same invitation again, to the same recipient in the same
language: for an enhanced acceptance link, the acceptance invitation of the customer's open
attestation (the one invited, else its newest open one); otherwise the existing-customer
invitation to accept (a new customer's temporary password is never kept, so it is not
repeated). A request to an indirect provider has no one-click reminder (its signer's details
are not kept): write it again from the Invitations page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from mca_core.domain.access import check_may_view_follow_up
from mca_core.domain.errors import InvalidInput, Problem
from mca_core.domain.models import Identity
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import AttestationState, EnhancedStore
from mca_core.store.invitation_log import InvitationEntry, InvitationLog
from mca_core.usecases.invitations import ENHANCED_KIND
from mca_core.usecases.metrics import BLOCKED_STATUSES
from mca_core.usecases.sync import row_state, snapshot_scope

#: What the reminder of each kind is (None: no one-click reminder).
REMINDER_KINDS: dict[str, str | None] = {
    "mca_new": "mca_existing",
    "mca_existing": "mca_existing",
    "reseller": "mca_existing",
    ENHANCED_KIND: ENHANCED_KIND,
    "provider_request": None,
}


@dataclass(frozen=True)
class FollowUpItem:
    """One customer to follow up: who, its state, and its newest invitation."""

    customer_id: str
    company_name: str
    domain: str
    #: "not_accepted" or "reacceptance_required" (in the latest snapshot).
    state: str
    kind: str
    recipient: str
    locale: str
    invited_at: datetime
    invited_by: str
    #: Whole days since the invitation.
    days: int
    #: "generated" (written for a mail program) or "sent" (by the desk).
    how: str
    attestation_id: str | None = None

    @property
    def reminder_kind(self) -> str | None:
        return REMINDER_KINDS.get(self.kind, "mca_existing")


@dataclass(frozen=True)
class ReminderOutcome:
    """What one reminder of a "remind all" run did: sent, written (no SMTP or no recipient:
    the page offers the one-click reminder's .eml instead), or failed (with its reason)."""

    customer_id: str
    company_name: str
    outcome: Literal["sent", "written", "failed"]
    to: str = ""
    reason: str = ""


def _now(now: datetime | None) -> datetime:
    moment = now or datetime.now(UTC)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def follow_up_list(
    store: Store,
    identity: Identity,
    *,
    backend: str,
    current_since: object,
    older_than_days: int,
    now: datetime | None = None,
) -> list[FollowUpItem]:
    """The follow-up list (see the module docstring), oldest invitation first. Empty before
    the first sync."""
    check_may_view_follow_up(identity)
    if older_than_days < 0:
        raise InvalidInput(
            Problem(
                "older_than_days",
                f"{older_than_days} is not a number of days.",
                "Give 0 or more days.",
                code="bad_days",
            )
        )
    snapshot = store.latest_snapshot(snapshot_scope(identity, backend))
    if snapshot is None:
        return []
    moment = _now(now)
    before = moment - timedelta(days=older_than_days)
    items: list[FollowUpItem] = []
    for entry, row in InvitationLog(store).follow_up_rows(
        identity.partner_tenant_id, snapshot.id, before
    ):
        state = row_state(row, current_since)  # type: ignore[arg-type]
        if state not in BLOCKED_STATUSES:
            continue
        items.append(_item(entry, row, str(state), moment))
    return items


def _item(entry: InvitationEntry, row: dict, state: str, now: datetime) -> FollowUpItem:
    return FollowUpItem(
        customer_id=str(entry.customer_id),
        company_name=str(row.get("company_name") or entry.company_name or ""),
        domain=str(row.get("domain") or ""),
        state=state,
        kind=entry.kind,
        recipient=entry.recipient,
        locale=entry.locale or "en",
        invited_at=entry.at,
        invited_by=entry.user_name or entry.user_id,
        days=max(0, (now - entry.at).days),
        how=entry.how,
        attestation_id=entry.attestation_id,
    )


def latest_invitation(store: Store, identity: Identity, customer_id: str) -> InvitationEntry:
    """The customer's newest invitation (what a reminder repeats); InvalidInput when none."""
    found = InvitationLog(store).latest_by_customer(identity.partner_tenant_id, [customer_id])
    entry = found.get(customer_id)
    if entry is None:
        raise InvalidInput(
            Problem(
                "customer",
                "The desk has recorded no invitation for this customer.",
                "Write one from the Invitations page first.",
                code="not_invited",
            )
        )
    if REMINDER_KINDS.get(entry.kind, "mca_existing") is None:
        raise InvalidInput(
            Problem(
                "customer",
                "A request to your indirect provider has no one-click reminder (the signer's "
                "details are not kept).",
                "Write the request again from the Invitations page.",
                code="no_reminder",
            )
        )
    return entry


def open_attestation(
    store: Store, identity: Identity, entry: InvitationEntry, now: datetime | None = None
):  # -> EnhancedAttestation
    """The attestation whose link an enhanced reminder carries: the one invited while its link
    is open, else the customer's newest open link; InvalidInput naming the fix when none."""
    journal = EnhancedStore(store)
    moment = _now(now)
    candidates = journal.for_customer(identity.partner_tenant_id, str(entry.customer_id))
    invited = [
        r for r in candidates if r.attestation_id and r.attestation_id == entry.attestation_id
    ]
    for record in [*invited, *candidates]:
        if record.current_state(moment) is AttestationState.LINK_SENT and record.acceptance_link:
            return record
    raise InvalidInput(
        Problem(
            "attestation",
            "The customer's acceptance link is no longer open (it expired, or the customer "
            "accepted).",
            "Create a new link from the Attest page, or finalise if the customer accepted.",
            code="link_not_sendable",
        )
    )


__all__ = [
    "REMINDER_KINDS",
    "FollowUpItem",
    "ReminderOutcome",
    "follow_up_list",
    "latest_invitation",
    "open_attestation",
]
