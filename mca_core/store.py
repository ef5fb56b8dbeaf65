"""The desk's own database: the audit log and acceptance snapshots. Never a secret.

SQLAlchemy Core over a SQLite file by default; any SQLAlchemy URL (PostgreSQL) when several
dashboard instances share one store. Inputs are scrubbed on the way in (`scrub`), so a password
or token handed to `record` by mistake is dropped, not stored.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.engine import Engine

from .models import AuditEvent

metadata = MetaData()

audit_events = Table(
    "audit_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("user_id", String(128), nullable=False),
    Column("user_name", String(256), nullable=False, default=""),
    Column("role", String(32), nullable=False, default=""),
    Column("partner_type", String(32), nullable=False, default=""),
    Column("partner_tenant_id", String(64), nullable=False, default="", index=True),
    Column("action", String(64), nullable=False, index=True),
    Column("customer_id", String(64), index=True),
    Column("inputs", JSON, nullable=False, default=dict),
    Column("outcome", String(32), nullable=False, index=True),
    Column("detail", Text, nullable=False, default=""),
    Column("request_id", String(64)),
    Column("correlation_id", String(64)),
)

snapshots = Table(
    "snapshots",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("taken_at", DateTime(timezone=True), nullable=False, index=True),
    Column("taken_by", String(256), nullable=False, default=""),
    Column("scope", String(128), nullable=False, default="", index=True),
    Column("mode", String(32), nullable=False, default="default"),
    Column("complete", Boolean, nullable=False, default=True),
    Column("summary", JSON, nullable=False, default=dict),
)

snapshot_rows = Table(
    "snapshot_rows",
    metadata,
    Column(
        "snapshot_id", Integer, ForeignKey("snapshots.id", ondelete="CASCADE"), primary_key=True
    ),
    Column("customer_id", String(64), primary_key=True),
    Column("company_name", String(512), nullable=False, default=""),
    Column("domain", String(256), nullable=False, default=""),
    Column("country", String(8)),
    Column("associated_partner_id", String(64)),
    Column("attested", Boolean),
    Column("direct_signed", Boolean),
    Column("accepted", Boolean),
    Column("attestation_count", Integer),
    Column("latest_date_agreed", DateTime(timezone=True)),
    Column("latest_contact_name", String(256)),
    Column("latest_contact_email", String(256)),
    Column("latest_attested_by", String(128)),
    Column("error", Text),
)
Index("ix_snapshot_rows_customer", snapshot_rows.c.customer_id)

#: Keys whose values are never stored, whatever the caller passes.
SECRET_KEYS = re.compile(r"pass(word)?|secret|token|credential|authorization|cookie", re.IGNORECASE)
_JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")
_BEARER = re.compile(r"(?i)bearer\s+[A-Za-z0-9._~+/=-]+")


def scrub(value: Any) -> Any:
    """Drop secret-named keys and redact token-shaped strings, recursively."""
    if isinstance(value, Mapping):
        return {
            str(k): ("[redacted]" if SECRET_KEYS.search(str(k)) else scrub(v))
            for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, str):
        return _BEARER.sub("Bearer [redacted]", _JWT.sub("[redacted]", value))
    if value is None or isinstance(value, bool | int | float):
        return value
    return scrub(str(value))


@dataclass(frozen=True)
class SnapshotInfo:
    id: int
    taken_at: datetime
    taken_by: str
    scope: str
    mode: str
    complete: bool
    summary: dict[str, Any]


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Store:
    """The audit log and snapshots behind one SQLAlchemy engine."""

    def __init__(self, url: str, *, echo: bool = False):
        if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine: Engine = create_engine(url, echo=echo, future=True)
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self._lock = threading.Lock()
        metadata.create_all(self.engine)
        upgrade_schema(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    # --- audit ---------------------------------------------------------------------------

    def record(self, event_: AuditEvent) -> AuditEvent:
        """Append one audit event (inputs scrubbed); returns it with its id."""
        values = event_.model_dump(exclude={"id"})
        values["inputs"] = scrub(values.get("inputs") or {})
        values["detail"] = scrub(values.get("detail") or "")
        values["at"] = _utc(values["at"])
        with self.engine.begin() as conn:
            result = conn.execute(insert(audit_events).values(**values))
            new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return event_.model_copy(
            update={"id": new_id, "inputs": values["inputs"], "detail": values["detail"]}
        )

    def audit(
        self,
        *,
        user_id: str | None = None,
        partner_tenant_id: str | None = None,
        action: str | Sequence[str] | None = None,
        customer_id: str | None = None,
        outcome: str | Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Audit events, newest first, filtered."""
        query = select(audit_events).order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
        if user_id:
            query = query.where(audit_events.c.user_id == user_id)
        if partner_tenant_id is not None:
            query = query.where(audit_events.c.partner_tenant_id == partner_tenant_id)
        if action:
            actions = [action] if isinstance(action, str) else list(action)
            query = query.where(audit_events.c.action.in_(actions))
        if customer_id:
            query = query.where(audit_events.c.customer_id == customer_id)
        if outcome:
            outcomes = [outcome] if isinstance(outcome, str) else list(outcome)
            query = query.where(audit_events.c.outcome.in_(outcomes))
        if since:
            query = query.where(audit_events.c.at >= _utc(since))
        if until:
            query = query.where(audit_events.c.at <= _utc(until))
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditEvent(**{**dict(r), "at": _utc(r["at"])}) for r in rows]

    def count_audit(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_events)).scalar_one())

    # --- snapshots -----------------------------------------------------------------------

    def save_snapshot(
        self,
        rows: Iterable[Mapping[str, Any]],
        *,
        taken_by: str,
        scope: str,
        mode: str,
        summary: Mapping[str, Any],
        complete: bool = True,
        taken_at: datetime | None = None,
    ) -> int:
        """Store one snapshot with its per-customer rows in one transaction; returns its id."""
        taken_at = _utc(taken_at) or datetime.now(UTC)
        columns = {c.name for c in snapshot_rows.columns} - {"snapshot_id"}
        with self.engine.begin() as conn:
            snap_id = conn.execute(
                insert(snapshots).values(
                    taken_at=taken_at,
                    taken_by=taken_by,
                    scope=scope,
                    mode=mode,
                    complete=complete,
                    summary=json.loads(json.dumps(dict(summary), default=str)),
                )
            ).inserted_primary_key[0]
            batch: list[dict[str, Any]] = []
            for row in rows:
                clean = {k: row.get(k) for k in columns}
                for text_column in ("company_name", "domain"):  # NOT NULL: absent is empty
                    clean[text_column] = clean[text_column] or ""
                clean["latest_date_agreed"] = _utc(clean.get("latest_date_agreed"))
                clean["snapshot_id"] = snap_id
                batch.append(clean)
                if len(batch) >= 5000:
                    conn.execute(insert(snapshot_rows), batch)
                    batch = []
            if batch:
                conn.execute(insert(snapshot_rows), batch)
        return int(snap_id)

    def snapshots(self, scope: str | None = None, limit: int | None = None) -> list[SnapshotInfo]:
        """Snapshots newest first."""
        query = select(snapshots).order_by(snapshots.c.taken_at.desc(), snapshots.c.id.desc())
        if scope is not None:
            query = query.where(snapshots.c.scope == scope)
        if limit:
            query = query.limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [SnapshotInfo(**{**dict(r), "taken_at": _utc(r["taken_at"])}) for r in rows]

    def latest_snapshot(self, scope: str | None = None) -> SnapshotInfo | None:
        found = self.snapshots(scope, limit=1)
        return found[0] if found else None

    def snapshot_rows(self, snapshot_id: int) -> list[dict[str, Any]]:
        query = select(snapshot_rows).where(snapshot_rows.c.snapshot_id == snapshot_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        out = []
        for r in rows:
            row = dict(r)
            row["latest_date_agreed"] = _utc(row["latest_date_agreed"])
            out.append(row)
        return out


def upgrade_schema(engine: Engine) -> list[str]:
    """Add columns that newer versions of the desk define and an older database lacks.

    Additive only (a new nullable or defaulted column): enough while the schema only grows. A
    change that renames or drops needs a real migration tool (Alembic) and a note in the README.
    """
    added: list[str] = []
    inspector = inspect(engine)
    with engine.begin() as conn:
        for table in metadata.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            present = {c["name"] for c in inspector.get_columns(table.name)}
            for column in table.columns:
                if column.name in present:
                    continue
                kind = column.type.compile(dialect=engine.dialect)
                default = ""
                if column.default is not None and isinstance(column.default.arg, str):
                    default = f" DEFAULT '{column.default.arg}'"
                    kind += " NOT NULL" if not column.nullable else ""
                conn.execute(
                    text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{default}')
                )
                added.append(f"{table.name}.{column.name}")
    return added


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
