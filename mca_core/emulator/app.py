"""The emulator's routes: the Partner Center calls of the contract, plus /sandbox controls.

Layers, outside in: `Gateway` (gateway.py: request ids, faults) -> Starlette routes -> the
handlers of `PartnerCenterApi` (/v1) and `SandboxApi` (/sandbox). A handler refuses by raising
`ApiError` (wire.py), which becomes Partner Center's newer error body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mca_core.domain.models import (
    CLOUD_AGREEMENT_TYPE,
    MCA_AGREEMENT_TYPE,
    PartnerType,
    Role,
    TokenKind,
    parse_wire_datetime,
)

from .directory import (
    CLOUD_AGREEMENT_LINK,
    CLOUD_AGREEMENT_TEMPLATE_ID,
    MCA_AGREEMENT_LINK,
    MCA_TEMPLATE_ID,
    OLD_MCA_TEMPLATE_ID,
    SANDBOX_USERS,
    resellers_of,
)
from .enhanced import enhanced_routes
from .faults import FaultConfig
from .gateway import Gateway
from .seed import MAX_DOMAIN_PREFIX
from .state import Visibility, like_prefix
from .tokens import TOKEN_LIFETIME_SECONDS, Caller, TokenError, verify
from .wire import (
    CODE_ALREADY_ATTESTED,
    CODE_AUTHORIZATION,
    CODE_INVALID_INPUT,
    CODE_MFA_REQUIRED,
    CODE_NOT_ALLOWED,
    ApiError,
    agreement_item,
    api_error_handler,
    attestation_invalid,
    b64_decode,
    b64_encode,
    customer_full,
    customer_item,
    digits_only,
    fold_text,
    http_error_handler,
    invalid,
    json_body,
    not_found,
    request_id,
    seal,
    stored_agreement_types,
    strong_password,
    template_item,
    unseal,
    wire_collection,
    wire_datetime,
    wire_link,
)

if TYPE_CHECKING:
    from .core import Emulator

PAGE_SIZE_MAX = 500
CONTINUATION_HEADER = "MS-ContinuationToken"
RELATIONSHIP_URL = "https://admin.microsoft.com/Adminportal/Home"
FILTER_FIELDS = {
    "companyname": "CompanyName",
    "domain": "Domain",
    "indirectreseller": "IndirectReseller",
    "indirectcloudsolutionprovider": "IndirectCloudSolutionProvider",
}
_DOMAIN_RE = re.compile(rf"^[a-z0-9]{{1,{MAX_DOMAIN_PREFIX}}}\.onmicrosoft\.com$")
_ATTEST_ROLES = (Role.ADMIN_AGENT, Role.SALES_AGENT)
_COUNTRIES = frozenset(phonenumbers.SUPPORTED_REGIONS)


def _agreement_record(row: Any) -> dict[str, Any]:
    """One `customerAgreementRecords` item: the customer's last acceptance of either kind."""
    attested_ts = row["date_agreed_ts"]
    direct_ts: float | None = None
    if row["direct_signed"]:
        direct_ts = datetime.fromisoformat(row["direct_signed_at"]).timestamp()
    record: dict[str, Any] = {
        "customerTenantId": row["id"],
        "lastAgreementPrimaryContact": None,
        "lastAgreementDateEpoch": 0,
        "partnerAttestationCompleted": False,
    }
    if attested_ts is not None and (direct_ts is None or attested_ts >= direct_ts):
        record.update(
            lastAgreementDateEpoch=int(attested_ts * 1000),  # milliseconds, as Microsoft's
            partnerAttestationCompleted=True,
            lastAgreementPrimaryContact={
                "firstName": row["first_name"],
                "lastName": row["last_name"],
                "email": row["email"],
                "phoneNumber": row["phone"] or "",
            },
        )
    elif direct_ts is not None:
        record["lastAgreementDateEpoch"] = int(direct_ts)  # seconds: both forms occur
    return record


