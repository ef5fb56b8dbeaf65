"""The Partner Center client: one async class over an injected `httpx.AsyncClient`.

Every call goes through `_call`: headers per the contract (a new MS-CorrelationId each call, an
MS-RequestId reused only when the previous attempt got no answer), the shared rate limiter, a
bound on concurrency, a per-attempt deadline, and the retry policy. Answers are parsed into
`models` records here; error answers become the classes of `errors`. The transport is the test
seam: the emulator in-process (`EmulatorTransport`), over loopback, or the real service.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from mca_core.auth.providers import TokenProvider
from mca_core.domain import errors
from mca_core.domain.models import (
    MCA_AGREEMENT_TYPE,
    AgreementRecord,
    AgreementTemplate,
    Attestation,
    AttestationResult,
    Contact,
    CreatedCustomer,
    Customer,
    NewCustomer,
    format_wire_date,
)
from mca_core.partner_center.ratelimit import RateLimiter
from mca_core.partner_center.retry import RetryPolicy

log = logging.getLogger(__name__)

#: Most items Partner Center returns in one customers page (observed).
MAX_PAGE_SIZE = 500
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_CONCURRENCY = 16
CUSTOMER_FILTER_FIELDS = (
    "CompanyName",
    "Domain",
    "IndirectReseller",
    "IndirectCloudSolutionProvider",
)


@dataclass(frozen=True)
class CallIds:
    request_id: str
    correlation_id: str


@dataclass
class CallStats:
    """What the client spent: for sync summaries and benchmarks."""

    calls: int = 0
    throttled: int = 0
    retries: int = 0
    failures: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self._lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


class TemplateCache:
    """The MCA template id, fetched at run time once per service and kept (never hard-coded)."""

    def __init__(self) -> None:
        self._by_base: dict[str, AgreementTemplate] = {}
        self._lock = threading.Lock()

    def get(self, base_url: str) -> AgreementTemplate | None:
        with self._lock:
            return self._by_base.get(base_url)

    def put(self, base_url: str, template: AgreementTemplate) -> None:
        with self._lock:
            self._by_base[base_url] = template

    def clear(self) -> None:
        with self._lock:
            self._by_base.clear()


_shared_templates = TemplateCache()


def _parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP-date (RFC 9110
    section 10.2.3). Anything else (garbage, a negative or non-finite number, a date without a
    time zone) is None: the retry policy then backs off exponentially. Never raises."""
    text = (value or "").strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def path_segment(value: object, field: str) -> str:
    """An id as one URL path segment: percent-encoded, so `/`, `?` and `#` stay inside it.
    Empty, `.` and `..` cannot be encoded away (clients and servers resolve dot segments), and
    no Partner Center id looks like that: refused before any request."""
    text = str(value)
    if text.strip() in ("", ".", ".."):
        raise errors.InvalidInput(
            errors.Problem(
                field,
                f"'{text}' cannot be an id.",
                "Give the id exactly as Partner Center or the desk shows it.",
                code="bad_id",
                params={"value": text},
            )
        )
    return quote(text, safe="")


_NOT_IN_IDS = frozenset("/?#\\%")


def check_id(value: object, field: str) -> str:
    """An id typed by a person (attestation id, ...), before it goes anywhere near a URL: no
    Partner Center id has `/`, `?`, `#`, `\\`, `%`, white space or a `..` in it."""
    text = str(value if value is not None else "").strip()
    if (
        text in ("", ".")
        or ".." in text
        or any(ch in _NOT_IN_IDS or ch.isspace() or not ch.isprintable() for ch in text)
    ):
        raise errors.InvalidInput(
            errors.Problem(
                field,
                f"'{text[:80]}' is not a valid id: it may not be empty or contain '/', '?', "
                "'#', '\\', '%', '..' or spaces.",
                "Copy the id exactly as the desk printed it.",
                code="bad_id",
                params={"value": text[:80]},
            )
        )
    return text


def _check_path(path: str) -> None:
    """The last guard: a path with a dot segment would be resolved to another resource."""
    if path.startswith(("http://", "https://")):
        path = urlsplit(path).path
    segments = path.split("?", 1)[0].split("#", 1)[0].split("/")
    if any(segment in (".", "..") for segment in segments):
        raise errors.InvalidInput(
            errors.Problem(
                "path",
                f"The request path {path!r} has a '.' or '..' segment.",
                "Ids go into a URL percent-encoded, one segment each; check the id.",
                code="bad_path",
            )
        )


