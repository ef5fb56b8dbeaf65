"""The emulator's HTTP surface: the Partner Center calls of the contract, plus /sandbox controls.

Layers, outside in:
  `Gateway`   (plain ASGI) echoes or mints MS-RequestId / MS-CorrelationId on every answer and
              injects faults into /v1 requests (never into /sandbox);
  Starlette   routes to the handlers of `PartnerCenterApi` (/v1) and `SandboxApi` (/sandbox);
  `ApiError`  is how a handler refuses: it becomes the newer Partner Center error body.

Error codes the contract names are used as it says. Where the contract names none, the emulator
uses codes from Microsoft's public error-code table (404 -> 1000 "not found", 400 -> 400056
"invalid input"); they are marked `# emulator choice` below.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import anyio
import phonenumbers
from email_validator import EmailNotValidError, validate_email
from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Message, Receive, Scope, Send

from mca_core.models import (
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
from .faults import Fault, FaultConfig, FaultKind
from .seed import MAX_DOMAIN_PREFIX
from .state import Visibility, like_prefix
from .tokens import TOKEN_LIFETIME_SECONDS, Caller, TokenError, peek_tenant, verify

if TYPE_CHECKING:
    from .core import Emulator

# Partner Center error codes ------------------------------------------------------------------
CODE_AUTHORIZATION = 1002
CODE_NOT_ALLOWED = 600006
CODE_VALIDATION = 600002
CODE_ALREADY_ATTESTED = 600061
CODE_MFA_REQUIRED = 900421
CODE_NOT_FOUND = 1000  # emulator choice (public table: 404 / 1000 "Not found")
CODE_INVALID_INPUT = 400056  # emulator choice (public table: 400 / 400056 "Invalid input")

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
_SCOPE_REQUEST_ID = "mca.request_id"
_SCOPE_REQUEST_ID_GIVEN = "mca.request_id_given"


# Errors ----------------------------------------------------------------------------------------
@dataclass(eq=False)
class ApiError(Exception):
    """A refusal, rendered as Partner Center's newer error body."""

    status: int
    code: int
    message: str
    error_name: str = ""
    description: str = ""
    retryable: bool = False
    parameters: dict[str, Any] | None = None
    headers: dict[str, str] | None = None

    def body(self) -> dict[str, Any]:
        return error_body(
            self.code,
            self.message,
            error_name=self.error_name,
            description=self.description,
            retryable=self.retryable,
            parameters=self.parameters,
        )


def error_body(
    code: int,
    message: str,
    *,
    error_name: str = "",
    description: str = "",
    retryable: bool = False,
    parameters: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "description": description or message,
        "errorName": error_name,
        "isRetryable": retryable,
        "parameters": parameters or {},
        "errorMessageExtended": f"InternalErrorCode={code}",
    }


def invalid(message: str, *, field: str | None = None, name: str = "InvalidInput") -> ApiError:
    """400 invalid input (not a date/contact problem of an attestation)."""
    params = {"field": field} if field else None
    return ApiError(400, CODE_INVALID_INPUT, message, error_name=name, parameters=params)


def attestation_invalid(message: str, field: str, description: str = "") -> ApiError:
    """400 / 600002: the code Partner Center reuses for attestation validation errors."""
    return ApiError(
        400,
        CODE_VALIDATION,
        message,
        error_name="InvalidAgreement",
        description=description,
        parameters={"field": field},
    )


def not_found(what: str) -> ApiError:
    return ApiError(404, CODE_NOT_FOUND, f"{what} was not found.", error_name="NotFound")


async def _api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def _http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = CODE_NOT_FOUND if exc.status_code == 404 else exc.status_code
    message = "No such resource." if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(error_body(code, message), status_code=exc.status_code)


# Small helpers -----------------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, salt: str, text: str) -> str:
    """Obfuscate a secret with the emulator key (a test double's replay store, not real crypto)."""
    data = text.encode()
    stream = hashlib.shake_256(key + salt.encode()).digest(len(data))
    return "sealed:" + _b64(bytes(a ^ b for a, b in zip(data, stream, strict=True)))


def unseal(key: bytes, salt: str, text: str) -> str:
    data = _unb64(text.removeprefix("sealed:"))
    stream = hashlib.shake_256(key + salt.encode()).digest(len(data))
    return bytes(a ^ b for a, b in zip(data, stream, strict=True)).decode()


