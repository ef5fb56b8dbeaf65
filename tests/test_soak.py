"""Fault soak (issue 6): 500 customers bulk-attested while Partner Center misbehaves.

The emulator injects 10% 429 (with Retry-After), 5% 5xx, 2% timeouts and 1% connection resets.
Every row must end with a definite outcome, every target customer must hold exactly one new
attestation (ours), the audit log must have every row that reached Partner Center, and a run
killed half-way with SIGKILL and started again must lose nothing and attest nothing twice.

Two parts: the whole run in process (fake sleeps, short timeouts), then the kill and resume
with real processes (the standalone emulator and `python -m mca_core bulk-attest`) over loopback.
The targets come straight from the emulator's SQLite file: the customers of the admin agent's
partner that have neither an MCA attestation nor a direct acceptance (about 30% of the seed),
plus a few that accepted already, which must be skipped.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from mca_core.domain.models import MCA_AGREEMENT_TYPE, AuditEvent
from mca_core.emulator import SANDBOX_USERS, Emulator, FaultConfig
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.bulk_journal import ENDED_STATES, BulkJournal, bulk_journal
from mca_core.store.database import Store
from mca_core.usecases.bulk import COLUMNS, BulkRow, run_bulk

from .conftest import ROOT, Sleeper

#: The classic channel, against a tenant that still accepts it (retired in production).
pytestmark = pytest.mark.classic_tenant

ADMIN = SANDBOX_USERS["admin-agent"].identity()
#: 1,700 customers per partner leave about 515 of the admin agent's partner not accepted.
PORTFOLIO = 1700
SEED = 42
TARGETS = 500
ALREADY_ACCEPTED = 10
SOAK_FAULTS = FaultConfig(
    fault_429=0.10,
    fault_5xx=0.05,
    fault_timeout=0.02,
    fault_reset=0.01,
    retry_after_seconds=1,
    timeout_hang_seconds=5,
    fault_seed=20261124,
)
#: Outcomes that end a row for good.
DEFINITE = {"attested", "already_attested", "skipped_already_accepted"}
DB_FILE = "emulator.sqlite3"


# --- the portfolio, read from the emulator's own database --------------------------------------


@dataclass(frozen=True)
class SoakCustomer:
    id: str
    domain: str
    accepted: bool


def soak_customers(
    db: Path, targets: int = TARGETS, already_accepted: int = ALREADY_ACCEPTED
) -> list[SoakCustomer]:
    """`targets` customers not accepted, then `already_accepted` accepted ones (seed order).
    Accepted = the current MCA: signed directly, or attested on or after 2023-04-01 (a customer
    whose only attestation is older must accept again, so the bulk run attests it)."""
    query = """
        SELECT c.id, c.domain, c.direct_signed OR EXISTS (
            SELECT 1 FROM agreements a WHERE a.customer_id = c.id AND a.type = ?
            AND a.date_agreed_ts >= 1680307200
        ) AS accepted
        FROM customers c
        WHERE c.partner_tenant_id = ? AND c.associated_partner_id IS NULL
        ORDER BY c.seq
    """
    with sqlite3.connect(db) as conn:
        rows = conn.execute(query, (MCA_AGREEMENT_TYPE, ADMIN.partner_tenant_id)).fetchall()
    fresh = [SoakCustomer(r[0], r[1], False) for r in rows if not r[2]][:targets]
    accepted = [SoakCustomer(r[0], r[1], True) for r in rows if r[2]][:already_accepted]
    assert len(fresh) == targets and len(accepted) == already_accepted, "seed too small"
    return fresh + accepted


def mca_attestations(db: Path, ids: list[str]) -> dict[str, list[str]]:
    """Customer id -> the emails of its MCA attestations (read directly, no faults)."""
    found: dict[str, list[str]] = {cid: [] for cid in ids}
    with sqlite3.connect(db) as conn:
        for customer_id, email in conn.execute(
            "SELECT customer_id, email FROM agreements WHERE type = ? ORDER BY id",
            (MCA_AGREEMENT_TYPE,),
        ):
            if customer_id in found:
                found[customer_id].append(email)
    return found


def soak_rows(customers: list[SoakCustomer]) -> list[BulkRow]:
    """One row per customer (every fifth by domain), each with its own contact."""
    return [
        BulkRow(
            line=i + 2,
            customer=c.domain if i % 5 == 0 else c.id,
            first_name="Mei",
            last_name=f"Soak{letters(i)}",
            email=email_for(i),
            phone="+86 10 6552 9988",
            date_agreed="2025-11-20",
        )
        for i, c in enumerate(customers)
    ]


def letters(index: int) -> str:
    """A name suffix unique per row (names may not hold digits): 0 -> Aaa, 1 -> Aab ..."""
    a, rest = divmod(index, 26 * 26)
    b, c = divmod(rest, 26)
    return chr(65 + a) + chr(97 + b) + chr(97 + c)


def email_for(index: int) -> str:
    return f"mei.soak{index:04d}@contoso.cn"


def check_attestations(
    customers: list[SoakCustomer], before: dict[str, list[str]], after: dict[str, list[str]]
) -> None:
    """Exactly one new attestation (ours) per target; none for the customers already accepted."""
    wrong = {}
    for i, c in enumerate(customers):
        new = after[c.id][len(before[c.id]) :]
        expected = [] if c.accepted else [email_for(i)]
        if after[c.id][: len(before[c.id])] != before[c.id] or new != expected:
            wrong[c.id] = (before[c.id], after[c.id])
    assert not wrong, f"{len(wrong)} customers without exactly one new attestation: {wrong}"


def check_outcomes(customers: list[SoakCustomer], outcomes: dict[int, str]) -> None:
    """Targets attested (already_attested would claim a pre-existing attestation they never
    had); customers accepted before, skipped."""
    expected = {
        i + 2: "skipped_already_accepted" if c.accepted else "attested"
        for i, c in enumerate(customers)
    }
    wrong = {line: (outcomes.get(line), want) for line, want in expected.items()}
    wrong = {line: pair for line, pair in wrong.items() if pair[0] != pair[1]}
    assert not wrong, f"{len(wrong)} rows with another outcome (got, expected): {wrong}"


def check_audit(store: Store, customers: list[SoakCustomer]) -> Counter:
    """Every row reached Partner Center: each customer has a per-row audit entry whose last
    outcome is the row's outcome. Returns the per-row entries by outcome."""
    events = [e for e in store.audit(action="bulk_attest") if e.customer_id]
    by_customer: dict[str, list[str]] = {}
    for e in reversed(events):  # oldest first
        by_customer.setdefault(e.customer_id or "", []).append(e.outcome)
    missing = [c.id for c in customers if c.id not in by_customer]
    assert not missing, f"{len(missing)} rows have no audit entry: {missing[:5]}"
    for c in customers:
        want = "skipped_already_accepted" if c.accepted else "attested"
        assert by_customer[c.id][-1] == want, (c.id, by_customer[c.id])
    return Counter(e.outcome for e in events)


