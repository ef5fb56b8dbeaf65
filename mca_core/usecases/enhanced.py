"""The enhanced attestation channel: the use cases and the pipeline a partner manages.

Microsoft's current flow (the classic call was retired on 2026-01-05), per customer::

    MCA required -> link sent (attestation created, valid until ...) -> customer accepted
                 -> agreement created;          link expired -> offer a new link

* :func:`create_attestation` creates the attestation (App-only) and returns the acceptance link,
  optionally asking for a link lifetime (5 minutes to 7 days, sent in minutes); the agreement
  language is a culture code (en-US, zh-HK, ...; the old two-letter values are mapped);
* the customer accepts on Microsoft's page (in the sandbox: the emulator's ``/mca/`` page);
* :func:`refresh_attestations` reads each open attestation's status, where the service offers
  a status read (assumed; see `enhanced_wire`), and resumes creates whose answer was lost;
* :func:`finalise_attestation` creates the agreement with the attestation id (and the MCA
  template id); "not accepted yet" (:class:`CustomerNotAcceptedYet`) keeps the attestation for a
  later try. Without a status read, this refusal is how the desk learns the customer has not
  accepted;
* :func:`finalise_ready` refreshes, then finalises every attestation whose customer accepted
  (one audit row each, never twice; an error on one stops no other): `finalise --all-ready`,
  and the setting `auto_finalise` on a refresh or before a sync;
* :func:`load_pipeline` builds the cards and the work list from the store and the latest sync.

The same rules as the classic channel hold: `check_may_attest` (Admin and Sales agents of a
direct-bill partner or an indirect provider; never an indirect reseller), validation of every
field before any call, an audit event for every attempt, and idempotency: the row is stored
`creating` BEFORE the create call with a deterministic MS-RequestId, and the finalise request id
is stored before its call, so a crash anywhere resumes with the same ids (`enhanced_store`).
The tokens must be App-only: an App+User token is refused with :class:`AppOnlyRequired`.
Every path and JSON name comes from `enhanced_wire`; none is spelled here.
"""

from __future__ import annotations

import asyncio
import dataclasses
import heapq
import re
import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Literal

from mca_core.domain.access import check_may_invite_to_accept, check_may_refresh_links
from mca_core.domain.errors import (
    AlreadyAttested,
    ConfigurationError,
    InvalidInput,
    McaError,
    NotFound,
    PartnerCenterError,
    Problem,
    ServiceError,
    TransportError,
)
from mca_core.domain.models import Attestation, Contact, Customer, Identity, TokenKind, _Record
from mca_core.domain.validation import (
    check_country,
    check_may_attest,
    check_required_text,
    may_attest,
    validate_contact,
)
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.partner_center.enhanced_wire import (
    LINK_LIFETIME_MINUTES,
    EnhancedWire,
    ServiceState,
    acceptance_link,
    create_body,
    finalise_body,
    finalise_path,
    finalise_refusal,
    parse_created,
    parse_status,
    status_path,
)
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import (
    OPEN_STATES,
    AttestationState,
    EnhancedAttestation,
    EnhancedStore,
    pipeline_rows,
)
from mca_core.usecases import audit, invitation_records
from mca_core.usecases.status import resolve_customer
from mca_core.usecases.sync import snapshot_scope

ACTION_CREATE = "attest_enhanced"
ACTION_FINALISE = "finalise"
ACTION_REFRESH = "enhanced_refresh"
#: Partner tools let the partner choose 5 minutes to 7 days; the desk assumes 7 days when the
#: service does not say (setting `enhanced_link_lifetime_hours`).
DEFAULT_LINK_LIFETIME = timedelta(days=7)
ENHANCED_REQUEST_NAMESPACE = uuid.uuid5(
    uuid.NAMESPACE_URL, "https://mca-desk.invalid/enhanced-attestation"
)
#: Agreement languages offered on screen: culture codes, as Microsoft's MCA document call takes
#: them (section 10 of the API notes; inference for the enhanced body). Any well-formed culture
#: code is accepted; a bare language code of the list below is mapped to its culture.
AGREEMENT_LANGUAGES: tuple[str, ...] = (
    "en-US",
    "en-GB",
    "zh-CN",
    "zh-HK",
    "zh-TW",
    "ja-JP",
    "ko-KR",
    "de-DE",
    "fr-FR",
    "es-ES",
    "it-IT",
    "pt-BR",
    "nl-NL",
    "sv-SE",
    "da-DK",
    "nb-NO",
    "fi-FI",
    "pl-PL",
    "cs-CZ",
    "tr-TR",
    "ru-RU",
)
#: Two-letter values the desk offered before culture codes (forms and scripts may still send
#: them) and the culture each now means.
LANGUAGE_CULTURES: dict[str, str] = {
    "en": "en-US",
    "zh": "zh-CN",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "de": "de-DE",
    "fr": "fr-FR",
    "es": "es-ES",
    "it": "it-IT",
    "pt": "pt-BR",
    "nl": "nl-NL",
    "sv": "sv-SE",
    "da": "da-DK",
    "nb": "nb-NO",
    "no": "nb-NO",
    "fi": "fi-FI",
    "pl": "pl-PL",
    "cs": "cs-CZ",
    "tr": "tr-TR",
    "ru": "ru-RU",
}
_LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$")
#: A link lifetime the partner may request, in minutes (partner tools: 5 minutes to 7 days).
LINK_LIFETIME_MINUTES_MIN, LINK_LIFETIME_MINUTES_MAX = LINK_LIFETIME_MINUTES


# --- errors --------------------------------------------------------------------------------------


class AppOnlyRequired(ConfigurationError):
    """The enhanced channel was given an App+User token: it works with App-only tokens only."""

    def __init__(self) -> None:
        super().__init__(
            "The enhanced attestation channel works with App-only tokens (the partner app's "
            "client credentials: partner_tenant_id, client_id and client_secret in "
            ".streamlit/secrets.toml [mca]); it was given an App+User token of a signed-in "
            "user, which Partner Center refuses for this flow. Configure the app's credentials "
            "(or pass an App-only token), or switch attestation_channel to classic."
        )


class EnhancedRefusal(McaError):
    """A finalise Partner Center refused for a reason the partner can act on; the attestation is
    kept. Carries the attestation and the request ids."""

    def __init__(self, message: str, attestation: EnhancedAttestation, cause: PartnerCenterError):
        self.attestation = attestation
        self.request_id = cause.request_id
        self.correlation_id = cause.correlation_id
        self.cause = cause
        super().__init__(message)


class CustomerNotAcceptedYet(EnhancedRefusal):
    """Finalise before the customer accepted: nothing changed; try again after they accept."""


