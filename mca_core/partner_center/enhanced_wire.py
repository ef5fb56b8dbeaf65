"""Every path and JSON name of the *enhanced attestation* flow, in one place.

Microsoft retired the classic attestation call (``POST /v1/customers/{id}/agreements`` with a
contact and a date) on 2026-01-05. The enhanced flow replaces it: the partner creates an
attestation (App-only), the customer accepts the MCA on a Microsoft-hosted page, and the partner
creates the agreement with the attestation id. Microsoft's page describing it is only partly
public, so most names below are **assumed** (from partner integrations, or the emulator's own
choice). Each is marked:

* ``confirmed``: in Microsoft's text;
* ``assumed``: seen in partner integrations or inferred; may need correcting;
* ``assumed (emulator only?)``: no Microsoft call or name is known; the emulator offers one and
  the desk copes when the real service has none.

A partner corrects an assumed name from Microsoft's current page by changing its default here, or
without touching code through configuration: ``[mca.enhanced_wire]`` in ``.streamlit/secrets.toml``
(``signatory_email = "signatoryEmailAddress"``) or ``MCA_ENHANCED_WIRE`` holding the same as JSON.
A few names may be emptied (:data:`MAY_BE_EMPTY`): the field is then not sent (the customer of
the create body, the requested link lifetime, the finalise's template id) or the call not made
(the status read). Status values are comma-separated lists compared case-insensitively
(partner tools write ``customeraccepted``; older integrations ``Accepted``).
Use cases never spell a path or a JSON name; they call the functions at the bottom. The README's
table is generated from :data:`WIRE_FIELDS` (``wire_table_markdown``) and a test keeps them equal.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from string import Formatter
from typing import Any
from urllib.parse import quote

from mca_core.domain.errors import ConfigurationError, ServiceError
from mca_core.domain.models import MCA_AGREEMENT_TYPE, Contact, parse_wire_datetime

#: Where Partner Center lives in production; any other base serves the acceptance page itself.
MICROSOFT_BASE_URL = "https://api.partnercenter.microsoft.com"


class Certainty(StrEnum):
    CONFIRMED = "confirmed"
    ASSUMED = "assumed"
    EMULATOR_ONLY = "assumed (emulator only?)"


def _name(default: str, certainty: Certainty, what: str, placeholders: tuple[str, ...] = ()) -> Any:
    return field(
        default=default,
        metadata={"certainty": certainty, "what": what, "placeholders": placeholders},
    )


C, A, E = Certainty.CONFIRMED, Certainty.ASSUMED, Certainty.EMULATOR_ONLY


@dataclass(frozen=True)
class EnhancedWire:
    """The names the desk sends and reads. Every field is a string a partner may override."""

    # --- paths ---------------------------------------------------------------------------------
    create_path: str = _name("/v1/attestations/enhanced", C, "create an attestation (App-only)")
    status_path: str = _name(
        "/v1/attestations/enhanced/{attestation_id}",
        E,
        "read an attestation's status; empty = the service has none (the desk then learns "
        "acceptance by trying the finalise)",
        ("attestation_id",),
    )
    finalise_path: str = _name(
        "/v1/customers/{customer_id}/agreements",
        A,
        "finalise: create the agreement with the attestation id",
        ("customer_id",),
    )
    acceptance_link: str = _name(
        "https://cdn.partner.microsoft.com/mca/?attestationid={attestation_id}",
        A,
        "the customer's acceptance page, no sign-in (seen in two independent integrations); "
        "a non-Microsoft base URL (the emulator) serves /mca/ itself",
        ("attestation_id",),
    )
    # --- create: request -----------------------------------------------------------------------
    customer_tenant_id: str = _name(
        "customerTenantId",
        A,
        "create body: the customer's tenant id (how the customer is named: unknown, no customer "
        "field in the readable part of Microsoft's table); empty = not sent",
    )
    signatory_first_name: str = _name("signatoryFirstName", C, "create body: signer first name")
    signatory_last_name: str = _name("signatoryLastName", C, "create body: signer last name")
    signatory_email: str = _name(
        "signatoryEmail", A, "create body: signer email (collected: confirmed; name: assumed)"
    )
    signatory_phone: str = _name(
        "signatoryPhoneNumber", A, "create body: signer phone, optional (name assumed)"
    )
    company_name: str = _name("companyName", A, "create body: the customer's company name")
    country: str = _name("country", C, "create body: ISO 3166-1 alpha-2 country")
    language: str = _name(
        "language", A, "create body: the agreement language, a culture code (en-US, zh-HK, ...)"
    )
    expiration_time: str = _name(
        "expirationTime",
        A,
        "create body: the requested link lifetime in minutes, 5 to 10080 (partner API "
        "documentation; sent only when one is requested); empty = never sent",
    )
    # --- create: answer ------------------------------------------------------------------------
    attestation_id: str = _name(
        "attestationId", A, "create answer: the attestation id (every partner integration)"
    )
    created_at: str = _name("createdDateTime", E, "create/status answer: when it was created")
    expires_at: str = _name(
        "expirationDateTime",
        E,
        "create/status answer: link valid until; absent = created + enhanced_link_lifetime_hours",
    )
    # --- status answer -------------------------------------------------------------------------
    status: str = _name("status", E, "status answer: the attestation's state")
    accepted_at: str = _name("acceptedDateTime", E, "status answer: when the customer accepted")
    status_required: str = _name(
        "Required",
        A,
        "status values (comma-separated, any case; partner tools): no link yet (the desk "
        "keeps its own state)",
    )
    status_link_generated: str = _name("LinkGenerated", A, "status values: link created")
    status_accepted: str = _name(
        "CustomerAccepted,Accepted", A, "status values: the customer accepted"
    )
    status_expired: str = _name(
        "LinkExpired,Expired", A, "status values: the link expired unaccepted"
    )
    status_agreement_created: str = _name(
        "AgreementCreated", A, "status values: the agreement was created"
    )
    # --- finalise ------------------------------------------------------------------------------
    finalise_attestation_id: str = _name(
        "attestationId", A, "finalise body: the attestation id beside the agreement fields"
    )
    finalise_contact: str = _name(
        "primaryContact",
        A,
        "finalise body: the signer, as the classic agreement body names it (firstName, "
        "lastName, email, phoneNumber)",
    )
    finalise_type: str = _name(
        "type", A, "finalise body: agreement type MicrosoftCustomerAgreement (classic name)"
    )
    finalise_template: str = _name(
        "templateId",
        A,
        "finalise body: the MCA template id (the Agreement resource always had it; inference); "
        "empty = not sent",
    )
    mca_template_id: str = _name(
        "117a77b0-9360-443b-8795-c6dedc750cf9",
        A,
        "finalise: the MCA template id sent when the desk holds none read from GET "
        "/v1/agreements (App-only tokens may not read it; Microsoft's own bulk tool hard-codes "
        "this one)",
    )
    not_accepted_error: str = _name(
        "600071,EnhancedAttestationNotAccepted",
        E,
        "finalise refusal meaning 'the customer has not accepted yet' (codes or errorNames, "
        "comma-separated)",
    )
    expired_error: str = _name(
        "600072,EnhancedAttestationExpired",
        E,
        "finalise refusal meaning 'the link expired unaccepted' (codes or errorNames)",
    )

    @classmethod
    def with_overrides(cls, overrides: Mapping[str, Any] | None) -> EnhancedWire:
        """The defaults corrected by configuration; an unknown name or a broken path says so."""
        if not overrides:
            return cls()
        known = {f.name: f for f in dataclasses.fields(cls)}
        clean: dict[str, str] = {}
        for key, value in overrides.items():
            if key not in known:
                raise ConfigurationError(
                    f"enhanced_wire: '{key}' is not an enhanced-attestation name. Known names: "
                    f"{', '.join(known)}."
                )
            text = str(value if value is not None else "").strip()
            wanted = set(known[key].metadata["placeholders"])
            if text and wanted:
                found = {p for _, p, _, _ in Formatter().parse(text) if p}
                if found != wanted:
                    raise ConfigurationError(
                        f"enhanced_wire.{key} = '{text}' must contain exactly "
                        f"{', '.join('{' + p + '}' for p in sorted(wanted))}."
                    )
            if not text and key not in MAY_BE_EMPTY:
                raise ConfigurationError(
                    f"enhanced_wire.{key} may not be empty (only {', '.join(MAY_BE_EMPTY)} may)."
                )
            clean[key] = text
        return dataclasses.replace(cls(), **clean)

    def overridden(self) -> dict[str, str]:
        """The names that differ from the defaults (shown on screen, so nobody is surprised)."""
        base = EnhancedWire()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(base, f.name)
        }


#: Names a partner may empty: the field is then not sent, or the status read not made.
MAY_BE_EMPTY: tuple[str, ...] = (
    "status_path",
    "customer_tenant_id",
    "expiration_time",
    "finalise_template",
)
#: The requested link lifetime's range, in minutes (partner tools: 5 minutes to 7 days).
LINK_LIFETIME_MINUTES = (5, 10080)


@dataclass(frozen=True)
class WireField:
    """One row of the confirmed/assumed table."""

    name: str
    default: str
    certainty: Certainty
    what: str


WIRE_FIELDS: tuple[WireField, ...] = tuple(
    WireField(f.name, f.default, f.metadata["certainty"], f.metadata["what"])
    for f in dataclasses.fields(EnhancedWire)
)

#: Facts that are not names but shape the channel (also mirrored in the README).
WIRE_FACTS: tuple[tuple[str, Certainty], ...] = (
    ("App-only authentication only; an App+User token is refused", C),
    ("direct-bill partners and indirect providers; never indirect resellers", C),
    ("three steps: create attestation, the customer accepts, create the agreement", C),
    ("a second agreement with identical signer details answers 600061", C),
    (
        "link lifetime: requested per attestation as expirationTime in minutes, 5 to 10080 "
        "(partner API documentation); when none is requested the service's default is unknown "
        "(the desk assumes enhanced_link_lifetime_hours; the emulator gives 7 days)",
        A,
    ),
    (
        "attestation states used by partner tools: required, linkgenerated, customeraccepted, "
        "linkexpired, agreementcreated (compared case-insensitively)",
        A,
    ),
    ("acceptance shows up within minutes (up to ~5) after the customer clicks accept", A),
)


def wire_table_markdown() -> str:
    """The README's table, from the one source of truth."""
    lines = ["| setting (`enhanced_wire.<name>`) | default | status | what |", "|---|---|---|---|"]
    for f in WIRE_FIELDS:
        default = f.default.replace("|", "\\|")
        lines.append(f"| `{f.name}` | `{default}` | {f.certainty.value} | {f.what} |")
    return "\n".join(lines)


