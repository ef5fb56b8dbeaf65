"""Exclusive, cross-process locks on the desk's store: "only one sync per partner tenant".

Long work (a partner's sync) must not run twice at once, whether the second start comes from
another browser session, another dashboard instance or the CLI. `exclusive` refuses at once
(never waits) with `WorkBusy`, which names who holds the lock, since when, on which host and
pid, so the user waits for the running work instead of starting a second one.

- SQLite file store: `flock` on `<db>.locks/<sha1(key)[:16]>.lock` beside the database file.
  The holder writes who it is into the file after taking the lock, so a refused caller can
  read it. The OS drops a flock when its process dies: a killed sync never leaves a stale lock.
  Two opens of one file conflict even inside one process (Linux flock locks belong to the open
  file description), so threads are covered too.
- PostgreSQL store: `pg_try_advisory_lock` on a connection held for the whole work (released by
  `pg_advisory_unlock`, or by the server when the connection dies); who holds it is kept in the
  `work_locks` table, checked against `pg_locks` so a row left by a dead holder is not quoted.
- Anything else (SQLite in memory, a `file:` URI, other databases, a read-only store, no
  `fcntl`): a lock inside this process, which is all such a store can be shared by.

Lock files are never deleted: removing a lock file that another process has open would let two
holders lock two different files of the same name.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, delete, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Connection

from mca_core.domain.errors import ConfigurationError, WorkBusy
from mca_core.store.database import Store, _lock_key

try:  # POSIX; elsewhere the lock is process-local only
    import fcntl
except ImportError:  # pragma: no cover (Windows)
    fcntl = None  # type: ignore[assignment]

locks_metadata = MetaData()

#: Who holds each PostgreSQL work lock (the lock itself is the advisory lock, not the row).
work_locks = Table(
    "work_locks",
    locks_metadata,
    Column("key", String(512), primary_key=True),
    Column("holder", String(256), nullable=False, default=""),
    Column("since", DateTime(timezone=True), nullable=False),
    Column("host", String(256), nullable=False, default=""),
    Column("pid", Integer, nullable=False),
    #: The server process of the holding connection: the row is believed only while pg_locks
    #: shows that backend holding the lock.
    Column("backend_pid", Integer, nullable=False),
)

#: Advisory locks share one number space with `write_transaction`'s: keep ours apart.
_PG_NAMESPACE = "mca_core.store.locks:"
#: How long a refused caller waits for a holder that has just locked to say who it is.
_NAME_WAIT_S = 1.0


@dataclass(frozen=True)
class LockHolder:
    """Who holds a work lock: the user-facing name, since when (UTC), and where."""

    holder: str
    since: datetime
    host: str
    pid: int

    def to_json(self) -> str:
        return json.dumps(
            {
                "holder": self.holder,
                "since": self.since.isoformat(),
                "host": self.host,
                "pid": self.pid,
            }
        )

    @classmethod
    def from_json(cls, raw: str) -> LockHolder | None:
        try:
            data = json.loads(raw)
            since = datetime.fromisoformat(data["since"])
            return cls(
                holder=str(data["holder"]),
                since=since if since.tzinfo else since.replace(tzinfo=UTC),
                host=str(data["host"]),
                pid=int(data["pid"]),
            )
        except (ValueError, KeyError, TypeError):
            return None


def _me(holder: str) -> LockHolder:
    return LockHolder(
        holder=holder, since=datetime.now(UTC), host=socket.gethostname(), pid=os.getpid()
    )


#: Builds the refusal for a lock held by `found` (None: a holder that cannot be named).
Refuse = Callable[[LockHolder | None], WorkBusy]


@contextmanager
def exclusive(
    store: Store, key: str, *, holder: str, work: str = "sync", fix: str | None = None
) -> Iterator[LockHolder]:
    """Hold the work lock `key` on `store` for the with-block, or raise `WorkBusy` at once.

    `holder` is the user-facing name of who starts the work (shown to whoever is refused);
    `work` names the work in the refusal ("A sync is already running: ...") and `fix` replaces
    its advice ("Wait for it to finish, then try again."). Not reentrant: a second `exclusive` on
    the same key is refused even in the same thread. Yields what is recorded about this holder.
    """
    me = _me(holder)
    if store.engine.dialect.name == "postgresql":
        lock = _pg_lock
    elif _lock_file(store, key) is not None and fcntl is not None:
        lock = _file_lock
    else:
        lock = _local_lock

    def refuse(found: LockHolder | None) -> WorkBusy:
        if found is None:
            return WorkBusy(key, holder="unknown", work=work, fix=fix)
        return WorkBusy(
            key,
            holder=found.holder,
            since=found.since,
            host=found.host,
            pid=found.pid,
            work=work,
            fix=fix,
        )

    with lock(store, key, me, refuse):
        yield me


# --- process-local -----------------------------------------------------------------------

_local_guard = threading.Lock()
_local_held: dict[tuple[str, str], LockHolder] = {}


@contextmanager
def _local_lock(store: Store, key: str, me: LockHolder, refuse: Refuse) -> Iterator[None]:
    """A lock inside this process, per store URL: for stores no other process can share."""
    slot = (store.url, key)
    with _local_guard:
        found = _local_held.get(slot)
        if found is not None:
            raise refuse(found)
        _local_held[slot] = me
    try:
        yield
    finally:
        with _local_guard:
            _local_held.pop(slot, None)


# --- SQLite file: flock ------------------------------------------------------------------


def _lock_file(store: Store, key: str) -> Path | None:
    """The lock file of `key` beside the store file; None when there is no writable file."""
    if store.path is None or store.read_only:
        return None
    name = hashlib.sha1(key.encode("utf-8")).hexdigest()[:16]
    return store.path.with_name(store.path.name + ".locks") / f"{name}.lock"


def _open_lock_file(path: Path) -> int:
    try:
        path.parent.mkdir(exist_ok=True)
        return os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except OSError as exc:
        raise ConfigurationError(
            f"The lock file {path} cannot be opened ({exc.strerror or exc}): the desk keeps "
            f"its locks in {path.parent}, beside the store file. Let the desk's user write in "
            "that folder, or point data_dir (MCA_DATA_DIR) or store_url (MCA_STORE_URL) "
            "elsewhere."
        ) from exc


def _read_holder(fd: int) -> LockHolder | None:
    try:
        raw = os.pread(fd, 64 * 1024, 0)
    except OSError:
        return None
    return LockHolder.from_json(raw.decode("utf-8", "replace")) if raw else None


def _alive_here(found: LockHolder) -> bool:
    """False when `found` names a process of this host that is gone (what it wrote is old:
    its successor has locked but not yet written)."""
    if found.host != socket.gethostname():
        return True
    try:
        os.kill(found.pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by another user
        return True
    return True


@contextmanager
def _file_lock(store: Store, key: str, me: LockHolder, refuse: Refuse) -> Iterator[None]:
    assert fcntl is not None
    path = _lock_file(store, key)
    assert path is not None
    fd = _open_lock_file(path)
    try:
        deadline = time.monotonic() + _NAME_WAIT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                found = _read_holder(fd)
                if found is not None and _alive_here(found):
                    raise refuse(found) from None
                if time.monotonic() > deadline:  # locked, but nobody says who
                    raise refuse(None) from None
                time.sleep(0.05)
        try:
            with suppress(OSError):  # a full disk: still locked, only unnamed ("unknown")
                os.ftruncate(fd, 0)
                os.pwrite(fd, me.to_json().encode("utf-8"), 0)
            yield
        finally:
            with suppress(OSError):
                os.ftruncate(fd, 0)  # a refused caller must never quote a finished holder
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


# --- PostgreSQL: advisory lock -----------------------------------------------------------


def _pg_key(key: str) -> int:
    return _lock_key(_PG_NAMESPACE + key)


def _pg_holding_backend(conn: Connection, number: int) -> int | None:
    """The server process holding advisory lock `number` in this database (from pg_locks)."""
    unsigned = number & 0xFFFFFFFFFFFFFFFF
    row = conn.execute(
        text(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
            "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
            "AND classid = CAST(:hi AS oid) AND objid = CAST(:lo AS oid) AND objsubid = 1"
        ),
        {"hi": unsigned >> 32, "lo": unsigned & 0xFFFFFFFF},
    ).first()
    return None if row is None else int(row[0])


def _pg_named_holder(store: Store, key: str, number: int) -> LockHolder | None:
    """The `work_locks` row of `key` if its backend still holds the lock, else None."""
    deadline = time.monotonic() + _NAME_WAIT_S
    with store.engine.connect() as conn:
        while True:
            backend = _pg_holding_backend(conn, number)
            if backend is None:
                return None  # released meanwhile: the caller is still refused, unnamed
            row = conn.execute(select(work_locks).where(work_locks.c.key == key)).first()
            conn.rollback()  # a fresh snapshot for the next look
            if row is not None and row.backend_pid == backend:
                since = row.since if row.since.tzinfo else row.since.replace(tzinfo=UTC)
                return LockHolder(holder=row.holder, since=since, host=row.host, pid=row.pid)
            if time.monotonic() > deadline:
                return None
            time.sleep(0.05)


@contextmanager
def _pg_lock(store: Store, key: str, me: LockHolder, refuse: Refuse) -> Iterator[None]:
    store.ensure_schema(locks_metadata)
    number = _pg_key(key)
    with store._guard():
        conn = store.engine.connect()
    try:
        with store._guard():
            got, backend = conn.execute(
                text("SELECT pg_try_advisory_lock(:k), pg_backend_pid()"), {"k": number}
            ).one()
            conn.commit()  # the session lock outlives the transaction; stay idle, not in one
    except BaseException:
        conn.invalidate()  # it may hold the lock: closed, never pooled (the server unlocks)
        conn.close()
        raise
    if not got:
        conn.close()  # before naming the holder: a refusal holds no connection
        raise refuse(_pg_named_holder(store, key, number))
    try:
        values: dict[str, Any] = {
            "key": key,
            "holder": me.holder[:256],
            "since": me.since,
            "host": me.host[:256],
            "pid": me.pid,
            "backend_pid": int(backend),
        }
        upsert = pg_insert(work_locks).values(**values)
        upsert = upsert.on_conflict_do_update(
            index_elements=[work_locks.c.key],
            set_={k: upsert.excluded[k] for k in values if k != "key"},
        )
        with store._guard():
            conn.execute(upsert)
            conn.commit()
        yield
    finally:
        _pg_release(conn, key, number)
        conn.close()


def _pg_release(conn: Connection, key: str, number: int) -> None:
    """Forget the holder and unlock; a connection that cannot is dropped (the server then
    releases the lock), never handed back to the pool still holding it."""
    try:
        conn.rollback()
        conn.execute(delete(work_locks).where(work_locks.c.key == key))
        conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": number})
        conn.commit()
    except Exception:
        conn.invalidate()