class AcceptanceLinkExpired(EnhancedRefusal):
    """The link expired before the customer accepted: create a new link."""


# --- records -------------------------------------------------------------------------------------


class EnhancedRequest(_Record):
    """What the partner enters for an enhanced attestation (validated)."""

    signer: Contact
    company_name: str
    country: str
    language: str


CreateKind = Literal["link_created", "link_reused", "already_accepted", "already_attested"]
FinaliseKind = Literal["attested", "already_attested", "already_finalised"]


class CreateOutcome(_Record):
    customer_id: str
    outcome: CreateKind
    attestation: EnhancedAttestation
    request_id: str | None = None
    correlation_id: str | None = None
    message: str = ""


class FinaliseOutcome(_Record):
    customer_id: str
    outcome: FinaliseKind
    attestation: EnhancedAttestation
    agreement: Attestation | None = None
    request_id: str | None = None
    correlation_id: str | None = None
    message: str = ""


@dataclass(frozen=True)
class RefreshSummary:
    checked: int = 0
    changed: int = 0
    resumed: int = 0
    #: False when the service answered that it has no status read (assumed call absent).
    status_read: bool = True
    errors: tuple[str, ...] = ()
    #: Agreements created right after this refresh (setting `auto_finalise`; App.refresh_links).
    finalised: int = 0

    def with_finalised(self, finalised: int) -> RefreshSummary:
        return dataclasses.replace(self, finalised=finalised)


# --- rules ---------------------------------------------------------------------------------------


def require_app_only(pc: PartnerCenterClient) -> None:
    # By value: a dashboard that reloaded a module holds providers of the older enum class.
    if str(getattr(pc.tokens, "kind", TokenKind.APP_USER)) != TokenKind.APP_ONLY.value:
        raise AppOnlyRequired()


def check_language(value: object, field: str = "language") -> str | Problem:
    """The agreement language as a culture code such as en-US, zh-HK or de-DE. The two-letter
    values the desk offered before (en, de, ...) are mapped to their culture (en -> en-US)."""
    text = str(value or "").strip().replace("_", "-")
    if not text:
        return Problem(
            field,
            "The agreement language is empty.",
            "Choose the language the customer reads the agreement in, e.g. en-US or zh-CN.",
            code="required",
        )
    if not _LANGUAGE_TAG.match(text):
        return Problem(
            field,
            f"'{text}' is not a language tag.",
            "Use a culture code such as en-US, zh-CN, de-DE or pt-BR.",
            code="bad_language",
            params={"value": text},
        )
    parts = text.split("-")
    if len(parts) == 1:
        culture = LANGUAGE_CULTURES.get(parts[0].lower())
        if culture is None:
            return Problem(
                field,
                f"'{text}' is a language without a country or region.",
                "Use a culture code such as en-US, zh-CN, de-DE or pt-BR.",
                code="bad_language",
                params={"value": text},
            )
        return culture
    canonical = [parts[0].lower()]
    for part in parts[1:]:
        canonical.append(part.upper() if len(part) == 2 else part.title())
    return "-".join(canonical)


def minutes_of_hours(hours: object) -> object:
    """A requested link lifetime in hours (the CLI, AttestRequest) as minutes (the wire's); a
    value that is no number is passed on for `check_link_lifetime` to name."""
    if hours is None or isinstance(hours, bool):
        return hours
    try:
        return float(hours) * 60  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return hours


def check_link_lifetime(minutes: object, field: str = "link_lifetime") -> int | Problem | None:
    """A requested link lifetime: None (the service decides), or 5 to 10080 minutes (5 minutes
    to 7 days), rounded to whole minutes."""
    if minutes is None:
        return None
    try:
        value = float(minutes)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        value = float("nan")
    low, high = LINK_LIFETIME_MINUTES_MIN, LINK_LIFETIME_MINUTES_MAX
    if isinstance(minutes, bool) or not low <= value <= high:  # NaN fails too
        return Problem(
            field,
            f"The link lifetime must be between {low} minutes and {high // 1440} days "
            f"({low} to {high} minutes).",
            "Request 5 minutes to 7 days (168 hours), or leave it to Partner Center.",
            code="link_lifetime_range",
            params={"value": str(minutes)[:40], "min": str(low), "max": str(high)},
        )
    return int(value + 0.5)


def prepare_enhanced(
    first_name: object,
    last_name: object,
    email: object,
    phone: object = None,
    company_name: object = None,
    country: object = None,
    language: object = None,
    *,
    customer: Customer | None = None,
    customer_pending: bool = False,
) -> EnhancedRequest | None:
    """Validate the form as a whole (every problem at once). Company name and country default
    to the customer's own when a customer is given and the field is empty.

    `customer_pending`: the check before the customer is looked up; what may still default
    from it (an empty company name or country, a local phone number's region) is not judged,
    and None is returned when nothing is wrong so far.
    """
    problems: list[Problem] = []
    signer: Contact | None = None
    region = str(country or (customer.country if customer else "") or "").upper() or None
    local_phone = bool(str(phone or "").strip()) and not str(phone).strip().startswith("+")
    phone_value = None if customer_pending and region is None and local_phone else phone
    try:
        signer = validate_contact(first_name, last_name, email, phone_value, default_region=region)
    except InvalidInput as exc:
        problems.extend(exc.problems)
    company_value = company_name if str(company_name or "").strip() else None
    if company_value is None and customer is not None:
        company_value = customer.company_name
    company: str | Problem | None = None
    if company_value is not None or not customer_pending:
        company = check_required_text(company_value, "company_name", "Company name", 256)
    country_value = country if str(country or "").strip() else None
    if country_value is None and customer is not None:
        country_value = customer.country
    checked_country: str | Problem | None = None
    if str(country_value or "").strip():
        checked_country = check_country(country_value)
    elif not customer_pending:
        checked_country = Problem(
            "country",
            "The country is empty.",
            "Choose the customer's country (its two-letter ISO code, e.g. US or CN).",
            code="required",
        )
    checked_language = check_language(language)
    problems += [p for p in (company, checked_country, checked_language) if isinstance(p, Problem)]
    if problems:
        raise InvalidInput(problems)
    if customer_pending:
        return None
    assert signer is not None
    return EnhancedRequest(
        signer=signer,
        company_name=str(company),
        country=str(checked_country),
        language=str(checked_language),
    )


def _fold(value: object) -> str:
    return " ".join(str(value or "").split()).casefold()


