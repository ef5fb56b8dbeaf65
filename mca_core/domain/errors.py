"""Every failure the desk can name, as one exception class per kind.

The tree (catch the most specific class you can act on)::

    McaError                          anything this package raises on purpose
    ├── InvalidInput                  the user's input breaks a rule (problems: field, reason, fix)
    ├── AccessRefused                 the user's role or partner type may not do this (local guard)
    ├── ConfigurationError            settings are missing or contradict each other
    ├── AuthenticationError           no token could be had (MSAL said no, device code expired, ...)
    └── PartnerCenterError            Partner Center (or the emulator) was asked and failed
        ├── TransportError            no answer at all: retried with the SAME MS-RequestId
        │   ├── RequestTimeout
        │   └── ConnectionFailed      refused, reset, or the body was cut short
        └── ServiceError              an HTTP error answer: a retry gets a NEW MS-RequestId
            ├── BadRequest            400
            │   └── FutureAgreementDate   600002: dateAgreed is later than now (UTC)
            ├── AlreadyAttested       600061: an identical attestation exists ("already done")
            ├── Unauthorized          401
            │   └── MfaRequired       900421: App+User token without MFA (also raised locally)
            ├── PermissionDenied      403 (1002, 600006): wrong role, wrong token kind
            │   └── OrdersBlocked     13605: neither an attestation nor direct acceptance
            ├── NotFound              404
            ├── Conflict              409 (other than 600061)
            ├── Throttled             429: carries retry_after (seconds)
            ├── ServiceUnavailable    408, 5xx
            └── ClassicAttestationRetired  the retired classic call's refusal (status and code
                                      configurable; raised by the classic attest use case)
    WorkBusy (under McaError)         long work that runs once at a time (a partner's sync) is
                                      already running: names who started it, when and where

Every PartnerCenterError carries the HTTP status, the Partner Center code and both request ids,
and prints them, so a support ticket can quote what the service logged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class McaError(Exception):
    """Base of every error the desk raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One broken rule: which field, why, and what the user should do.

    `code` and `params` let the UI translate the message; `reason`/`fix` are the English text.
    """

    field: str
    reason: str
    fix: str
    code: str = "invalid"
    params: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"{self.field}: {self.reason} {self.fix}".strip()


class InvalidInput(McaError):
    """The input breaks one or more rules; nothing was sent."""

    def __init__(self, problems: list[Problem] | Problem):
        self.problems = [problems] if isinstance(problems, Problem) else list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))

    @property
    def fields(self) -> list[str]:
        return [p.field for p in self.problems]


class AccessRefused(McaError):
    """The signed-in user may not do this; `fix` says who can, or where to go instead."""

    def __init__(self, action: str, reason: str, fix: str, code: str = "access_refused"):
        self.action = action
        self.reason = reason
        self.fix = fix
        self.code = code
        super().__init__(f"{reason} {fix}".strip())


class ConfigurationError(McaError):
    """Settings are missing or inconsistent; the message names the setting."""


class AuthenticationError(McaError):
    """No token could be acquired (MSAL's error dict converted once, here)."""

    def __init__(self, message: str, error: str | None = None, correlation_id: str | None = None):
        self.error = error
        self.correlation_id = correlation_id
        super().__init__(message)


class PartnerCenterError(McaError):
    """A call to Partner Center failed. Carries status, code and the request ids."""

    default_message = "Partner Center call failed."

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: int | str | None = None,
        request_id: str | None = None,
        correlation_id: str | None = None,
        error_name: str | None = None,
        method: str | None = None,
        path: str | None = None,
    ):
        self.message = message or self.default_message
        self.status = status
        self.code = code
        self.request_id = request_id
        self.correlation_id = correlation_id
        self.error_name = error_name
        self.method = method
        self.path = path
        super().__init__(self.message)

    def answer(self) -> dict[str, Any]:
        """What Partner Center's answer said (status, code, request ids, the call): what an
        error re-raised under another class or wording keeps."""
        return {
            "status": self.status,
            "code": self.code,
            "request_id": self.request_id,
            "correlation_id": self.correlation_id,
            "error_name": self.error_name,
            "method": self.method,
            "path": self.path,
        }

    def __str__(self) -> str:
        bits = [self.message]
        where = " ".join(b for b in (self.method, self.path) if b)
        facts = []
        if where:
            facts.append(where)
        if self.status is not None:
            facts.append(f"HTTP {self.status}")
        if self.code not in (None, ""):
            facts.append(f"code {self.code}")
        if self.request_id:
            facts.append(f"MS-RequestId {self.request_id}")
        if self.correlation_id:
            facts.append(f"MS-CorrelationId {self.correlation_id}")
        if facts:
            bits.append("(" + ", ".join(facts) + ")")
        return " ".join(bits)


class TransportError(PartnerCenterError):
    default_message = "No answer from Partner Center."


class RequestTimeout(TransportError):
    default_message = "Partner Center did not answer in time."


class ConnectionFailed(TransportError):
    default_message = "The connection to Partner Center failed."


