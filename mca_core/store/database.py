"""The desk's own database: the audit log and acceptance snapshots. Never a secret.

SQLAlchemy Core over a SQLite file by default; any SQLAlchemy URL (PostgreSQL) when several
dashboard instances share one store. Inputs are scrubbed on the way in (`scrub`), so a password
or token handed to `record` by mistake is dropped, not stored.

Tables are created and upgraded on first use, safely when many processes start at once (issue 11:
40 of 60 processes starting on a fresh file failed with "table already exists"): the schema is
checked first without writing anything, and only when something is missing is it created under a
lock, checked again and changed in one transaction (`BEGIN IMMEDIATE` on SQLite, whose DDL is
transactional; `pg_advisory_xact_lock` on PostgreSQL). A store file the desk may not write (mode
0444, a read-only folder or file system) is opened read-only, so its audit log can still be read.
A store that cannot be used (a damaged file, an unreachable server, a URL that is not one, a full
disk) raises ConfigurationError naming the file or the setting and the fix, not a traceback.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

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
    and_,
    create_engine,
    event,
    exists,
    func,
    insert,
    inspect,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DatabaseError,
    DBAPIError,
    IntegrityError,
    NoSuchModuleError,
    OperationalError,
)

from mca_core.domain.errors import ConfigurationError
from mca_core.domain.models import AuditEvent

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
    #: Bumped by each write-through (work done on the desk since the sync): caches key on it.
    Column("revision", Integer, nullable=True, default=0),
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
    #: Set when the desk itself changed the row after the sync (an attestation, a finalise, a
    #: new customer): the row is the desk's knowledge, not Partner Center's answer at sync time.
    Column("written_through_at", DateTime(timezone=True)),
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
    revision: int = 0

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> SnapshotInfo:
        """A `snapshots` row as read (its time in UTC; no revision yet reads 0)."""
        return cls(
            **{**dict(row), "taken_at": _utc(row["taken_at"]), "revision": row["revision"] or 0}
        )


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Store:
    """The audit log and snapshots behind one SQLAlchemy engine."""

    def __init__(self, url: str, *, echo: bool = False):
        self.url = url
        #: The SQLite file behind the store (None for a server database or :memory:).
        self.path: Path | None = None
        #: True when the store file may not be written: it is opened read-only.
        self.read_only = False
        self._lock = threading.Lock()
        self._ensured: set[int] = set()
        self.engine: Engine = self._create_engine(url, echo)
        try:
            self.ensure_schema(metadata)
        except BaseException:
            self.engine.dispose()
            raise

    def dispose(self) -> None:
        self.engine.dispose()

    # --- opening -------------------------------------------------------------------------

    def _create_engine(self, url: str, echo: bool) -> Engine:
        try:
            parsed = make_url(url)
        except ArgumentError:
            raise ConfigurationError(
                f"Setting 'store_url' (env MCA_STORE_URL) is not a database URL: "
                f"{_mask(url)!r}. Use a SQLAlchemy URL such as sqlite:///data/desk.sqlite3 or "
                "postgresql+psycopg://user@host:5432/dbname, or unset it to keep the store in "
                "data_dir (MCA_DATA_DIR)."
            ) from None
        options: dict[str, Any] = {}
        if parsed.get_backend_name() == "sqlite":
            parsed = self._prepare_sqlite_file(parsed)
        elif parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
            options["connect_args"] = {"connect_timeout": 15}  # an unreachable host fails soon
        try:
            engine = create_engine(parsed, echo=echo, future=True, **options)
        except (ArgumentError, NoSuchModuleError, ImportError) as exc:
            if isinstance(exc, NoSuchModuleError):
                reason = f"no database kind or driver is called {parsed.drivername!r}"
            elif isinstance(exc, ImportError):
                reason = f"its Python driver is not installed ({exc})"
            else:
                reason = _first_line(exc)
            raise ConfigurationError(
                f"Setting 'store_url' (env MCA_STORE_URL) names a database the desk cannot use: "
                f"{_shown(parsed)}: {reason}. Use sqlite:///<file> or "
                "postgresql+psycopg://user@host:5432/dbname (the psycopg driver is installed "
                "with the desk), or install the driver the URL names."
            ) from exc
        if engine.dialect.name == "sqlite":
            pragmas = _sqlite_read_only_pragmas if self.read_only else _sqlite_pragmas
            event.listen(engine, "connect", pragmas)
        return engine

    def _prepare_sqlite_file(self, url: URL) -> URL:
        """Create the file's folder; open a file the desk may not write read-only (a WAL
        database cannot even be read through a read-write connection to a read-only file)."""
        database = url.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return url
        path = Path(database)
        self.path = path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigurationError(
                f"The store file {path} cannot be created: its folder {path.parent} cannot be "
                f"made ({exc.strerror or exc}). Create the folder and let the desk's user write "
                "in it, or point data_dir (MCA_DATA_DIR) or store_url (MCA_STORE_URL) elsewhere."
            ) from exc
        if not path.exists():
            if not os.access(path.parent, os.W_OK):
                raise ConfigurationError(
                    f"The store file {path} cannot be created: the desk's user may not write in "
                    f"{path.parent}. Make the folder writable, or point data_dir (MCA_DATA_DIR) "
                    "or store_url (MCA_STORE_URL) at a writable place."
                )
            return url
        if os.access(path, os.W_OK) and os.access(path.parent, os.W_OK):
            return url
        self.read_only = True
        query = {**url.query, "uri": "true", "mode": "ro"}
        wal = path.with_name(path.name + "-wal")
        if not (wal.exists() and wal.stat().st_size):
            # Nothing waits in a write-ahead log; and nobody can write the file, so SQLite may
            # skip the locks and the -shm file it cannot create next to it.
            query["immutable"] = "1"
        return url.set(database=f"file:{quote(str(path.resolve()))}", query=query)

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Turn the database's environment failures into ConfigurationError with the fix."""
        try:
            yield
        except (OperationalError, DatabaseError) as exc:
            if isinstance(exc, IntegrityError) or not _environmental(exc):
                raise
            raise ConfigurationError(self._failure_message(exc)) from exc

    def _failure_message(self, exc: DBAPIError) -> str:
        reason = _first_line(exc.orig if exc.orig is not None else exc)
        low = reason.lower()
        if self.path is None:
            return (
                f"The store database {_shown(make_url(self.url))} (setting 'store_url', env "
                f"MCA_STORE_URL) cannot be used: {reason}. Check that the server is running and "
                "reachable and that the URL's host, port, user, password and database name are "
                "right, or unset MCA_STORE_URL to keep the store in a SQLite file in data_dir."
            )
        where = f"The store file {self.path}"
        elsewhere = "or point data_dir (MCA_DATA_DIR) or store_url (MCA_STORE_URL) elsewhere"
        if "not a database" in low or "malformed" in low or "encrypted" in low:
            return (
                f"{where} is damaged or is not a SQLite database ({reason}). Move it aside (keep "
                f"it for support) so the desk starts a new one, restore it from a backup, "
                f"{elsewhere}."
            )
        if "full" in low:
            return (
                f"{where} cannot be written: the disk is full ({reason}). Free space on that "
                f"disk, {elsewhere}."
            )
        if "readonly" in low or "read-only" in low or "read only" in low:
            return (
                f"{where} is read-only ({reason}): it can be read, but nothing can be recorded or "
                f"changed. Let the desk's user write the file and its folder, {elsewhere}."
            )
        if "locked" in low or "busy" in low:
            return (
                f"{where} stayed locked by another process ({reason}). Try again; if it stays "
                "locked, stop the process that holds it (a crashed desk or a database tool)."
            )
        return (
            f"{where} cannot be used ({reason}). Check the file and its folder exist and the "
            f"desk's user may read and write them, {elsewhere}."
        )

    # --- schema --------------------------------------------------------------------------

    def ensure_schema(self, tables: MetaData) -> list[str]:
        """Create the tables of `tables` and add missing columns, once per store object.

        Safe when many processes do it at once (see the module docstring); writes nothing when
        nothing is missing (a read-only store). Returns what was created or added.
        """
        key = id(tables)
        if key in self._ensured:
            return []
        with self._guard():
            if self.read_only:  # a missing index only slows reading down
                missing = _schema_missing(self.engine, tables, indexes=False)
                if missing:
                    raise ConfigurationError(
                        f"The store file {self.path} is read-only and lacks "
                        f"{', '.join(missing)}: a newer version of the desk must create them. "
                        "Let the desk's user write the file and its folder once."
                    )
                changes: list[str] = []
            else:
                changes = ensure_schema(self.engine, tables)
        self._ensured.add(key)
        return changes

    @contextmanager
    def serialized(self, key: str) -> Iterator[Connection]:
        """One transaction that no other writer of `key` runs beside (see `write_transaction`)."""
        with self._guard(), write_transaction(self.engine, key) as conn:
            yield conn

    # --- audit ---------------------------------------------------------------------------

    def record(self, event_: AuditEvent, *, conn: Connection | None = None) -> AuditEvent:
        """Append one audit event (inputs scrubbed); returns it with its id.

        With `conn`, inside that connection's transaction (committed with whatever else it
        writes, e.g. the bulk journal's row in `serialized`)."""
        values = event_.model_dump(exclude={"id"})
        values["inputs"] = scrub(values.get("inputs") or {})
        values["detail"] = scrub(values.get("detail") or "")
        values["at"] = _utc(values["at"])
        statement = insert(audit_events).values(**values)
        if conn is not None:
            result = conn.execute(statement)
        else:
            with self._guard(), self.engine.begin() as own:
                result = own.execute(statement)
        new_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
        return event_.model_copy(
            update={"id": new_id, "inputs": values["inputs"], "detail": values["detail"]}
        )

    def audit(
        self,
        *,
        user_id: str | None = None,
        partner_tenant_id: str | None = None,
        viewer_id: str | None = None,
        action: str | Sequence[str] | None = None,
        customer_id: str | None = None,
        outcome: str | Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Audit events, newest first, filtered.

        A partner's events (`partner_tenant_id`) include its legacy events: those recorded before
        the store kept a partner tenant (an early version's store, upgraded; their
        partner_tenant_id is ''; see `legacy_clause`). `viewer_id` is the user asking, whose own
        legacy events are always theirs."""
        query = select(audit_events).order_by(audit_events.c.at.desc(), audit_events.c.id.desc())
        if user_id:
            query = query.where(audit_events.c.user_id == user_id)
        if partner_tenant_id is not None:
            own = audit_events.c.partner_tenant_id == partner_tenant_id
            if partner_tenant_id and self._has_legacy_events():
                own = or_(own, legacy_clause(partner_tenant_id, viewer_id))
            query = query.where(own)
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
        with self._guard(), self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [AuditEvent(**{**dict(r), "at": _utc(r["at"])}) for r in rows]

    def _has_legacy_events(self) -> bool:
        """True while events without a partner tenant exist (one indexed lookup)."""
        query = select(exists().where(audit_events.c.partner_tenant_id == ""))
        with self._guard(), self.engine.connect() as conn:
            return bool(conn.execute(query).scalar())

    def count_audit(self) -> int:
        with self._guard(), self.engine.connect() as conn:
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
        with self._guard(), self.engine.begin() as conn:
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
        with self._guard(), self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return [SnapshotInfo.from_row(r) for r in rows]

    def latest_snapshot(self, scope: str | None = None) -> SnapshotInfo | None:
        found = self.snapshots(scope, limit=1)
        return found[0] if found else None

    def write_through(self, snapshot_id: int, customer_id: str, changes: Mapping[str, Any]) -> bool:
        """Apply work done on the desk to one customer's row of a snapshot at once (marked
        `written_through_at`), so every page agrees before the next sync; a customer the
        snapshot lacks (just created) gets a row. Returns False when the snapshot is gone."""
        columns = {c.name for c in snapshot_rows.columns} - {"snapshot_id", "customer_id"}
        values = {k: v for k, v in changes.items() if k in columns}
        if "latest_date_agreed" in values:
            values["latest_date_agreed"] = _utc(values["latest_date_agreed"])
        values["written_through_at"] = datetime.now(UTC)
        key = (snapshot_rows.c.snapshot_id == snapshot_id) & (
            snapshot_rows.c.customer_id == customer_id
        )
        with self._guard(), self.engine.begin() as conn:
            found = conn.execute(select(snapshots.c.id).where(snapshots.c.id == snapshot_id))
            if found.first() is None:
                return False
            if conn.execute(update(snapshot_rows).where(key).values(**values)).rowcount == 0:
                row = {"company_name": "", "domain": "", **values}
                conn.execute(
                    insert(snapshot_rows).values(
                        snapshot_id=snapshot_id, customer_id=customer_id, **row
                    )
                )
            conn.execute(
                update(snapshots)
                .where(snapshots.c.id == snapshot_id)
                .values(revision=func.coalesce(snapshots.c.revision, 0) + 1)
            )
        return True

    def snapshot_row(self, snapshot_id: int, customer_id: str) -> dict[str, Any] | None:
        """One customer's row of a snapshot, or None."""
        query = select(snapshot_rows).where(
            (snapshot_rows.c.snapshot_id == snapshot_id)
            & (snapshot_rows.c.customer_id == customer_id)
        )
        with self.engine.connect() as conn:
            found = conn.execute(query).mappings().first()
        if found is None:
            return None
        row = dict(found)
        row["latest_date_agreed"] = _utc(row["latest_date_agreed"])
        return row

    def snapshot_rows(self, snapshot_id: int) -> list[dict[str, Any]]:
        query = select(snapshot_rows).where(snapshot_rows.c.snapshot_id == snapshot_id)
        with self._guard(), self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        out = []
        for r in rows:
            row = dict(r)
            row["latest_date_agreed"] = _utc(row["latest_date_agreed"])
            out.append(row)
        return out