# --- in process: the whole soak with fake sleeps ------------------------------------------------


async def test_soak_500_customers_under_faults_in_process(tmp_path, make_client, caplog):
    caplog.set_level(logging.INFO, logger="mca_core.partner_center.client")
    emulator = Emulator(tmp_path / "soak-emulator", customers=PORTFOLIO, seed=SEED)
    db = tmp_path / "soak-emulator" / DB_FILE
    customers = soak_customers(db)
    ids = [c.id for c in customers]
    before = mca_attestations(db, ids)
    emulator.faults = SOAK_FAULTS
    sleeper = Sleeper()
    pc = make_client(
        emu=emulator,
        sleep=sleeper,
        timeout=0.2,  # an injected hang costs 0.2 s of real time, then is retried
        retry=RetryPolicy(max_attempts=12, budget_seconds=10_000),
    )
    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    rows = soak_rows(customers)
    seen: list[int] = []
    report = await run_bulk(pc, store, ADMIN, rows, progress=lambda done, total: seen.append(done))

    outcomes = {o.line: o.outcome for o in report.outcomes}
    assert len(report.outcomes) == len(rows) and seen[-1] == len(rows)
    undefined = [o for o in report.outcomes if o.outcome not in DEFINITE]
    assert not undefined, undefined[:3]
    check_outcomes(customers, outcomes)
    check_attestations(customers, before, mca_attestations(db, ids))
    audited = check_audit(store, customers)
    assert audited == Counter(outcomes.values())  # one entry per row, no more
    journal = BulkJournal(store).entries(report.run_key)
    assert len(journal) == len(rows) and all(e.ended for e in journal.values())

    # The faults really happened, each kind was retried, and Retry-After was honoured.
    retried = Counter(r.args[2] for r in caplog.records if r.msg.startswith("retrying"))
    assert set(retried) >= {"Throttled", "ServiceUnavailable", "RequestTimeout", "ConnectionFailed"}
    assert retried["Throttled"] >= 50 and pc.stats.throttled == retried["Throttled"]
    assert sum(1 for w in sleeper.waits if w >= SOAK_FAULTS.retry_after_seconds) >= 50

    # Submitting the same file again under the same faults sends nothing at all.
    calls = pc.stats.calls
    again = await run_bulk(pc, store, ADMIN, rows)
    assert pc.stats.calls == calls and again.resumed == len(rows) and again.ok
    check_attestations(customers, before, mca_attestations(db, ids))
    store.dispose()
    emulator.close()


