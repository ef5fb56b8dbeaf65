"""The emulator's enhanced-attestation flow, with the shapes
`mca_core.partner_center.enhanced_wire` assumes.

Routes (registered by `app.build_app`):

* ``POST /v1/attestations/enhanced``: create an attestation for a visible customer. App-only
  tokens only (App+User -> 403 / 1002); indirect resellers -> 403 / 600006; a missing or broken
  field -> 400 / 400056 naming it; an unknown customer -> 404. Idempotent on MS-RequestId.
  201 with ``attestationId``, ``status``, ``createdDateTime``, ``expirationDateTime``.
  ``expirationTime`` (optional, whole minutes 5 to 10080) sets the link's lifetime; else the
  sandbox setting (default 7 days). ``customerTenantId`` is required unless the emulator was
  made with ``enhanced_customer_required=False`` (a desk configured not to send it): then a
  body without it creates an attestation bound to no customer yet, which the first finalise
  binds to the customer of its path (how Microsoft names the customer is not known; this is
  the simplest behaviour that lets the desk work either way). A customer it does name must
  be visible (404) and must match the finalise's.
* ``GET /v1/attestations/enhanced/{id}``: its status, in the partner tools' lower-case words
  (``linkgenerated``, ``customeraccepted``, ``linkexpired``, ``agreementcreated``; the desk
  compares case-insensitively and also knows the older ``Accepted`` / ``Expired``). Assumed,
  possibly emulator only: no Microsoft call is known.
* ``POST /v1/customers/{id}/agreements`` with ``attestationId`` in the body: finalise (create the
  agreement). App-only only; ``templateId`` optional, but when sent it must be the current MCA
  template (the old MCA template -> 400 TemplateNotSupported, the Cloud Agreement's or an
  unknown one -> 400, as the classic call); before the customer accepted -> 409 / 600071
  EnhancedAttestationNotAccepted (emulator choice), after an unaccepted link expired -> 400 /
  600072 EnhancedAttestationExpired (emulator choice); a second finalise, or signer details equal
  to an existing MCA agreement -> 409 / 600061. The agreement then shows in the customer's
  agreements GET, dated when the customer accepted. Without ``attestationId`` the body is a
  classic attestation, handled as before (and refused once the classic call is retired on the
  emulator's clock, ``Emulator(classic_retired_on=...)``; never the finalise).
* ``GET /mca/?attestationid=...``: the customer's acceptance page (no sign-in), a small HTML page
  with an **Accept agreement** button posting to ``POST /mca/accept``.
* Sandbox controls (no auth): ``GET|PUT /sandbox/enhanced`` (``linkLifetimeSeconds``, default
  7 days, persisted), ``GET /sandbox/clock`` and ``POST /sandbox/clock`` (``advanceSeconds``: the
  test clock moves forward), ``POST /sandbox/attestations/{id}/accept`` (play the customer).

Times follow the emulator's clock (`Emulator.now()`), so a fake clock drives expiry.
"""

from __future__ import annotations

import json
import math
import sqlite3
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from html import escape
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from mca_core.domain.models import MCA_AGREEMENT_TYPE, TokenKind
from mca_core.partner_center.enhanced_wire import LINK_LIFETIME_MINUTES, EnhancedWire

from .directory import (
    CLOUD_AGREEMENT_TEMPLATE_ID,
    MCA_AGREEMENT_LINK,
    MCA_TEMPLATE_ID,
    OLD_MCA_TEMPLATE_ID,
)
from .tokens import Caller
from .wire import (
    CODE_ALREADY_ATTESTED,
    CODE_AUTHORIZATION,
    CODE_NOT_ALLOWED,
    ApiError,
    agreement_item,
    digits_only,
    fold_text,
    invalid,
    json_body,
    not_found,
    parse_json,
    request_id,
    wire_datetime,
)

if TYPE_CHECKING:
    from .app import PartnerCenterApi
    from .core import Emulator

