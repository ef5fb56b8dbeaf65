"""Where the desk keeps every enhanced attestation it started, so none is ever lost.

One row per attestation, keyed by the MS-RequestId of its create call. The row is written
`creating` BEFORE that call and completed after it, each in its own transaction: a process killed
in between leaves `creating`, and the next attempt replays the create with the same request id
(Partner Center answers it idempotently). The finalise works the same way with
`finalise_request_id`. Rows are updated, never deleted.

It lives in the desk's own database (SQLAlchemy Core, its own MetaData, created on first use),
like the bulk journal. It holds the signer's contact (as the audit log does), never a secret.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from mca_core.domain.models import Contact, _Record
from mca_core.store.database import Store, scrub, snapshot_rows

#: Columns of a snapshot row the enhanced pipeline reads (never the whole row).
PIPELINE_COLUMNS = ("customer_id", "company_name", "domain", "accepted")
#: Customer ids per `IN (...)` list (SQLite's old limit of bound variables is 999).
_IN_CHUNK = 500

enhanced_metadata = MetaData()

enhanced_attestations = Table(
    "enhanced_attestations",
    enhanced_metadata,
    Column("request_id", String(64), primary_key=True),
    Column("partner_tenant_id", String(64), nullable=False, default=""),
    Column("customer_id", String(64), nullable=False),
    Column("company_name", String(512), nullable=False, default=""),
    Column("domain", String(256), nullable=False, default=""),
    Column("country", String(8), nullable=False, default=""),
    Column("language", String(32), nullable=False, default=""),
    Column("signer_first_name", String(128), nullable=False),
    Column("signer_last_name", String(128), nullable=False),
    Column("signer_email", String(256), nullable=False),
    Column("signer_phone", String(64)),
    Column("attestation_id", String(128)),
    Column("state", String(32), nullable=False),
    Column("acceptance_link", Text),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("link_created_at", DateTime(timezone=True)),
    Column("expires_at", DateTime(timezone=True)),
    Column("accepted_at", DateTime(timezone=True)),
    Column("finalised_at", DateTime(timezone=True)),
    Column("created_by", String(128), nullable=False, default=""),
    Column("created_by_name", String(256), nullable=False, default=""),
    Column("finalised_by", String(256)),
    Column("finalise_attempt", Integer, nullable=False, default=0),
    Column("finalise_request_id", String(64)),
    Column("last_error", Text, nullable=False, default=""),
    Column("last_request_id", String(64)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index(
    "ix_enhanced_partner_customer",
    enhanced_attestations.c.partner_tenant_id,
    enhanced_attestations.c.customer_id,
)
Index("ix_enhanced_attestation_id", enhanced_attestations.c.attestation_id)


class AttestationState(StrEnum):
    """Where one enhanced attestation stands, as the desk last knew it."""

    #: Written before the create call; its answer is not known yet (resumable).
    CREATING = "creating"
    #: Created: the acceptance link is valid until `expires_at`.
    LINK_SENT = "link_sent"
    #: The customer accepted: ready to finalise.
    ACCEPTED = "accepted"
    #: The link expired before the customer accepted: offer a new link.
    EXPIRED = "expired"
    #: The agreement was created: done.
    AGREEMENT_CREATED = "agreement_created"
    #: Partner Center refused the create call (kept, with the error).
    FAILED = "failed"


#: States from which something is still to do.
OPEN_STATES = frozenset(
    {
        AttestationState.CREATING,
        AttestationState.LINK_SENT,
        AttestationState.ACCEPTED,
        AttestationState.EXPIRED,
    }
)


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class EnhancedAttestation(_Record):
    """One enhanced attestation the desk started (id, customer, signer, times, state, who)."""

    request_id: str
    partner_tenant_id: str
    customer_id: str
    company_name: str = ""
    domain: str = ""
    country: str = ""
    language: str = ""
    signer: Contact
    attestation_id: str | None = None
    state: AttestationState
    acceptance_link: str | None = None
    created_at: datetime
    link_created_at: datetime | None = None
    expires_at: datetime | None = None
    accepted_at: datetime | None = None
    finalised_at: datetime | None = None
    created_by: str = ""
    created_by_name: str = ""
    finalised_by: str | None = None
    finalise_attempt: int = 0
    finalise_request_id: str | None = None
    last_error: str = ""
    last_request_id: str | None = None
    updated_at: datetime

    def current_state(self, now: datetime) -> AttestationState:
        """The state with the clock applied: an unaccepted link past its expiry is expired."""
        if (
            self.state is AttestationState.LINK_SENT
            and self.expires_at is not None
            and now >= self.expires_at
        ):
            return AttestationState.EXPIRED
        return self.state

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def same_request(self, signer: Contact, company_name: str, country: str, language: str) -> bool:
        """True when a new request asks for exactly this attestation again."""

        def fold(value: object) -> str:
            return str(value or "").strip().casefold()

        def digits(value: object) -> str:
            return "".join(ch for ch in str(value or "") if ch.isdigit())

        return (
            fold(self.signer.first_name),
            fold(self.signer.last_name),
            fold(self.signer.email),
            digits(self.signer.phone_number),
            fold(self.company_name),
            fold(self.country),
            fold(self.language),
        ) == (
            fold(signer.first_name),
            fold(signer.last_name),
            fold(signer.email),
            digits(signer.phone_number),
            fold(company_name),
            fold(country),
            fold(language),
        )


def _to_row(record: EnhancedAttestation) -> dict[str, Any]:
    values = record.model_dump(exclude={"signer"})
    values["state"] = record.state.value
    values["signer_first_name"] = record.signer.first_name
    values["signer_last_name"] = record.signer.last_name
    values["signer_email"] = record.signer.email
    values["signer_phone"] = record.signer.phone_number
    values["last_error"] = scrub(record.last_error or "")[:2000]
    return values


def _from_row(row: Any) -> EnhancedAttestation:
    r = dict(row)
    signer = Contact(
        first_name=r.pop("signer_first_name"),
        last_name=r.pop("signer_last_name"),
        email=r.pop("signer_email"),
        phone_number=r.pop("signer_phone") or None,
    )
    for name in (
        "created_at",
        "link_created_at",
        "expires_at",
        "accepted_at",
        "finalised_at",
        "updated_at",
    ):
        r[name] = _utc(r[name])
    return EnhancedAttestation(signer=signer, **r)


class EnhancedStore:
    """Read and write enhanced attestations through the desk store's engine."""

    def __init__(self, store: Store):
        self.store = store
        store.ensure_schema(enhanced_metadata)  # safe when several processes start at once

    def add(self, record: EnhancedAttestation) -> tuple[EnhancedAttestation, bool]:
        """Insert a new row (committed at once). Returns (row, True), or the row another process
        wrote under the same request id and False."""
        try:
            with self.store.engine.begin() as conn:
                conn.execute(insert(enhanced_attestations).values(**_to_row(record)))
        except IntegrityError:
            existing = self.get(record.request_id)
            if existing is None:
                raise
            return existing, False
        return record, True

    def save(self, record: EnhancedAttestation, **changes: Any) -> EnhancedAttestation:
        """Apply `changes` to the row (committed at once) and return the updated record."""
        updated = record.model_copy(update={**changes, "updated_at": datetime.now(UTC)})
        values = _to_row(updated)
        values.pop("request_id")
        key = enhanced_attestations.c.request_id == record.request_id
        with self.store.engine.begin() as conn:
            conn.execute(update(enhanced_attestations).where(key).values(**values))
        return updated

    def get(self, request_id: str) -> EnhancedAttestation | None:
        query = select(enhanced_attestations).where(
            enhanced_attestations.c.request_id == request_id
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _from_row(row) if row is not None else None

    def by_attestation_id(
        self, partner_tenant_id: str, attestation_id: str
    ) -> EnhancedAttestation | None:
        query = select(enhanced_attestations).where(
            and_(
                enhanced_attestations.c.partner_tenant_id == partner_tenant_id,
                enhanced_attestations.c.attestation_id == attestation_id.strip().lower(),
            )
        )
        with self.store.engine.connect() as conn:
            row = conn.execute(query).mappings().first()
        return _from_row(row) if row is not None else None

    def for_customer(self, partner_tenant_id: str, customer_id: str) -> list[EnhancedAttestation]:
        """The customer's attestations, newest first."""
        return self.for_partner(partner_tenant_id, customer_ids=[customer_id])

    def count_for_customer(self, partner_tenant_id: str, customer_id: str) -> int:
        query = (
            select(func.count())
            .select_from(enhanced_attestations)
            .where(
                and_(
                    enhanced_attestations.c.partner_tenant_id == partner_tenant_id,
                    enhanced_attestations.c.customer_id == customer_id,
                )
            )
        )
        with self.store.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def for_partner(
        self,
        partner_tenant_id: str,
        *,
        states: Iterable[AttestationState] | None = None,
        customer_ids: Iterable[str] | None = None,
    ) -> list[EnhancedAttestation]:
        """A partner's attestations, newest first, optionally by state or customer."""
        query = select(enhanced_attestations).where(
            enhanced_attestations.c.partner_tenant_id == partner_tenant_id
        )
        if states is not None:
            query = query.where(enhanced_attestations.c.state.in_([s.value for s in states]))
        if customer_ids is not None:
            query = query.where(enhanced_attestations.c.customer_id.in_(list(customer_ids)))
        query = query.order_by(
            enhanced_attestations.c.created_at.desc(), enhanced_attestations.c.request_id
        )
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [_from_row(r) for r in rows]

    def any_for_partner(self, partner_tenant_id: str) -> bool:
        """Whether the partner has started any enhanced attestation (one indexed lookup)."""
        query = (
            select(enhanced_attestations.c.request_id)
            .where(enhanced_attestations.c.partner_tenant_id == partner_tenant_id)
            .limit(1)
        )
        with self.store.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def latest_by_customer(self, partner_tenant_id: str) -> dict[str, EnhancedAttestation]:
        """Each customer's newest attestation (what the pipeline shows)."""
        latest: dict[str, EnhancedAttestation] = {}
        for record in self.for_partner(partner_tenant_id):
            latest.setdefault(record.customer_id, record)
        return latest


def pipeline_rows(
    store: Store,
    snapshot_id: int,
    *,
    not_accepted: bool = True,
    customer_ids: Iterable[str] = (),
) -> list[dict[str, Any]]:
    """The few columns of a snapshot the pipeline needs (`PIPELINE_COLUMNS`), for the customers
    the sync found not accepted (`not_accepted`) and for `customer_ids`, by customer id: at 100k
    customers this reads a third of the rows and four of their columns, not the whole snapshot."""
    columns = [snapshot_rows.c[name] for name in PIPELINE_COLUMNS]
    queries = []
    if not_accepted:
        queries.append(
            select(*columns).where(
                and_(
                    snapshot_rows.c.snapshot_id == snapshot_id, snapshot_rows.c.accepted.is_(False)
                )
            )
        )
    wanted = sorted(set(customer_ids))
    for start in range(0, len(wanted), _IN_CHUNK):
        queries.append(
            select(*columns).where(
                and_(
                    snapshot_rows.c.snapshot_id == snapshot_id,
                    snapshot_rows.c.customer_id.in_(wanted[start : start + _IN_CHUNK]),
                )
            )
        )
    found: dict[str, dict[str, Any]] = {}
    with store.engine.connect() as conn:
        for query in queries:
            for row in conn.execute(query.order_by(snapshot_rows.c.customer_id)).mappings():
                found.setdefault(row["customer_id"], dict(row))
    return [found[key] for key in sorted(found)]


__all__ = [
    "OPEN_STATES",
    "PIPELINE_COLUMNS",
    "AttestationState",
    "EnhancedAttestation",
    "EnhancedStore",
    "enhanced_attestations",
    "enhanced_metadata",
    "pipeline_rows",
]