def legacy_clause(partner_tenant_id: str, viewer_id: str | None = None) -> Any:
    """Which legacy events (partner_tenant_id '') are this partner's.

    An early version's store kept no partner tenant and nothing in it names one, so a legacy
    event is attributed by who made it: a user id (an Entra object id, a sandbox user) belongs to
    one partner tenant. The event is the partner's when its user is the viewer, or has recorded
    events for this partner since; or when the store holds no other partner's events at all (one
    installation, one partner: what the early version, which filtered nothing, showed). An event
    of a user seen only with another partner is never shown: that would hand one partner's
    customers and contacts to another. (Backfilling at upgrade would have to guess the same way,
    and would write to stores that may be read-only.)
    """
    other = audit_events.alias("other")
    tagged_for_partner = select(other.c.user_id).where(
        other.c.partner_tenant_id == partner_tenant_id
    )
    another_partner = exists().where(
        and_(other.c.partner_tenant_id != "", other.c.partner_tenant_id != partner_tenant_id)
    )
    ways = [audit_events.c.user_id.in_(tagged_for_partner), ~another_partner]
    if viewer_id:
        ways.insert(0, audit_events.c.user_id == viewer_id)
    return and_(audit_events.c.partner_tenant_id == "", or_(*ways))


def ensure_schema(engine: Engine, tables: MetaData = metadata) -> list[str]:
    """Create missing tables and add missing columns and indexes of `tables`.

    A first look writes nothing (many processes starting at once on a ready store, a read-only
    store). When something is missing, everything is checked again and changed inside one
    `write_transaction`: the second of two processes starting together waits, then finds the
    tables made. A dialect without such a lock may still meet "already exists": then the check
    is repeated (create-if-not-exists).
    """
    if not _schema_missing(engine, tables):
        return []
    for attempt in range(5):
        try:
            with write_transaction(engine, "mca_core.store.database.schema") as conn:
                made = [t.name for t in tables.sorted_tables if not _has_table(conn, t.name)]
                tables.create_all(conn, checkfirst=True)
                return made + upgrade_schema(conn, tables)
        except DBAPIError as exc:
            if attempt == 4 or "already exists" not in str(exc.orig).lower():
                raise
    return []  # pragma: no cover (the loop returns or raises)