def create_request_id(
    partner_tenant_id: str, customer_id: str, request: EnhancedRequest, sequence: int
) -> str:
    """The create's MS-RequestId: the same for the same request at the same point of the
    customer's history, so a double submit (two tabs, a re-run script) is answered once."""
    s = request.signer
    name = "|".join(
        (
            "create",
            partner_tenant_id,
            customer_id.lower(),
            _fold(s.first_name),
            _fold(s.last_name),
            _fold(s.email),
            "".join(ch for ch in str(s.phone_number or "") if ch.isdigit()),
            _fold(request.company_name),
            request.country.upper(),
            request.language.casefold(),
            str(sequence),
        )
    )
    return str(uuid.uuid5(ENHANCED_REQUEST_NAMESPACE, name))


def finalise_request_id(attestation_id: str, attempt: int) -> str:
    """A new id after each answered try, the same id while an answer is missing."""
    return str(uuid.uuid5(ENHANCED_REQUEST_NAMESPACE, f"finalise|{attestation_id}|{attempt}"))


def _now(now: datetime | None) -> datetime:
    return (now or datetime.now(UTC)).astimezone(UTC)


def _journal(store: Store | None) -> EnhancedStore:
    if store is None:
        raise ConfigurationError("The enhanced channel keeps every attestation in the store.")
    return EnhancedStore(store)


def _inputs(
    request: EnhancedRequest | None, raw: dict[str, object], **extra: object
) -> dict[str, Any]:
    """What the audit log keeps of an enhanced attestation's input (never a secret)."""
    if request is not None:
        base: dict[str, Any] = {
            **request.signer.model_dump(),
            "company_name": request.company_name,
            "country": request.country,
            "language": request.language,
        }
    else:
        base = {k: ("" if v is None else str(v))[:200] for k, v in raw.items()}
    base.update({k: ("" if v is None else str(v)) for k, v in extra.items()})
    return base


# --- create --------------------------------------------------------------------------------------


async def _send_create(
    pc: PartnerCenterClient,
    journal: EnhancedStore,
    record: EnhancedAttestation,
    wire: EnhancedWire,
    lifetime: timedelta,
    now: datetime,
    requested_minutes: int | None = None,
) -> tuple[EnhancedAttestation, str | None, str | None]:
    """Send (or replay) the create of a `creating` row and store its answer. A requested link
    lifetime is sent as asked (the store does not keep it: a create resumed later by a refresh
    or a finalise asks for none, and its replayed request id gets the first answer anyway)."""
    body = create_body(
        wire,
        customer_id=record.customer_id,
        signer=record.signer,
        company_name=record.company_name,
        country=record.country,
        language=record.language,
        requested_minutes=requested_minutes,
    )
    if requested_minutes is not None:  # the service's answer may not say: assume what we asked
        lifetime = timedelta(minutes=requested_minutes)
    try:
        data, ids = await pc.call("POST", wire.create_path, body=body, request_id=record.request_id)
    except TransportError as exc:  # no answer: the row stays `creating`, replayed next time
        journal.save(record, last_error=str(exc), last_request_id=exc.request_id)
        raise
    except ServiceError as exc:
        journal.save(
            record,
            state=AttestationState.FAILED,
            last_error=f"{type(exc).__name__}: {exc}",
            last_request_id=exc.request_id,
        )
        raise
    try:
        answer = parse_created(wire, data, now=now, lifetime=lifetime)
    except ConfigurationError as exc:  # created, but its id is unreadable: fix the name, replay
        journal.save(record, last_error=str(exc), last_request_id=ids.request_id)
        raise
    saved = journal.save(
        record,
        state=AttestationState.LINK_SENT,
        attestation_id=answer.attestation_id,
        acceptance_link=acceptance_link(wire, answer.attestation_id, pc.base_url),
        link_created_at=answer.created_at,
        expires_at=answer.expires_at,
        last_error="",
        last_request_id=ids.request_id,
    )
    return saved, ids.request_id, ids.correlation_id


def _known_outcome(record: EnhancedAttestation, now: datetime) -> CreateKind | None:
    state = record.current_state(now)
    if state is AttestationState.LINK_SENT:
        return "link_reused"
    if state is AttestationState.ACCEPTED:
        return "already_accepted"
    if state is AttestationState.AGREEMENT_CREATED:
        return "already_attested"
    return None


CREATE_MESSAGES: dict[str, str] = {
    "link_created": "Attestation created: send the customer the acceptance link.",
    "link_reused": "This attestation already exists and its link is still valid: nothing new "
    "was created.",
    "already_accepted": "The customer already accepted this attestation: finalise it.",
    "already_attested": "An agreement with these signer details already exists: nothing new "
    "was created.",
}