# --- regressions the soak found -----------------------------------------------------------------


def lost_answer_then_429(emulator: Emulator) -> httpx.AsyncBaseTransport:
    """The first POST is stored but its answer is cut off; the retry is answered 429."""
    inner = emulator.transport()
    posts = 0

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal posts
            if request.method != "POST":
                return await inner.handle_async_request(request)
            posts += 1
            if posts == 2:
                return httpx.Response(429, headers={"Retry-After": "1"}, json={"code": 429})
            response = await inner.handle_async_request(request)
            if posts == 1:
                raise httpx.RemoteProtocolError("connection reset", request=request)
            return response

    return Transport()


async def test_a_lost_answer_then_a_429_is_our_attestation_not_an_earlier_one(
    tmp_path, make_client, emulator
):
    """After a 429 the retry carries a new MS-RequestId (the contract), so it meets 600061 for
    the attestation its own first attempt stored: that is "attested" (and audited so), not
    "already attested ... nothing new was stored"."""
    db = emulator.data_dir / DB_FILE
    customers = soak_customers(db, targets=2, already_accepted=0)
    before = mca_attestations(db, [c.id for c in customers])
    pc = make_client(transport=lost_answer_then_429(emulator), sleep=Sleeper())
    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    report = await run_bulk(pc, store, ADMIN, soak_rows(customers), concurrency=1)
    assert [o.outcome for o in report.outcomes] == ["attested", "attested"]
    assert "answer to a first attempt was lost" in report.outcomes[0].message
    check_attestations(customers, before, mca_attestations(db, [c.id for c in customers]))
    assert check_audit(store, customers) == Counter(attested=2)


class Killed(BaseException):
    """The process dying right after one write (nothing after it runs)."""


@pytest.mark.parametrize("dies_after", ["journal_end", "audit_entry"])
async def test_a_kill_between_journal_and_audit_loses_no_audit_entry(
    tmp_path, make_client, emulator, monkeypatch, dies_after
):
    """A row's audit entry is written before its journal outcome: a process killed between the
    two re-runs the row (audited then) instead of leaving an ended row that was never audited."""
    db = emulator.data_dir / DB_FILE
    customers = soak_customers(db, targets=3, already_accepted=1)
    before = mca_attestations(db, [c.id for c in customers])
    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    rows = soak_rows(customers)
    if dies_after == "journal_end":
        real_end = BulkJournal.end

        def end_then_die(self: BulkJournal, *args: Any, **kwargs: Any) -> None:
            real_end(self, *args, **kwargs)
            raise Killed()

        monkeypatch.setattr(BulkJournal, "end", end_then_die)
    else:
        real_record = store.record

        def record_then_die(event: AuditEvent, **kw: Any) -> AuditEvent:
            recorded = real_record(event, **kw)
            if event.customer_id:
                raise Killed()
            return recorded

        monkeypatch.setattr(store, "record", record_then_die)
    with pytest.raises(Killed):
        await run_bulk(make_client(), store, ADMIN, rows, concurrency=1)
    monkeypatch.undo()
    report = await run_bulk(make_client(), store, ADMIN, rows)
    assert [o.outcome for o in report.outcomes] == ["attested"] * 3 + ["skipped_already_accepted"]
    check_attestations(customers, before, mca_attestations(db, [c.id for c in customers]))
    check_audit(store, customers)


