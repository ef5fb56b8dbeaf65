"""Create a customer tenant, and optionally attest for it in the same step.

Partner Center has no "create and attest" call: creating a customer does not attest. So this is
two calls, and the second may fail after the first succeeded. The customer then stays created,
the outcome says so, and a retry with the SAME request ids is safe: POST /v1/customers and the
attestation are idempotent on MS-RequestId, so the service answers the stored customer again
instead of creating a second one. Everything is validated before the first call (the attestation
too), access is checked here as well as in the page, and every attempt is audited without the
new customer's password.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, replace
from datetime import date, datetime, tzinfo
from typing import Literal

from mca_core.domain.errors import InvalidInput, McaError, Problem, TransportError
from mca_core.domain.models import (
    Address,
    AttestationResult,
    Contact,
    CreatedCustomer,
    Customer,
    CustomerCredentials,
    Identity,
    NewCustomer,
    PartnerType,
)
from mca_core.domain.validation import (
    check_country,
    check_customer_id,
    check_domain_prefix,
    check_email,
    check_may_attest,
    check_may_create_customer,
    check_person_name,
    check_phone,
    check_required_text,
)
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.database import Store
from mca_core.usecases import audit
from mca_core.usecases.attestation import attest_customer, prepare_attestation

ACTION = "create_customer"
COMPANY_NAME_MAX_LENGTH = 255
#: Cultures offered for a new customer's billing profile (culture -> billing language).
CULTURES: dict[str, str] = {
    "en-US": "en",
    "en-GB": "en",
    "en-AU": "en",
    "en-CA": "en",
    "en-IN": "en",
    "en-SG": "en",
    "zh-CN": "zh-hans",
    "zh-TW": "zh-hant",
    "zh-HK": "zh-hant",
    "ja-JP": "ja",
    "ko-KR": "ko",
    "de-DE": "de",
    "fr-FR": "fr",
    "es-ES": "es",
    "it-IT": "it",
    "nl-NL": "nl",
    "pt-BR": "pt-br",
}
_CULTURE_RE = re.compile(r"^[a-z]{2,3}-[A-Z]{2}$")

#: How the new customer's MCA gets accepted: the partner attests now, or the customer accepts
#: it in the Microsoft 365 admin center (as Partner Center's own "new customer" screen offers).
AgreementChoice = Literal["attest_now", "customer_accepts"]


@dataclass(frozen=True)
class NewCustomerOutcome:
    """A created customer and what became of its attestation.

    `attestation_error` set means: the customer EXISTS, only the attestation failed; retry with
    the same request ids. The credentials are the customer's first admin: show them once.
    """

    created: CreatedCustomer
    attestation_requested: bool
    attestation: AttestationResult | None = None
    attestation_error: McaError | None = None

    @property
    def customer(self) -> Customer:
        return self.created.customer

    @property
    def credentials(self) -> CustomerCredentials | None:
        return self.created.credentials

    @property
    def attestation_failed(self) -> bool:
        return self.attestation_error is not None

    @property
    def complete(self) -> bool:
        """Everything asked for is done (the attestation too, when one was asked)."""
        return not self.attestation_requested or self.attestation is not None

    def without_credentials(self) -> NewCustomerOutcome:
        """The same outcome with the password dropped (after it was shown once)."""
        return replace(self, created=self.created.model_copy(update={"credentials": None}))


def culture_language(culture: str) -> str:
    """The billing-profile language that goes with a culture (en-US -> en, zh-CN -> zh-hans)."""
    return CULTURES.get(culture) or culture.split("-", 1)[0].lower()


def check_culture(value: object, field: str = "culture") -> str | Problem:
    text = str(value or "").strip().replace("_", "-")
    lang, _, region = text.partition("-")
    text = f"{lang.lower()}-{region.upper()}" if region else lang.lower()
    if not _CULTURE_RE.match(text):
        return Problem(
            field,
            f"'{value}' is not a culture such as en-US or zh-CN.",
            "Choose the customer's language and region from the list.",
            code="bad_culture",
            params={"value": str(value)},
        )
    return text


def check_new_customer(new: NewCustomer, identity: Identity | None = None) -> NewCustomer:
    """Every field of a new customer checked at once; returns the cleaned record.

    Field names (for the UI's labels): company_name, domain_prefix, email, culture,
    address.first_name, address.last_name, address.address_line1, address.city, address.state,
    address.postal_code, address.country, address.phone_number, associated_partner_id.
    """
    a = new.address
    country = check_country(a.country, "address.country")
    region = country if isinstance(country, str) else None
    results: dict[str, object] = {
        "company_name": check_required_text(
            new.company_name, "company_name", "Company name", COMPANY_NAME_MAX_LENGTH
        ),
        "domain_prefix": check_domain_prefix(new.domain_prefix),
        "email": check_email(new.email, "email"),
        "culture": check_culture(new.culture),
        "first_name": check_person_name(a.first_name, "address.first_name", "First name"),
        "last_name": check_person_name(a.last_name, "address.last_name", "Last name"),
        "address_line1": check_required_text(a.address_line1, "address.address_line1", "Address"),
        "city": check_required_text(a.city, "address.city", "City", 100),
        "country": country,
        "phone": check_phone(a.phone_number, "address.phone_number", region),
    }
    state = a.state.strip()
    postal_code = a.postal_code.strip()
    partner_id: str | None = None
    if new.associated_partner_id and new.associated_partner_id.strip():
        checked = check_customer_id(new.associated_partner_id, "associated_partner_id")
        if isinstance(checked, Problem):
            checked = replace(
                checked,
                reason=f"'{new.associated_partner_id}' is not an indirect reseller's tenant id.",
                fix="Paste the indirect reseller's tenant id (a GUID), or leave it empty.",
                code="bad_partner_id",
            )
        elif identity is not None and identity.partner_type is not PartnerType.INDIRECT_PROVIDER:
            checked = Problem(
                "associated_partner_id",
                "Only an indirect provider creates customers for an indirect reseller.",
                "Leave the indirect reseller empty.",
                code="not_provider",
            )
        results["associated_partner_id"] = checked
        partner_id = checked if isinstance(checked, str) else None
    problems = [r for r in results.values() if isinstance(r, Problem)]
    if problems:
        raise InvalidInput(problems)
    culture = str(results["culture"])
    return NewCustomer(
        company_name=str(results["company_name"]),
        domain_prefix=str(results["domain_prefix"]),
        email=str(results["email"]),
        culture=culture,
        language=new.language.strip() or culture_language(culture),
        address=Address(
            first_name=str(results["first_name"]),
            last_name=str(results["last_name"]),
            address_line1=str(results["address_line1"]),
            city=str(results["city"]),
            state=state,
            postal_code=postal_code,
            country=str(results["country"]),
            phone_number=str(results["phone"] or ""),
        ),
        associated_partner_id=partner_id,
    )


def check_attestation(
    attestation: tuple[Contact, date],
    *,
    now: datetime | None = None,
    user_tz: tzinfo | None = None,
) -> tuple[Contact, date]:
    """The attestation part of a new customer, checked like an existing customer's; problems
    are named `attestation.<field>` so they are not confused with the primary contact's."""
    contact, day = attestation
    try:
        return prepare_attestation(
            contact.first_name,
            contact.last_name,
            contact.email,
            contact.phone_number,
            day,
            now=now,
            user_tz=user_tz,
        )
    except InvalidInput as exc:
        raise InvalidInput(
            [replace(p, field=f"attestation.{p.field}") for p in exc.problems]
        ) from None


def check_new_customer_request(
    identity: Identity,
    new: NewCustomer,
    attestation: tuple[Contact, date] | None,
    *,
    now: datetime | None = None,
    user_tz: tzinfo | None = None,
) -> tuple[NewCustomer, tuple[Contact, date] | None]:
    """Access and every field (the customer's and the attestation's) at once, with no call:
    what the review step shows and what creation checks again."""
    check_may_create_customer(identity)
    if attestation is not None:
        check_may_attest(identity)
    problems: list[Problem] = []
    clean = new
    prepared: tuple[Contact, date] | None = None
    try:
        clean = check_new_customer(new, identity)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    if attestation is not None:
        try:
            prepared = check_attestation(attestation, now=now, user_tz=user_tz)
        except InvalidInput as exc:
            problems.extend(exc.problems)
    if problems:
        raise InvalidInput(problems)
    return clean, prepared


def _inputs(new: NewCustomer, agreement: AgreementChoice | None) -> dict[str, object]:
    """What the audit log keeps of a creation: never the first admin's password."""
    inputs: dict[str, object] = {
        "company_name": new.company_name,
        "domain": new.domain,
        "email": new.email,
        "culture": new.culture,
        "country": new.address.country,
    }
    if new.associated_partner_id:
        inputs["associated_partner_id"] = new.associated_partner_id
    if agreement:
        inputs["agreement"] = agreement
    return inputs


async def _create(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    new: NewCustomer,
    *,
    request_id: str,
    agreement: AgreementChoice | None,
    checked: bool = False,
) -> CreatedCustomer:
    with audit.attempt(
        store, identity, ACTION, inputs=_inputs(new, agreement), check=check_may_create_customer
    ) as attempt:
        clean = new if checked else check_new_customer(new, identity)
        attempt.inputs = _inputs(clean, agreement)
        created = await pc.create_customer(clean, request_id=request_id)
        attempt.customer_id = created.customer.id
        attempt.done(
            "created",
            detail=f"Created {created.customer.company_name} ({created.customer.domain}).",
            request_id=created.request_id or request_id,
        )
    return created


async def create_customer(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    new: NewCustomer,
    *,
    request_id: str,
) -> CreatedCustomer:
    """Create the customer tenant (validated, access-checked, audited without the password).

    Pass the same `request_id` to retry: the service answers the customer it already created.
    """
    return await _create(pc, store, identity, new, request_id=request_id, agreement=None)


async def create_customer_with_attestation(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    new: NewCustomer,
    attestation: tuple[Contact, date] | None,
    *,
    create_request_id: str,
    attest_request_id: str,
    now: datetime | None = None,
    user_tz: tzinfo | None = None,
) -> NewCustomerOutcome:
    """Create the customer, then attest for it when `attestation` is given.

    Raises (nothing created) when the input is invalid, the user may not do it, or the creation
    fails. Returns with `attestation_error` when only the attestation failed: the customer
    stays created; call again with the same request ids to retry without creating it twice.
    `attestation=None` means the customer will accept the MCA in the admin center itself.
    """
    agreement: AgreementChoice = "attest_now" if attestation is not None else "customer_accepts"
    with audit.attempt(store, identity, ACTION, inputs=_inputs(new, agreement)):
        clean, prepared = check_new_customer_request(  # the access rules, then every field
            identity, new, attestation, now=now, user_tz=user_tz
        )
    created = await _create(
        pc,
        store,
        identity,
        clean,
        request_id=create_request_id,
        agreement=agreement,
        checked=True,
    )
    if prepared is None:
        return NewCustomerOutcome(created=created, attestation_requested=False)
    contact, day = prepared
    try:
        result = await attest_customer(
            pc,
            store,
            identity,
            customer=created.customer.id,
            first_name=contact.first_name,
            last_name=contact.last_name,
            email=contact.email,
            phone=contact.phone_number,
            date_agreed=day,
            now=now,
            user_tz=user_tz,
            request_id=attest_request_id,
        )
    except McaError as exc:  # already audited by attest_customer
        return NewCustomerOutcome(
            created=created, attestation_requested=True, attestation_error=exc
        )
    return NewCustomerOutcome(created=created, attestation_requested=True, attestation=result)


def request_id_after(error: McaError, request_id: str) -> str:
    """The MS-RequestId for the next try after `error`.

    Keep the same id when no answer came (the first try may have been applied: the same id
    makes the service answer it again instead of acting twice); a new one after any answer.
    """
    return request_id if isinstance(error, TransportError) else new_request_id()


def new_request_id() -> str:
    return str(uuid.uuid4())