async def create_attestation(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    customer: str,
    first_name: object,
    last_name: object,
    email: object,
    phone: object = None,
    company_name: object = None,
    country: object = None,
    language: object = None,
    requested_lifetime_minutes: object = None,
    wire: EnhancedWire | None = None,
    link_lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> CreateOutcome:
    """Create an enhanced attestation for the customer (tenant id or domain) and its link.

    Asking again for the same signer while the link is valid reuses it; after it expired (or
    failed) a new attestation is created. A `creating` row of the same request is replayed.
    `requested_lifetime_minutes`: the link lifetime to ask Partner Center for (5 to 10080
    minutes, sent as `enhanced_wire.expiration_time`); None asks for none, and `link_lifetime`
    is what the desk assumes when the answer does not say when the link expires.
    """
    wire = wire or EnhancedWire()
    lifetime = link_lifetime or DEFAULT_LINK_LIFETIME
    moment = _now(now)
    raw = {
        "first_name": first_name,
        "last_name": last_name,
        "email": email,
        "phone": phone,
        "company_name": company_name,
        "country": country,
        "language": language,
    }
    if requested_lifetime_minutes is not None:
        raw["link_lifetime_minutes"] = requested_lifetime_minutes
    with audit.attempt(
        store,
        identity,
        ACTION_CREATE,
        customer_id=str(customer or ""),
        inputs=_inputs(None, raw),
        check=check_may_attest,
    ) as attempt:
        require_app_only(pc)
        # Every problem of the form before any call; then again with the customer's defaults.
        requested = check_link_lifetime(requested_lifetime_minutes)
        lifetime_problems = [requested] if isinstance(requested, Problem) else []
        try:
            prepare_enhanced(
                first_name,
                last_name,
                email,
                phone,
                company_name,
                country,
                language,
                customer_pending=True,
            )
        except InvalidInput as exc:
            raise InvalidInput(exc.problems + lifetime_problems) from None
        if isinstance(requested, Problem):
            raise InvalidInput(requested)
        journal = _journal(store)
        found = await resolve_customer(pc, customer)
        attempt.customer_id = found.id
        request = prepare_enhanced(
            first_name, last_name, email, phone, company_name, country, language, customer=found
        )
        assert request is not None
        extra = {"link_lifetime_minutes": requested} if requested is not None else {}
        attempt.inputs = _inputs(request, raw, **extra)
        outcome = await _create(
            pc, journal, identity, found, request, wire, lifetime, moment, requested
        )
        attempt.inputs = _inputs(
            request, raw, attestation_id=outcome.attestation.attestation_id, **extra
        )
        attempt.done(
            outcome.outcome,
            detail=outcome.message,
            request_id=outcome.request_id,
            correlation_id=outcome.correlation_id,
        )
    return outcome


async def _create(
    pc: PartnerCenterClient,
    journal: EnhancedStore,
    identity: Identity,
    found: Customer,
    request: EnhancedRequest,
    wire: EnhancedWire,
    lifetime: timedelta,
    now: datetime,
    requested_minutes: int | None = None,
) -> CreateOutcome:
    partner = identity.partner_tenant_id

    def known(record: EnhancedAttestation, kind: CreateKind) -> CreateOutcome:
        return CreateOutcome(
            customer_id=found.id,
            outcome=kind,
            attestation=record,
            request_id=record.last_request_id,
            message=CREATE_MESSAGES[kind],
        )

    record: EnhancedAttestation | None = None
    history = journal.for_customer(partner, found.id)
    latest = history[0] if history else None
    if latest is not None and latest.same_request(
        request.signer, request.company_name, request.country, request.language
    ):
        kind = _known_outcome(latest, now)
        if kind is not None:
            return known(latest, kind)
        if latest.state is AttestationState.CREATING:
            record = latest  # its answer was lost: replay with the same request id
    if record is None:
        rid = create_request_id(partner, found.id, request, len(history))
        record, fresh = journal.add(
            EnhancedAttestation(
                request_id=rid,
                partner_tenant_id=partner,
                customer_id=found.id,
                company_name=request.company_name,
                domain=found.domain,
                country=request.country,
                language=request.language,
                signer=request.signer,
                state=AttestationState.CREATING,
                created_at=now,
                created_by=identity.user_id,
                created_by_name=identity.display_name,
                updated_at=now,
            )
        )
        if not fresh:  # another tab or process sent this very request first
            kind = _known_outcome(record, now)
            if kind is not None:
                return known(record, kind)
    try:
        saved, request_id, correlation_id = await _send_create(
            pc, journal, record, wire, lifetime, now, requested_minutes
        )
    except AlreadyAttested as exc:
        stored = journal.get(record.request_id) or record
        return CreateOutcome(
            customer_id=found.id,
            outcome="already_attested",
            attestation=stored,
            request_id=exc.request_id,
            correlation_id=exc.correlation_id,
            message=CREATE_MESSAGES["already_attested"],
        )
    return CreateOutcome(
        customer_id=found.id,
        outcome="link_created",
        attestation=saved,
        request_id=request_id,
        correlation_id=correlation_id,
        message=CREATE_MESSAGES["link_created"],
    )


# --- finalise ------------------------------------------------------------------------------------


def _pick(
    records: list[EnhancedAttestation], attestation_id: str | None
) -> EnhancedAttestation | None:
    if attestation_id:
        wanted = attestation_id.strip()
        return next((r for r in records if r.attestation_id == wanted), None)
    return next((r for r in records if r.is_open), None)


async def finalise_attestation(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    customer: str,
    attestation_id: str | None = None,
    wire: EnhancedWire | None = None,
    link_lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> FinaliseOutcome:
    """Create the agreement for the customer's open attestation (the newest, or the one named).

    Raises CustomerNotAcceptedYet (kept, try later) or AcceptanceLinkExpired (create a new
    link). An agreement that exists already (600061, or finalised before) counts as done.
    """
    wire = wire or EnhancedWire()
    lifetime = link_lifetime or DEFAULT_LINK_LIFETIME
    moment = _now(now)
    with audit.attempt(
        store,
        identity,
        ACTION_FINALISE,
        customer_id=str(customer or ""),
        inputs=_finalise_inputs(None, None, attestation_id=attestation_id),
        check=check_may_attest,
    ) as attempt:
        require_app_only(pc)
        journal = _journal(store)
        found = await resolve_customer(pc, customer)
        attempt.customer_id = found.id
        records = journal.for_customer(identity.partner_tenant_id, found.id)
        record = _pick(records, attestation_id)
        attempt.inputs = _finalise_inputs(record, None, attestation_id=attestation_id)
        if record is None:
            done = next((r for r in records if r.state is AttestationState.AGREEMENT_CREATED), None)
            if done is not None and not attestation_id:
                outcome = FinaliseOutcome(
                    customer_id=found.id,
                    outcome="already_finalised",
                    attestation=done,
                    request_id=done.last_request_id,
                    message="The agreement was already created for this customer's attestation.",
                )
            else:
                raise InvalidInput(_no_attestation_problem(found, attestation_id))
        else:
            try:
                outcome = await _finalise(
                    pc, journal, identity, found, record, wire, lifetime, moment
                )
            except EnhancedRefusal as exc:  # an answer to act on, audited as itself
                attempt.inputs = _finalise_inputs(exc.attestation, None)
                attempt.record_now(
                    "not_accepted" if isinstance(exc, CustomerNotAcceptedYet) else "expired",
                    detail=str(exc),
                    request_id=exc.request_id,
                    correlation_id=exc.correlation_id,
                )
                raise
        attempt.inputs = _finalise_inputs(outcome.attestation, outcome.agreement)
        attempt.done(
            outcome.outcome if outcome.outcome != "already_finalised" else "already_attested",
            detail=outcome.message,
            request_id=outcome.request_id,
            correlation_id=outcome.correlation_id,
        )
    return outcome


def _no_attestation_problem(found: Customer, attestation_id: str | None) -> Problem:
    if attestation_id:
        return Problem(
            "attestation_id",
            f"The desk holds no attestation {attestation_id} for {found.company_name or found.id}.",
            "Check the id, or finalise the customer's newest attestation without naming one.",
            code="unknown_attestation",
            params={"value": attestation_id},
        )
    return Problem(
        "customer",
        f"The desk holds no open enhanced attestation for {found.company_name or found.id}.",
        "Create the attestation (the acceptance link) first: Attest, or "
        "`python -m mca_core attest ... --channel enhanced`.",
        code="no_attestation",
        params={"value": found.id},
    )


def _finalise_inputs(
    record: EnhancedAttestation | None, agreement: Attestation | None, **extra: object
) -> dict[str, Any]:
    """Signer and agreement date: what verify matches an agreement to its audit event by."""
    inputs: dict[str, Any] = {k: str(v) for k, v in extra.items() if v}
    if record is None:
        return inputs
    inputs.update(record.signer.model_dump())
    inputs["attestation_id"] = record.attestation_id or ""
    when = agreement.date_agreed if agreement is not None else record.accepted_at
    inputs["date_agreed"] = when.date().isoformat() if when else ""
    return inputs


async def _finalise(
    pc: PartnerCenterClient,
    journal: EnhancedStore,
    identity: Identity,
    found: Customer,
    record: EnhancedAttestation,
    wire: EnhancedWire,
    lifetime: timedelta,
    now: datetime,
) -> FinaliseOutcome:
    if record.state is AttestationState.CREATING:
        record, _, _ = await _send_create(pc, journal, record, wire, lifetime, now)
    assert record.attestation_id is not None
    rid = record.finalise_request_id or finalise_request_id(
        record.attestation_id, record.finalise_attempt
    )
    record = journal.save(record, finalise_request_id=rid)  # before the call: a crash replays
    answered = {
        "finalise_request_id": None,
        "finalise_attempt": record.finalise_attempt + 1,
    }
    try:
        data, ids = await pc.call(
            "POST",
            finalise_path(wire, found.id),
            body=finalise_body(
                wire,
                attestation_id=record.attestation_id,
                signer=record.signer,
                template_id=_template_id(pc),
            ),
            request_id=rid,
        )
    except TransportError as exc:
        journal.save(record, last_error=str(exc), last_request_id=exc.request_id)
        raise
    except AlreadyAttested as exc:
        done = journal.save(
            record,
            state=AttestationState.AGREEMENT_CREATED,
            finalised_at=now,
            finalised_by=identity.display_name,
            last_error="",
            last_request_id=exc.request_id,
            **answered,
        )
        return FinaliseOutcome(
            customer_id=found.id,
            outcome="already_attested",
            attestation=done,
            request_id=exc.request_id,
            correlation_id=exc.correlation_id,
            message="An agreement with these signer details already exists: nothing new was "
            "stored.",
        )
    except ServiceError as exc:
        kind = finalise_refusal(wire, exc)
        failed = {"last_error": f"{type(exc).__name__}: {exc}", "last_request_id": exc.request_id}
        if kind == "not_accepted":
            kept = journal.save(record, state=AttestationState.LINK_SENT, **answered, **failed)
            raise CustomerNotAcceptedYet(
                "The customer has not accepted the agreement yet: nothing was created. The "
                "attestation is kept; finalise again after the customer accepts"
                + (
                    f" (the link is valid until {_utc_text(kept.expires_at)} UTC)."
                    if kept.expires_at
                    else "."
                ),
                kept,
                exc,
            ) from exc
        if kind == "expired":
            kept = journal.save(record, state=AttestationState.EXPIRED, **answered, **failed)
            raise AcceptanceLinkExpired(
                "The acceptance link expired before the customer accepted: create a new link "
                "and send it to the customer.",
                kept,
                exc,
            ) from exc
        journal.save(record, **answered, **failed)
        raise
    agreement = None
    if isinstance(data, dict) and data.get("dateAgreed"):
        agreement = Attestation.from_wire(data)
    accepted_at = record.accepted_at or (agreement.date_agreed if agreement else None)
    done = journal.save(
        record,
        state=AttestationState.AGREEMENT_CREATED,
        accepted_at=accepted_at,
        finalised_at=now,
        finalised_by=identity.display_name,
        last_error="",
        last_request_id=ids.request_id,
        finalise_request_id=rid,
    )
    return FinaliseOutcome(
        customer_id=found.id,
        outcome="attested",
        attestation=done,
        agreement=agreement,
        request_id=ids.request_id,
        correlation_id=ids.correlation_id,
        message="Agreement created: the customer's MCA acceptance is recorded.",
    )


def _template_id(pc: PartnerCenterClient) -> str | None:
    """The MCA template id for the finalise: the one this desk read from GET /v1/agreements
    (cached per service), else None and `enhanced_wire.mca_template_id` is sent. No call here:
    the finalise's App-only token may not read the agreement metadata."""
    template = pc.cached_mca_template()
    return template.template_id if template is not None else None


def _utc_text(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else ""


# --- status --------------------------------------------------------------------------------------

_SERVICE_TO_DESK = {
    ServiceState.LINK_GENERATED: AttestationState.LINK_SENT,
    ServiceState.ACCEPTED: AttestationState.ACCEPTED,
    ServiceState.EXPIRED: AttestationState.EXPIRED,
    ServiceState.AGREEMENT_CREATED: AttestationState.AGREEMENT_CREATED,
}


async def refresh_attestations(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    customer_ids: list[str] | None = None,
    wire: EnhancedWire | None = None,
    link_lifetime: timedelta | None = None,
    now: datetime | None = None,
) -> RefreshSummary:
    """Bring the open attestations up to date: resume creates whose answer was lost (users who
    may attest), then read each one's status where the service offers a status read."""
    wire = wire or EnhancedWire()
    lifetime = link_lifetime or DEFAULT_LINK_LIFETIME
    moment = _now(now)
    with audit.attempt(store, identity, ACTION_REFRESH, check=check_may_refresh_links) as attempt:
        require_app_only(pc)
        journal = _journal(store)
        open_rows = journal.for_partner(
            identity.partner_tenant_id, states=OPEN_STATES, customer_ids=customer_ids
        )
        summary = await _refresh(pc, journal, identity, open_rows, wire, lifetime, moment)
        if summary.checked or summary.resumed or summary.errors:  # else nothing was done
            attempt.inputs = {"customers": len(customer_ids) if customer_ids else "all"}
            attempt.done(
                "refreshed" if not summary.errors else "partly_failed",
                detail=(
                    f"{summary.checked} checked, {summary.changed} changed, {summary.resumed} "
                    f"resumed; status read "
                    f"{'available' if summary.status_read else 'not offered'}."
                    + (f" Errors: {'; '.join(summary.errors)[:1500]}" if summary.errors else "")
                ),
            )
    return summary


async def _refresh(
    pc: PartnerCenterClient,
    journal: EnhancedStore,
    identity: Identity,
    rows: list[EnhancedAttestation],
    wire: EnhancedWire,
    lifetime: timedelta,
    now: datetime,
) -> RefreshSummary:
    errors: list[str] = []
    resumed = 0
    live: list[EnhancedAttestation] = []
    for record in rows:
        if record.state is AttestationState.CREATING:
            if not may_attest(identity):
                continue
            try:
                record, _, _ = await _send_create(pc, journal, record, wire, lifetime, now)
                resumed += 1
            except McaError as exc:
                errors.append(f"{record.customer_id}: {exc}")
                continue
        live.append(record)
    if not live or status_path(wire, "x") is None:
        return RefreshSummary(0, 0, resumed, status_path(wire, "x") is not None, tuple(errors))

    async def read(record: EnhancedAttestation) -> tuple[EnhancedAttestation, Any]:
        path = status_path(wire, record.attestation_id or "")
        try:
            data, _ = await pc.call("GET", str(path))
        except McaError as exc:
            return record, exc
        return record, parse_status(wire, data)

    answers = await asyncio.gather(*(read(r) for r in live))
    changed = 0
    not_offered = 0
    for record, answer in answers:
        if isinstance(answer, NotFound):
            not_offered += 1
            continue
        if isinstance(answer, McaError):
            errors.append(f"{record.customer_id}: {answer}")
            continue
        new_state = _SERVICE_TO_DESK.get(answer.state)
        if new_state is None:
            continue
        changes: dict[str, Any] = {}
        if new_state is not record.state:
            changes["state"] = new_state
        if answer.accepted_at and answer.accepted_at != record.accepted_at:
            changes["accepted_at"] = answer.accepted_at
        if answer.expires_at and answer.expires_at != record.expires_at:
            changes["expires_at"] = answer.expires_at
        if changes:
            journal.save(record, **changes)
            changed += 1
    status_read = not_offered < len(answers)
    return RefreshSummary(len(answers), changed, resumed, status_read, tuple(errors))


# --- finalise every ready attestation ------------------------------------------------------------

#: What `finalise_ready` did with one open attestation.
ReadyKind = Literal[
    "attested", "already_attested", "not_ready", "not_accepted", "expired", "failed"
]


@dataclass(frozen=True)
class ReadyItem:
    """One open attestation `finalise_ready` looked at, and what became of it."""

    customer_id: str
    company_name: str
    attestation_id: str | None
    outcome: ReadyKind
    message: str = ""
    request_id: str | None = None
    #: The finalise's outcome when an agreement exists now (for the write-through).
    result: FinaliseOutcome | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "customer_id": self.customer_id,
            "company_name": self.company_name,
            "attestation_id": self.attestation_id,
            "outcome": self.outcome,
            "message": self.message,
            "request_id": self.request_id,
        }


@dataclass(frozen=True)
class ReadySummary:
    """What `finalise_ready` did: counts, and one item per open attestation it looked at."""

    finalised: int = 0
    not_ready: int = 0
    failed: int = 0
    items: tuple[ReadyItem, ...] = ()
    #: The refresh that came first (None when the caller had just refreshed).
    refresh: RefreshSummary | None = None
    #: True when, without a status read, the finalise itself was tried on every pending link.
    probed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "finalised": self.finalised,
            "not_ready": self.not_ready,
            "failed": self.failed,
            "status_read": None if self.refresh is None else self.refresh.status_read,
            "probed": self.probed,
            "items": [item.as_dict() for item in self.items],
        }


_WAITING = (AttestationState.CREATING, AttestationState.LINK_SENT)


def ready_attestations(
    store: Store | None,
    identity: Identity,
    *,
    customer_ids: list[str] | None = None,
    now: datetime | None = None,
    waiting_too: bool = False,
) -> list[EnhancedAttestation]:
    """The partner's attestations whose customer accepted (from the store; no call), oldest
    first; with `waiting_too`, those still waiting for the customer as well (expired links
    are never included)."""
    if store is None:
        return []
    moment = _now(now)
    wanted = {AttestationState.ACCEPTED, *(_WAITING if waiting_too else ())}
    rows = _journal(store).for_partner(
        identity.partner_tenant_id, states=OPEN_STATES, customer_ids=customer_ids
    )
    return [r for r in reversed(rows) if r.current_state(moment) in wanted]


async def finalise_ready(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    wire: EnhancedWire | None = None,
    link_lifetime: timedelta | None = None,
    now: datetime | None = None,
    customer_ids: list[str] | None = None,
    refresh: bool = True,
    probe_without_status_read: bool = True,
) -> ReadySummary:
    """Finalise every attestation whose customer accepted: first bring the open attestations
    up to date (`refresh_attestations`, unless the caller just did), then create the agreement
    of each accepted one through `finalise_attestation`, which audits it (one `finalise` row
    each) and never finalises an attestation twice (it is `agreement_created` afterwards).
    An error on one attestation is counted and does not stop the others.

    Without a status read (`status_path` empty, or the service answers 404), the desk cannot
    know who accepted: with `probe_without_status_read` every pending link is then tried, and
    "not accepted yet" keeps it (counted not ready; audited `not_accepted` as any finalise).
    """
    wire = wire or EnhancedWire()
    lifetime = link_lifetime or DEFAULT_LINK_LIFETIME
    moment = _now(now)
    # Refused (or without an App-only token): one audited attempt, and nothing is read.
    with audit.attempt(store, identity, ACTION_FINALISE, check=check_may_attest):
        require_app_only(pc)
        _journal(store)
    refreshed: RefreshSummary | None = None
    if refresh:
        refreshed = await refresh_attestations(
            pc,
            store,
            identity,
            customer_ids=customer_ids,
            wire=wire,
            link_lifetime=lifetime,
            now=moment,
        )
    status_read = (
        refreshed.status_read if refreshed is not None else status_path(wire, "x") is not None
    )
    probe = probe_without_status_read and not status_read
    items: list[ReadyItem] = []
    for record in ready_attestations(
        store, identity, customer_ids=customer_ids, now=moment, waiting_too=True
    ):
        state = record.current_state(moment)
        tried = state is AttestationState.ACCEPTED or (
            probe and state is AttestationState.LINK_SENT and bool(record.attestation_id)
        )
        if not tried:
            items.append(_ready_item(record, "not_ready", "Waiting for the customer to accept."))
            continue
        items.append(await _finalise_one(pc, store, identity, record, wire, lifetime, moment))
    counts = {"finalised": 0, "not_ready": 0, "failed": 0}
    for item in items:
        if item.outcome in ("attested", "already_attested"):
            counts["finalised"] += 1
        elif item.outcome == "failed":
            counts["failed"] += 1
        else:
            counts["not_ready"] += 1
    return ReadySummary(**counts, items=tuple(items), refresh=refreshed, probed=probe)


def _ready_item(
    record: EnhancedAttestation,
    outcome: ReadyKind,
    message: str,
    request_id: str | None = None,
    result: FinaliseOutcome | None = None,
) -> ReadyItem:
    return ReadyItem(
        customer_id=record.customer_id,
        company_name=record.company_name,
        attestation_id=record.attestation_id,
        outcome=outcome,
        message=message,
        request_id=request_id,
        result=result,
    )


async def _finalise_one(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    record: EnhancedAttestation,
    wire: EnhancedWire,
    lifetime: timedelta,
    now: datetime,
) -> ReadyItem:
    """One attestation's finalise (audited by `finalise_attestation`); never raises McaError."""
    try:
        outcome = await finalise_attestation(
            pc,
            store,
            identity,
            customer=record.customer_id,
            attestation_id=record.attestation_id,
            wire=wire,
            link_lifetime=lifetime,
            now=now,
        )
    except CustomerNotAcceptedYet as exc:
        return _ready_item(record, "not_accepted", str(exc), exc.request_id)
    except AcceptanceLinkExpired as exc:
        return _ready_item(record, "expired", str(exc), exc.request_id)
    except McaError as exc:
        return _ready_item(
            record, "failed", f"{type(exc).__name__}: {exc}", getattr(exc, "request_id", None)
        )
    kind: ReadyKind = "attested" if outcome.outcome == "attested" else "already_attested"
    return _ready_item(record, kind, outcome.message, outcome.request_id, outcome)


# --- the pipeline --------------------------------------------------------------------------------


class Stage(StrEnum):
    """Where a customer stands in the partner's enhanced pipeline."""

    REQUIRED = "required"
    PENDING = "pending"
    EXPIRED = "expired"
    READY = "ready"
    DONE = "done"


#: The work list's order: what to do first.
STAGE_ORDER = (Stage.READY, Stage.EXPIRED, Stage.PENDING, Stage.REQUIRED, Stage.DONE)
_STAGE_OF_STATE = {
    AttestationState.CREATING: Stage.PENDING,
    AttestationState.LINK_SENT: Stage.PENDING,
    AttestationState.ACCEPTED: Stage.READY,
    AttestationState.EXPIRED: Stage.EXPIRED,
    AttestationState.AGREEMENT_CREATED: Stage.DONE,
    AttestationState.FAILED: Stage.REQUIRED,
}


@dataclass(frozen=True)
class PipelineItem:
    customer_id: str
    company_name: str
    domain: str
    stage: Stage
    attestation: EnhancedAttestation | None = None
    #: The desk's latest sync says the customer has accepted the MCA (any way).
    accepted_in_sync: bool | None = None


@dataclass(frozen=True)
class Pipeline:
    items: tuple[PipelineItem, ...]
    counts: dict[Stage, int] = field(default_factory=dict)
    #: False without a synced customer list: "required" then counts only attestations that failed.
    synced: bool = False
    synced_at: datetime | None = None
    #: How many items carry an attestation the desk started (0: the channel was never used).
    started: int = 0

    def work(self) -> tuple[PipelineItem, ...]:
        """The items still to work on (all but "done"; they come last in the order)."""
        return self.items[: len(self.items) - self.counts.get(Stage.DONE, 0)]


def build_pipeline(
    latest: dict[str, EnhancedAttestation],
    snapshot_rows: list[dict[str, Any]] | None,
    now: datetime,
    *,
    synced_at: datetime | None = None,
) -> Pipeline:
    """Cards and work list: each customer's newest attestation, plus every customer the latest
    sync found not accepted (MCA required) that has none."""
    rows = {r["customer_id"]: r for r in (snapshot_rows or [])}
    required = _required_items(rows.values())
    return _assemble(latest, rows, required, now, snapshot_rows is not None, synced_at)


def _order(item: PipelineItem) -> tuple[int, float, str]:
    """The work list's order: stage (what to do first), then the soonest expiry, then name."""
    expires = item.attestation.expires_at if item.attestation else None
    return (
        STAGE_ORDER.index(item.stage),
        expires.timestamp() if expires else 0.0,
        item.company_name.casefold(),
    )


def _required_items(rows: Iterable[dict[str, Any]]) -> tuple[PipelineItem, ...]:
    """Every customer the sync found not accepted, as a "required" item, in the work list's
    order (whether it has an attestation is decided later: this part depends on the snapshot
    only, so it is computed once per snapshot revision)."""
    items = [
        PipelineItem(
            customer_id=row["customer_id"],
            company_name=str(row.get("company_name") or ""),
            domain=str(row.get("domain") or ""),
            stage=Stage.REQUIRED,
            accepted_in_sync=False,
        )
        for row in rows
        if row.get("accepted") is False
    ]
    items.sort(key=_order)
    return tuple(items)


def _assemble(
    latest: dict[str, EnhancedAttestation],
    rows: dict[str, dict[str, Any]],
    required: Sequence[PipelineItem],
    now: datetime,
    synced: bool,
    synced_at: datetime | None,
) -> Pipeline:
    """The pipeline from the attestations (`latest`, with their customers' `rows`) and the
    sorted "required" items of the sync; an attestation's item takes its customer's place."""
    started: list[PipelineItem] = []
    for customer_id, record in latest.items():
        stage = _STAGE_OF_STATE[record.current_state(now)]
        row = rows.get(customer_id, {})
        if stage is Stage.REQUIRED and row.get("accepted"):
            continue  # a failed attempt, but the customer has accepted since (another way)
        started.append(
            PipelineItem(
                customer_id=customer_id,
                company_name=record.company_name or str(row.get("company_name") or ""),
                domain=record.domain or str(row.get("domain") or ""),
                stage=stage,
                attestation=record,
                accepted_in_sync=row.get("accepted"),
            )
        )
    started.sort(key=_order)
    rest = required if not latest else [i for i in required if i.customer_id not in latest]
    # both are sorted; on a tie an attestation's item comes first (as one stable sort put it)
    items = tuple(heapq.merge(started, rest, key=_order)) if started else tuple(rest)
    counts = {stage: 0 for stage in Stage}
    for item in started:
        counts[item.stage] += 1
    counts[Stage.REQUIRED] += len(rest)
    return Pipeline(items, counts, synced, synced_at, started=len(started))


class _PipelineCache:
    """The pipelines last built, shared by every session of the process (the App is one per
    process): a rerun of the overview costs two small queries, not a read of the snapshot.

    Keyed by the snapshot (id, revision, time) and the attestations as they stand now (each
    newest attestation's id, last change and state under the clock); a hit is also checked
    against the attestations themselves. The "required" items of a snapshot are kept apart, so
    a new attestation rebuilds the pipeline without reading the snapshot again. Keys start with
    (partner, snapshot id, revision, ...): an entry of an older revision of the same snapshot is
    dropped as soon as a newer one is kept (at 100k customers an entry holds ~30k items).
    """

    def __init__(self, size: int = 4):
        self.size = size
        self._lock = threading.Lock()
        self._pipelines: OrderedDict[tuple[Any, ...], tuple[dict[str, Any], Pipeline]] = (
            OrderedDict()
        )
        self._required: OrderedDict[tuple[Any, ...], tuple[PipelineItem, ...]] = OrderedDict()

    @staticmethod
    def _get(table: OrderedDict[Any, Any], key: tuple[Any, ...]) -> Any:
        found = table.get(key)
        if found is not None:
            table.move_to_end(key)
        return found

    def _put(self, table: OrderedDict[Any, Any], key: tuple[Any, ...], value: Any) -> None:
        for old in [k for k in table if k[:2] == key[:2] and k[2:4] != key[2:4]]:
            del table[old]  # the same snapshot at another revision: stale
        table[key] = value
        table.move_to_end(key)
        while len(table) > self.size:
            table.popitem(last=False)

    def pipeline(self, key: tuple[Any, ...], latest: dict[str, Any]) -> Pipeline | None:
        with self._lock:
            found = self._get(self._pipelines, key)
        if found is None or found[0] != latest:
            return None
        return found[1]

    def keep_pipeline(self, key: tuple[Any, ...], latest: dict[str, Any], value: Pipeline) -> None:
        with self._lock:
            self._put(self._pipelines, key, (dict(latest), value))

    def required(self, key: tuple[Any, ...]) -> tuple[PipelineItem, ...] | None:
        with self._lock:
            return self._get(self._required, key)

    def keep_required(self, key: tuple[Any, ...], value: tuple[PipelineItem, ...]) -> None:
        with self._lock:
            self._put(self._required, key, value)


#: One cache per store object (a store is one database; the App holds one for the process).
_CACHES: weakref.WeakKeyDictionary[Store, _PipelineCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache_of(store: Store) -> _PipelineCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(store)
        if cache is None:
            cache = _CACHES[store] = _PipelineCache()
        return cache


def load_pipeline(
    store: Store,
    identity: Identity,
    backend: str,
    *,
    now: datetime | None = None,
    started_only: bool = False,
) -> Pipeline:
    """The pipeline from the desk's store and latest sync (no Partner Center call).

    Reads the partner's newest attestations and, from the snapshot, only the customers not
    accepted and those with an attestation (a few columns each), once per snapshot revision
    and state of the attestations (`_PipelineCache`). `started_only`: an installation that has
    no enhanced attestation gets an empty pipeline without reading the snapshot at all (the
    overview of a classic installation shows no pipeline then).
    """
    journal = EnhancedStore(store)
    partner = identity.partner_tenant_id
    if started_only and not journal.any_for_partner(partner):
        return Pipeline((), {stage: 0 for stage in Stage}, False, None)
    moment = _now(now)
    latest = journal.latest_by_customer(partner)
    snapshot = store.latest_snapshot(snapshot_scope(identity, backend))
    if snapshot is None:
        return build_pipeline(latest, None, moment)
    cache = _cache_of(store)
    snap_key = (partner, snapshot.id, snapshot.revision, snapshot.taken_at)
    states = tuple((r.request_id, r.updated_at, r.current_state(moment)) for r in latest.values())
    key = (*snap_key, states)
    found = cache.pipeline(key, latest)
    if found is not None:
        return found
    required = cache.required(snap_key)
    rows = pipeline_rows(
        store, snapshot.id, not_accepted=required is None, customer_ids=latest.keys()
    )
    if required is None:
        required = _required_items(rows)
        cache.keep_required(snap_key, required)
    by_id = {r["customer_id"]: r for r in rows}
    pipeline = _assemble(latest, by_id, required, moment, True, snapshot.taken_at)
    cache.keep_pipeline(key, latest, pipeline)
    return pipeline


def customer_attestations(
    store: Store, identity: Identity, customer_id: str
) -> list[EnhancedAttestation]:
    """A customer's enhanced attestations, newest first (for the Attest page)."""
    return EnhancedStore(store).for_customer(identity.partner_tenant_id, customer_id)


# --- the invitation ------------------------------------------------------------------------------


def acceptance_invitation(
    store: Store | None,
    identity: Identity,
    record: EnhancedAttestation,
    *,
    to: object = "",
    locale: object = "en",
    now: datetime | None = None,
    logged: bool = True,
) -> Any:
    """The email carrying the acceptance link to the signer (the invitation generator with the
    `enhanced_acceptance` template). Audited as an invitation; no Partner Center call.
    `logged=False`: written to be sent at once (the send's row is its invitation log row)."""
    from mca_core.usecases import invitations

    customer_id = record.customer_id
    with audit.attempt(
        store,
        identity,
        invitations.ACTION,
        customer_id=customer_id,
        inputs=invitations._audit_inputs(invitations.ENHANCED_KIND, customer_id, to, locale),
        check=check_may_invite_to_accept,
    ) as attempt:
        checked_locale = invitations.check_locale(locale)
        recipient = invitations.check_recipient(to)
        state = record.current_state(_now(now))
        if state is not AttestationState.LINK_SENT or not record.acceptance_link:
            raise InvalidInput(
                Problem(
                    "attestation",
                    f"This attestation's link cannot be sent: it is {state.value}.",
                    "Create a new link if it expired; nothing is to send once the customer "
                    "accepted.",
                    code="link_not_sendable",
                    params={"state": state.value},
                )
            )
        email = invitations.render(
            invitations.ENHANCED_KIND,
            checked_locale,
            to=recipient,
            customer_id=customer_id,
            required_link=record.acceptance_link,
            acceptance_link=record.acceptance_link,
            company_name=record.company_name or customer_id,
            signer_name=record.signer.full_name,
            expires_at=_utc_text(record.expires_at),
            **invitations._sender(identity),
        )
        email = dataclasses.replace(email, attestation_id=record.attestation_id)
        attempt.done(
            "generated", detail=f"{invitations.ENHANCED_KIND} email generated ({checked_locale})."
        )
        if logged:
            invitation_records.record(store, identity, email, "generated")
    return email


__all__ = [
    "ACTION_CREATE",
    "ACTION_FINALISE",
    "ACTION_REFRESH",
    "AGREEMENT_LANGUAGES",
    "DEFAULT_LINK_LIFETIME",
    "LANGUAGE_CULTURES",
    "AcceptanceLinkExpired",
    "AppOnlyRequired",
    "AttestationState",
    "CreateOutcome",
    "CustomerNotAcceptedYet",
    "EnhancedAttestation",
    "EnhancedRefusal",
    "EnhancedRequest",
    "FinaliseOutcome",
    "Pipeline",
    "PipelineItem",
    "ReadyItem",
    "ReadySummary",
    "RefreshSummary",
    "Stage",
    "acceptance_invitation",
    "build_pipeline",
    "check_language",
    "check_link_lifetime",
    "create_attestation",
    "create_request_id",
    "customer_attestations",
    "finalise_attestation",
    "finalise_ready",
    "finalise_request_id",
    "load_pipeline",
    "minutes_of_hours",
    "prepare_enhanced",
    "ready_attestations",
    "refresh_attestations",
    "require_app_only",
]