def _has_table(conn: Connection, name: str) -> bool:
    return bool(conn.dialect.has_table(conn, name))


def _schema_missing(engine: Engine, tables: MetaData, *, indexes: bool = True) -> list[str]:
    """The tables, columns (and indexes) of `tables` the database lacks (read only)."""
    inspector = inspect(engine)
    names = set(inspector.get_table_names())
    missing: list[str] = []
    for table in tables.sorted_tables:
        if table.name not in names:
            missing.append(table.name)
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        missing += [f"{table.name}.{c.name}" for c in table.columns if c.name not in present]
        if indexes:
            made = {i["name"] for i in inspector.get_indexes(table.name)}
            missing += [i.name for i in table.indexes if i.name and i.name not in made]
    return missing


@contextmanager
def write_transaction(engine: Engine, key: str) -> Iterator[Connection]:
    """A transaction no other writer of `key` (any process) runs beside.

    SQLite: `BEGIN IMMEDIATE` takes the database's write lock at the start (every writer waits,
    up to the busy timeout), so what is read inside is still true at commit; a plain (deferred)
    transaction would read, then fail to upgrade its lock. PostgreSQL: `pg_advisory_xact_lock` on
    a number derived from `key`, released with the transaction. Other dialects: a plain one.
    """
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:
            # pysqlite (legacy transaction control) sends no BEGIN of its own once one is open.
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        return
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key(key)})
        yield conn


