"""Verify one customer: every MCA attestation, direct acceptance, the verdict, the next step.

Partner Center keeps who attested only as a `userId` (an object id). The desk's audit log knows
more (the agent's name and role, and when): each attestation is matched to the audit event that
created it by contact email and agreement date, and falls back to the `userId` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

from mca_core.domain.access import check_may_verify
from mca_core.domain.models import (
    CURRENT_MCA_SINCE,
    AcceptanceStatus,
    Attestation,
    AttestationResult,
    AuditEvent,
    Customer,
    Identity,
    PartnerType,
    Role,
)
from mca_core.domain.validation import may_attest
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.database import Store
from mca_core.usecases import audit
from mca_core.usecases.status import acceptance_status, resolve_customer

ACTION = "verify"
#: Audit actions whose "attested" events created an attestation (`finalise`: the enhanced
#: channel's agreement).
ATTEST_ACTIONS = ("attest", "bulk_attest", "finalise")

#: What to do next: nothing; attest (the user may); send the customer an invitation to accept
#: in the admin center (the user may not attest); ask the indirect provider (indirect reseller);
#: ask an Admin or Sales agent (a Manager, read-only: neither attests nor sends).
NextStep = Literal["none", "attest", "invite", "ask_provider", "ask_agent"]

NEXT_STEP_TEXT: dict[str, str] = {
    "none": "Nothing to do: the customer has accepted the MCA and orders can be placed.",
    "attest": "If the customer has accepted the MCA, attest for it (the contact of the person "
    "who accepted and the date); otherwise send it an invitation to accept in the Microsoft 365 "
    "admin center.",
    "invite": "Send the customer an invitation to accept the MCA in the Microsoft 365 admin "
    "center, or ask an Admin agent or a Sales agent to attest.",
    "ask_provider": "Ask your indirect provider to attest for the customer (Invitations → "
    "Request to my indirect provider), or invite the customer to accept in the admin center.",
    "ask_agent": "Ask an Admin agent or a Sales agent to attest for the customer, or to send it "
    "an invitation to accept the MCA in the Microsoft 365 admin center.",
}


@dataclass(frozen=True)
class VerifiedAttestation:
    """One stored attestation and who made it, as far as the desk knows."""

    attestation: Attestation
    #: The agent's name from the audit log, else Partner Center's userId (or None).
    attested_by: str | None
    #: "audit" when the desk's audit log knows the agent, "partner_center" for the bare userId.
    attested_by_source: Literal["audit", "partner_center"] | None = None
    attested_by_role: str | None = None
    #: When the agent attested (audit log time, UTC); the agreement date is on the attestation.
    attested_at: datetime | None = None


@dataclass(frozen=True)
class Verification:
    customer: Customer
    status: AcceptanceStatus
    #: Newest agreement date first.
    attestations: tuple[VerifiedAttestation, ...]
    next_step: NextStep
    checked_at: datetime

    @property
    def accepted(self) -> bool:
        return self.status.accepted

    @property
    def can_order(self) -> bool:
        """Without acceptance Partner Center refuses orders (403 / 13605)."""
        return self.status.accepted

    @property
    def direct_signed(self) -> bool:
        return bool(self.status.direct_signed)

    @property
    def verdict(self) -> str:
        return self.status.state.replace("_", " ")

    @property
    def state(self) -> str:
        return self.status.state

    @property
    def next_step_text(self) -> str:
        return NEXT_STEP_TEXT[self.next_step]


def next_step_for(identity: Identity, accepted: bool) -> NextStep:
    if accepted:
        return "none"
    if identity.role_known and identity.role is Role.MANAGER:
        return "ask_agent"  # read-only: neither attests nor sends
    if identity.partner_type is PartnerType.INDIRECT_RESELLER:
        return "ask_provider"
    return "attest" if may_attest(identity) else "invite"


def _same_day(event: AuditEvent, attestation: Attestation) -> bool:
    day = str(event.inputs.get("date_agreed") or "")[:10]
    return day == attestation.date_agreed.date().isoformat()


def _same_contact(event: AuditEvent, attestation: Attestation) -> bool:
    email = str(event.inputs.get("email") or "").strip().casefold()
    return bool(email) and email == attestation.primary_contact.email.strip().casefold()


def attribute(
    attestations: tuple[Attestation, ...] | list[Attestation], events: list[AuditEvent]
) -> tuple[VerifiedAttestation, ...]:
    """Match each attestation to the audit event that made it (newest event wins, once each)."""
    unused = list(events)
    out: list[VerifiedAttestation] = []
    for item in attestations:
        match = next((e for e in unused if _same_contact(e, item) and _same_day(e, item)), None)
        if match is not None:
            unused.remove(match)
            out.append(
                VerifiedAttestation(
                    attestation=item,
                    attested_by=match.user_name or match.user_id,
                    attested_by_source="audit",
                    attested_by_role=match.role or None,
                    attested_at=match.at,
                )
            )
        else:
            out.append(
                VerifiedAttestation(
                    attestation=item,
                    attested_by=item.user_id,
                    attested_by_source="partner_center" if item.user_id else None,
                )
            )
    return tuple(out)


async def verify_customer(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    reference: str,
    *,
    now: datetime | None = None,
    current_since: date = CURRENT_MCA_SINCE,
) -> Verification:
    """Look a customer up by tenant id or domain and say where it stands and what to do next."""
    with audit.attempt(
        store,
        identity,
        ACTION,
        customer_id=str(reference),
        inputs={"customer": reference},
        check=check_may_verify,
    ) as attempt:
        customer = await resolve_customer(pc, reference)
        attempt.customer_id = customer.id
        status = await acceptance_status(pc, customer.id, mode="full", current_since=current_since)
        events = (
            store.audit(customer_id=customer.id, action=list(ATTEST_ACTIONS), outcome="attested")
            if store is not None
            else []
        )
        result = Verification(
            customer=customer,
            status=status,
            attestations=attribute(status.attestations, events),
            next_step=next_step_for(identity, status.accepted),
            checked_at=(now or datetime.now(UTC)).astimezone(UTC),
        )
        attempt.done(
            status.state,
            detail=(
                f"{len(status.attestations)} attestation(s), direct acceptance "
                f"{'yes' if status.direct_signed else 'no'}."
            ),
        )
    return result


def after_attestation(
    found: Verification, result: AttestationResult, identity: Identity
) -> Verification:
    """The verification as it stands after this attestation, without reading Partner Center
    again: one attest click makes only the requests it needs (the POST answers with the stored
    attestation). An already-attested answer changes nothing."""
    stored = result.attestation
    if result.outcome != "attested" or stored is None or result.customer_id != found.customer.id:
        return found
    made = VerifiedAttestation(
        attestation=stored,
        attested_by=identity.display_name or identity.user_id,
        attested_by_source="audit",
        attested_by_role=identity.role.value or None,
        attested_at=datetime.now(UTC),
    )
    items = sorted(
        (made, *found.attestations), key=lambda v: v.attestation.date_agreed, reverse=True
    )
    status = found.status.model_copy(update={"attestations": tuple(v.attestation for v in items)})
    return Verification(
        customer=found.customer,
        status=status,
        attestations=tuple(items),
        next_step=next_step_for(identity, status.accepted),
        checked_at=found.checked_at,
    )
