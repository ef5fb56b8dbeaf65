"""Typed records of the domain. Wire JSON is parsed into these at the edge (`from_wire`),
so pages, use cases and the CLI never handle Partner Center's raw shapes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from mca_core.domain.names import format_person_name

MCA_AGREEMENT_TYPE = "MicrosoftCustomerAgreement"
CLOUD_AGREEMENT_TYPE = "MicrosoftCloudAgreement"
#: Where a customer accepts the MCA itself (Microsoft 365 admin center).
MCA_ACCEPTANCE_URL = "https://admin.microsoft.com/AdminPortal/Home?ref=/BillingAccounts/agreement"


class Role(StrEnum):
    """Partner Center agent roles (security groups in the partner tenant)."""

    ADMIN_AGENT = "admin_agent"
    SALES_AGENT = "sales_agent"
    HELPDESK_AGENT = "helpdesk_agent"
    #: The desk's own read-only role (a security group in `[mca.roles] managers`): metrics,
    #: Verify, reports, the follow-up list and the alert settings; never attests or sends.
    MANAGER = "manager"
    NONE = "none"

    @property
    def label(self) -> str:
        return {
            "admin_agent": "Admin agent",
            "sales_agent": "Sales agent",
            "helpdesk_agent": "Helpdesk agent",
            "manager": "Manager",
            "none": "No agent role",
        }[self.value]


class PartnerType(StrEnum):
    """Which kind of CSP partner the signed-in user works for."""

    DIRECT_BILL = "direct_bill"
    INDIRECT_PROVIDER = "indirect_provider"
    INDIRECT_RESELLER = "indirect_reseller"

    @property
    def label(self) -> str:
        return {
            "direct_bill": "Direct-bill partner",
            "indirect_provider": "Indirect provider",
            "indirect_reseller": "Indirect reseller",
        }[self.value]


class TokenKind(StrEnum):
    APP_USER = "app_user"
    APP_ONLY = "app_only"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True)


class Identity(_Record):
    """Who is acting: the signed-in partner user (or app) with the role the desk resolved."""

    user_id: str
    display_name: str
    email: str = ""
    role: Role = Role.NONE
    partner_type: PartnerType = PartnerType.DIRECT_BILL
    partner_tenant_id: str = ""
    partner_name: str = ""
    #: The indirect provider an indirect reseller works through (tenant id), when known.
    provider_tenant_id: str | None = None
    provider_name: str | None = None
    #: False when the role could not be known locally (a pre-acquired token): the service judges.
    role_known: bool = True


class Contact(_Record):
    """The person at the customer who accepted the MCA."""

    first_name: str
    last_name: str
    email: str
    phone_number: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Contact:
        return cls(
            first_name=data.get("firstName") or "",
            last_name=data.get("lastName") or "",
            email=data.get("email") or "",
            phone_number=data.get("phoneNumber") or None,
        )

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "firstName": self.first_name,
            "lastName": self.last_name,
            "email": self.email,
        }
        if self.phone_number:
            body["phoneNumber"] = self.phone_number
        return body

    @property
    def full_name(self) -> str:
        """As people write it: family name first for a CJK name (张伟), else "Jane Doe" (one
        function for screens, exports and emails: `domain.names`)."""
        return format_person_name(self.first_name, self.last_name)


class AgreementTemplate(_Record):
    template_id: str
    agreement_type: str
    agreement_link: str = ""
    version_rank: int = 0

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> AgreementTemplate:
        return cls(
            template_id=data["templateId"],
            agreement_type=data.get("agreementType") or "",
            agreement_link=data.get("agreementLink") or "",
            version_rank=int(data.get("versionRank") or 0),
        )


def parse_wire_datetime(value: str | datetime | date) -> datetime:
    """Partner Center dates come with or without a zone and fractional seconds; naive = UTC."""
    if isinstance(value, datetime):
        dt = value
    elif isinstance(value, date):
        dt = datetime(value.year, value.month, value.day)
    else:
        text = value.strip()
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        # Python 3.11 fromisoformat accepts 1-6 fractional digits; trim longer ones (.NET sends 7).
        if "." in text:
            head, _, rest = text.partition(".")
            digits = "".join(ch for ch in rest if ch.isdigit())
            zone = rest[len(digits) :]
            text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
        dt = datetime.fromisoformat(text)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def format_wire_date(day: date) -> str:
    """The `dateAgreed` form the docs show: midnight UTC with milliseconds."""
    return f"{day.isoformat()}T00:00:00.000Z"


class Attestation(_Record):
    """One stored MCA attestation (each re-attestation adds one)."""

    primary_contact: Contact
    template_id: str
    date_agreed: datetime
    type: str = MCA_AGREEMENT_TYPE
    agreement_link: str = ""
    user_id: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Attestation:
        return cls(
            primary_contact=Contact.from_wire(data.get("primaryContact") or {}),
            template_id=data.get("templateId") or "",
            date_agreed=parse_wire_datetime(data["dateAgreed"]),
            type=data.get("type") or "",
            agreement_link=data.get("agreementLink") or "",
            user_id=data.get("userId"),
        )


class AgreementRecord(_Record):
    """One customer's last MCA acceptance as `GET /v1/partners/customeragreementrecords` lists it
    (Microsoft's MCA refresh tool read these; the endpoint is undocumented, so its reading is an
    assumption the README states). `date` None: the record says the customer has no acceptance.
    `partner_attestation`: the last acceptance was the partner's attestation, else the customer's
    own (direct) acceptance."""

    customer_id: str
    date: datetime | None = None
    contact: Contact | None = None
    partner_attestation: bool = False

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> AgreementRecord:
        raw = data.get("lastAgreementPrimaryContact") or None
        contact = Contact.from_wire(raw) if isinstance(raw, dict) else None
        if contact is not None and not (contact.first_name or contact.last_name or contact.email):
            contact = None
        return cls(
            customer_id=str(data["customerTenantId"]).strip().lower(),
            date=epoch_datetime(data.get("lastAgreementDateEpoch")),
            contact=contact,
            partner_attestation=bool(data.get("partnerAttestationCompleted")),
        )


def epoch_datetime(value: Any) -> datetime | None:
    """`lastAgreementDateEpoch`: seconds or milliseconds (Microsoft's tool: more than ten digits
    means milliseconds); 0 or empty means no date."""
    if value in (None, "", 0, "0"):
        return None
    try:
        number = int(float(value))
    except (TypeError, ValueError):
        return None
    if number <= 0:
        return None
    seconds = number / 1000 if len(str(number)) > 10 else number
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        return None


class Customer(_Record):
    """A customer tenant as the partner sees it."""

    id: str
    tenant_id: str = ""
    domain: str = ""
    company_name: str = ""
    relationship: str = "reseller"
    #: The indirect reseller the customer belongs to (provider view), if any.
    associated_partner_id: str | None = None
    country: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any]) -> Customer:
        profile = data.get("companyProfile") or {}
        billing = data.get("billingProfile") or {}
        address = billing.get("defaultAddress") or {}
        return cls(
            id=data["id"],
            tenant_id=profile.get("tenantId") or data["id"],
            domain=profile.get("domain") or "",
            company_name=profile.get("companyName") or billing.get("companyName") or "",
            relationship=data.get("relationshipToPartner") or "none",
            associated_partner_id=data.get("associatedPartnerId") or None,
            country=address.get("country") or None,
        )


class Address(_Record):
    first_name: str
    last_name: str
    address_line1: str
    city: str
    state: str = ""
    postal_code: str = ""
    country: str
    phone_number: str = ""

    def to_wire(self) -> dict[str, Any]:
        return {
            "firstName": self.first_name,
            "lastName": self.last_name,
            "addressLine1": self.address_line1,
            "city": self.city,
            "state": self.state,
            "postalCode": self.postal_code,
            "country": self.country,
            "phoneNumber": self.phone_number,
        }


class NewCustomer(_Record):
    """What the partner types to create a customer tenant."""

    company_name: str
    domain_prefix: str
    email: str
    culture: str = "en-US"
    language: str = "en"
    address: Address
    associated_partner_id: str | None = None

    @property
    def domain(self) -> str:
        return f"{self.domain_prefix}.onmicrosoft.com"

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "enableGDAPByDefault": False,
            "companyProfile": {"domain": self.domain},
            "billingProfile": {
                "email": self.email,
                "culture": self.culture,
                "language": self.language,
                "companyName": self.company_name,
                "defaultAddress": self.address.to_wire(),
            },
        }
        if self.associated_partner_id:
            body["associatedPartnerId"] = self.associated_partner_id
        return body


class CustomerCredentials(_Record):
    """The new customer's first admin. The password is shown once and never stored."""

    user_name: str
    password: SecretStr


