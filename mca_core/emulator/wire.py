"""The wire side of the emulator: Partner Center's JSON shapes, error bodies and small codecs.

Error codes the contract names are used as it says. Where it names none, the emulator uses codes
from Microsoft's public error-code table (404 -> 1000 "not found", 400 -> 400056 "invalid input");
they are marked "emulator choice" below.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from mca_core.domain.models import CLOUD_AGREEMENT_TYPE, MCA_AGREEMENT_TYPE

from .directory import (
    CLOUD_AGREEMENT_LINK,
    CLOUD_AGREEMENT_TEMPLATE_ID,
    MCA_AGREEMENT_LINK,
    MCA_TEMPLATE_ID,
)

# Partner Center error codes ------------------------------------------------------------------
CODE_AUTHORIZATION = 1002
CODE_NOT_ALLOWED = 600006
CODE_VALIDATION = 600002
CODE_ALREADY_ATTESTED = 600061
CODE_MFA_REQUIRED = 900421
CODE_NOT_FOUND = 1000  # emulator choice (public table: 404 / 1000 "Not found")
CODE_INVALID_INPUT = 400056  # emulator choice (public table: 400 / 400056 "Invalid input")

#: Where the gateway leaves the request id for the handlers (ASGI scope keys).
SCOPE_REQUEST_ID = "mca.request_id"
SCOPE_REQUEST_ID_GIVEN = "mca.request_id_given"


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


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)


async def http_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = CODE_NOT_FOUND if exc.status_code == 404 else exc.status_code
    message = "No such resource." if exc.status_code == 404 else str(exc.detail)
    return JSONResponse(error_body(code, message), status_code=exc.status_code)


# Small helpers -----------------------------------------------------------------------------------
def b64_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def seal(key: bytes, salt: str, text: str) -> str:
    """Obfuscate a secret with the emulator key (a test double's replay store, not real crypto)."""
    data = text.encode()
    stream = hashlib.shake_256(key + salt.encode()).digest(len(data))
    return "sealed:" + b64_encode(bytes(a ^ b for a, b in zip(data, stream, strict=True)))


def unseal(key: bytes, salt: str, text: str) -> str:
    data = b64_decode(text.removeprefix("sealed:"))
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


def fold_text(text: Any) -> str:
    return str(text or "").strip().casefold()


def digits_only(text: Any) -> str:
    return "".join(ch for ch in str(text or "") if ch.isdigit())


def wire_collection(
    items: list[dict[str, Any]], links: dict[str, Any] | None = None
) -> dict[str, Any]:
    body: dict[str, Any] = {"totalCount": len(items), "items": items}
    if links is not None:
        body["links"] = links
    body["attributes"] = {"objectType": "Collection"}
    return body


def wire_link(uri: str, headers: list[dict[str, str]] | None = None) -> dict[str, Any]:
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


def template_item(agreement_type: str) -> dict[str, Any]:
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


def stored_agreement_types(value: str | None, *, default_all: bool) -> list[str] | None:
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


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def parse_json(raw: bytes) -> Any:
    """A request body as JSON; ValueError for anything that is not strict JSON (NaN and
    Infinity included) or nests too deep to parse (RecursionError), so callers answer 400."""
    try:
        return json.loads(raw or b"null", parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("the JSON nests too deep") from None


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = parse_json(raw)
    except ValueError:
        raise invalid("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise invalid("The request body must be a JSON object.")
    return data


def request_id(request: Request) -> str | None:
    """The caller's MS-RequestId (the idempotency key), or None when it sent none."""
    if request.scope.get(SCOPE_REQUEST_ID_GIVEN):
        return str(request.scope[SCOPE_REQUEST_ID])
    return None