# --- requests ------------------------------------------------------------------------------------


def create_body(
    wire: EnhancedWire,
    *,
    customer_id: str,
    signer: Contact,
    company_name: str,
    country: str,
    language: str,
    requested_minutes: int | None = None,
) -> dict[str, Any]:
    """The create body. The customer is left out when `customer_tenant_id` is empty; the link
    lifetime is sent only when requested (and `expiration_time` is not empty)."""
    body: dict[str, Any] = {}
    if wire.customer_tenant_id:
        body[wire.customer_tenant_id] = customer_id
    body.update(
        {
            wire.signatory_first_name: signer.first_name,
            wire.signatory_last_name: signer.last_name,
            wire.signatory_email: signer.email,
            wire.company_name: company_name,
            wire.country: country,
            wire.language: language,
        }
    )
    if signer.phone_number:
        body[wire.signatory_phone] = signer.phone_number
    if requested_minutes is not None and wire.expiration_time:
        body[wire.expiration_time] = int(requested_minutes)
    return body


def status_path(wire: EnhancedWire, attestation_id: str) -> str | None:
    """The status read's path, or None when configured away (the service offers none)."""
    if not wire.status_path:
        return None
    return wire.status_path.format(attestation_id=quote(attestation_id, safe=""))


def finalise_path(wire: EnhancedWire, customer_id: str) -> str:
    return wire.finalise_path.format(customer_id=quote(customer_id, safe=""))