class CreatedCustomer(_Record):
    customer: Customer
    credentials: CustomerCredentials | None = None
    request_id: str | None = None

    @classmethod
    def from_wire(cls, data: dict[str, Any], request_id: str | None = None) -> CreatedCustomer:
        creds = data.get("userCredentials") or {}
        credentials = None
        if creds.get("userName"):
            user = creds["userName"]
            domain = (data.get("companyProfile") or {}).get("domain") or ""
            sign_in = user if "@" in user or not domain else f"{user}@{domain}"
            credentials = CustomerCredentials(
                user_name=sign_in, password=SecretStr(creds.get("password") or "")
            )
        return cls(
            customer=Customer.from_wire(data), credentials=credentials, request_id=request_id
        )


#: The day the current MCA took effect (the 2023 refresh): an acceptance dated before it is of an
#: earlier MCA, and such a customer must accept again before new orders (`current_mca_since`).
CURRENT_MCA_SINCE = date(2023, 4, 1)

#: Where a customer stands: a current acceptance (orders go through), only acceptances of an
#: earlier MCA (`reacceptance_required`: new orders are refused), or none.
AcceptanceState = Literal["accepted", "reacceptance_required", "not_accepted"]
ACCEPTANCE_STATES: tuple[AcceptanceState, ...] = (
    "accepted",
    "reacceptance_required",
    "not_accepted",
)