def error_from_response(response: httpx.Response, method: str, path: str) -> errors.ServiceError:
    """Turn an error answer into the most specific error class, with every id it carried."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        body = {}
    if not isinstance(body, dict):
        body = {}
    raw_code = body.get("code", body.get("errorCode"))
    try:
        code: int | None = int(raw_code) if raw_code not in (None, "") else None
    except (TypeError, ValueError):
        code = None
    message = str(body.get("message") or body.get("description") or "").strip()
    description = str(body.get("description") or "").strip()
    cls = errors.class_for(response.status_code, code)
    if cls is errors.FutureAgreementDate and "date" not in f"{message} {description}".lower():
        cls = errors.BadRequest  # 600002 is reused for unrelated validation errors
    kwargs: dict[str, Any] = {
        "status": response.status_code,
        "code": code if code is not None else raw_code,
        "request_id": response.headers.get("MS-RequestId"),
        "correlation_id": response.headers.get("MS-CorrelationId"),
        "error_name": body.get("errorName"),
        "method": method,
        "path": path,
    }
    text = message or None
    if cls is errors.Throttled or response.status_code == 429:
        return errors.Throttled(
            text, retry_after=_parse_retry_after(response.headers.get("Retry-After")), **kwargs
        )
    if cls in (
        errors.AlreadyAttested,
        errors.FutureAgreementDate,
        errors.MfaRequired,
        errors.OrdersBlocked,
    ):
        # Our own wording is clearer than the service's; keep the service's in the detail.
        error = cls(None, **kwargs)
        error.service_message = text  # type: ignore[attr-defined]
        return error
    return cls(text, **kwargs)


def _throttled_beyond_budget(error: errors.Throttled, budget: float) -> errors.Throttled:
    """A 429 whose Retry-After is longer than the call may still wait: it fails now."""
    wait = error.retry_after or 0.0
    shown = f"{wait:.0f}" if wait >= 1 else f"{wait:g}"
    text = (
        f"Partner Center asked to wait {shown} seconds before trying again, more than the "
        f"retry budget of {budget:g} seconds allows; the call was not retried. Resubmit later."
    )
    if error.message and error.message != error.default_message:
        text += f" (Partner Center said: {error.message})"
    return errors.Throttled(text, retry_after=error.retry_after, **error.answer())


class PartnerCenterClient:
    """Async Partner Center client. Cheap to create; share `limiter` and `templates` widely."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        *,
        base_url: str,
        limiter: RateLimiter | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry: RetryPolicy | None = None,
        templates: TemplateCache | None = None,
        locale: str = "en-US",
        stats: CallStats | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.http = http
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter or RateLimiter(500)
        self.semaphore = asyncio.Semaphore(concurrency)
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.templates = templates or _shared_templates
        self.locale = locale
        self.stats = stats or CallStats()
        self._sleep = sleep
        self._clock = clock

    # --- the one path every call takes ----------------------------------------------------

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            return self.base_url + path  # a next link may already start with /v1
        return urljoin(self.base_url + "/v1/", path)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        request_id: str | None = None,
    ) -> tuple[Any, CallIds]:
        _check_path(path)
        request_id = request_id or str(uuid.uuid4())
        started = self._clock()
        attempt = 0
        while True:
            attempt += 1
            correlation_id = str(uuid.uuid4())
            await self.limiter.acquire()
            try:
                response = await self._send_once(
                    method, path, params, body, headers, request_id, correlation_id
                )
            except errors.TransportError as exc:
                error: errors.PartnerCenterError = exc
                answered = False
            else:
                if response.status_code < 400:
                    self.limiter.succeeded()
                    ids = CallIds(
                        response.headers.get("MS-RequestId") or request_id,
                        response.headers.get("MS-CorrelationId") or correlation_id,
                    )
                    if not response.content:
                        return None, ids
                    try:
                        return response.json(), ids
                    except ValueError as exc:
                        raise errors.ServiceUnavailable(
                            "Partner Center answered with a body that is not JSON.",
                            status=response.status_code,
                            request_id=ids.request_id,
                            correlation_id=ids.correlation_id,
                            method=method,
                            path=path,
                        ) from exc
                error = error_from_response(response, method, path)
                answered = True
            if isinstance(error, errors.Throttled):
                self.stats.add(throttled=1)
                # One 429 may pause every caller, but never longer than a call may wait in all:
                # a Retry-After of an hour must not freeze a whole sync.
                self.limiter.throttled(error.retry_after, max_pause=self.retry.budget_seconds)
            delay = self.retry.delay(attempt, error)
            spent = self._clock() - started
            if not self.retry.should_retry(attempt, error, spent, delay):
                self.stats.add(failures=1)
                if isinstance(error, errors.Throttled) and self.retry.beyond_budget(error, spent):
                    raise _throttled_beyond_budget(error, self.retry.budget_seconds) from error
                raise error
            self.stats.add(retries=1)
            log.info(
                "retrying %s %s after %s (attempt %d, wait %.2fs)",
                method,
                path,
                type(error).__name__,
                attempt,
                delay,
            )
            if answered:
                request_id = str(uuid.uuid4())  # an answer arrived: the next try is a new request
            await self._sleep(delay)

    async def call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: dict[str, Any] | None = None,
        request_id: str | None = None,
    ) -> tuple[Any, CallIds]:
        """One call through the common path (headers, limiter, retries, errors), for a flow
        whose wire names live in a module of their own (`enhanced_wire`)."""
        return await self._call(method, path, params=params, body=body, request_id=request_id)

    async def _send_once(
        self,
        method: str,
        path: str,
        params: dict[str, Any] | None,
        body: dict[str, Any] | None,
        extra_headers: dict[str, str] | None,
        request_id: str,
        correlation_id: str,
    ) -> httpx.Response:
        token = await self.tokens.get_token()
        headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/json",
            "MS-RequestId": request_id,
            "MS-CorrelationId": correlation_id,
            "X-Locale": self.locale,
            **(extra_headers or {}),
        }
        ids = {
            "request_id": request_id,
            "correlation_id": correlation_id,
            "method": method,
            "path": path,
        }
        async with self.semaphore:
            self.stats.add(calls=1)
            try:
                async with asyncio.timeout(self.timeout):
                    return await self.http.request(
                        method,
                        self._url(path),
                        params=params,
                        json=body,
                        headers=headers,
                        timeout=self.timeout,
                    )
            except (TimeoutError, httpx.TimeoutException) as exc:
                raise errors.RequestTimeout(
                    f"Partner Center did not answer within {self.timeout:g} s.", **ids
                ) from exc
            except httpx.TransportError as exc:
                raise errors.ConnectionFailed(
                    f"The connection to Partner Center failed ({type(exc).__name__}).", **ids
                ) from exc

    # --- agreements ----------------------------------------------------------------------

    async def get_mca_template(self) -> AgreementTemplate:
        """The current MCA template (always asked WITH agreementType; cached per service)."""
        cached = self.templates.get(self.base_url)
        if cached:
            return cached
        data, _ = await self._call(
            "GET", "/v1/agreements", params={"agreementType": MCA_AGREEMENT_TYPE}
        )
        items = [AgreementTemplate.from_wire(i) for i in (data or {}).get("items", [])]
        mca = [t for t in items if t.agreement_type == MCA_AGREEMENT_TYPE]
        if not mca:
            raise errors.NotFound(
                "Partner Center returned no Microsoft Customer Agreement template.",
                method="GET",
                path="/v1/agreements",
            )
        template = min(mca, key=lambda t: t.version_rank)
        self.templates.put(self.base_url, template)
        return template

    def cached_mca_template(self) -> AgreementTemplate | None:
        """The MCA template an earlier call of this service read, without a call (App-only
        tokens may not read GET /v1/agreements; the enhanced finalise sends it when known)."""
        return self.templates.get(self.base_url)

    async def get_attestations(self, customer_id: str) -> list[Attestation]:
        """The customer's MCA attestations, newest `dateAgreed` first."""
        data, _ = await self._call(
            "GET",
            f"/v1/customers/{path_segment(customer_id, 'customer_id')}/agreements",
            params={"agreementType": MCA_AGREEMENT_TYPE},
        )
        items = [Attestation.from_wire(i) for i in (data or {}).get("items", [])]
        items = [a for a in items if a.type == MCA_AGREEMENT_TYPE]
        return sorted(items, key=lambda a: a.date_agreed, reverse=True)

    async def attest(
        self,
        customer_id: str,
        contact: Contact,
        date_agreed: date,
        *,
        request_id: str | None = None,
    ) -> AttestationResult:
        """Confirm the customer accepted the MCA (App+User). Raises AlreadyAttested on 600061."""
        path = f"/v1/customers/{path_segment(customer_id, 'customer_id')}/agreements"
        template = await self.get_mca_template()
        body = {
            "primaryContact": contact.to_wire(),
            "templateId": template.template_id,
            "dateAgreed": format_wire_date(date_agreed),
            "type": MCA_AGREEMENT_TYPE,
        }
        data, ids = await self._call("POST", path, body=body, request_id=request_id)
        attestation = Attestation.from_wire(data) if data else None
        return AttestationResult(
            customer_id=customer_id,
            outcome="attested",
            attestation=attestation,
            request_id=ids.request_id,
            correlation_id=ids.correlation_id,
        )

    async def get_direct_signing_status(self, customer_id: str) -> bool:
        """True when the customer accepted the MCA itself in the Microsoft 365 admin center."""
        segment = path_segment(customer_id, "customer_id")
        data, _ = await self._call(
            "GET", f"/v1/customers/{segment}/directSignedMicrosoftCustomerAgreementStatus"
        )
        return bool((data or {}).get("isSigned"))

    # --- customers -----------------------------------------------------------------------

    async def iter_customer_pages(
        self,
        *,
        filter_field: str | None = None,
        filter_value: str | None = None,
        page_size: int = MAX_PAGE_SIZE,
    ) -> AsyncIterator[list[Customer]]:
        """Every page of customers, following `links.next` with its continuation headers."""
        params: dict[str, Any] = {"size": min(max(1, page_size), MAX_PAGE_SIZE)}
        if filter_field:
            if filter_field not in CUSTOMER_FILTER_FIELDS:
                raise ValueError(f"filter_field must be one of {CUSTOMER_FILTER_FIELDS}")
            params["filter"] = json.dumps(
                {"Field": filter_field, "Value": filter_value or "", "Operator": "starts_with"}
            )
        path: str | None = "/v1/customers"
        headers: dict[str, str] = {}
        seen_links: set[str] = set()
        while path:
            data, _ = await self._call("GET", path, params=params, headers=headers)
            data = data or {}
            yield [Customer.from_wire(i) for i in data.get("items", [])]
            nxt = (data.get("links") or {}).get("next")
            if not nxt or not nxt.get("uri"):
                break
            path = nxt["uri"]
            headers = {h["key"]: h["value"] for h in nxt.get("headers", []) if "key" in h}
            marker = path + json.dumps(headers, sort_keys=True)
            if marker in seen_links:  # a service that repeats itself would loop forever
                raise errors.ServiceError(
                    "Partner Center returned the same next page twice; paging stopped.",
                    method="GET",
                    path=path,
                )
            seen_links.add(marker)
            params = None  # the next uri carries its own query

    async def iter_agreement_record_pages(self) -> AsyncIterator[list[AgreementRecord]]:
        """Every customer's last MCA acceptance, a page at a time, following the answer's
        `continuationToken` (sent back as the `continuation_token` query). Undocumented by
        Microsoft (seen in its MCA refresh tool): a 404/403 means the partner has no such
        source, and the caller reads customer by customer instead."""
        path = "/v1/partners/customeragreementrecords"
        token: str | None = None
        seen: set[str] = set()
        while True:
            params = {"continuation_token": token} if token else None
            data, _ = await self._call("GET", path, params=params)
            data = data or {}
            page: list[AgreementRecord] = []
            for item in data.get("customerAgreementRecords") or []:
                if isinstance(item, dict) and item.get("customerTenantId"):
                    page.append(AgreementRecord.from_wire(item))
            yield page
            token = data.get("continuationToken") or None
            if not token:
                break
            if token in seen:  # a service that repeats itself would loop forever
                raise errors.ServiceError(
                    "Partner Center returned the same agreement records page twice; paging"
                    " stopped.",
                    method="GET",
                    path=path,
                )
            seen.add(token)

    async def list_customers(self, **kwargs: Any) -> list[Customer]:
        customers: list[Customer] = []
        async for page in self.iter_customer_pages(**kwargs):
            customers.extend(page)
        return customers

    async def find_customers_by_domain(self, domain: str) -> list[Customer]:
        found = await self.list_customers(filter_field="Domain", filter_value=domain)
        return [c for c in found if c.domain.lower() == domain.lower()]

    async def get_customer(self, customer_id: str) -> Customer:
        segment = path_segment(customer_id, "customer_id")
        data, _ = await self._call("GET", f"/v1/customers/{segment}")
        return Customer.from_wire(data)

    async def create_customer(
        self, new: NewCustomer, *, request_id: str | None = None
    ) -> CreatedCustomer:
        """Create a customer tenant. Idempotent on `request_id`: pass the same one to retry."""
        data, ids = await self._call(
            "POST", "/v1/customers", body=new.to_wire(), request_id=request_id
        )
        return CreatedCustomer.from_wire(data, request_id=ids.request_id)

    async def get_relationship_request_link(
        self,
        *,
        indirect_reseller_id: str | None = None,
        indirect_provider_id: str | None = None,
        dual_role: bool | None = None,
    ) -> str:
        """The partner's personalised reseller-relationship link (indirect variants by params)."""
        params: dict[str, Any] = {}
        if indirect_reseller_id:
            params["indirectResellerId"] = indirect_reseller_id
        if indirect_provider_id:
            params["indirectCloudSolutionProviderId"] = indirect_provider_id
        if dual_role is not None:
            params["dualRoleIndirectRelationship"] = "true" if dual_role else "false"
        data, _ = await self._call(
            "GET", "/v1/customers/relationshiprequests", params=params or None
        )
        return str((data or {}).get("url") or "")
