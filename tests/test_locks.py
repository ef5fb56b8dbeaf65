"""Work locks on the store ("only one sync per partner tenant"): SQLite file and PostgreSQL,
across processes (a refused caller learns who holds it), across threads, and never stale after a
holder is killed."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, text

from mca_core.domain.errors import McaError, WorkBusy
from mca_core.store.database import Store, metadata
from mca_core.store.locks import _pg_key, exclusive, locks_metadata, work_locks

ROOT = Path(__file__).resolve().parents[1]
KEY = "partner-p1:sync"

#: A child that takes the lock, says so, and holds it until its stdin gets a line.
HOLD = """
import sys
from mca_core.store.database import Store
from mca_core.store.locks import exclusive
store = Store(sys.argv[1])
with exclusive(store, sys.argv[2], holder=sys.argv[3]):
    print("locked", flush=True)
    sys.stdin.readline()
print("released", flush=True)
"""

#: A child that tries the lock once and prints what happened as JSON.
TRY = """
import json, sys
from mca_core.domain.errors import WorkBusy
from mca_core.store.database import Store
from mca_core.store.locks import exclusive
store = Store(sys.argv[1])
try:
    with exclusive(store, sys.argv[2], holder="Probe"):
        print(json.dumps({"acquired": True}))
except WorkBusy as busy:
    print(json.dumps({
        "acquired": False, "holder": busy.holder, "host": busy.host, "pid": busy.pid,
        "since": busy.since.isoformat() if busy.since else None, "message": str(busy),
    }))
"""


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    """Every lock test runs on a SQLite file (the default) and on a real PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'desk.sqlite3'}"
        return
    given = request.getfixturevalue("postgres_url")
    yield given
    cleanup = Store(given)
    locks_metadata.drop_all(cleanup.engine)
    metadata.drop_all(cleanup.engine)
    cleanup.dispose()


@pytest.fixture
def store(url):
    s = Store(url)
    yield s
    s.dispose()


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def try_in_child(url: str, key: str = KEY) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", TRY, url, key],
        capture_output=True,
        text=True,
        timeout=60,
        env=_env(),
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def hold_in_child(url: str, holder: str, key: str = KEY) -> subprocess.Popen:
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD, url, key, holder],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=_env(),
        cwd=ROOT,
    )
    line = child.stdout.readline().strip()
    if line != "locked":
        child.kill()
        raise AssertionError(f"the child did not lock: {line!r} {child.stderr.read()}")
    return child


