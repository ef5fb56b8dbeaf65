"""The bulk attestation journal: what each row of a bulk run has done, so a run can resume.

One row per (run key, file line). A row is written `started` (with the MS-RequestId it will
send) BEFORE its attest call and gets its outcome AFTER, each in its own transaction: a process
killed between the two leaves `started`, and the next run re-sends that row with the same
request id, which Partner Center answers idempotently. Rows that ended attested, already attested
or skipped are never sent again.

It lives in the desk's own database (SQLAlchemy Core, its own MetaData, created on first use).
It holds ids, outcomes and messages only: no contact details, never a secret.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

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
    insert,
    select,
    update,
)
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError

from mca_core.store.database import Store, scrub

journal_metadata = MetaData()

bulk_journal = Table(
    "bulk_journal",
    journal_metadata,
    Column("run_key", String(64), primary_key=True),
    Column("line", Integer, primary_key=True),
    Column("partner_tenant_id", String(64), nullable=False, default=""),
    Column("user_id", String(128), nullable=False, default=""),
    Column("customer_id", String(64)),
    Column("request_id", String(64)),
    Column("state", String(32), nullable=False),
    Column("message", Text, nullable=False, default=""),
    Column("started_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False),
)
Index("ix_bulk_journal_request", bulk_journal.c.partner_tenant_id, bulk_journal.c.request_id)

STARTED = "started"
#: States after which a row is never sent again (resubmitting the file reports them as they are).
ENDED_STATES = frozenset({"attested", "already_attested", "skipped_already_accepted"})
#: Every state a journal row may hold ("failed" rows are retried by the next run).
STATES = ENDED_STATES | {STARTED, "failed"}


@dataclass(frozen=True)
class JournalEntry:
    run_key: str
    line: int
    customer_id: str | None
    request_id: str | None
    state: str
    message: str
    updated_at: datetime

    @property
    def ended(self) -> bool:
        return self.state in ENDED_STATES


def _utc(value: datetime | None) -> datetime:
    value = value or datetime.now(UTC)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class BulkJournal:
    """Read and write the journal of bulk runs through the store's engine."""

    def __init__(self, store: Store):
        self.store = store
        store.ensure_schema(journal_metadata)  # safe when several runs start at once

    def entries(self, run_key: str) -> dict[int, JournalEntry]:
        """Every journaled line of one run, by line."""
        query = select(bulk_journal).where(bulk_journal.c.run_key == run_key)
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {r["line"]: self._entry(r) for r in rows}

    def by_request_id(self, partner_tenant_id: str, request_id: str) -> list[JournalEntry]:
        """Entries of any run that sent this exact attestation (same deterministic request id)."""
        query = select(bulk_journal).where(
            and_(
                bulk_journal.c.partner_tenant_id == partner_tenant_id,
                bulk_journal.c.request_id == request_id,
            )
        )
        with self.store.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [self._entry(r) for r in rows]

    def by_request_ids(
        self, partner_tenant_id: str, request_ids: list[str]
    ) -> dict[str, list[JournalEntry]]:
        """Entries of any run by request id, for many ids at once (chunked queries)."""
        found: dict[str, list[JournalEntry]] = {}
        unique = sorted(set(request_ids))
        with self.store.engine.connect() as conn:
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                query = select(bulk_journal).where(
                    and_(
                        bulk_journal.c.partner_tenant_id == partner_tenant_id,
                        bulk_journal.c.request_id.in_(chunk),
                    )
                )
                for row in conn.execute(query).mappings():
                    entry = self._entry(row)
                    found.setdefault(entry.request_id or "", []).append(entry)
        return found

    def start(
        self,
        run_key: str,
        line: int,
        *,
        partner_tenant_id: str,
        user_id: str,
        customer_id: str | None,
        request_id: str,
    ) -> JournalEntry | None:
        """Mark a row as about to be sent (committed before the call goes out).

        Returns None, or the row's entry when it has already ended: another run of the same rows
        at the same time got there first, and the row must not be sent (nor marked) again."""
        now = datetime.now(UTC)
        return self._upsert(
            run_key,
            line,
            {
                "partner_tenant_id": partner_tenant_id,
                "user_id": user_id,
                "customer_id": customer_id,
                "request_id": request_id,
                "state": STARTED,
                "message": "",
                "started_at": now,
                "updated_at": now,
            },
            keep_ended=True,
        )

    def end(
        self,
        run_key: str,
        line: int,
        state: str,
        message: str,
        *,
        partner_tenant_id: str,
        user_id: str,
        customer_id: str | None,
        request_id: str | None,
        conn: Connection | None = None,
    ) -> None:
        """Record a row's outcome (committed at once, or with `conn`'s transaction)."""
        if state not in STATES or state == STARTED:
            raise ValueError(f"not an outcome the journal keeps: {state!r}")
        self._upsert(
            run_key,
            line,
            {
                "partner_tenant_id": partner_tenant_id,
                "user_id": user_id,
                "customer_id": customer_id,
                "request_id": request_id,
                "state": state,
                "message": scrub(message)[:2000],
                "updated_at": datetime.now(UTC),
            },
            conn,
        )

    def settled(
        self,
        conn: Connection,
        run_key: str,
        line: int,
        partner_tenant_id: str,
        request_id: str | None,
    ) -> tuple[JournalEntry | None, JournalEntry | None]:
        """Read inside a `Store.serialized` transaction before ending a row: the row's own
        entry, and an entry (of any run, this row's included) that already ended this request
        id attested. Either ended only if another run of the same rows got there first."""
        own_query = select(bulk_journal).where(
            and_(bulk_journal.c.run_key == run_key, bulk_journal.c.line == line)
        )
        own_row = conn.execute(own_query).mappings().first()
        attested = None
        if request_id:
            attested_query = (
                select(bulk_journal)
                .where(
                    and_(
                        bulk_journal.c.partner_tenant_id == partner_tenant_id,
                        bulk_journal.c.request_id == request_id,
                        bulk_journal.c.state.in_(["attested", "already_attested"]),
                    )
                )
                .order_by(bulk_journal.c.updated_at)
            )
            attested = conn.execute(attested_query).mappings().first()
        return (
            self._entry(own_row) if own_row is not None else None,
            self._entry(attested) if attested is not None else None,
        )

    def _upsert(
        self,
        run_key: str,
        line: int,
        values: dict[str, object],
        conn: Connection | None = None,
        *,
        keep_ended: bool = False,
    ) -> JournalEntry | None:
        """Write the row; with `keep_ended`, leave an ended row as it is and return it."""
        if conn is None:
            with self.store.engine.begin() as own:
                return self._upsert(run_key, line, values, own, keep_ended=keep_ended)
        key = and_(bulk_journal.c.run_key == run_key, bulk_journal.c.line == line)
        where = and_(key, bulk_journal.c.state.not_in(ENDED_STATES)) if keep_ended else key
        for _ in range(2):
            if conn.execute(update(bulk_journal).where(where).values(**values)).rowcount:
                return None
            if keep_ended:
                row = conn.execute(select(bulk_journal).where(key)).mappings().first()
                if row is not None:
                    return self._entry(row)
            try:
                with conn.begin_nested():
                    conn.execute(insert(bulk_journal).values(run_key=run_key, line=line, **values))
                return None
            except IntegrityError:  # another process inserted it between our update and insert
                continue
        return None

    @staticmethod
    def _entry(row: object) -> JournalEntry:
        r = dict(row)  # type: ignore[call-overload]
        return JournalEntry(
            run_key=r["run_key"],
            line=int(r["line"]),
            customer_id=r["customer_id"],
            request_id=r["request_id"],
            state=r["state"],
            message=r["message"] or "",
            updated_at=_utc(r["updated_at"]),
        )