def strong_password(length: int = 16) -> str:
    """A first-admin password of the kind Partner Center hands out (shown once)."""
    pools = ("ABCDEFGHJKLMNPQRSTUVWXYZ", "abcdefghijkmnopqrstuvwxyz", "23456789", "!@#$%^&*-_=+?")
    rng = secrets.SystemRandom()
    chars = [rng.choice(pool) for pool in pools]
    everything = "".join(pools)
    chars += [rng.choice(everything) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


def wire_datetime(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fold(text: Any) -> str:
    return str(text or "").strip().casefold()


def _digits(text: Any) -> str:
    return "".join(ch for ch in str(text or "") if ch.isdigit())


def _collection(items: list[dict[str, Any]], links: dict[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"totalCount": len(items), "items": items}
    if links is not None:
        body["links"] = links
    body["attributes"] = {"objectType": "Collection"}
    return body


def _link(uri: str, headers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    return {"uri": uri, "method": "GET", "headers": headers or []}


def customer_item(row: Any) -> dict[str, Any]:
    """A customer as the list call returns it (plus `billingProfile.defaultAddress.country`)."""
    item: dict[str, Any] = {
        "id": row["id"],
        "commerceId": row["commerce_id"],
        "companyProfile": {
            "tenantId": row["id"],
            "domain": row["domain"],
            "companyName": row["company_name"],
            "attributes": {"objectType": "CustomerCompanyProfile"},
        },
        # Extension: the real list call has no billing profile; the overview groups by country.
        "billingProfile": {
            "defaultAddress": {"country": row["country"]},
            "attributes": {"objectType": "CustomerBillingProfile"},
        },
        "relationshipToPartner": "reseller",
    }
    if row["associated_partner_id"]:
        item["associatedPartnerId"] = row["associated_partner_id"]
    item["attributes"] = {"objectType": "Customer"}
    return item


def customer_full(row: Any) -> dict[str, Any]:
    """A customer as GET /v1/customers/{id} returns it."""
    item = customer_item(row)
    billing = json.loads(row["billing_profile"])
    billing.setdefault("defaultAddress", {}).setdefault("country", row["country"])
    billing["attributes"] = {"objectType": "CustomerBillingProfile"}
    item["billingProfile"] = billing
    return item


def agreement_item(row: Any) -> dict[str, Any]:
    contact: dict[str, Any] = {
        "firstName": row["first_name"],
        "lastName": row["last_name"],
        "email": row["email"],
    }
    if row["phone"]:
        contact["phoneNumber"] = row["phone"]
    return {
        "primaryContact": contact,
        "templateId": row["template_id"],
        "dateAgreed": row["date_agreed"],
        "type": row["type"],
        "agreementLink": row["agreement_link"],
        "userId": row["user_id"],
        "attributes": {"objectType": "Agreement"},
    }


def _template_item(agreement_type: str) -> dict[str, Any]:
    if agreement_type == MCA_AGREEMENT_TYPE:
        template, link = MCA_TEMPLATE_ID, MCA_AGREEMENT_LINK
    else:
        template, link = CLOUD_AGREEMENT_TEMPLATE_ID, CLOUD_AGREEMENT_LINK
    return {
        "templateId": template,
        "agreementType": agreement_type,
        "agreementLink": link,
        "versionRank": 0,
        "attributes": {"objectType": "AgreementMetaData"},
    }


def _agreement_types(value: str | None, *, default_all: bool) -> list[str] | None:
    """Map an `agreementType` query value to stored types (None = every type)."""
    if value is None:
        return None if default_all else [CLOUD_AGREEMENT_TYPE]
    folded = value.strip().casefold()
    if folded == "all":
        return None
    for known in (MCA_AGREEMENT_TYPE, CLOUD_AGREEMENT_TYPE):
        if folded == known.casefold():
            return [known]
    return []


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"null")
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    return data


def request_id(request: Request) -> str | None:
    """The caller's MS-RequestId (the idempotency key), or None when it sent none."""
    if request.scope.get(_SCOPE_REQUEST_ID_GIVEN):
        return str(request.scope[_SCOPE_REQUEST_ID])
    return None


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
        types = _agreement_types(request.query_params.get("agreementType"), default_all=False)
        if types is None:
            types = [MCA_AGREEMENT_TYPE, CLOUD_AGREEMENT_TYPE]
        return JSONResponse(_collection([_template_item(t) for t in types]))

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
        links: dict[str, Any] = {"self": _link(self_uri)}
        if more and rows:
            token = self._encode_continuation(key, caller.tenant_id, rows[-1]["seq"], filt)
            links["next"] = _link(
                f"/v1/customers?size={size}&seekOperation=Next",
                [{"key": CONTINUATION_HEADER, "value": token}],
            )
        return JSONResponse(_collection([customer_item(r) for r in rows], links))

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
        payload = _b64(json.dumps({"t": tenant_id, "s": last_seq, "f": filt}).encode())
        mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:16]
        return f"{payload}.{_b64(mac)}"

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
            if not hmac.compare_digest(_unb64(mac), expected):
                raise error
            data = json.loads(_unb64(payload))
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
        types = _agreement_types(request.query_params.get("agreementType"), default_all=True)
        if types == []:
            items: list[dict[str, Any]] = []
        else:
            wanted = None if types is None else types[0]
            items = [agreement_item(a) for a in self.store.agreements(row["id"], wanted)]
        self_uri = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return JSONResponse(_collection(items, {"self": _link(self_uri)}))

    # POST /v1/customers/{id}/agreements (attest) ---------------------------------------------
    async def attest(self, request: Request) -> Response:
        caller = self.authenticate(request, app_only=False)
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
            _fold(record["first_name"]),
            _fold(record["last_name"]),
            _fold(record["email"]),
            _digits(record["phone"]),
        )
        for row in existing:
            have = (
                _fold(row["first_name"]),
                _fold(row["last_name"]),
                _fold(row["email"]),
                _digits(row["phone"]),
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
        if user not in SANDBOX_USERS:
            valid = ", ".join(SANDBOX_USERS)
            raise invalid(
                f"Unknown sandbox user {user!r}. Valid users: {valid}.",
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
        except (TypeError, ValueError) as exc:
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


# The gateway: request ids and faults --------------------------------------------------------------
class InjectedConnectionReset(Exception):
    """Raised only when the server refused the short body: makes it drop the connection."""


_ID_HEADERS = (b"ms-requestid", b"ms-correlationid")


class Gateway:
    """Outermost ASGI layer: request-id echo on every answer, faults on /v1."""

    def __init__(
        self, emulator: Emulator, inner: Callable[[Scope, Receive, Send], Awaitable[None]]
    ):
        self.emulator = emulator
        self.inner = inner

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        headers = Headers(scope=scope)
        given = headers.get("ms-requestid")
        rid = given or str(uuid.uuid4())
        cid = headers.get("ms-correlationid") or str(uuid.uuid4())
        scope[_SCOPE_REQUEST_ID] = rid
        scope[_SCOPE_REQUEST_ID_GIVEN] = bool(given)
        echo = [(b"ms-requestid", rid.encode()), (b"ms-correlationid", cid.encode())]

        async def send_with_ids(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() not in _ID_HEADERS
                ]
                message = {**message, "headers": kept + echo}
            await send(message)

        if scope["path"].startswith("/v1"):
            await self._v1(scope, receive, send_with_ids, headers)
        else:
            await self.inner(scope, receive, send_with_ids)

    async def _v1(self, scope: Scope, receive: Receive, send: Send, headers: Headers) -> None:
        config = self.emulator.faults
        if config.latency_ms:
            await anyio.sleep(config.latency_ms / 1000)
        tenant = "anonymous"
        if config.rate_limit_per_minute:
            scheme, _, token = headers.get("authorization", "").partition(" ")
            if scheme.lower() == "bearer" and token.strip():
                key = self.emulator.store.signing_key()
                tenant = peek_tenant(key, token.strip()) or tenant
        fault = self.emulator.fault_injector.decide(tenant, scope["method"])
        if fault is None:
            await self.inner(scope, receive, send)
        elif fault.kind in (FaultKind.THROTTLED, FaultKind.RANDOM_429):
            await self._throttled(send, fault.retry_after)
        elif fault.kind is FaultKind.SERVER_ERROR:
            await self._server_error(send, fault.status)
        elif fault.kind is FaultKind.TIMEOUT:
            await self._timeout(scope, receive, send, fault, config.timeout_hang_seconds)
        else:
            start, body = await self._capture(scope, receive)
            await self._cut_short(send, start, body)

    @staticmethod
    async def _send(
        send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        headers = [*headers, (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _throttled(self, send: Send, seconds: int) -> None:
        body = json.dumps(
            {
                "statusCode": 429,
                "message": f"Rate limit is exceeded. Try again in {seconds} seconds.",
            }
        ).encode()
        await self._send(
            send,
            429,
            body,
            [(b"content-type", b"application/json"), (b"retry-after", str(seconds).encode())],
        )

    async def _server_error(self, send: Send, status: int) -> None:
        if status == 502:
            # Gateways answer with HTML: clients must not assume a JSON error body.
            html = (
                b"<html><head><title>502 Bad Gateway</title></head><body>Bad Gateway</body></html>"
            )
            await self._send(send, status, html, [(b"content-type", b"text/html")])
            return
        names = {500: "InternalServerError", 503: "ServiceUnavailable", 504: "GatewayTimeout"}
        body = error_body(
            status,
            "The service encountered an error (injected fault). Try again later.",
            error_name=names.get(status, "ServerError"),
            retryable=True,
        )
        await self._send(
            send, status, json.dumps(body).encode(), [(b"content-type", b"application/json")]
        )

    async def _timeout(
        self, scope: Scope, receive: Receive, send: Send, fault: Fault, hang: float
    ) -> None:
        if fault.apply_before_hang:
            # The request takes effect, then the answer is "lost" in the hang.
            start, body = await self._capture(scope, receive)
            await anyio.sleep(hang)
            await send(start)
            await send({"type": "http.response.body", "body": body, "more_body": False})
            return
        # Read the body now: a client that gives up must not stop the late request applying.
        replay = await self._buffered(receive)
        await anyio.sleep(hang)
        await self.inner(scope, replay, send)

    async def _capture(self, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
        """Run the app and keep its answer instead of sending it."""
        start: Message = {}
        chunks: list[bytes] = []

        async def keep(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.inner(scope, receive, keep)
        return start, b"".join(chunks)

    @staticmethod
    async def _buffered(receive: Receive) -> Receive:
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if delivered:
                return {"type": "http.disconnect"}
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}

        return replay

    @staticmethod
    async def _cut_short(send: Send, start: Message, body: bytes) -> None:
        """Declare the full length, send half, close: a client sees a body cut off mid-way."""
        headers = [
            (k, v)
            for k, v in start.get("headers", [])
            if k.lower() not in (b"content-length", b"connection")
        ]
        declared = max(len(body), 1)
        headers += [(b"content-length", str(declared).encode()), (b"connection", b"close")]
        await send({**start, "headers": headers})
        try:
            await send({"type": "http.response.body", "body": body[: len(body) // 2]})
        except Exception as exc:  # e.g. h11 refuses a short body: have the server drop the line
            raise InjectedConnectionReset("injected connection reset") from exc


def build_app(emulator: Emulator) -> Gateway:
    """The emulator's ASGI application."""
    api = PartnerCenterApi(emulator)
    sandbox = SandboxApi(emulator)
    customer = "/v1/customers/{customer_id}"
    routes = [
        Route("/v1/agreements", api.agreement_metadata, methods=["GET"]),
        Route("/v1/customers", api.list_customers, methods=["GET"]),
        Route("/v1/customers", api.create_customer, methods=["POST"]),
        # Before /v1/customers/{customer_id}, or "relationshiprequests" would be a customer id.
        Route("/v1/customers/relationshiprequests", api.relationship_request, methods=["GET"]),
        Route(customer, api.get_customer, methods=["GET"]),
        Route(f"{customer}/agreements", api.customer_agreements, methods=["GET"]),
        Route(f"{customer}/agreements", api.attest, methods=["POST"]),
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
    ]
    inner = Starlette(
        routes=routes,
        exception_handlers={ApiError: _api_error_handler, HTTPException: _http_error_handler},
    )
    return Gateway(emulator, inner)


__all__ = [
    "ApiError",
    "Gateway",
    "InjectedConnectionReset",
    "PartnerCenterApi",
    "SandboxApi",
    "build_app",
    "error_body",
]
