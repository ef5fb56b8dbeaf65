"""Recording attempts: one helper so every use case writes the audit log the same way."""

from __future__ import annotations

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
