"""The store under a hostile test run (issue 11): many processes starting at once on a fresh
store (SQLite and PostgreSQL), a read-only store file, an early version's store, two bulk runs of
the same file at once, and a store that cannot be used (damaged file, unreachable server, a URL
that is not one, a folder that cannot be written)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import sqlite3
import subprocess
import sys
import tempfile
import types
from collections import Counter
from pathlib import Path

import httpx
import pytest

from mca_core.domain.models import AuditEvent
from mca_core.store.database import Store

ROOT = Path(__file__).resolve().parent.parent
#: Processes started at once; each child imports only this module (not conftest's emulator).
PROCESSES = 20


# --- many processes open a fresh store at once ------------------------------------------------


def _open_at_once(url: str, barrier, results, index: int) -> None:
    """One process: wait for all, then open the store, the bulk journal and the enhanced
    attestations (each creates its tables on first use) and record one event."""
    try:
        from mca_core.domain.models import AuditEvent
        from mca_core.store.bulk_journal import BulkJournal
        from mca_core.store.database import Store
        from mca_core.store.enhanced_attestations import EnhancedStore

        barrier.wait(timeout=120)
        store = Store(url)
        BulkJournal(store)
        EnhancedStore(store)
        store.record(
            AuditEvent(user_id=f"u{index}", action="open", outcome="done", partner_tenant_id="p")
        )
        store.dispose()
        results.put((index, "ok"))
    except BaseException as exc:  # reported to the test, never a silent exit
        results.put((index, f"{type(exc).__name__}: {exc}"[:500]))


def open_at_once(url: str, n: int = PROCESSES) -> dict[int, str]:
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(n)
    results = ctx.Queue()
    procs = [ctx.Process(target=_open_at_once, args=(url, barrier, results, i)) for i in range(n)]
    # A spawned child runs the parent's __main__ again; after an AppTest that is a page script.
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        for p in procs:
            p.start()
    finally:
        sys.modules["__main__"] = main
    found = dict(results.get(timeout=300) for _ in procs)
    for p in procs:
        p.join(timeout=60)
    return found


def test_many_processes_open_a_fresh_sqlite_store_at_once(tmp_path):
    url = f"sqlite:///{tmp_path / 'fresh' / 'desk.sqlite3'}"
    found = open_at_once(url)
    failed = {i: r for i, r in found.items() if r != "ok"}
    assert not failed, failed
    store = Store(url)
    assert store.count_audit() == PROCESSES
    assert_schema_complete(store)
    store.dispose()


def assert_schema_complete(store: Store) -> None:
    """Nothing is missing: the next process to open the store writes nothing, takes no lock."""
    from mca_core.store.bulk_journal import journal_metadata
    from mca_core.store.database import _schema_missing, metadata
    from mca_core.store.enhanced_attestations import enhanced_metadata

    for tables in (metadata, journal_metadata, enhanced_metadata):
        assert _schema_missing(store.engine, tables) == []


def _drop_everything(url: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        for table in ("snapshot_rows", "snapshots", "audit_events", "bulk_journal"):
            conn.execute(text(f"DROP TABLE IF EXISTS {table} CASCADE"))
        conn.execute(text("DROP TABLE IF EXISTS enhanced_attestations CASCADE"))
    engine.dispose()


def test_many_processes_open_a_fresh_postgres_store_at_once(postgres_url):
    _drop_everything(postgres_url)
    try:
        found = open_at_once(postgres_url)
        failed = {i: r for i, r in found.items() if r != "ok"}
        assert not failed, failed
        store = Store(postgres_url)
        assert store.count_audit() == PROCESSES
        assert_schema_complete(store)
        store.dispose()
    finally:
        _drop_everything(postgres_url)


# --- a read-only store ------------------------------------------------------------------------


def _read_as_nobody(url: str) -> str:
    """Open the store and read its audit log in a child process that runs as `nobody` (root
    writes any file, whatever its mode). Everything the child needs is imported already."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        os.close(read)
        try:
            os.setgid(65534)
            os.setuid(65534)
            store = Store(url)
            answer = f"ok {len(store.audit(partner_tenant_id='p'))}"
        except BaseException as exc:
            answer = f"{type(exc).__name__}: {exc}"
        os.write(write, answer.encode()[:4000])
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        answer = pipe.read().decode()
    os.waitpid(pid, 0)
    return answer