def finalise_body(
    wire: EnhancedWire, *, attestation_id: str, signer: Contact, template_id: str | None = None
) -> dict[str, Any]:
    """The agreement body with the attestation id and the MCA template id (`template_id`: the
    one the desk read from GET /v1/agreements, else `mca_template_id`; not sent when
    `finalise_template` is empty). No dateAgreed: the customer's acceptance is Microsoft's
    record."""
    body: dict[str, Any] = {
        wire.finalise_attestation_id: attestation_id,
        wire.finalise_type: MCA_AGREEMENT_TYPE,
        wire.finalise_contact: signer.to_wire(),
    }
    template = (template_id or wire.mca_template_id).strip()
    if wire.finalise_template and template:
        body[wire.finalise_template] = template
    return body


def acceptance_link(wire: EnhancedWire, attestation_id: str, service_base_url: str) -> str:
    """Microsoft's page in production; any other service (the emulator) serves `/mca/` itself."""
    base = service_base_url.rstrip("/")
    template = wire.acceptance_link
    default = EnhancedWire().acceptance_link
    if base != MICROSOFT_BASE_URL and template == default:
        template = base + "/mca/?attestationid={attestation_id}"
    return template.format(attestation_id=quote(attestation_id, safe=""))


# --- answers -------------------------------------------------------------------------------------