#: The emulator speaks the assumed defaults (configuration may change the desk's side only).
WIRE = EnhancedWire()
CODE_NOT_ACCEPTED = 600071  # emulator choice
CODE_EXPIRED = 600072  # emulator choice
DEFAULT_LINK_LIFETIME = timedelta(days=7)
LIFETIME_META_KEY = "enhanced_link_lifetime_seconds"
_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)

#: The states as partner tools write them (CloudCockpit's API documentation): lower case.
STATUS_LINK_GENERATED = "linkgenerated"
STATUS_ACCEPTED = "customeraccepted"
STATUS_EXPIRED = "linkexpired"
STATUS_AGREEMENT_CREATED = "agreementcreated"
#: The requested link lifetime's range in minutes (`expirationTime`).
LIFETIME_MINUTES_MIN, LIFETIME_MINUTES_MAX = LINK_LIFETIME_MINUTES


# --- state -----------------------------------------------------------------------------------


def link_lifetime(emulator: Emulator) -> timedelta:
    value = emulator.store.meta().get(LIFETIME_META_KEY)
    return timedelta(seconds=float(value)) if value else DEFAULT_LINK_LIFETIME


def set_link_lifetime(emulator: Emulator, lifetime: timedelta) -> None:
    """How long new acceptance links stay valid (persisted in the emulator's data dir)."""
    seconds = lifetime.total_seconds()
    if seconds <= 0:
        raise ValueError("the link lifetime must be positive")
    with emulator.store.transaction() as conn:
        conn.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
            (LIFETIME_META_KEY, repr(seconds)),
        )


def advance_clock(emulator: Emulator, seconds: float) -> datetime:
    """Move the emulator's clock forward (a test clock for link expiry); returns the new now."""
    previous: Callable[[], datetime] = emulator.clock
    shift = timedelta(seconds=seconds)
    emulator.clock = lambda: previous() + shift
    return emulator.now()


def state_of(row: sqlite3.Row, now: datetime) -> str:
    if row["finalised_ts"] is not None:
        return STATUS_AGREEMENT_CREATED
    if row["accepted_ts"] is not None:
        return STATUS_ACCEPTED
    if now.timestamp() >= row["expires_ts"]:
        return STATUS_EXPIRED
    return STATUS_LINK_GENERATED


def _get(conn: sqlite3.Connection, attestation_id: str) -> sqlite3.Row | None:
    return conn.execute(
        "SELECT * FROM enhanced_attestations WHERE id = ?", (attestation_id.strip().lower(),)
    ).fetchone()


def find_attestation(emulator: Emulator, attestation_id: str) -> sqlite3.Row | None:
    with emulator.store.reading() as conn:
        return _get(conn, attestation_id)


def accept(emulator: Emulator, attestation_id: str) -> str:
    """Play the customer clicking Accept: 'accepted', 'already', 'expired' or 'unknown'."""
    now = emulator.now()
    with emulator.store.transaction() as conn:
        row = _get(conn, attestation_id)
        if row is None:
            return "unknown"
        state = state_of(row, now)
        if state in (STATUS_ACCEPTED, STATUS_AGREEMENT_CREATED):
            return "already"
        if state == STATUS_EXPIRED:
            return "expired"
        conn.execute(
            "UPDATE enhanced_attestations SET accepted_ts = ? WHERE id = ?",
            (now.timestamp(), row["id"]),
        )
    return "accepted"


def _iso(ts: float | None) -> str | None:
    return None if ts is None else wire_datetime(datetime.fromtimestamp(ts, UTC))


