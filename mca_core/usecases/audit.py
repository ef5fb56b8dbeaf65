"""Recording attempts: one helper so every use case writes the audit log the same way.

`attempt` is the envelope every use case runs in (access check, then the body, then exactly
one row: the failure or the success), so no use case repeats the try/except/record sequence.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.engine import Connection

from mca_core.domain.errors import McaError, PartnerCenterError
from mca_core.domain.models import AuditEvent, Identity
from mca_core.store.database import Store


def record(
    store: Store | None,
    identity: Identity,
    action: str,
    outcome: str,
    *,
    customer_id: str | None = None,
    inputs: dict[str, Any] | None = None,
    detail: str = "",
    request_id: str | None = None,
    correlation_id: str | None = None,
    conn: Connection | None = None,
) -> AuditEvent | None:
    """Append one attempt (success or failure) to the audit log; a no-op without a store.
    With `conn`, inside that transaction (see `Store.serialized`)."""
    if store is None:
        return None
    return store.record(
        AuditEvent(
            user_id=identity.user_id,
            user_name=identity.display_name,
            role=identity.role.value,
            partner_type=identity.partner_type.value,
            partner_tenant_id=identity.partner_tenant_id,
            action=action,
            customer_id=customer_id,
            inputs=inputs or {},
            outcome=outcome,
            detail=detail,
            request_id=request_id,
            correlation_id=correlation_id,
        ),
        conn=conn,
    )


def record_failure(
    store: Store | None,
    identity: Identity,
    action: str,
    error: McaError,
    *,
    customer_id: str | None = None,
    inputs: dict[str, Any] | None = None,
) -> None:
    """Audit a failed attempt with the error's kind and, for service errors, its request ids."""
    outcome = {
        "AccessRefused": "refused",
        "InvalidInput": "invalid",
    }.get(type(error).__name__, "failed")
    request_id = correlation_id = None
    if isinstance(error, PartnerCenterError):
        request_id, correlation_id = error.request_id, error.correlation_id
        if error.status == 403:
            outcome = "refused"
    record(
        store,
        identity,
        action,
        outcome,
        customer_id=customer_id,
        inputs=inputs,
        detail=f"{type(error).__name__}: {error}",
        request_id=request_id,
        correlation_id=correlation_id,
    )


@dataclass
class Attempt:
    """What one attempt's audit row will say. The body updates `customer_id` and `inputs` as it
    learns them (the resolved tenant id, the validated form), so a failure is recorded with what
    was known when it happened."""

    store: Store | None
    identity: Identity
    action: str
    customer_id: str | None = None
    inputs: dict[str, Any] | None = None
    _row: dict[str, Any] | None = field(default=None, init=False, repr=False)
    _recorded: bool = field(default=False, init=False, repr=False)

    def done(
        self,
        outcome: str,
        *,
        detail: str = "",
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """Set the success row, written when the body ends without an error (the last call
        wins). A body that never calls it records nothing on success (nothing was done)."""
        self._row = {
            "outcome": outcome,
            "detail": detail,
            "request_id": request_id,
            "correlation_id": correlation_id,
        }

    def record_now(
        self,
        outcome: str,
        *,
        detail: str = "",
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> None:
        """Write this attempt's row at once, for an outcome the body then raises as an error
        (finalise's "not accepted yet" is an answer, not a failure): the envelope adds none."""
        self.done(outcome, detail=detail, request_id=request_id, correlation_id=correlation_id)
        self._write()

    def _write(self) -> None:
        if self._row is not None and not self._recorded:
            record(
                self.store,
                self.identity,
                self.action,
                customer_id=self.customer_id,
                inputs=self.inputs,
                **self._row,
            )
            self._recorded = True


@contextmanager
def attempt(
    store: Store | None,
    identity: Identity,
    action: str,
    *,
    customer_id: str | None = None,
    inputs: dict[str, Any] | None = None,
    check: Callable[[Identity], None] | None = None,
) -> Iterator[Attempt]:
    """Run one use case's attempt so that it is audited exactly once.

    `check(identity)` (the access rule) runs first, inside the envelope, so a refusal is an
    audited attempt too. An McaError is recorded with `record_failure` (with the attempt's
    current customer and inputs) and re-raised; any other exception is a bug, not an attempt,
    and is not recorded. On a normal end, the row set by `Attempt.done` is recorded, if any.
    The envelope awaits nothing, so async use cases use it too (`with` around the awaits).
    """
    current = Attempt(store, identity, action, customer_id=customer_id, inputs=inputs)
    try:
        if check is not None:
            check(identity)
        yield current
    except McaError as exc:
        if not current._recorded:
            record_failure(
                store, identity, action, exc, customer_id=current.customer_id, inputs=current.inputs
            )
        raise
    current._write()