@pytest.mark.parametrize("how", ["file_0444", "folder_0555"])
def test_a_read_only_store_can_still_be_read(how):
    base = Path(tempfile.mkdtemp(prefix="mca-ro-"))  # not under tmp_path: nobody must reach it
    os.chmod(base, 0o755)
    db = base / "desk.sqlite3"
    url = f"sqlite:///{db}"
    store = Store(url)
    for n in range(3):
        store.record(
            AuditEvent(user_id="u", action="attest", outcome=f"o{n}", partner_tenant_id="p")
        )
    assert len(store.audit(partner_tenant_id="p")) == 3  # the parent loads every module needed
    store.dispose()
    try:
        os.chmod(db, 0o444)
        if how == "folder_0555":
            os.chmod(base, 0o555)
        if os.geteuid() == 0:
            answer = _read_as_nobody(url)
        else:
            reader = Store(url)
            answer = f"ok {len(reader.audit(partner_tenant_id='p'))}"
            reader.dispose()
        assert answer == "ok 3"
    finally:
        os.chmod(base, 0o755)
        os.chmod(db, 0o644)
        for leftover in base.iterdir():
            leftover.unlink()
        base.rmdir()


def test_a_new_store_in_a_folder_nobody_may_write_names_the_file():
    base = Path(tempfile.mkdtemp(prefix="mca-ro-"))
    Store(f"sqlite:///{base / 'warm-up.sqlite3'}").dispose()  # the parent loads every module
    os.chmod(base, 0o555)
    url = f"sqlite:///{base / 'desk.sqlite3'}"
    try:
        if os.geteuid() == 0:
            answer = _read_as_nobody(url)
        else:
            try:
                Store(url)
                answer = "opened"
            except Exception as exc:
                answer = f"{type(exc).__name__}: {exc}"
        assert answer.startswith("ConfigurationError: The store file " + str(base / "desk"))
        assert "MCA_DATA_DIR" in answer and "MCA_STORE_URL" in answer
    finally:
        os.chmod(base, 0o755)
        for leftover in base.iterdir():
            leftover.unlink()
        base.rmdir()


def test_a_read_only_store_says_so_when_written(tmp_path, monkeypatch):
    from mca_core.domain.errors import ConfigurationError

    db = tmp_path / "desk.sqlite3"
    Store(f"sqlite:///{db}").dispose()
    monkeypatch.setattr(os, "access", lambda path, mode: mode != os.W_OK)  # as if 0444
    store = Store(f"sqlite:///{db}")
    assert store.read_only and store.audit() == []
    with pytest.raises(ConfigurationError) as info:
        store.record(AuditEvent(user_id="u", action="attest", outcome="attested"))
    assert str(db) in str(info.value) and "read-only" in str(info.value)
    store.dispose()


# --- an early version's store -----------------------------------------------------------------


def early_store(path: Path, users: list[str]) -> None:
    """The audit table as the first release created it (no partner_tenant_id), with events."""
    with sqlite3.connect(path) as conn:
        conn.execute(
            "CREATE TABLE audit_events (id INTEGER PRIMARY KEY, at DATETIME NOT NULL, "
            "user_id VARCHAR(128) NOT NULL, user_name VARCHAR(256) NOT NULL, "
            "role VARCHAR(32) NOT NULL, partner_type VARCHAR(32) NOT NULL, "
            "action VARCHAR(64) NOT NULL, customer_id VARCHAR(64), inputs JSON NOT NULL, "
            "outcome VARCHAR(32) NOT NULL, detail TEXT NOT NULL, request_id VARCHAR(64), "
            "correlation_id VARCHAR(64))"
        )
        for n, user in enumerate(users):
            conn.execute(
                "INSERT INTO audit_events (at, user_id, user_name, role, partner_type, action, "
                "customer_id, inputs, outcome, detail) VALUES (?, ?, ?, 'admin_agent', "
                "'direct_bill', 'attest', ?, '{}', 'attested', '')",
                (f"2026-01-0{n + 1} 10:00:00", user, user.title(), f"c{n}"),
            )


