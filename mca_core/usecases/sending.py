"""Sending invitations from the desk: one message per customer over the configured SMTP server.

Each email is checked like its generation (the same access rule per kind), must have a
recipient and, for a new customer's sign-in, its temporary password (revealed in the sent
message only: never in the log, the audit or the result). Messages are multipart text + HTML,
as the `.eml` download, from `sender_address(settings)` (`alert_from`). They leave at most
`invitation_send_per_minute` a minute, spaced evenly (`Pacer`, shared by every session of the
process for one partner), one SMTP connection each, so one refused recipient fails only its
own message. Every message is audited (action `send_invitation`: kind, customer, recipient
domain, locale, Message-ID) and recorded in the invitation log (`sent` with its Message-ID, or
`send_failed` with the reason, secrets masked); a failure neither loses the email (the result
keeps it, without the password, so the page still offers the `.eml`) nor stops the others.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mca_core.config import Settings
from mca_core.delivery import DeliveryFailed, SmtpSender, sender_address
from mca_core.domain.access import (
    check_may_invite_to_accept,
    check_may_request_from_provider,
    check_may_request_relationship,
)
from mca_core.domain.errors import InvalidInput, McaError, Problem
from mca_core.domain.models import Identity
from mca_core.store.database import Store
from mca_core.store.invitation_log import SEND_FAILED, SENT
from mca_core.usecases import audit, invitation_records, invitations
from mca_core.usecases.invitations import Email

ACTION_SEND = "send_invitation"
#: The access rule of each kind: the one its generator checks.
SEND_CHECKS: dict[str, Callable[[Identity], None]] = {
    "mca_new": check_may_invite_to_accept,
    "mca_existing": check_may_invite_to_accept,
    invitations.ENHANCED_KIND: check_may_invite_to_accept,
    "reseller": check_may_request_relationship,
    "provider_request": check_may_request_from_provider,
}


class Pacer:
    """Evenly spaced sends: one every `60 / per_minute` seconds (the first at once). Thread-safe:
    the start time is taken under a lock, the wait happens outside it."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("per_minute must be positive")
        self.per_minute = float(per_minute)
        self.interval = 60.0 / self.per_minute
        self._clock = clock
        self._sleep = sleep
        self._next = float("-inf")
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next send may start; how long it waited."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        pause = start - now
        if pause > 0:
            self._sleep(pause)
        return pause


_pacers: dict[tuple[str, str], Pacer] = {}
_pacers_lock = threading.Lock()


def shared_pacer(store_key: str, partner_tenant_id: str, per_minute: float) -> Pacer:
    """The process's pacer of one store and partner (every session sending for it shares it)."""
    key = (store_key, partner_tenant_id)
    with _pacers_lock:
        pacer = _pacers.get(key)
        if pacer is None or pacer.per_minute != float(per_minute):
            pacer = _pacers[key] = Pacer(per_minute)
        return pacer


@dataclass(frozen=True)
class SendResult:
    """What became of one email: sent (with its Message-ID) or not (with the reason: a masked
    delivery failure, a refusal or a missing field). `email` never holds the password."""

    email: Email
    sent: bool
    message_id: str | None = None
    reason: str = ""
    #: The error when not sent (DeliveryFailed, AccessRefused, InvalidInput...).
    error: McaError | None = None

    @property
    def customer_id(self) -> str | None:
        return self.email.customer_id

    @property
    def delivery_failed(self) -> bool:
        return isinstance(self.error, DeliveryFailed)


def check_sendable(email: Email) -> None:
    """A recipient, and no password mask left without its password."""
    problems = []
    if not invitations.single_line(email.to):
        problems.append(
            Problem(
                "to",
                "The email has no recipient, so the desk cannot send it.",
                "Enter the recipient's address and send again, or download the .eml and send "
                "it from your mail program.",
                code="required",
            )
        )
    if email.needs_password:
        problems.append(
            Problem(
                "password",
                "The email carries a new customer's sign-in but the temporary password is not "
                "at hand.",
                "Enter the temporary password again, then send.",
                code="required",
            )
        )
    if problems:
        raise InvalidInput(problems)
    invitations.check_recipient(email.to)  # one valid address (no header injection)


def _inputs(email: Email, **extra: object) -> dict[str, object]:
    return invitations._audit_inputs(email.kind, email.customer_id, email.to, email.locale, **extra)


def send_invitations(
    store: Store | None,
    identity: Identity,
    settings: Settings,
    emails: Sequence[Email],
    *,
    pacer: Pacer | None = None,
    sender: SmtpSender | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[SendResult]:
    """Send each email as its own message (see the module docstring); one result per email,
    in order. Raises ConfigurationError at once when no SMTP server or From address is set
    (nothing is sent then)."""
    smtp = sender or SmtpSender(settings)
    from_address = sender_address(settings)
    pace = pacer or Pacer(settings.invitation_send_per_minute)
    results: list[SendResult] = []
    total = len(emails)
    for done, email in enumerate(emails):
        if progress is not None:
            progress(done, total, email.company_name or email.customer_id or email.to)
        results.append(_send_one(store, identity, smtp, from_address, pace, email))
    if progress is not None:
        progress(total, total, "")
    return results


def _send_one(
    store: Store | None,
    identity: Identity,
    smtp: SmtpSender,
    from_address: str,
    pace: Pacer,
    email: Email,
) -> SendResult:
    kept = email.without_password()
    check = SEND_CHECKS.get(email.kind, check_may_invite_to_accept)
    try:
        with audit.attempt(
            store,
            identity,
            ACTION_SEND,
            customer_id=email.customer_id,
            inputs=_inputs(email),
            check=check,
        ) as attempt:
            check_sendable(email)
            message = invitations.message_for(email, from_address)
            pace.wait()
            try:
                [message_id] = smtp.send([message])
            except DeliveryFailed as exc:
                invitation_records.record(store, identity, email, SEND_FAILED, failure=exc.reason)
                raise
            invitation_records.record(store, identity, email, SENT, message_id=message_id)
            attempt.done(
                "sent",
                detail=f"{email.kind} email sent ({email.locale}) to "
                f"{invitations.recipient_domain(email.to)}, Message-ID {message_id}.",
            )
    except McaError as exc:
        reason = exc.reason if isinstance(exc, DeliveryFailed) else str(exc)
        return SendResult(kept, False, reason=reason, error=exc)
    return SendResult(kept, True, message_id=message_id)


__all__ = [
    "ACTION_SEND",
    "SEND_CHECKS",
    "Pacer",
    "SendResult",
    "check_sendable",
    "send_invitations",
    "shared_pacer",
]
