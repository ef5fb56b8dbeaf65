"""The invitation log: every invitation and request email the desk wrote or sent.

One row per event: an email generated (`generated`, handed to a mail program as a draft or a
.eml), sent by the desk over SMTP (`sent`, with its Message-ID) or a send that failed
(`send_failed`, with the reason, secrets masked). Each row says which partner, which customer
(company name as written), which kind of email, to whom, in which language, who and when, and
for an enhanced acceptance link the attestation id. Never the body, never a password: a new
customer's temporary password exists only in the message that leaves the desk.

What the pages ask, each one query however large the portfolio:
- `latest_by_customer`: each customer's newest invitation (generated or sent), for the
  Overview table and the Blocked list ("invited on / by"); a window function over the
  `(partner, customer, at)` index, SQLite 3.25+ and PostgreSQL alike;
- `follow_up_rows`: the customers whose newest invitation is older than a moment, joined with
  their row of a snapshot (so the use case judges who is still blocked);
- `version`: the newest row id of a partner (an index lookup), the key caches are kept under.

It lives in the desk's own database (SQLAlchemy Core, its own MetaData, created on first use),
like the bulk journal and the enhanced attestations.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
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
)

from mca_core.store.database import Store, scrub, snapshot_rows

GENERATED, SENT, SEND_FAILED = "generated", "sent", "send_failed"
HOWS = (GENERATED, SENT, SEND_FAILED)
#: What counts as "invited": an email written for a mail program, or sent by the desk (a send
#: that failed reached nobody).
INVITED = (GENERATED, SENT)
#: Columns of a snapshot row the follow-up judges the customer's state from.
SNAPSHOT_COLUMNS = ("company_name", "domain", "accepted", "latest_date_agreed", "direct_signed")
#: Customer ids per `IN (...)` list (SQLite's old limit of bound variables is 999).
_IN_CHUNK = 500

invitation_log_metadata = MetaData()

invitation_log = Table(
    "invitation_log",
    invitation_log_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("partner_tenant_id", String(64), nullable=False, default=""),
    #: None for a reseller relationship link written for a prospect (no customer yet).
    Column("customer_id", String(64)),
    Column("company_name", String(512), nullable=False, default=""),
    Column("kind", String(32), nullable=False),
    Column("recipient", String(320), nullable=False, default=""),
    Column("locale", String(16), nullable=False, default=""),
    Column("user_id", String(128), nullable=False, default=""),
    Column("user_name", String(256), nullable=False, default=""),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("attestation_id", String(128)),
    Column("how", String(16), nullable=False),
    Column("message_id", String(256)),
    Column("failure", Text, nullable=False, default=""),
)
Index(
    "ix_invitation_log_customer",
    invitation_log.c.partner_tenant_id,
    invitation_log.c.customer_id,
    invitation_log.c.at,
)
Index("ix_invitation_log_partner_id", invitation_log.c.partner_tenant_id, invitation_log.c.id)
_COLUMNS = tuple(column.name for column in invitation_log.columns)


def _utc(value: datetime | None) -> datetime:
    value = value or datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


@dataclass(frozen=True)
class InvitationEntry:
    """One invitation event (see the module docstring). `id` is 0 until stored."""

    partner_tenant_id: str
    customer_id: str | None
    kind: str
    how: str
    at: datetime
    company_name: str = ""
    recipient: str = ""
    locale: str = ""
    user_id: str = ""
    user_name: str = ""
    attestation_id: str | None = None
    message_id: str | None = None
    failure: str = ""
    id: int = 0

    @property
    def invited(self) -> bool:
        return self.how in INVITED


def _row(entry: InvitationEntry) -> dict[str, Any]:
    values = asdict(entry)
    values.pop("id")
    values["at"] = _utc(entry.at)
    values["failure"] = scrub(entry.failure or "")[:2000]
    values["company_name"] = (entry.company_name or "")[:512]
    values["recipient"] = (entry.recipient or "")[:320]
    values["locale"] = (entry.locale or "")[:16]
    values["message_id"] = (entry.message_id or None) and entry.message_id[:256]
    return values


def _entry(row: Any) -> InvitationEntry:
    values = {name: row[name] for name in _COLUMNS}
    values["at"] = _utc(values["at"])
    values["failure"] = values["failure"] or ""
    return InvitationEntry(**values)


class InvitationLog:
    """Read and write the invitation log through the desk store's engine."""

    def __init__(self, store: Store):
        self.store = store
        store.ensure_schema(invitation_log_metadata)  # safe when several processes start at once

    def add(self, entry: InvitationEntry) -> InvitationEntry:
        """Append one event (committed at once); returns it with its id."""
        values = _row(entry)
        with self.store.engine.begin() as conn:
            result = conn.execute(insert(invitation_log).values(**values))
            key = result.inserted_primary_key
        return InvitationEntry(**{**asdict(entry), "at": values["at"], "id": int(key[0])})

    def version(self, partner_tenant_id: str) -> int:
        """The partner's newest row id (0 when none): changes whenever a row is added."""
        query = select(func.max(invitation_log.c.id)).where(
            invitation_log.c.partner_tenant_id == partner_tenant_id
        )
        with self.store.engine.connect() as conn:
            return int(conn.execute(query).scalar() or 0)

    def entries(
        self,
        partner_tenant_id: str,
        *,
        customer_id: str | None = None,
        limit: int | None = None,
    ) -> list[InvitationEntry]:
        """A partner's events (or one customer's), newest first."""
        c = invitation_log.c
        query = select(invitation_log).where(c.partner_tenant_id == partner_tenant_id)
        if customer_id is not None:
            query = query.where(c.customer_id == customer_id)
        query = query.order_by(c.at.desc(), c.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self.store.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query).mappings()]

    def _latest(self, partner_tenant_id: str) -> Any:
        """Each customer's newest invitation (generated or sent): a subquery with `rank` 1."""
        c = invitation_log.c
        rank = (
            func.row_number()
            .over(partition_by=c.customer_id, order_by=(c.at.desc(), c.id.desc()))
            .label("rank")
        )
        return (
            select(invitation_log, rank)
            .where(
                and_(
                    c.partner_tenant_id == partner_tenant_id,
                    c.customer_id.is_not(None),
                    c.how.in_(INVITED),
                )
            )
            .subquery("latest")
        )

    def latest_by_customer(
        self, partner_tenant_id: str, customer_ids: Iterable[str] | None = None
    ) -> dict[str, InvitationEntry]:
        """customer id -> its newest invitation (generated or sent), one query."""
        latest = self._latest(partner_tenant_id)
        columns = [latest.c[name] for name in _COLUMNS]
        query = select(*columns).where(latest.c.rank == 1)
        queries = [query]
        if customer_ids is not None:
            wanted = sorted(set(customer_ids))
            queries = [
                query.where(latest.c.customer_id.in_(wanted[i : i + _IN_CHUNK]))
                for i in range(0, len(wanted), _IN_CHUNK)
            ]
        found: dict[str, InvitationEntry] = {}
        with self.store.engine.connect() as conn:
            for q in queries:
                for row in conn.execute(q).mappings():
                    entry = _entry(row)
                    found[str(entry.customer_id)] = entry
        return found

    def follow_up_rows(
        self, partner_tenant_id: str, snapshot_id: int, before: datetime
    ) -> list[tuple[InvitationEntry, dict[str, Any]]]:
        """Customers whose newest invitation is older than `before`, each with its row of the
        snapshot (`SNAPSHOT_COLUMNS`); customers the snapshot does not hold are left out. One
        query; oldest invitation first."""
        latest = self._latest(partner_tenant_id)
        columns = [latest.c[name] for name in _COLUMNS]
        synced = [snapshot_rows.c[name].label(f"s_{name}") for name in SNAPSHOT_COLUMNS]
        query = (
            select(*columns, *synced)
            .join(
                snapshot_rows,
                and_(
                    snapshot_rows.c.snapshot_id == snapshot_id,
                    snapshot_rows.c.customer_id == latest.c.customer_id,
                ),
            )
            .where(and_(latest.c.rank == 1, latest.c.at < _utc(before)))
            .order_by(latest.c.at, latest.c.id)
        )
        out: list[tuple[InvitationEntry, dict[str, Any]]] = []
        with self.store.engine.connect() as conn:
            for row in conn.execute(query).mappings():
                snap = {name: row[f"s_{name}"] for name in SNAPSHOT_COLUMNS}
                snap["customer_id"] = row["customer_id"]
                out.append((_entry(row), snap))
        return out


__all__ = [
    "GENERATED",
    "HOWS",
    "INVITED",
    "SEND_FAILED",
    "SENT",
    "InvitationEntry",
    "InvitationLog",
    "invitation_log",
    "invitation_log_metadata",
]