def acquire_eventually(store: Store, key: str = KEY, timeout: float = 60.0) -> None:
    """Take and release the lock, retrying while a dead holder's lock is being dropped."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with exclusive(store, key, holder="Next"):
                return
        except WorkBusy:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def test_another_process_is_refused_and_told_who_holds_it(url, store):
    before = datetime.now(UTC) - timedelta(seconds=1)
    with exclusive(store, KEY, holder="Jane Doe") as me:
        seen = try_in_child(url)
    assert seen["acquired"] is False
    assert seen["holder"] == "Jane Doe"
    assert seen["host"] == socket.gethostname()
    assert seen["pid"] == os.getpid() == me.pid
    since = datetime.fromisoformat(seen["since"])
    assert before <= since <= datetime.now(UTC)
    assert seen["message"].startswith("A sync is already running: started by Jane Doe at ")
    assert f"UTC on host {socket.gethostname()} (pid {os.getpid()})." in seen["message"]
    # Released with the with-block: the next process takes it.
    assert try_in_child(url) == {"acquired": True}


def test_a_holder_in_another_process_is_named_and_releases(url, store):
    child = hold_in_child(url, "Li Wei")
    try:
        with pytest.raises(WorkBusy) as refused, exclusive(store, KEY, holder="Jane Doe"):
            pytest.fail("the lock was taken twice")
        busy = refused.value
        assert (busy.key, busy.holder, busy.pid) == (KEY, "Li Wei", child.pid)
        assert busy.since is not None and busy.since.tzinfo is not None
        assert isinstance(busy, McaError)
        # Another key is another lock.
        with exclusive(store, "partner-p2:sync", holder="Jane Doe"):
            pass
        child.stdin.write("\n")
        child.stdin.flush()
        assert child.stdout.readline().strip() == "released"
        assert child.wait(timeout=30) == 0
    finally:
        child.kill()
        child.wait()
    with exclusive(store, KEY, holder="Jane Doe"):
        pass


def test_a_killed_holder_leaves_no_stale_lock(url, store):
    child = hold_in_child(url, "Crashing Sync")
    try:
        with pytest.raises(WorkBusy), exclusive(store, KEY, holder="Jane Doe"):
            pass
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        child.kill()
        child.wait()
    acquire_eventually(store)  # PostgreSQL drops the lock when it sees the connection die
    assert try_in_child(url) == {"acquired": True}


def test_threads_of_one_process_exclude_each_other(store):
    attempts = 8
    barrier = threading.Barrier(attempts)
    release = threading.Event()
    got: list[int] = []
    refused: list[WorkBusy] = []

    def attempt(index: int) -> None:
        barrier.wait()
        try:
            with exclusive(store, KEY, holder=f"User {index}"):
                got.append(index)
                release.wait(30)
        except WorkBusy as busy:
            refused.append(busy)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while len(refused) < attempts - 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    for thread in threads:
        thread.join(30)
    assert len(got) == 1
    assert len(refused) == attempts - 1
    assert {busy.holder for busy in refused} == {f"User {got[0]}"}
    with exclusive(store, KEY, holder="Jane Doe"):  # and free again afterwards
        pass


def test_not_reentrant_and_released_on_error(store):
    with pytest.raises(RuntimeError), exclusive(store, KEY, holder="Jane Doe"):
        with pytest.raises(WorkBusy), exclusive(store, KEY, holder="Jane Doe"):
            pass
        raise RuntimeError("the work failed")
    with exclusive(store, KEY, holder="Jane Doe"):
        pass


def test_the_refusal_names_the_work_and_the_advice(store):
    advice = "Wait for it to finish, or see its progress on the Overview."
    with (
        exclusive(store, KEY, holder="Jane Doe"),
        pytest.raises(WorkBusy) as refused,
        exclusive(store, KEY, holder="Li Wei", work="bulk run", fix=advice),
    ):
        pass
    message = str(refused.value)
    assert message.startswith("A bulk run is already running: started by Jane Doe at ")
    assert message.endswith(advice)


def test_sqlite_lock_file_sits_beside_the_store_and_names_the_holder(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    try:
        name = hashlib.sha1(KEY.encode()).hexdigest()[:16]
        lock_file = tmp_path / "desk.sqlite3.locks" / f"{name}.lock"
        with exclusive(store, KEY, holder="Jane Doe"):
            held = json.loads(lock_file.read_text())
            assert held["holder"] == "Jane Doe" and held["pid"] == os.getpid()
        assert lock_file.exists() and lock_file.read_text() == ""  # kept, emptied
    finally:
        store.dispose()


def test_a_store_without_a_lockable_file_locks_within_the_process(tmp_path):
    """A `file:` URI store (like a read-only one) has no lock file: a process-local lock."""
    url = f"sqlite:///file:{tmp_path / 'desk.sqlite3'}?uri=true"
    one, other = Store(url), Store(url)
    try:
        assert one.path is None
        with exclusive(one, KEY, holder="Jane Doe"):
            with pytest.raises(WorkBusy) as refused, exclusive(one, KEY, holder="Li Wei"):
                pass
            assert refused.value.holder == "Jane Doe"
            with pytest.raises(WorkBusy), exclusive(other, KEY, holder="Li Wei"):
                pass  # another Store object on the same database
        with exclusive(other, KEY, holder="Li Wei"):
            pass
        assert not (tmp_path / "desk.sqlite3.locks").exists()
    finally:
        one.dispose()
        other.dispose()


def test_postgresql_does_not_quote_a_dead_holders_row(postgres_url):
    """A row left by a holder whose connection died is not the holder: "unknown" instead."""
    store = Store(postgres_url)
    try:
        with exclusive(store, KEY, holder="Jane Doe"):
            pass  # creates work_locks
        with store.engine.connect() as conn:
            conn.execute(
                insert(work_locks).values(
                    key=KEY,
                    holder="Gone Person",
                    since=datetime.now(UTC),
                    host="elsewhere",
                    pid=1,
                    backend_pid=1,
                )
            )
            conn.commit()
            took = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _pg_key(KEY)})
            assert took.scalar() is True
            conn.commit()
            with pytest.raises(WorkBusy) as refused, exclusive(store, KEY, holder="Li Wei"):
                pass
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _pg_key(KEY)})
            conn.commit()
        assert refused.value.holder == "unknown"
        assert str(refused.value).startswith("A sync is already running: started by unknown.")
        with exclusive(store, KEY, holder="Li Wei"):  # and the stale row is overwritten
            seen = try_in_child(postgres_url)
        assert seen["holder"] == "Li Wei"
    finally:
        locks_metadata.drop_all(store.engine)
        metadata.drop_all(store.engine)
        store.dispose()


def test_work_busy_message():
    busy = WorkBusy(
        "p1:sync",
        holder="Jane Doe",
        since=datetime(2026, 11, 30, 10, 2, 33, tzinfo=UTC),
        host="desk-1",
        pid=123,
        fix="Wait for it to finish, or see its progress on the Overview.",
    )
    assert str(busy) == (
        "A sync is already running: started by Jane Doe at 2026-11-30 10:02 UTC on host desk-1 "
        "(pid 123). Wait for it to finish, or see its progress on the Overview."
    )
    assert busy.code == "work_busy"