def acceptance_state(
    latest_date_agreed: date | datetime | None,
    direct_signed: bool | None,
    current_since: date = CURRENT_MCA_SINCE,
) -> AcceptanceState:
    """Judge acceptance as Partner Center enforces it for new orders. An attestation does not
    say which MCA it accepted, so its date decides (UTC day against `current_since`); direct
    acceptance in the admin center (`isSigned`) is taken as of the current MCA."""
    if direct_signed:
        return "accepted"
    if latest_date_agreed is None:
        return "not_accepted"
    if isinstance(latest_date_agreed, datetime):
        moment = latest_date_agreed
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment  # naive = UTC
        day = moment.astimezone(UTC).date()
    else:
        day = latest_date_agreed
    return "accepted" if day >= current_since else "reacceptance_required"


def acceptance_evidence(
    latest_date_agreed: date | datetime | None,
    direct_signed: bool,
    current_since: date = CURRENT_MCA_SINCE,
) -> str:
    """What an acceptance rests on: "attested" (a current attestation), "direct" (accepted in
    the admin center), "both", else the state ("reacceptance_required", "not_accepted")."""
    state = acceptance_state(latest_date_agreed, direct_signed, current_since)
    if state != "accepted":
        return state
    current = acceptance_state(latest_date_agreed, False, current_since) == "accepted"
    if current and direct_signed:
        return "both"
    return "attested" if current else "direct"


class AcceptanceStatus(_Record):
    """Where one customer stands on the MCA: accepted = a current attestation OR directly
    signed; an attestation older than `current_since` only is `reacceptance_required`."""

    customer_id: str
    #: Newest first. Empty when not attested (or not asked: see `attestations_checked`).
    attestations: tuple[Attestation, ...] = ()
    attestations_checked: bool = True
    #: None when not asked (the default sync stops at the first current evidence).
    direct_signed: bool | None = None
    #: The cutoff this status is judged by (settings: `current_mca_since`).
    current_since: date = CURRENT_MCA_SINCE

    @property
    def attested(self) -> bool:
        """Any attestation, current or of an earlier MCA."""
        return bool(self.attestations)

    @property
    def state(self) -> AcceptanceState:
        latest = self.latest_attestation
        return acceptance_state(
            latest.date_agreed if latest is not None else None,
            self.direct_signed,
            self.current_since,
        )

    @property
    def accepted(self) -> bool:
        """A current acceptance: new orders go through (else 403 / 13605)."""
        return self.state == "accepted"

    @property
    def reacceptance_required(self) -> bool:
        return self.state == "reacceptance_required"

    @property
    def latest_acceptance_date(self) -> date | None:
        """The latest attestation's agreement day (UTC); direct acceptance carries no date."""
        latest = self.latest_attestation
        return latest.date_agreed.astimezone(UTC).date() if latest is not None else None

    @property
    def latest_attestation(self) -> Attestation | None:
        return self.attestations[0] if self.attestations else None


class AttestationResult(_Record):
    """Outcome of one attest action: created, or already there (600061)."""

    customer_id: str
    outcome: str  # "attested" | "already_attested"
    attestation: Attestation | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    message: str = ""
    #: The statement the desk sent, as validated (also when Partner Center already held it).
    contact: Contact | None = None
    agreed_on: date | None = None


class AuditEvent(_Record):
    """One attempt by anyone, success or failure. Never holds a secret."""

    id: int | None = None
    at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    user_id: str
    user_name: str = ""
    role: str = ""
    partner_type: str = ""
    partner_tenant_id: str = ""
    action: str
    customer_id: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict)
    outcome: str
    detail: str = ""
    request_id: str | None = None
    correlation_id: str | None = None
