"""Where a customer stands on the MCA: accepted = an MCA attestation exists OR isSigned."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Literal

from mca_core.domain.errors import InvalidInput, NotFound, Problem
from mca_core.domain.models import CURRENT_MCA_SINCE, AcceptanceStatus, Customer
from mca_core.domain.validation import classify_customer_ref
from mca_core.partner_center.client import PartnerCenterClient

#: `full` asks both calls; `first_evidence` stops as soon as acceptance is proven.
StatusMode = Literal["full", "first_evidence"]


async def acceptance_status(
    pc: PartnerCenterClient,
    customer_id: str,
    *,
    mode: StatusMode = "full",
    current_since: date = CURRENT_MCA_SINCE,
) -> AcceptanceStatus:
    """Read attestations and direct signing. In `first_evidence` mode, attestations are asked
    first (the commoner evidence) and direct signing only when none of them is current (none,
    or only acceptances of an earlier MCA, dated before `current_since`)."""
    if mode == "full":
        attestations, signed = await asyncio.gather(
            pc.get_attestations(customer_id), pc.get_direct_signing_status(customer_id)
        )
        return AcceptanceStatus(
            customer_id=customer_id,
            attestations=tuple(attestations),
            direct_signed=signed,
            current_since=current_since,
        )
    found = AcceptanceStatus(
        customer_id=customer_id,
        attestations=tuple(await pc.get_attestations(customer_id)),
        current_since=current_since,
    )
    if found.accepted:
        return found
    signed = await pc.get_direct_signing_status(customer_id)
    return found.model_copy(update={"direct_signed": signed})


def unknown_customer(field: str, value: str) -> InvalidInput:
    """A tenant id Partner Center does not show to this partner, as the user's mistake."""
    return InvalidInput(
        Problem(
            field,
            f"No customer with tenant id {value} is visible to your partner account.",
            "Check the id, or search the customer by name or domain.",
            code="unknown_customer",
            params={"value": value},
        )
    )


async def customer_id_for(pc: PartnerCenterClient, reference: str, field: str = "customer") -> str:
    """The tenant id to act on: a tenant id as given (no request: the action's own call says
    404 for an unknown one), a domain through the customer list filter."""
    kind, value = classify_customer_ref(reference, field)
    if kind == "id":
        return value
    return (await resolve_customer(pc, value, field)).id


async def resolve_customer(
    pc: PartnerCenterClient, reference: str, field: str = "customer"
) -> Customer:
    """A tenant id or a domain -> the customer (a domain through the customer list filter)."""
    kind, value = classify_customer_ref(reference, field)
    if kind == "id":
        try:
            return await pc.get_customer(value)
        except NotFound as exc:
            raise unknown_customer(field, value) from exc
    found = await pc.find_customers_by_domain(value)
    if not found:
        raise InvalidInput(
            Problem(
                field,
                f"No customer with domain {value} is visible to your partner account.",
                "Check the spelling, or use the tenant id.",
                code="unknown_customer",
                params={"value": value},
            )
        )
    return found[0]