def attestation_item(row: sqlite3.Row, now: datetime) -> dict[str, Any]:
    item: dict[str, Any] = {WIRE.attestation_id: row["id"]}
    if row["customer_id"]:  # empty: bound to a customer by its first finalise
        item[WIRE.customer_tenant_id] = row["customer_id"]
    item.update(
        {
            WIRE.status: state_of(row, now),
            WIRE.created_at: _iso(row["created_ts"]),
            WIRE.expires_at: _iso(row["expires_ts"]),
        }
    )
    if row["accepted_ts"] is not None:
        item[WIRE.accepted_at] = _iso(row["accepted_ts"])
    item["attributes"] = {"objectType": "EnhancedAttestation"}
    return item


# --- the /v1 routes ------------------------------------------------------------------------------


class EnhancedApi:
    """Handlers of the enhanced flow; authentication and customers come from `PartnerCenterApi`."""

    def __init__(self, emulator: Emulator, api: PartnerCenterApi):
        self.emulator = emulator
        self.api = api
        self.store = emulator.store

    def app_only_caller(self, request: Request, what: str) -> Caller:
        caller = self.api.authenticate(request, app_only=True)
        if caller.kind is not TokenKind.APP_ONLY:
            raise ApiError(
                403,
                CODE_AUTHORIZATION,
                f"{what} accepts App-only tokens (the partner app's client credentials) only;"
                " an App+User token was sent.",
                error_name="Forbidden",
            )
        if caller.is_reseller:
            raise ApiError(
                403,
                CODE_NOT_ALLOWED,
                "Indirect resellers cannot attest; ask your indirect provider.",
                error_name="NotAllowed",
            )
        return caller

    # POST /v1/attestations/enhanced ------------------------------------------------------------
    async def create(self, request: Request) -> Response:
        caller = self.app_only_caller(request, "Enhanced attestation")
        body = await json_body(request)
        values = self._validate(body, customer_required=self.emulator.enhanced_customer_required)
        customer_id = ""
        if values["customer_id"]:
            customer_id = self.api.customer_or_404(caller, values["customer_id"])["id"]
        rid = request_id(request)
        path = request.url.path
        now = self.emulator.now()
        requested = _requested_minutes(body)
        lifetime = (
            timedelta(minutes=requested) if requested is not None else link_lifetime(self.emulator)
        )
        with self.store.transaction() as conn:
            if rid is not None:
                replay = self.store.find_replay(conn, caller.tenant_id, rid, "POST", path)
                if replay is not None:
                    return JSONResponse(
                        json.loads(replay[1]),
                        status_code=replay[0],
                        headers={"X-Emulator-Replay": "true"},
                    )
            attestation_id = str(uuid.uuid4())
            conn.execute(
                "INSERT INTO enhanced_attestations (id, partner_tenant_id, customer_id,"
                " company_name, country, language, first_name, last_name, email, phone,"
                " created_ts, expires_ts, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?)",
                (
                    attestation_id,
                    caller.tenant_id,
                    customer_id,
                    values["company_name"],
                    values["country"],
                    values["language"],
                    values["first_name"],
                    values["last_name"],
                    values["email"],
                    values["phone"],
                    now.timestamp(),
                    (now + lifetime).timestamp(),
                    now.isoformat(),
                ),
            )
            created = attestation_item(_get(conn, attestation_id), now)  # type: ignore[arg-type]
            if rid is not None:
                self.store.save_replay(
                    conn, caller.tenant_id, rid, "POST", path, 201, json.dumps(created)
                )
        return JSONResponse(created, status_code=201)

    @staticmethod
    def _validate(body: dict[str, Any], *, customer_required: bool = True) -> dict[str, str]:
        customer = body.get(WIRE.customer_tenant_id)
        if (customer is not None or customer_required) and (
            not isinstance(customer, str) or not customer.strip()
        ):
            raise invalid(
                f"The field {WIRE.customer_tenant_id} is required (a non-empty string).",
                field=WIRE.customer_tenant_id,
            )
        names = {
            "first_name": WIRE.signatory_first_name,
            "last_name": WIRE.signatory_last_name,
            "email": WIRE.signatory_email,
            "company_name": WIRE.company_name,
            "country": WIRE.country,
            "language": WIRE.language,
        }
        values: dict[str, str] = {}
        for key, name in names.items():
            value = body.get(name)
            if not isinstance(value, str) or not value.strip():
                raise invalid(f"The field {name} is required (a non-empty string).", field=name)
            values[key] = value.strip()
        try:
            validate_email(values["email"], check_deliverability=False)
        except EmailNotValidError:
            raise invalid(
                f"The field {WIRE.signatory_email} is not a valid email address.",
                field=WIRE.signatory_email,
            ) from None
        country = values["country"].upper()
        if len(country) != 2 or country not in _COUNTRIES:
            raise invalid(
                f"The field {WIRE.country} must be an ISO 3166-1 alpha-2 code.", field=WIRE.country
            )
        values["country"] = country
        phone = body.get(WIRE.signatory_phone)
        if phone is not None and not isinstance(phone, str):
            raise invalid(
                f"The field {WIRE.signatory_phone} must be a string.", field=WIRE.signatory_phone
            )
        values["phone"] = (phone or "").strip()
        values["customer_id"] = str(customer or "").strip().lower()
        return values

    # GET /v1/attestations/enhanced/{attestation_id} --------------------------------------------
    async def status(self, request: Request) -> Response:
        caller = self.app_only_caller(request, "Reading an enhanced attestation")
        row = find_attestation(self.emulator, request.path_params["attestation_id"])
        if row is None or row["partner_tenant_id"] != caller.tenant_id:
            raise not_found(f"Attestation {request.path_params['attestation_id']}")
        return JSONResponse(attestation_item(row, self.emulator.now()))

    # POST /v1/customers/{customer_id}/agreements ------------------------------------------------
    async def create_agreement(self, request: Request) -> Response:
        """Finalise when the body names an attestation; otherwise the classic attestation."""
        try:
            data = parse_json(await request.body())
        except ValueError:
            data = None  # the classic path answers 400 for it
        if not isinstance(data, dict) or WIRE.finalise_attestation_id not in data:
            return await self.api.attest(request)
        return await self.finalise(request, data)

    async def finalise(self, request: Request, body: dict[str, Any]) -> Response:
        caller = self.app_only_caller(request, "Creating the agreement of an enhanced attestation")
        customer = self.api.customer_or_404(caller, request.path_params["customer_id"])
        wanted = body.get(WIRE.finalise_attestation_id)
        if not isinstance(wanted, str) or not wanted.strip():
            raise invalid(
                f"The field {WIRE.finalise_attestation_id} must be a non-empty string.",
                field=WIRE.finalise_attestation_id,
            )
        _check_template(body.get(WIRE.finalise_template))
        rid = request_id(request)
        path = request.url.path
        now = self.emulator.now()
        with self.store.transaction() as conn:
            if rid is not None:
                replay = self.store.find_replay(conn, caller.tenant_id, rid, "POST", path)
                if replay is not None:
                    return JSONResponse(
                        json.loads(replay[1]),
                        status_code=replay[0],
                        headers={"X-Emulator-Replay": "true"},
                    )
            row = _get(conn, wanted)
            if row is None or row["partner_tenant_id"] != caller.tenant_id:
                raise not_found(f"Attestation {wanted}")
            if row["customer_id"] and row["customer_id"] != customer["id"]:
                raise invalid(
                    f"Attestation {wanted} was created for another customer.",
                    field=WIRE.finalise_attestation_id,
                )
            state = state_of(row, now)
            if state == STATUS_AGREEMENT_CREATED:
                raise self._already()
            if state == STATUS_EXPIRED:
                raise ApiError(
                    400,
                    CODE_EXPIRED,
                    "The attestation's acceptance link expired before the customer accepted."
                    " Create a new attestation.",
                    error_name="EnhancedAttestationExpired",
                )
            if state != STATUS_ACCEPTED:
                raise ApiError(
                    409,
                    CODE_NOT_ACCEPTED,
                    "The customer has not accepted the Microsoft Customer Agreement for this"
                    " attestation yet.",
                    error_name="EnhancedAttestationNotAccepted",
                    retryable=True,
                )
            self._refuse_duplicate(conn, row, customer["id"])
            accepted = datetime.fromtimestamp(row["accepted_ts"], UTC)
            record = {
                "customer_id": customer["id"],
                "type": MCA_AGREEMENT_TYPE,
                "template_id": MCA_TEMPLATE_ID,
                "agreement_link": MCA_AGREEMENT_LINK,
                "date_agreed": wire_datetime(accepted),
                "date_agreed_ts": accepted.timestamp(),
                "first_name": row["first_name"],
                "last_name": row["last_name"],
                "email": row["email"],
                "phone": row["phone"],
                "user_id": caller.partner.app_id,
            }
            self.store.insert_agreement(conn, record)
            conn.execute(
                "UPDATE enhanced_attestations SET finalised_ts = ?, customer_id = ? WHERE id = ?",
                (now.timestamp(), customer["id"], row["id"]),
            )
            created = agreement_item(record)
            created[WIRE.finalise_attestation_id] = row["id"]
            if rid is not None:
                self.store.save_replay(
                    conn, caller.tenant_id, rid, "POST", path, 201, json.dumps(created)
                )
        return JSONResponse(created, status_code=201)

    @staticmethod
    def _already() -> ApiError:
        return ApiError(
            409,
            CODE_ALREADY_ATTESTED,
            "An agreement with the same first name, last name, email and phone number already"
            " exists for this customer.",
            error_name="PartnerConfirmedAgreementAlreadyExists",
        )

    def _refuse_duplicate(
        self, conn: sqlite3.Connection, row: sqlite3.Row, customer_id: str
    ) -> None:
        wanted = (
            fold_text(row["first_name"]),
            fold_text(row["last_name"]),
            fold_text(row["email"]),
            digits_only(row["phone"]),
        )
        for have in self.store.agreements(customer_id, MCA_AGREEMENT_TYPE, conn):
            if (
                fold_text(have["first_name"]),
                fold_text(have["last_name"]),
                fold_text(have["email"]),
                digits_only(have["phone"]),
            ) == wanted:
                raise self._already()

    # --- the customer's acceptance page (no sign-in) -----------------------------------------
    async def acceptance_page(self, request: Request) -> Response:
        attestation_id = (request.query_params.get("attestationid") or "").strip()
        row = find_attestation(self.emulator, attestation_id) if attestation_id else None
        if row is None:
            return _page(
                "This link is not valid",
                "<p>No agreement is waiting under this link. Check that the whole link was "
                "copied, or ask your partner for a new one.</p>",
                status=404,
            )
        state = state_of(row, self.emulator.now())
        facts = _facts(row)
        if state in (STATUS_ACCEPTED, STATUS_AGREEMENT_CREATED):
            return _page(
                "Agreement accepted",
                f"{facts}<p class='ok'>The Microsoft Customer Agreement has been accepted for "
                f"{escape(row['company_name'])}. Nothing more is needed: you may close this "
                "page.</p>",
            )
        if state == STATUS_EXPIRED:
            return _page(
                "This link has expired",
                f"{facts}<p class='warn'>The link expired before the agreement was accepted. "
                "Ask your partner to send a new link.</p>",
                status=410,
            )
        until = datetime.fromtimestamp(row["expires_ts"], UTC).strftime("%Y-%m-%d %H:%M")
        return _page(
            "Microsoft Customer Agreement",
            f"{facts}<p>Please read the <a href='{MCA_AGREEMENT_LINK}' target='_blank' "
            "rel='noopener'>Microsoft Customer Agreement</a>. By selecting <b>Accept "
            "agreement</b>, you accept it on behalf of the company named above.</p>"
            f"<p class='small'>This link is valid until {escape(until)} UTC.</p>"
            "<form method='post' action='/mca/accept'>"
            f"<input type='hidden' name='attestationid' value='{escape(row['id'])}'>"
            "<button type='submit' id='accept'>Accept agreement</button></form>",
        )

    async def accept_form(self, request: Request) -> Response:
        form = parse_qs((await request.body()).decode("utf-8", "replace"))
        attestation_id = (form.get("attestationid") or [""])[0].strip()
        outcome = accept(self.emulator, attestation_id) if attestation_id else "unknown"
        if outcome == "unknown":
            return _page("This link is not valid", "<p>No agreement is waiting here.</p>", 404)
        row = find_attestation(self.emulator, attestation_id)
        assert row is not None
        if outcome == "expired":
            return _page(
                "This link has expired",
                f"{_facts(row)}<p class='warn'>The link expired before the agreement was "
                "accepted. Ask your partner to send a new link.</p>",
                status=410,
            )
        return _page(
            "Thank you",
            f"{_facts(row)}<p class='ok' id='accepted'>{escape(row['company_name'])} accepted "
            "the Microsoft Customer Agreement. Your partner completes the rest; you may close "
            "this page.</p>",
        )