class ServiceError(PartnerCenterError):
    default_message = "Partner Center refused the request."


class BadRequest(ServiceError):
    default_message = "Partner Center rejected the request as invalid."


class FutureAgreementDate(BadRequest):
    default_message = "The agreement date is later than today in UTC on Partner Center's clock."


class AlreadyAttested(ServiceError):
    default_message = "Already attested with these details: an identical attestation exists."


class Unauthorized(ServiceError):
    default_message = "Partner Center did not accept the sign-in token."


class MfaRequired(Unauthorized):
    default_message = (
        "This App+User token carries no multi-factor authentication claim; sign in again with MFA."
    )


class PermissionDenied(ServiceError):
    default_message = "Partner Center refused: your role or token kind may not do this."


class OrdersBlocked(PermissionDenied):
    default_message = (
        "Orders are refused: the customer has neither an MCA attestation nor direct acceptance."
    )


class NotFound(ServiceError):
    default_message = "Partner Center does not know this resource."


class Conflict(ServiceError):
    default_message = "Partner Center reported a conflict."


class Throttled(ServiceError):
    default_message = "Partner Center is throttling requests (429)."

    def __init__(self, message: str | None = None, *, retry_after: float | None = None, **kw):
        self.retry_after = retry_after
        super().__init__(message, **kw)


class ServiceUnavailable(ServiceError):
    default_message = "Partner Center is unavailable or failed on its side."


#: The day Microsoft retired the classic attestation call (POST .../agreements with a contact
#: and a date, no attestation id): partner and news sources.
CLASSIC_RETIRED_ON = "2026-01-05"
#: What the retired classic call is taken to answer. Microsoft's real status and code are not
#: public: the desk's settings `classic_retired_status` / `classic_retired_code` correct them,
#: and the emulator refuses with the same defaults.
CLASSIC_RETIRED_STATUS = 400
CLASSIC_RETIRED_CODE = 600098


class ClassicAttestationRetired(ServiceError):
    """Partner Center refused a classic attestation because Microsoft retired that call: attest
    through the enhanced flow instead. Carries the service's status, code and request ids."""

    default_message = (
        f"Microsoft retired the classic attestation call on {CLASSIC_RETIRED_ON}. Attest through "
        'the enhanced flow: set attestation_channel = "enhanced" (or --channel enhanced); the '
        "customer accepts through a link, then finalise."
    )

    @classmethod
    def from_error(cls, error: PartnerCenterError) -> ClassicAttestationRetired:
        retired = cls(None, **error.answer())
        retired.service_message = error.message  # type: ignore[attr-defined]
        return retired

    @staticmethod
    def matches(
        error: PartnerCenterError,
        status: int = CLASSIC_RETIRED_STATUS,
        code: int | str = CLASSIC_RETIRED_CODE,
    ) -> bool:
        """Whether an error answer is the configured "classic call retired" refusal."""
        return error.status == status and str(error.code).strip() == str(code).strip()


#: Partner Center error codes with a class of their own (code -> class).
CODE_CLASSES: dict[int, type[ServiceError]] = {
    600061: AlreadyAttested,
    600002: FutureAgreementDate,
    900421: MfaRequired,
    13605: OrdersBlocked,
}

#: HTTP statuses -> class, when the code says nothing more specific.
STATUS_CLASSES: dict[int, type[ServiceError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: PermissionDenied,
    404: NotFound,
    408: ServiceUnavailable,
    409: Conflict,
    412: Conflict,
    429: Throttled,
}


def class_for(status: int, code: int | None) -> type[ServiceError]:
    """Pick the most specific class for an error answer."""
    if code is not None and code in CODE_CLASSES:
        cls = CODE_CLASSES[code]
        # 600002 is reused for unrelated validation errors; only a 400 about dates is ours.
        return cls
    if status >= 500:
        return ServiceUnavailable
    return STATUS_CLASSES.get(status, ServiceError)


class WorkBusy(McaError):
    """Long work that must run once at a time (a partner's sync) is already running, in this
    process or another: refused at once, naming who started it, when and where, so the user
    waits for it instead of starting a second one."""

    code = "work_busy"

    def __init__(
        self,
        key: str,
        *,
        holder: str = "unknown",
        since: datetime | None = None,
        host: str | None = None,
        pid: int | None = None,
        work: str = "sync",
        fix: str | None = None,
    ):
        self.key = key
        self.holder = holder or "unknown"
        self.since = since
        self.host = host
        self.pid = pid
        self.work = work
        self.fix = fix or "Wait for it to finish, then try again."
        super().__init__(self._message())

    def _message(self) -> str:
        started = f"started by {self.holder}"
        if self.since is not None:
            at = self.since.astimezone(UTC) if self.since.tzinfo else self.since
            started += f" at {at:%Y-%m-%d %H:%M} UTC"
        if self.host:
            started += f" on host {self.host}"
        if self.pid is not None:
            started += f" (pid {self.pid})"
        return f"A {self.work} is already running: {started}. {self.fix}".strip()