class ServiceState(StrEnum):
    """An attestation's state as the service reports it (desk words, not wire values)."""

    REQUIRED = "required"
    LINK_GENERATED = "link_generated"
    ACCEPTED = "accepted"
    EXPIRED = "expired"
    AGREEMENT_CREATED = "agreement_created"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class CreatedAnswer:
    attestation_id: str
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class StatusAnswer:
    state: ServiceState
    expires_at: datetime | None
    accepted_at: datetime | None


def _when(data: Mapping[str, Any], name: str) -> datetime | None:
    value = data.get(name)
    if not value:
        return None
    try:
        return parse_wire_datetime(str(value))
    except ValueError:
        return None


def parse_created(
    wire: EnhancedWire, data: Any, *, now: datetime, lifetime: timedelta
) -> CreatedAnswer:
    """The create answer. Without an expiry the desk assumes `now + lifetime` (configuration)."""
    body = data if isinstance(data, Mapping) else {}
    attestation_id = str(body.get(wire.attestation_id) or "").strip()
    if not attestation_id:
        names = ", ".join(sorted(str(k) for k in body)) or "no fields"
        raise ConfigurationError(
            f"Partner Center created the attestation but its answer has no '{wire.attestation_id}'"
            f" (it has {names}). Correct enhanced_wire.attestation_id to the name Microsoft uses."
        )
    created = _when(body, wire.created_at) or now
    expires = _when(body, wire.expires_at) or created + lifetime
    return CreatedAnswer(attestation_id, created, expires)


def _values(spec: str) -> list[str]:
    return [part.strip().casefold() for part in spec.split(",") if part.strip()]


def status_values(wire: EnhancedWire) -> dict[str, ServiceState]:
    """Every status value the desk understands (folded), and the state it means."""
    states: dict[str, ServiceState] = {}
    for spec, state in (
        (wire.status_required, ServiceState.REQUIRED),
        (wire.status_link_generated, ServiceState.LINK_GENERATED),
        (wire.status_accepted, ServiceState.ACCEPTED),
        (wire.status_expired, ServiceState.EXPIRED),
        (wire.status_agreement_created, ServiceState.AGREEMENT_CREATED),
    ):
        for value in _values(spec):
            states.setdefault(value, state)
    return states


def parse_status(wire: EnhancedWire, data: Any) -> StatusAnswer:
    """The status answer; values are compared case-insensitively against the lists."""
    body = data if isinstance(data, Mapping) else {}
    value = str(body.get(wire.status) or "").strip().casefold()
    states = status_values(wire)
    return StatusAnswer(
        state=states.get(value, ServiceState.UNKNOWN),
        expires_at=_when(body, wire.expires_at),
        accepted_at=_when(body, wire.accepted_at),
    )


def _matches(error: ServiceError, spec: str) -> bool:
    wanted = set(_values(spec))
    return str(error.code).casefold() in wanted or str(error.error_name or "").casefold() in wanted


def finalise_refusal(wire: EnhancedWire, error: ServiceError) -> str | None:
    """'not_accepted' or 'expired' when a finalise refusal says so; None for any other error."""
    if _matches(error, wire.not_accepted_error):
        return "not_accepted"
    if _matches(error, wire.expired_error):
        return "expired"
    return None


__all__ = [
    "LINK_LIFETIME_MINUTES",
    "MAY_BE_EMPTY",
    "MICROSOFT_BASE_URL",
    "WIRE_FACTS",
    "WIRE_FIELDS",
    "Certainty",
    "CreatedAnswer",
    "EnhancedWire",
    "ServiceState",
    "StatusAnswer",
    "WireField",
    "acceptance_link",
    "create_body",
    "finalise_body",
    "finalise_path",
    "finalise_refusal",
    "parse_created",
    "parse_status",
    "status_path",
    "status_values",
    "wire_table_markdown",
]