def _requested_minutes(body: dict[str, Any]) -> int | None:
    """`expirationTime`: the link lifetime the partner asks for, whole minutes 5 to 10080."""
    value = body.get(WIRE.expiration_time)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value != int(value)
    ):
        raise invalid(
            f"The field {WIRE.expiration_time} must be a whole number of minutes.",
            field=WIRE.expiration_time,
        )
    minutes = int(value)
    if not LIFETIME_MINUTES_MIN <= minutes <= LIFETIME_MINUTES_MAX:
        raise invalid(
            f"The field {WIRE.expiration_time} must be between {LIFETIME_MINUTES_MIN} and "
            f"{LIFETIME_MINUTES_MAX} minutes.",
            field=WIRE.expiration_time,
        )
    return minutes


def _check_template(value: Any) -> None:
    """The finalise's `templateId`, when sent: the current MCA template only (as the classic
    call refuses the old MCA template; the Cloud Agreement has no enhanced flow)."""
    if value is None:
        return
    template = str(value).strip().lower()
    if template == MCA_TEMPLATE_ID:
        return
    if template == OLD_MCA_TEMPLATE_ID:
        raise invalid(
            f"The agreement template {template} is no longer supported. Get the current template"
            " id from GET /v1/agreements?agreementType=MicrosoftCustomerAgreement.",
            field=WIRE.finalise_template,
            name="TemplateNotSupported",
        )
    if template == CLOUD_AGREEMENT_TEMPLATE_ID:
        raise invalid(
            "The enhanced attestation creates a Microsoft Customer Agreement; the template"
            f" {template} is the Microsoft Cloud Agreement's.",
            field=WIRE.finalise_template,
            name="TemplateNotSupported",
        )
    raise invalid(
        f"The agreement template {template or '(empty)'} is unknown.",
        field=WIRE.finalise_template,
        name="TemplateNotFound",
    )