def test_legacy_audit_events_show_on_the_audit_page_after_an_upgrade(tmp_path):
    from mca_core.emulator import SANDBOX_USERS

    admin = SANDBOX_USERS["admin-agent"].identity()
    path = tmp_path / "early.sqlite3"
    early_store(path, [admin.user_id, admin.user_id, "someone-else"])
    store = Store(f"sqlite:///{path}")
    # The query the Audit page makes (pages/5_Audit.py).
    shown = store.audit(
        partner_tenant_id=admin.partner_tenant_id, viewer_id=admin.user_id, limit=20_000
    )
    assert sorted(e.customer_id for e in shown) == ["c0", "c1", "c2"]
    assert {e.partner_tenant_id for e in shown} == {""}  # legacy: the page marks them
    store.dispose()


def test_the_audit_page_shows_an_upgraded_store_s_old_events_marked(sandbox_env):
    from mca_core.config import load_settings
    from mca_core.emulator import SANDBOX_USERS

    from .apptest import open_page, run

    admin = SANDBOX_USERS["admin-agent"].identity()
    path = Path(load_settings().resolved_store_url.removeprefix("sqlite:///"))
    path.parent.mkdir(parents=True, exist_ok=True)
    early_store(path, [admin.user_id, "a-colleague"])
    with sqlite3.connect(path) as conn:  # recent, so inside the page's default 30 days
        conn.execute("UPDATE audit_events SET at = datetime('now', '-1 day')")
    at = run(open_page(str(ROOT / "pages" / "5_Audit.py")))
    shown = at.dataframe[0].value
    assert sorted(shown["customer_id"]) == ["c0", "c1"]
    assert all(d.startswith("[recorded before the desk kept partners]") for d in shown["detail"])
    assert any("earlier version of the desk" in c.value for c in at.caption)


def test_legacy_audit_events_are_not_shown_to_another_partner(tmp_path):
    path = tmp_path / "early.sqlite3"
    early_store(path, ["alice", "bob", "carol"])
    store = Store(f"sqlite:///{path}")
    store.record(AuditEvent(user_id="alice", action="sync", outcome="done", partner_tenant_id="A"))
    store.record(AuditEvent(user_id="bob", action="sync", outcome="done", partner_tenant_id="B"))
    a = store.audit(partner_tenant_id="A")
    assert sorted((e.user_id, e.partner_tenant_id) for e in a) == [("alice", ""), ("alice", "A")]
    b = store.audit(partner_tenant_id="B", viewer_id="bob")
    assert sorted((e.user_id, e.partner_tenant_id) for e in b) == [("bob", ""), ("bob", "B")]
    # carol never acted since: only she, signed in for her partner, sees her own old events.
    assert [e.user_id for e in store.audit(partner_tenant_id="C", viewer_id="carol")] == ["carol"]
    assert store.audit(partner_tenant_id="C") == []
    store.dispose()


# --- two bulk runs of the same file at once ---------------------------------------------------


def posts_meet_in_pairs(emulator) -> httpx.AsyncBaseTransport:
    """The emulator, but an attestation POST waits (up to 2 s) for the other run's POST to the
    same customer: both runs have read the customer as not accepted and both send, with the
    same MS-RequestId; the emulator stores one and replays the stored answer to the other."""
    inner = emulator.transport()
    barriers: dict[str, asyncio.Barrier] = {}

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path.endswith("/agreements"):
                barrier = barriers.setdefault(request.url.path, asyncio.Barrier(2))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(barrier.wait(), 2)
            return await inner.handle_async_request(request)

    return Transport()


async def test_two_concurrent_bulk_runs_record_one_attested_event_per_customer(
    make_client, emulator, tmp_path
):
    from mca_core.usecases.bulk import run_bulk

    from .test_bulk import ADMIN, customers_by_acceptance, row_for

    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    setup = make_client()
    fresh = await customers_by_acceptance(setup, False, 12)
    before = {c.id: len(await setup.get_attestations(c.id)) for c in fresh}
    rows = [row_for(i + 2, c) for i, c in enumerate(fresh)]
    meeting = posts_meet_in_pairs(emulator)  # one transport: the two runs' POSTs meet in it
    first, second = await asyncio.gather(
        run_bulk(make_client(transport=meeting), store, ADMIN, rows),
        run_bulk(make_client(transport=meeting), store, ADMIN, rows),
    )
    assert first.ok and second.ok, [(o.outcome, o.message) for o in first.outcomes]
    events = store.audit(action="bulk_attest")
    attested = Counter(e.customer_id for e in events if e.outcome == "attested")
    assert attested == dict.fromkeys(before, 1)
    replays = [e for e in events if e.customer_id and e.outcome != "attested"]
    assert len(replays) == len(fresh)
    assert all(e.outcome == "already_attested" and "replay" in e.detail for e in replays)
    assert {c.id: len(await setup.get_attestations(c.id)) for c in fresh} == {
        cid: n + 1 for cid, n in before.items()
    }
    store.dispose()