# The Partner Center API ------------------------------------------------------------------------
class PartnerCenterApi:
    """Handlers of the /v1 calls of the contract."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator
        self.store = emulator.store

    # auth ------------------------------------------------------------------------------------
    def authenticate(self, request: Request, *, app_only: bool) -> Caller:
        """401 for a bad token, 900421 without MFA, 403 for a token kind the call refuses."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        token = token.strip()
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        if scheme.lower() != "bearer" or not token:
            raise ApiError(
                401,
                CODE_AUTHORIZATION,
                "Authorization failed: the request has no bearer token.",
                error_name="Unauthorized",
                headers=challenge,
            )
        try:
            caller = verify(self.store.signing_key(), token, self.emulator.now())
        except TokenError as exc:
            raise ApiError(
                401, CODE_AUTHORIZATION, str(exc), error_name="Unauthorized", headers=challenge
            ) from None
        if caller.kind is TokenKind.APP_USER and not caller.mfa:
            raise ApiError(
                401,
                CODE_MFA_REQUIRED,
                "Multi-factor authentication is required: the App+User token has no 'mfa' in"
                " its 'amr' claim. Sign in again with MFA.",
                error_name="MfaRequired",
                headers=challenge,
            )
        if caller.kind is TokenKind.APP_ONLY and not app_only:
            raise ApiError(
                403,
                CODE_AUTHORIZATION,
                "This call needs an App+User token (a signed-in partner user); App-only tokens"
                " are not accepted.",
                error_name="Forbidden",
            )
        if caller.kind is TokenKind.APP_USER and caller.role is Role.NONE:
            raise ApiError(
                403,
                CODE_AUTHORIZATION,
                "The signed-in user is in none of the AdminAgents, SalesAgents or"
                " HelpdeskAgents groups of the partner tenant.",
                error_name="Forbidden",
            )
        return caller

    @staticmethod
    def require_role(caller: Caller, action: str) -> None:
        """Only Admin agents and Sales agents may change things (App-only passes)."""
        if caller.kind is TokenKind.APP_USER and caller.role not in _ATTEST_ROLES:
            raise ApiError(
                403,
                CODE_AUTHORIZATION,
                f"Only Admin agents and Sales agents can {action}; the signed-in user is a"
                f" {caller.role.label}.",
                error_name="Forbidden",
            )

    def customer_or_404(self, caller: Caller, customer_id: str) -> Any:
        row = self.store.get_customer(Visibility(caller.tenant_id, caller.is_reseller), customer_id)
        if row is None:
            raise not_found(f"Customer {customer_id}")
        return row

    # GET /v1/agreements ----------------------------------------------------------------------
    async def agreement_metadata(self, request: Request) -> Response:
        self.authenticate(request, app_only=False)
        # Trap of the contract: without agreementType the answer is the Cloud Agreement.
        types = stored_agreement_types(request.query_params.get("agreementType"), default_all=False)
        if types is None:
            types = [MCA_AGREEMENT_TYPE, CLOUD_AGREEMENT_TYPE]
        return JSONResponse(wire_collection([template_item(t) for t in types]))

    # GET /v1/customers -----------------------------------------------------------------------
    async def list_customers(self, request: Request) -> Response:
        caller = self.authenticate(request, app_only=True)
        query = request.query_params
        size = self._page_size(query.get("size"))
        key = self.store.signing_key()
        after_seq = 0
        if (query.get("seekOperation") or "").casefold() == "next":
            token = request.headers.get(CONTINUATION_HEADER)
            if not token:
                raise invalid(
                    f"A next-page request needs the {CONTINUATION_HEADER} header from"
                    " links.next.headers.",
                    field=CONTINUATION_HEADER,
                )
            after_seq, filt = self._decode_continuation(key, caller.tenant_id, token)
        else:
            raw_filter = query.get("filter")
            filt = self._parse_filter(raw_filter) if raw_filter is not None else None
        where, params = self._filter_sql(filt)
        rows, more = self.store.list_customers(
            Visibility(caller.tenant_id, caller.is_reseller),
            after_seq=after_seq,
            size=size,
            where=where,
            params=params,
        )
        self_uri = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        links: dict[str, Any] = {"self": wire_link(self_uri)}
        if more and rows:
            token = self._encode_continuation(key, caller.tenant_id, rows[-1]["seq"], filt)
            links["next"] = wire_link(
                f"/v1/customers?size={size}&seekOperation=Next",
                [{"key": CONTINUATION_HEADER, "value": token}],
            )
        return JSONResponse(wire_collection([customer_item(r) for r in rows], links))

    @staticmethod
    def _page_size(raw: str | None) -> int:
        if raw is None:
            return PAGE_SIZE_MAX
        try:
            size = int(raw)
        except ValueError:
            raise invalid("size must be a whole number.", field="size") from None
        if size < 1:
            raise invalid("size must be at least 1.", field="size")
        return min(size, PAGE_SIZE_MAX)

    @staticmethod
    def _parse_filter(raw: str) -> dict[str, str]:
        try:
            data = json.loads(raw)
        except ValueError:
            raise invalid("filter is not valid JSON.", field="filter") from None
        if not isinstance(data, dict):
            raise invalid("filter must be a JSON object.", field="filter")
        data = {str(k).casefold(): v for k, v in data.items()}
        field = FILTER_FIELDS.get(str(data.get("field", "")).casefold())
        if field is None:
            raise invalid(
                "filter.Field must be one of CompanyName, Domain, IndirectReseller,"
                " IndirectCloudSolutionProvider.",
                field="filter.Field",
            )
        if str(data.get("operator", "")).casefold() != "starts_with":
            raise invalid("filter.Operator must be starts_with.", field="filter.Operator")
        value = data.get("value")
        if not isinstance(value, str) or not value.strip():
            raise invalid("filter.Value must be a non-empty string.", field="filter.Value")
        return {"Field": field, "Value": value.strip(), "Operator": "starts_with"}

    @staticmethod
    def _filter_sql(filt: dict[str, str] | None) -> tuple[str, list[Any]]:
        if filt is None:
            return "", []
        field, value = filt["Field"], filt["Value"]
        if field == "CompanyName":
            return "company_name_fold LIKE ? ESCAPE '\\'", [like_prefix(value.casefold())]
        if field == "Domain":
            return "domain LIKE ? ESCAPE '\\'", [like_prefix(value.lower())]
        if field == "IndirectReseller":
            return "associated_partner_id LIKE ? ESCAPE '\\'", [like_prefix(value.lower())]
        return (
            "associated_partner_id IS NOT NULL AND partner_tenant_id LIKE ? ESCAPE '\\'",
            [like_prefix(value.lower())],
        )

    @staticmethod
    def _encode_continuation(
        key: bytes, tenant_id: str, last_seq: int, filt: dict[str, str] | None
    ) -> str:
        payload = b64_encode(json.dumps({"t": tenant_id, "s": last_seq, "f": filt}).encode())
        mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]
        return f"{payload}.{b64_encode(mac)}"

    @staticmethod
    def _decode_continuation(
        key: bytes, tenant_id: str, token: str
    ) -> tuple[int, dict[str, str] | None]:
        error = invalid(
            f"The {CONTINUATION_HEADER} is not valid (expired, altered or another partner's).",
            field=CONTINUATION_HEADER,
        )
        payload, _, mac = token.strip().partition(".")
        try:
            expected = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]
            if not hmac.compare_digest(b64_decode(mac), expected):
                raise error
            data = json.loads(b64_decode(payload))
        except (ValueError, TypeError):
            raise error from None
        if data.get("t") != tenant_id or not isinstance(data.get("s"), int):
            raise error
        return data["s"], data.get("f")

    # GET /v1/customers/{id} ------------------------------------------------------------------
    async def get_customer(self, request: Request) -> Response:
        caller = self.authenticate(request, app_only=True)
        row = self.customer_or_404(caller, request.path_params["customer_id"])
        return JSONResponse(customer_full(row))

    # POST /v1/customers ----------------------------------------------------------------------
    async def create_customer(self, request: Request) -> Response:
        caller = self.authenticate(request, app_only=True)
        self.require_role(caller, "create customers")
        body = await json_body(request)
        associated = self._associated_partner(caller, body.get("associatedPartnerId"))
        domain, name, billing = self._validate_new_customer(body)
        if caller.is_reseller:
            # A reseller's new customer belongs to it, billed through its indirect provider.
            owner = str(caller.partner.provider_tenant_id)
            associated = caller.tenant_id
        else:
            owner = caller.tenant_id
        rid = request_id(request)
        key = self.store.signing_key()
        path = request.url.path
        with self.store.transaction() as conn:
            if rid is not None:
                replay = self.store.find_replay(conn, caller.tenant_id, rid, "POST", path)
                if replay is not None:
                    return self._replayed(key, rid, replay)
            taken = conn.execute("SELECT 1 FROM customers WHERE domain = ?", (domain,)).fetchone()
            if taken:
                raise ApiError(
                    409,
                    CODE_INVALID_INPUT,  # emulator choice
                    f"The domain {domain} is already in use. Choose another domain prefix.",
                    error_name="DomainAlreadyExists",
                    parameters={"field": "companyProfile.domain"},
                )
            customer_id = str(uuid.uuid4())
            commerce_id = str(uuid.uuid4())
            row = {
                "id": customer_id,
                "commerce_id": commerce_id,
                "partner_tenant_id": owner,
                "associated_partner_id": associated,
                "company_name": name,
                "company_name_fold": name.casefold(),
                "domain": domain,
                "country": billing["defaultAddress"]["country"],
                "billing_profile": json.dumps(billing, ensure_ascii=False),
            }
            self.store.insert_customer(conn, row)
            created = customer_full(
                conn.execute("SELECT * FROM customers WHERE id = ?", (customer_id,)).fetchone()
            )
            password = strong_password()
            created["userCredentials"] = {"userName": "admin", "password": password}
            if rid is not None:
                stored = json.loads(json.dumps(created))
                stored["userCredentials"]["password"] = seal(key, rid, password)
                self.store.save_replay(
                    conn, caller.tenant_id, rid, "POST", path, 201, json.dumps(stored)
                )
        return JSONResponse(created, status_code=201)

    @staticmethod
    def _replayed(key: bytes, rid: str, replay: tuple[int, str]) -> Response:
        status, text = replay
        body = json.loads(text)
        creds = body.get("userCredentials")
        if isinstance(creds, dict) and str(creds.get("password", "")).startswith("sealed:"):
            creds["password"] = unseal(key, rid, creds["password"])
        return JSONResponse(body, status_code=status, headers={"X-Emulator-Replay": "true"})

    @staticmethod
    def _associated_partner(caller: Caller, value: Any) -> str | None:
        if value in (None, ""):
            return None
        if caller.kind is TokenKind.APP_ONLY:
            raise ApiError(
                403,
                CODE_AUTHORIZATION,
                "associatedPartnerId needs an App+User token.",
                error_name="Forbidden",
            )
        if caller.partner.partner_type is not PartnerType.INDIRECT_PROVIDER:
            raise ApiError(
                403,
                CODE_NOT_ALLOWED,
                "Only an indirect provider can create a customer for an indirect reseller.",
                error_name="NotAllowed",
            )
        wanted = str(value).strip().lower()
        if wanted not in {r.tenant_id for r in resellers_of(caller.tenant_id)}:
            raise invalid(
                f"associatedPartnerId {value} is not one of your indirect resellers.",
                field="associatedPartnerId",
            )
        return wanted

    @staticmethod
    def _validate_new_customer(body: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
        profile = body.get("companyProfile")
        billing = body.get("billingProfile")
        if not isinstance(profile, dict):
            raise invalid("companyProfile is required.", field="companyProfile")
        if not isinstance(billing, dict):
            raise invalid("billingProfile is required.", field="billingProfile")
        domain = str(profile.get("domain") or "").strip().lower()
        if not _DOMAIN_RE.match(domain):
            raise invalid(
                "companyProfile.domain must be a prefix of 1 to"
                f" {MAX_DOMAIN_PREFIX} lowercase letters or digits followed by .onmicrosoft.com.",
                field="companyProfile.domain",
            )
        name = str(billing.get("companyName") or "").strip()
        if not name:
            raise invalid(
                "billingProfile.companyName is required.", field="billingProfile.companyName"
            )
        if len(name) > 255:
            raise invalid(
                "billingProfile.companyName is longer than 255 characters.",
                field="billingProfile.companyName",
            )
        email = str(billing.get("email") or "").strip()
        try:
            validate_email(email, check_deliverability=False)
        except EmailNotValidError:
            raise invalid(
                "billingProfile.email is not a valid email address.", field="billingProfile.email"
            ) from None
        address = billing.get("defaultAddress")
        if not isinstance(address, dict):
            raise invalid(
                "billingProfile.defaultAddress is required.", field="billingProfile.defaultAddress"
            )
        country = str(address.get("country") or "").strip().upper()
        if country not in _COUNTRIES:
            raise invalid(
                "billingProfile.defaultAddress.country must be an ISO 3166 two-letter code.",
                field="billingProfile.defaultAddress.country",
            )
        clean = {k: v for k, v in billing.items() if k != "attributes"}
        clean["companyName"] = name
        clean["email"] = email
        clean["defaultAddress"] = {**address, "country": country}
        return domain, name, clean

    # GET /v1/customers/{id}/agreements ------------------------------------------------------
    async def customer_agreements(self, request: Request) -> Response:
        caller = self.authenticate(request, app_only=False)
        customer_id = request.path_params["customer_id"]
        row = self.customer_or_404(caller, customer_id)
        types = stored_agreement_types(request.query_params.get("agreementType"), default_all=True)
        if types == []:
            items: list[dict[str, Any]] = []
        else:
            wanted = None if types is None else types[0]
            items = [agreement_item(a) for a in self.store.agreements(row["id"], wanted)]
        self_uri = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return JSONResponse(wire_collection(items, {"self": wire_link(self_uri)}))

    # POST /v1/customers/{id}/agreements (attest) ---------------------------------------------
    async def attest(self, request: Request) -> Response:
        caller = self.authenticate(request, app_only=False)
        self.refuse_if_classic_retired()
        if caller.is_reseller:
            raise ApiError(
                403,
                CODE_NOT_ALLOWED,
                "Indirect resellers cannot attest; ask your indirect provider.",
                error_name="NotAllowed",
                description=(
                    f"Ask {caller.partner.provider_name} (your indirect provider) to confirm the"
                    " customer's acceptance of the Microsoft Customer Agreement."
                ),
            )
        self.require_role(caller, "attest customer acceptance of the MCA")
        row = self.customer_or_404(caller, request.path_params["customer_id"])
        body = await json_body(request)
        record = self._validate_attestation(body)
        record.update({"customer_id": row["id"], "user_id": caller.user_id})
        rid = request_id(request)
        key = self.store.signing_key()
        path = request.url.path
        with self.store.transaction() as conn:
            if rid is not None:
                replay = self.store.find_replay(conn, caller.tenant_id, rid, "POST", path)
                if replay is not None:
                    return self._replayed(key, rid, replay)
            if record["type"] == MCA_AGREEMENT_TYPE:
                self._refuse_duplicate(
                    self.store.agreements(row["id"], MCA_AGREEMENT_TYPE, conn), record
                )
            self.store.insert_agreement(conn, record)
            created = agreement_item(record)
            if rid is not None:
                self.store.save_replay(
                    conn, caller.tenant_id, rid, "POST", path, 201, json.dumps(created)
                )
        return JSONResponse(created, status_code=201)

    def refuse_if_classic_retired(self) -> None:
        """The classic call (contact + date, no attestation id) once it is retired on the
        emulator's clock: the configured refusal (Microsoft's real answer is not public)."""
        emulator = self.emulator
        if not emulator.classic_retired():
            return
        day = emulator.classic_retired_on.isoformat() if emulator.classic_retired_on else ""
        raise ApiError(
            emulator.classic_refusal_status,
            emulator.classic_refusal_code,
            f"The partner attestation API for the MCA was retired on {day}; use the enhanced"
            " attestation flow.",
            error_name="ClassicAttestationRetired",  # emulator choice
            description=(
                "Create an enhanced attestation (POST /v1/attestations/enhanced), let the"
                " customer accept through its link, then create the agreement with the"
                " attestation id."
            ),
        )

    def _validate_attestation(self, body: dict[str, Any]) -> dict[str, Any]:
        contact = body.get("primaryContact")
        if not isinstance(contact, dict):
            raise attestation_invalid("The field primaryContact is required.", "primaryContact")
        values: dict[str, str] = {}
        for name in ("firstName", "lastName", "email"):
            value = contact.get(name)
            if not isinstance(value, str) or not value.strip():
                raise attestation_invalid(
                    f"The field primaryContact.{name} is required.", f"primaryContact.{name}"
                )
            values[name] = value.strip()
        try:
            validate_email(values["email"], check_deliverability=False)
        except EmailNotValidError:
            raise attestation_invalid(
                "The field primaryContact.email is not a valid email address.",
                "primaryContact.email",
            ) from None
        phone = contact.get("phoneNumber")
        if phone is not None and not isinstance(phone, str):
            raise attestation_invalid(
                "The field primaryContact.phoneNumber must be a string.",
                "primaryContact.phoneNumber",
            )
        template = str(body.get("templateId") or "").strip().lower()
        if not template:
            raise attestation_invalid("The field templateId is required.", "templateId")
        if template == OLD_MCA_TEMPLATE_ID:
            raise invalid(
                f"The agreement template {template} is no longer supported. Get the current"
                " template id from GET /v1/agreements?agreementType=MicrosoftCustomerAgreement.",
                field="templateId",
                name="TemplateNotSupported",
            )
        if template == MCA_TEMPLATE_ID:
            stored_type, link = MCA_AGREEMENT_TYPE, MCA_AGREEMENT_LINK
        elif template == CLOUD_AGREEMENT_TEMPLATE_ID:
            # Trap of the contract: the template decides the stored type, whatever `type` says.
            stored_type, link = CLOUD_AGREEMENT_TYPE, CLOUD_AGREEMENT_LINK
        else:
            raise invalid(
                f"The agreement template {template} is unknown.",
                field="templateId",
                name="TemplateNotFound",
            )
        raw_date = body.get("dateAgreed")
        if not isinstance(raw_date, str) or not raw_date.strip():
            raise attestation_invalid("The field dateAgreed is required.", "dateAgreed")
        try:
            agreed = parse_wire_datetime(raw_date)
        except ValueError:
            raise attestation_invalid(
                "The field dateAgreed is not a valid date and time.", "dateAgreed"
            ) from None
        now = self.emulator.now()
        if agreed > now:
            raise attestation_invalid(
                "Agreement date cannot be later than the current date.",
                "dateAgreed",
                description=(
                    f"dateAgreed {wire_datetime(agreed)} is later than the service's current"
                    f" date and time {wire_datetime(now)} (UTC). Dates are judged in UTC."
                ),
            )
        return {
            "type": stored_type,
            "template_id": template,
            "agreement_link": link,
            "date_agreed": wire_datetime(agreed),
            "date_agreed_ts": agreed.timestamp(),
            "first_name": values["firstName"],
            "last_name": values["lastName"],
            "email": values["email"],
            "phone": (phone or "").strip(),
        }

    @staticmethod
    def _refuse_duplicate(existing: list[Any], record: dict[str, Any]) -> None:
        """600061 when name, email and phone all equal an existing MCA attestation's."""
        wanted = (
            fold_text(record["first_name"]),
            fold_text(record["last_name"]),
            fold_text(record["email"]),
            digits_only(record["phone"]),
        )
        for row in existing:
            have = (
                fold_text(row["first_name"]),
                fold_text(row["last_name"]),
                fold_text(row["email"]),
                digits_only(row["phone"]),
            )
            if have == wanted:
                raise ApiError(
                    409,
                    CODE_ALREADY_ATTESTED,
                    "An attestation with the same first name, last name, email and phone number"
                    " already exists for this customer.",
                    error_name="PartnerConfirmedAgreementAlreadyExists",
                    retryable=False,
                )

    # GET /v1/customers/{id}/directSignedMicrosoftCustomerAgreementStatus ---------------------
    async def direct_signed_status(self, request: Request) -> Response:
        caller = self.authenticate(request, app_only=False)
        row = self.customer_or_404(caller, request.path_params["customer_id"])
        return JSONResponse(
            {
                "isSigned": bool(row["direct_signed"]),
                "attributes": {"objectType": "DirectSignedMicrosoftCustomerAgreementStatus"},
            }
        )

    # GET /v1/partners/customeragreementrecords ----------------------------------------------
    async def agreement_records(self, request: Request) -> Response:
        """Every visible customer's last MCA acceptance, `records_page_size` a page: the newer
        of the newest attestation and the direct acceptance; a customer with neither is listed
        with no date (as Microsoft's refresh tool expects). `--no-agreement-records` answers
        404, as a retired or never-granted endpoint would."""
        caller = self.authenticate(request, app_only=False)
        if not self.emulator.agreement_records:
            raise not_found("Resource customeragreementrecords")
        key = self.store.signing_key()
        after_seq = 0
        token = request.query_params.get("continuation_token")
        if token:
            after_seq, _ = self._decode_continuation(key, caller.tenant_id, token)
        rows, more = self.store.agreement_records(
            Visibility(caller.tenant_id, caller.is_reseller),
            after_seq=after_seq,
            size=self.emulator.records_page_size,
            agreement_type=MCA_AGREEMENT_TYPE,
        )
        body: dict[str, Any] = {"customerAgreementRecords": [_agreement_record(r) for r in rows]}
        if more and rows:
            body["continuationToken"] = self._encode_continuation(
                key, caller.tenant_id, rows[-1]["seq"], None
            )
        return JSONResponse(body)

    # GET /v1/customers/relationshiprequests --------------------------------------------------
    async def relationship_request(self, request: Request) -> Response:
        caller = self.authenticate(request, app_only=False)
        self.require_role(caller, "request reseller relationships")
        query = request.query_params
        reseller_id = (query.get("indirectResellerId") or "").strip().lower() or None
        provider_id = (query.get("indirectCloudSolutionProviderId") or "").strip().lower() or None
        dual = (query.get("dualRoleIndirectRelationship") or "false").strip().lower()
        if dual not in ("true", "false"):
            raise invalid(
                "dualRoleIndirectRelationship must be true or false.",
                field="dualRoleIndirectRelationship",
            )
        me = caller.partner
        if reseller_id is None and provider_id is None:
            url = (
                f"{RELATIONSHIP_URL}?invType=ResellerRelationship&partnerId={me.tenant_id}"
                "&msppId=0&DAP=false#/BillingAccounts/partner-invitation"
            )
        else:
            if me.partner_type is PartnerType.INDIRECT_PROVIDER:
                reseller, provider = reseller_id, provider_id or me.tenant_id
                ok = provider == me.tenant_id and reseller in {
                    r.tenant_id for r in resellers_of(me.tenant_id)
                }
            elif me.partner_type is PartnerType.INDIRECT_RESELLER:
                reseller, provider = reseller_id or me.tenant_id, provider_id
                ok = reseller == me.tenant_id and provider == me.provider_tenant_id
            else:
                reseller = provider = None
                ok = False
            if not ok:
                raise invalid(
                    "indirectResellerId / indirectCloudSolutionProviderId do not name an indirect"
                    " reseller and its indirect provider, one of which is you.",
                    field="indirectResellerId"
                    if reseller_id
                    else "indirectCloudSolutionProviderId",
                )
            url = (
                f"{RELATIONSHIP_URL}?invType=IndirectResellerRelationship&partnerId={reseller}"
                f"&indirectCSPId={provider}&msppId=0&DAP=false"
                "#/BillingAccounts/partner-invitation"
            )
        return JSONResponse({"url": url, "attributes": {"objectType": "RelationshipRequest"}})


# The /sandbox controls ---------------------------------------------------------------------------
class SandboxApi:
    """Controls of the sandbox itself: tokens, health, faults, direct signing, reset. No auth."""

    def __init__(self, emulator: Emulator):
        self.emulator = emulator

    async def token(self, request: Request) -> Response:
        body = await json_body(request)
        user = body.get("user")
        if not isinstance(user, str) or user not in SANDBOX_USERS:
            valid = ", ".join(SANDBOX_USERS)
            raise invalid(
                f"Unknown sandbox user {repr(user)[:80]}. Valid users: {valid}.",
                field="user",
                name="UnknownSandboxUser",
            )
        mfa = body.get("mfa", True)
        if not isinstance(mfa, bool):
            raise invalid("mfa must be true or false.", field="mfa")
        try:
            kind = TokenKind(body.get("kind", TokenKind.APP_USER.value))
        except ValueError:
            raise invalid("kind must be app_user or app_only.", field="kind") from None
        token = self.emulator.issue_token(str(user), mfa=mfa, kind=kind)
        return JSONResponse(
            {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_SECONDS}
        )

    async def health(self, request: Request) -> Response:
        return JSONResponse(self.emulator.health())

    async def get_faults(self, request: Request) -> Response:
        return JSONResponse(self.emulator.faults.to_dict())

    async def put_faults(self, request: Request) -> Response:
        body = await json_body(request)
        try:
            config = FaultConfig.from_dict(body, base=self.emulator.faults)
        except (TypeError, ValueError, OverflowError) as exc:
            raise invalid(f"Invalid fault settings: {exc}", name="InvalidFaults") from None
        self.emulator.faults = config
        return JSONResponse(config.to_dict())

    async def direct_signing(self, request: Request) -> Response:
        body = await json_body(request)
        signed = body.get("isSigned", True)
        if not isinstance(signed, bool):
            raise invalid("isSigned must be true or false.", field="isSigned")
        customer_id = request.path_params["customer_id"]
        if not self.emulator.set_direct_signing(customer_id, signed):
            raise not_found(f"Customer {customer_id}")
        return JSONResponse({"id": customer_id, "isSigned": signed})

    async def reset(self, request: Request) -> Response:
        self.emulator.reset()
        return JSONResponse(self.emulator.health())


def build_app(emulator: Emulator) -> Gateway:
    """The emulator's ASGI application."""
    api = PartnerCenterApi(emulator)
    sandbox = SandboxApi(emulator)
    # The enhanced attestation flow (enhanced.py): its finalise shares POST .../agreements.
    enhanced, enhanced_only = enhanced_routes(emulator, api)
    customer = "/v1/customers/{customer_id}"
    routes = [
        Route("/v1/agreements", api.agreement_metadata, methods=["GET"]),
        Route("/v1/customers", api.list_customers, methods=["GET"]),
        Route("/v1/customers", api.create_customer, methods=["POST"]),
        # Before /v1/customers/{customer_id}, or "relationshiprequests" would be a customer id.
        Route("/v1/customers/relationshiprequests", api.relationship_request, methods=["GET"]),
        Route("/v1/partners/customeragreementrecords", api.agreement_records, methods=["GET"]),
        Route(customer, api.get_customer, methods=["GET"]),
        Route(f"{customer}/agreements", api.customer_agreements, methods=["GET"]),
        Route(f"{customer}/agreements", enhanced.create_agreement, methods=["POST"]),
        Route(
            f"{customer}/directSignedMicrosoftCustomerAgreementStatus",
            api.direct_signed_status,
            methods=["GET"],
        ),
        Route("/sandbox/token", sandbox.token, methods=["POST"]),
        Route("/sandbox/health", sandbox.health, methods=["GET"]),
        Route("/sandbox/faults", sandbox.get_faults, methods=["GET"]),
        Route("/sandbox/faults", sandbox.put_faults, methods=["PUT"]),
        Route(
            "/sandbox/customers/{customer_id}/direct-signing",
            sandbox.direct_signing,
            methods=["POST"],
        ),
        Route("/sandbox/reset", sandbox.reset, methods=["POST"]),
        *enhanced_only,
    ]
    inner = Starlette(
        routes=routes,
        exception_handlers={ApiError: api_error_handler, HTTPException: http_error_handler},
    )
    return Gateway(emulator, inner)


__all__ = ["PartnerCenterApi", "SandboxApi", "build_app"]