def _facts(row: sqlite3.Row) -> str:
    name = f"{row['first_name']} {row['last_name']}".strip()
    return (
        "<table class='facts'>"
        f"<tr><th>Company</th><td>{escape(row['company_name'])}</td></tr>"
        f"<tr><th>Signer</th><td>{escape(name)} &lt;{escape(row['email'])}&gt;</td></tr>"
        f"<tr><th>Country</th><td>{escape(row['country'])}</td></tr>"
        "</table>"
    )


_STYLE = """
body{margin:0;background:#f5f5f5;font-family:'Segoe UI',Arial,'Microsoft YaHei',sans-serif;
color:#242424}main{max-width:640px;margin:40px auto;background:#fff;padding:28px 32px;
border-radius:6px;box-shadow:0 1px 4px rgba(0,0,0,.12)}h1{font-size:22px;margin:0 0 16px}
.sandbox{background:#fff8e1;border-left:4px solid #f2c744;padding:8px 12px;font-size:13px;
margin-bottom:18px}.facts th{text-align:left;color:#616161;font-weight:400;padding:3px 16px 3px 0}
.facts td{font-weight:600}button{background:#0f6cbd;color:#fff;border:0;border-radius:4px;
padding:10px 20px;font-size:15px;font-weight:600;cursor:pointer}.ok{color:#0e700e}
.warn{color:#b10e1c}.small{font-size:13px;color:#616161}a{color:#0f6cbd}
"""