def _lock_key(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode("utf-8")).digest()[:8], "big", signed=True)


def upgrade_schema(bind: Engine | Connection, tables: MetaData = metadata) -> list[str]:
    """Add columns (and their indexes) that newer versions of the desk define and an older
    database lacks. Call it inside `write_transaction` when other processes may start too.

    Additive only (a new nullable or defaulted column): enough while the schema only grows. A
    change that renames or drops needs a real migration tool (Alembic) and a note in the README.
    An early store's audit events get partner_tenant_id '' ("legacy"): nothing in that store
    names a tenant, so they are attributed when read (`legacy_clause`).
    """
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            return upgrade_schema(conn, tables)
    conn = bind
    added: list[str] = []
    inspector = inspect(conn)
    for table in tables.sorted_tables:
        if not inspector.has_table(table.name):
            continue
        present = {c["name"] for c in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name in present:
                continue
            kind = column.type.compile(dialect=conn.dialect)
            default = ""
            if column.default is not None and isinstance(column.default.arg, str):
                default = f" DEFAULT '{column.default.arg}'"
                kind += " NOT NULL" if not column.nullable else ""
            conn.execute(
                text(f'ALTER TABLE {table.name} ADD COLUMN "{column.name}" {kind}{default}')
            )
            added.append(f"{table.name}.{column.name}")
        indexes = {i["name"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name and index.name not in indexes:
                index.create(conn, checkfirst=True)
                added.append(index.name)
    return added


def _environmental(exc: DBAPIError) -> bool:
    """True for failures of the database's environment (file, disk, server), not of a query."""
    if isinstance(exc, OperationalError) or type(exc) is DatabaseError:
        return True
    return "permission denied" in str(exc.orig).lower()


def _first_line(value: object) -> str:
    lines = [line.strip() for line in str(value).splitlines() if line.strip()]
    return lines[0] if lines else type(value).__name__


def _mask(url: str) -> str:
    """A URL-ish setting as shown in a message: a password in it is hidden."""
    return re.sub(r"(//[^/@:]*:)[^/@]*@", r"\1***@", url)


def _shown(url: URL) -> str:
    return url.render_as_string(hide_password=True)


#: How long a writer waits for another process's lock (SQLite's busy timeout), in ms.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # First: switching a new file to WAL takes a lock that other processes may hold a moment.
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() != "wal":
        try:
            mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()
            if mode is not None and str(mode[0]).lower() == "memory":
                break  # an in-memory database has no WAL: it keeps "memory" (it used to hang)
        except sqlite3.OperationalError as exc:
            # The switch needs the file to itself: many processes opening a new store at once
            # may see "locked" without the busy handler being asked (seen under load); wait.
            if "locked" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(0.05 + random.random() * 0.1)
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


def _sqlite_read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """A read-only file: no journal mode change (a write), and no write by mistake."""
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA query_only=ON")
    cursor.close()