def test_two_concurrent_bulk_runs_in_threads_record_one_attested_event_each(
    emulator, make_client, tmp_path
):
    """The same, with the two runs in two threads (two event loops, real concurrent writes)."""
    import threading

    from mca_core.usecases.bulk import run_bulk

    from .test_bulk import ADMIN, customers_by_acceptance, row_for

    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    fresh = asyncio.run(customers_by_acceptance(make_client(), False, 10))
    rows = [row_for(i + 2, c) for i, c in enumerate(fresh)]
    clients = [make_client(), make_client()]
    reports: list = [None, None]
    start = threading.Barrier(2)

    def run(n: int) -> None:
        start.wait()
        reports[n] = asyncio.run(run_bulk(clients[n], store, ADMIN, rows, concurrency=4))

    threads = [threading.Thread(target=run, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert all(r is not None and r.ok for r in reports)
    attested = Counter(e.customer_id for e in store.audit(action="bulk_attest", outcome="attested"))
    assert attested == dict.fromkeys((c.id for c in fresh), 1)
    store.dispose()


# --- a store that cannot be used --------------------------------------------------------------


def run_cli(env_over: dict[str, str], tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCA_")}
    env.update(
        MCA_DATA_DIR=str(tmp_path / "data"),
        MCA_SANDBOX_CUSTOMERS="20",
        MCA_SECRETS_FILE=str(tmp_path / "no-secrets.toml"),
        **env_over,
    )
    return subprocess.run(
        [sys.executable, "-m", "mca_core", *(args or ("report", "--out", str(tmp_path / "r.csv")))],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def assert_named(result: subprocess.CompletedProcess, *names: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stderr)
    err = result.stderr
    assert "Traceback" not in err and "sqlalchemy." not in err, err
    assert "Unexpected error" not in err and "[SQL:" not in err, err
    assert any(name in err for name in names), err


def test_a_damaged_store_file_is_named_with_the_fix(tmp_path):
    db = tmp_path / "desk.sqlite3"
    db.write_bytes(os.urandom(4096))
    result = run_cli({"MCA_STORE_URL": f"sqlite:///{db}"}, tmp_path)
    assert_named(result, str(db))
    assert "not a SQLite database" in result.stderr and "Move it aside" in result.stderr


def test_an_unreachable_store_server_names_the_setting(tmp_path):
    url = "postgresql+psycopg://x:hunter2@127.0.0.1:1/db"
    result = run_cli({"MCA_STORE_URL": url}, tmp_path)
    assert_named(result, "MCA_STORE_URL")
    assert "store_url" in result.stderr and "hunter2" not in result.stderr


@pytest.mark.parametrize("url", ["notaurl", "nosuchdb://h/db", "postgresql+nodriver://h/db"])
def test_a_store_url_that_is_not_one_names_the_setting(tmp_path, url):
    result = run_cli({"MCA_STORE_URL": url}, tmp_path)
    assert_named(result, "MCA_STORE_URL")
    assert "store_url" in result.stderr


def test_a_store_folder_that_cannot_be_made_names_the_file(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the store's folder should be")
    db = blocker / "desk.sqlite3"
    result = run_cli({"MCA_STORE_URL": f"sqlite:///{db}"}, tmp_path)
    assert_named(result, str(db))


def test_a_full_disk_names_the_file(tmp_path):
    """SQLITE_FULL on a write (a disk cannot be filled here: the file may not grow instead)."""
    from sqlalchemy import event

    from mca_core.domain.errors import ConfigurationError

    db = tmp_path / "desk.sqlite3"
    store = Store(f"sqlite:///{db}")
    store.engine.dispose()

    def no_growth(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count={pages}")

    event.listen(store.engine, "connect", no_growth)
    with pytest.raises(ConfigurationError) as info:
        store.record(AuditEvent(user_id="u", action="a", outcome="o", detail="x" * 100_000))
    assert "disk is full" in str(info.value) and str(db) in str(info.value)
    store.dispose()