def _page(title: str, content: str, status: int = 200) -> HTMLResponse:
    html = (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body><main>"
        "<div class='sandbox'>Sandbox: this page stands in for Microsoft's MCA acceptance "
        "page. Nothing here reaches Microsoft.</div>"
        f"<h1>{escape(title)}</h1>{content}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status)


# --- /sandbox controls ---------------------------------------------------------------------------


class EnhancedSandboxApi:
    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    async def get_settings(self, request: Request) -> Response:
        return JSONResponse({"linkLifetimeSeconds": link_lifetime(self.emulator).total_seconds()})

    async def put_settings(self, request: Request) -> Response:
        body = await json_body(request)
        seconds = body.get("linkLifetimeSeconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds <= 0:
            raise invalid("linkLifetimeSeconds must be a positive number.", field="linkLifetime")
        set_link_lifetime(self.emulator, timedelta(seconds=float(seconds)))
        return await self.get_settings(request)

    async def get_clock(self, request: Request) -> Response:
        return JSONResponse({"now": self.emulator.now().isoformat()})

    async def advance(self, request: Request) -> Response:
        body = await json_body(request)
        seconds = body.get("advanceSeconds")
        if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
            raise invalid("advanceSeconds must be a number of seconds, 0 or more.")
        return JSONResponse({"now": advance_clock(self.emulator, float(seconds)).isoformat()})

    async def accept(self, request: Request) -> Response:
        attestation_id = request.path_params["attestation_id"]
        outcome = accept(self.emulator, attestation_id)
        if outcome == "unknown":
            raise not_found(f"Attestation {attestation_id}")
        return JSONResponse({"attestationId": attestation_id, "outcome": outcome})


def enhanced_routes(emulator: Emulator, api: PartnerCenterApi) -> tuple[EnhancedApi, list[Route]]:
    """The handler object (its `create_agreement` replaces the classic POST .../agreements
    route) and the other routes of the flow."""
    enhanced = EnhancedApi(emulator, api)
    sandbox = EnhancedSandboxApi(emulator)
    routes = [
        Route(WIRE.create_path, enhanced.create, methods=["POST"]),
        Route(
            WIRE.status_path.replace("{attestation_id}", "{attestation_id:str}"),
            enhanced.status,
            methods=["GET"],
        ),
        Route("/mca/", enhanced.acceptance_page, methods=["GET"]),
        Route("/mca/accept", enhanced.accept_form, methods=["POST"]),
        Route("/sandbox/enhanced", sandbox.get_settings, methods=["GET"]),
        Route("/sandbox/enhanced", sandbox.put_settings, methods=["PUT"]),
        Route("/sandbox/clock", sandbox.get_clock, methods=["GET"]),
        Route("/sandbox/clock", sandbox.advance, methods=["POST"]),
        Route("/sandbox/attestations/{attestation_id}/accept", sandbox.accept, methods=["POST"]),
    ]
    return enhanced, routes


__all__ = [
    "CODE_EXPIRED",
    "CODE_NOT_ACCEPTED",
    "DEFAULT_LINK_LIFETIME",
    "EnhancedApi",
    "accept",
    "advance_clock",
    "enhanced_routes",
    "find_attestation",
    "link_lifetime",
    "set_link_lifetime",
]