# --- real processes: SIGKILL half-way, then run again --------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def standalone_emulator(tmp_path) -> Iterator[tuple[str, Path]]:
    """`python -m mca_core emulator` with the soak's faults; Retry-After 0 and 1 s hangs keep the
    real-time part short (the in-process soak honours a 1 s Retry-After with fake sleeps)."""
    data_dir = tmp_path / "standalone"
    port = free_port()
    command = [
        sys.executable, "-m", "mca_core", "emulator", "--host", "127.0.0.1", "--port", str(port),
        "--customers", str(PORTFOLIO), "--seed", str(SEED), "--data-dir", str(data_dir),
        "--rate-limit", "0", "--fault-429", "0.10", "--fault-5xx", "0.05",
        "--fault-timeout", "0.02", "--fault-reset", "0.01", "--retry-after", "0",
        "--timeout-hang-seconds", "1", "--fault-seed", "6",
        "--classic-retired-on", "never",  # the classic bulk: a tenant that still accepts it
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/sandbox/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "emulator did not start"
            time.sleep(0.1)
        yield base, data_dir / DB_FILE
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def cli_env(tmp_path: Path, base: str) -> dict[str, str]:
    token = httpx.post(f"{base}/sandbox/token", json={"user": "admin-agent"}).json()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCA_")}
    env.update(
        MCA_ACCESS_TOKEN=token["access_token"],
        MCA_DATA_DIR=str(tmp_path / "desk"),  # the journal outlives the killed process
        MCA_SECRETS_FILE=str(tmp_path / "no-secrets.toml"),
        MCA_RATE_LIMIT_PER_MINUTE="600000",
        MCA_TIMEOUT_SECONDS="0.5",
        MCA_MAX_ATTEMPTS="12",
        MCA_RETRY_BUDGET_SECONDS="600",
    )
    return env


def write_csv(path: Path, rows: list[BulkRow]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for row in rows:
            writer.writerow([getattr(row, name) for name in COLUMNS])


def journal_states(store: Store) -> Counter:
    """Journal rows by state, over every run in the desk's database."""
    query = select(bulk_journal.c.state, func.count()).group_by(bulk_journal.c.state)
    with store.engine.connect() as conn:
        return Counter({state: n for state, n in conn.execute(query)})


def soak_attestation_count(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        query = "SELECT COUNT(*) FROM agreements WHERE email LIKE 'mei.soak%'"
        return int(conn.execute(query).fetchone()[0])


def test_sigkill_half_way_then_run_again_loses_nothing_and_attests_nothing_twice(
    tmp_path, standalone_emulator
):
    base, db = standalone_emulator
    customers = soak_customers(db)
    ids = [c.id for c in customers]
    before = mca_attestations(db, ids)
    rows = soak_rows(customers)
    csv_path = tmp_path / "customers.csv"
    write_csv(csv_path, rows)
    env = cli_env(tmp_path, base)
    command = [
        sys.executable, "-m", "mca_core", "--backend", "live", "--base-url", base, "--json",
        "bulk-attest", str(csv_path), "--channel", "classic",
    ]  # fmt: skip

    first = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    while soak_attestation_count(db) < TARGETS // 2:
        assert first.poll() is None, first.stderr.read().decode() if first.stderr else ""
        assert time.monotonic() < deadline, "the first run made too little progress"
        time.sleep(0.01)
    first.send_signal(signal.SIGKILL)
    first.wait(timeout=10)
    assert first.returncode == -signal.SIGKILL
    done_at_kill = soak_attestation_count(db)
    assert TARGETS // 2 <= done_at_kill < TARGETS  # really half-way, not finished

    store = Store(f"sqlite:///{tmp_path / 'desk' / 'desk.sqlite3'}")
    at_kill = journal_states(store)
    assert at_kill["attested"] > 0 and sum(at_kill.values()) < len(rows)

    second = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, timeout=120)
    assert second.returncode == 0, second.stderr.decode()[-2000:]
    doc = json.loads(second.stdout)
    outcomes = {r["line"]: r["outcome"] for r in doc["rows"]}
    assert len(outcomes) == len(rows) and doc["ok"] and not doc["cancelled"]
    check_outcomes(customers, outcomes)  # nothing lost: every row, before and after the kill
    # Rows ended before the kill are reported from the journal, not sent again.
    assert doc["resumed"] == sum(n for state, n in at_kill.items() if state in ENDED_STATES)
    check_attestations(customers, before, mca_attestations(db, ids))  # nothing twice
    audited = check_audit(store, customers)
    assert sum(audited.values()) >= len(rows)
    journal = BulkJournal(store).entries(doc["run_key"])
    assert len(journal) == len(rows) and all(e.ended for e in journal.values())
    store.dispose()
