"""Attest for an existing customer: the partner confirms the customer accepted the MCA.

The use case enforces the access rule itself (hiding a button is not authorization), validates
everything before any call, treats 600061 as "already attested with these details", and audits
every attempt, refused, invalid, failed or done.
"""

from __future__ import annotations

from datetime import date, datetime, tzinfo

from mca_core.domain.errors import (
    CLASSIC_RETIRED_CODE,
    CLASSIC_RETIRED_STATUS,
    AlreadyAttested,
    ClassicAttestationRetired,
    InvalidInput,
    NotFound,
    Problem,
    ServiceError,
)
from mca_core.domain.models import AttestationResult, Contact, Identity
from mca_core.domain.validation import check_date_agreed, check_may_attest, validate_contact
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.database import Store
from mca_core.usecases import audit
from mca_core.usecases.status import customer_id_for, unknown_customer

ACTION = "attest"


def contact_inputs(contact: Contact | None, raw: dict[str, object], day: object) -> dict:
    """What the audit log keeps of an attestation's input (no secret is ever part of it)."""
    if contact is not None:
        base = contact.model_dump()
    else:
        base = {k: ("" if v is None else str(v))[:200] for k, v in raw.items()}
    base["date_agreed"] = str(day) if day is not None else ""
    return base


def prepare_attestation(
    first_name: object,
    last_name: object,
    email: object,
    phone: object = None,
    date_agreed: object = None,
    *,
    now: datetime | None = None,
    user_tz: tzinfo | None = None,
) -> tuple[Contact, date]:
    """Validate the form as a whole (every problem reported at once). The date is required:
    it is the legal content of the attestation, so it is never defaulted."""
    problems: list[Problem] = []
    contact: Contact | None = None
    try:
        contact = validate_contact(first_name, last_name, email, phone)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    day = check_date_agreed(date_agreed, now=now, user_tz=user_tz)
    if isinstance(day, Problem):
        problems.append(day)
    if problems or contact is None:
        raise InvalidInput(problems)
    assert isinstance(day, date)
    return contact, day


async def attest_customer(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    customer: str,
    first_name: object,
    last_name: object,
    email: object,
    phone: object = None,
    date_agreed: object = None,
    now: datetime | None = None,
    user_tz: tzinfo | None = None,
    request_id: str | None = None,
    retired_status: int = CLASSIC_RETIRED_STATUS,
    retired_code: int | str = CLASSIC_RETIRED_CODE,
) -> AttestationResult:
    """Attest for the customer given by tenant id or domain. Returns attested/already_attested.

    Microsoft retired this call on 2026-01-05: an answer with `retired_status` and
    `retired_code` (settings `classic_retired_status` / `classic_retired_code`; the real ones
    are not public) raises ClassicAttestationRetired, audited as failed, naming the enhanced flow.
    """
    raw = {"first_name": first_name, "last_name": last_name, "email": email, "phone": phone}
    with audit.attempt(
        store,
        identity,
        ACTION,
        customer_id=customer if isinstance(customer, str) else str(customer),
        inputs=contact_inputs(None, raw, date_agreed),
        check=check_may_attest,
    ) as attempt:
        contact, day = prepare_attestation(
            first_name, last_name, email, phone, date_agreed, now=now, user_tz=user_tz
        )
        attempt.inputs = contact_inputs(contact, raw, day)
        # One request per click: a tenant id is posted to as given (404: unknown customer),
        # and the MCA template id is read once per process.
        customer_id = await customer_id_for(pc, customer)
        attempt.customer_id = customer_id
        await pc.get_mca_template()
        try:
            result = await pc.attest(customer_id, contact, day, request_id=request_id)
        except ServiceError as exc:
            if ClassicAttestationRetired.matches(exc, retired_status, retired_code):
                raise ClassicAttestationRetired.from_error(exc) from exc
            if isinstance(exc, NotFound):
                raise unknown_customer("customer", customer_id) from exc
            if not isinstance(exc, AlreadyAttested):
                raise
            result = AttestationResult(
                customer_id=customer_id,
                outcome="already_attested",
                request_id=exc.request_id,
                correlation_id=exc.correlation_id,
                message="Already attested with these details: nothing new was stored.",
            )
        result = result.model_copy(update={"contact": contact, "agreed_on": day})
        attempt.done(
            result.outcome,
            detail=result.message,
            request_id=result.request_id,
            correlation_id=result.correlation_id,
        )
    return result
