"""Fault soak benchmark (issue 6) over real loopback HTTP with real sleeps. Prints JSON.

    .venv/bin/python bench/soak_bench.py [--targets 500] [--accepted 10] [--retry-after 1]

The standalone emulator (`python -m mca_core emulator`, its own process) injects 10% 429 with
Retry-After, 5% 5xx, 2% timeouts and 1% connection resets into every /v1 call. The command a user
runs, `python -m mca_core --backend live -v --json bulk-attest FILE.csv`, attests 500 customers not
yet accepted plus 10 that are (they must be skipped), twice:

1. `soak`: one run to the end;
2. `kill_resume`: on a fresh emulator and desk, the same file; the process gets SIGKILL once half
   the targets hold their attestation, then the same command runs again to the end.

Figures: outcomes by kind, faults the client met by kind (its retry log) and the HTTP statuses it
received, retries, seconds, new attestations per customer read from the emulator's SQLite file
(min/max must be 1/1 for targets, 0/0 for the accepted), audit entries, rows without one.
The retry policy allows 8 attempts (default 6): at these rates (~17% of attempts fail) six
attempts leave a few-percent chance that some call of a 500-row run exhausts them.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mca_core.domain.models import CURRENT_MCA_SINCE, MCA_AGREEMENT_TYPE  # noqa: E402
from mca_core.emulator import SANDBOX_USERS  # noqa: E402
from mca_core.store.bulk_journal import bulk_journal  # noqa: E402
from mca_core.store.database import Store  # noqa: E402

PARTNER = SANDBOX_USERS["admin-agent"].identity().partner_tenant_id
COLUMNS = ("customer", "first_name", "last_name", "email", "phone", "date_agreed")
RETRY_LINE = re.compile(r"retrying (\S+) \S+ after (\w+)")
HTTP_LINE = re.compile(r'HTTP Request: (\S+) \S+ "HTTP/[\d.]+ (\d{3})')
DEFINITE = {"attested", "already_attested", "skipped_already_accepted"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(data_dir: Path, args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [
        sys.executable, "-m", "mca_core", "emulator", "--port", str(port),
        "--customers", str(args.customers), "--seed", "42", "--data-dir", str(data_dir),
        "--rate-limit", "0", "--fault-429", "0.10", "--fault-5xx", "0.05",
        "--fault-timeout", "0.02", "--fault-reset", "0.01",
        # the classic bulk run: a tenant that still accepts the call Microsoft retired in 2026
        "--classic-retired-on", "never",
        "--retry-after", str(args.retry_after), "--timeout-hang-seconds", str(args.hang),
    ]  # fmt: skip
    proc = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/sandbox/health", timeout=1).status_code == 200:
                return proc, base
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the emulator did not start")


def pick_customers(db: Path, targets: int, accepted: int) -> list[tuple[str, str, bool]]:
    """(id, domain, accepted before): `targets` with no acceptance at all, then `accepted` that
    accepted the current MCA (directly, or an attestation on or after the 2023 cutoff: one of
    an earlier MCA must be attested again, and the bulk run rightly does)."""
    query = """
        SELECT c.id, c.domain,
            c.direct_signed OR EXISTS (
                SELECT 1 FROM agreements a WHERE a.customer_id = c.id AND a.type = ?),
            c.direct_signed OR EXISTS (
                SELECT 1 FROM agreements a WHERE a.customer_id = c.id AND a.type = ?
                AND a.date_agreed_ts >= ?)
        FROM customers c
        WHERE c.partner_tenant_id = ? AND c.associated_partner_id IS NULL ORDER BY c.seq
    """
    cutoff = datetime.combine(CURRENT_MCA_SINCE, datetime.min.time(), UTC).timestamp()
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            query, (MCA_AGREEMENT_TYPE, MCA_AGREEMENT_TYPE, cutoff, PARTNER)
        ).fetchall()
    fresh = [(r[0], r[1], False) for r in rows if not r[2]][:targets]
    done = [(r[0], r[1], True) for r in rows if r[3]][:accepted]
    if len(fresh) < targets or len(done) < accepted:
        raise SystemExit("the portfolio is too small: raise --customers")
    return fresh + done


def letters(index: int) -> str:
    a, rest = divmod(index, 26 * 26)
    b, c = divmod(rest, 26)
    return chr(65 + a) + chr(97 + b) + chr(97 + c)


def write_csv(path: Path, customers: list[tuple[str, str, bool]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        for i, (cid, domain, _) in enumerate(customers):
            writer.writerow(
                [
                    domain if i % 5 == 0 else cid,
                    "Mei",
                    f"Soak{letters(i)}",
                    f"mei.soak{i:04d}@contoso.cn",
                    "+86 10 6552 9988",
                    "2025-11-20",
                ]
            )


def attestation_counts(db: Path, ids: list[str]) -> dict[str, int]:
    counts = dict.fromkeys(ids, 0)
    with sqlite3.connect(db, timeout=30) as conn:
        query = "SELECT customer_id, COUNT(*) FROM agreements WHERE type = ? GROUP BY customer_id"
        for cid, n in conn.execute(query, (MCA_AGREEMENT_TYPE,)):
            if cid in counts:
                counts[cid] = n
    return counts


def soak_attestations(db: Path) -> int:
    with sqlite3.connect(db, timeout=30) as conn:
        query = "SELECT COUNT(*) FROM agreements WHERE email LIKE 'mei.soak%'"
        return int(conn.execute(query).fetchone()[0])


def client_log(path: Path) -> dict[str, Any]:
    """What the client met, from its -v log: retries by error, answers by HTTP status."""
    text = path.read_text(encoding="utf-8", errors="replace")
    retried = Counter(m.group(2) for m in RETRY_LINE.finditer(text))
    statuses = Counter(m.group(2) for m in HTTP_LINE.finditer(text))
    return {
        "answers_received": sum(statuses.values()),
        "answers_by_status": dict(sorted(statuses.items())),
        "faults_retried_by_kind": {
            "429_throttled": retried["Throttled"],
            "5xx_service_unavailable": retried["ServiceUnavailable"],
            "timeout": retried["RequestTimeout"],
            "connection_reset": retried["ConnectionFailed"],
        },
        "retries": sum(retried.values()),
    }


def journal_states(store: Store) -> dict[str, int]:
    query = select(bulk_journal.c.state, func.count()).group_by(bulk_journal.c.state)
    with store.engine.connect() as conn:
        return {state: n for state, n in conn.execute(query)}


def per_customer(
    customers: list[tuple[str, str, bool]], before: dict[str, int], after: dict[str, int]
) -> dict[str, Any]:
    targets = [after[c] - before[c] for c, _, accepted in customers if not accepted]
    skipped = [after[c] - before[c] for c, _, accepted in customers if accepted]
    return {
        "targets_new_attestations_min": min(targets),
        "targets_new_attestations_max": max(targets),
        "accepted_new_attestations_min": min(skipped, default=0),
        "accepted_new_attestations_max": max(skipped, default=0),
    }


def audit_figures(store: Store, customers: list[tuple[str, str, bool]]) -> dict[str, Any]:
    events = store.audit(action="bulk_attest")
    rows = [e for e in events if e.customer_id]
    audited = {e.customer_id for e in rows}
    return {
        "audit_row_entries": len(rows),
        "audit_row_entries_by_outcome": dict(Counter(e.outcome for e in rows)),
        "audit_run_summaries": len(events) - len(rows),
        "rows_without_audit_entry": sum(1 for c, _, _ in customers if c not in audited),
    }


class Scenario:
    """One emulator, one desk data dir, one CSV: the bulk-attest command run against them."""

    def __init__(self, work: Path, args: argparse.Namespace):
        self.work = work
        self.args = args
        self.proc, self.base = start_emulator(work / "emulator", args)
        self.db = work / "emulator" / "emulator.sqlite3"
        self.customers = pick_customers(self.db, args.targets, args.accepted)
        self.ids = [c for c, _, _ in self.customers]
        self.before = attestation_counts(self.db, self.ids)
        self.csv = work / "customers.csv"
        write_csv(self.csv, self.customers)
        token = httpx.post(f"{self.base}/sandbox/token", json={"user": "admin-agent"}).json()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("MCA_")}
        self.env.update(
            MCA_ACCESS_TOKEN=token["access_token"],
            MCA_DATA_DIR=str(work / "desk"),
            MCA_SECRETS_FILE=str(work / "no-secrets.toml"),
            MCA_RATE_LIMIT_PER_MINUTE=str(args.rate),
            MCA_TIMEOUT_SECONDS=str(args.timeout),
            MCA_MAX_ATTEMPTS=str(args.max_attempts),
            MCA_ATTESTATION_CHANNEL="classic",
            MCA_SANDBOX_CLASSIC_RETIRED_ON="never",
        )
        self.runs = 0

    def start(self) -> tuple[subprocess.Popen, Path, Path, float]:
        self.runs += 1
        out, err = self.work / f"run{self.runs}.json", self.work / f"run{self.runs}.log"
        command = [
            sys.executable, "-m", "mca_core", "--backend", "live", "--base-url", self.base,
            "-v", "--json", "bulk-attest", str(self.csv),
        ]  # fmt: skip
        with out.open("wb") as stdout, err.open("wb") as stderr:
            proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=stdout, stderr=stderr)
        return proc, out, err, time.monotonic()

    def run_to_end(self) -> dict[str, Any]:
        proc, out, err, started = self.start()
        code = proc.wait()
        seconds = time.monotonic() - started
        doc = json.loads(out.read_text(encoding="utf-8"))
        outcomes = Counter(r["outcome"] for r in doc["rows"])
        return {
            "exit_code": code,
            "seconds": round(seconds, 1),
            "rows": len(doc["rows"]),
            "rows_definite": sum(n for k, n in outcomes.items() if k in DEFINITE),
            "outcomes": dict(outcomes),
            "resumed_from_journal": doc["resumed"],
            **client_log(err),
        }

    def run_and_kill(self, when_attested: int) -> dict[str, Any]:
        proc, _, err, started = self.start()
        while soak_attestations(self.db) < when_attested:
            if proc.poll() is not None:
                raise SystemExit("the run ended before it could be killed")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        store = Store(f"sqlite:///{self.work / 'desk' / 'desk.sqlite3'}")
        states = journal_states(store)
        store.dispose()
        return {
            "killed_after_seconds": round(time.monotonic() - started, 1),
            "exit_code": proc.returncode,
            "attestations_at_kill": soak_attestations(self.db),
            "journal_at_kill": states,
            "rows_in_flight_at_kill": states.get("started", 0),
            **client_log(err),
        }

    def totals(self) -> dict[str, Any]:
        store = Store(f"sqlite:///{self.work / 'desk' / 'desk.sqlite3'}")
        figures = {
            **per_customer(self.customers, self.before, attestation_counts(self.db, self.ids)),
            **audit_figures(store, self.customers),
        }
        store.dispose()
        return figures

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1700, help="portfolio per partner")
    parser.add_argument("--targets", type=int, default=500, help="customers not yet accepted")
    parser.add_argument("--accepted", type=int, default=10, help="accepted ones, to be skipped")
    parser.add_argument("--retry-after", type=int, default=1, help="Retry-After of the 429s")
    parser.add_argument("--hang", type=float, default=10, help="seconds an injected timeout hangs")
    parser.add_argument("--timeout", type=float, default=5, help="client timeout per attempt")
    parser.add_argument("--max-attempts", type=int, default=8)
    parser.add_argument("--rate", type=float, default=6000, help="client limit, requests/min")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="mca-soak-"))
    report: dict[str, Any] = {
        "setup": {
            "transport": "HTTP over loopback, emulator and CLI in their own processes",
            "faults": {"429": 0.10, "5xx": 0.05, "timeout": 0.02, "reset": 0.01},
            "retry_after_seconds": args.retry_after,
            "timeout_hang_seconds": args.hang,
            "client_timeout_seconds": args.timeout,
            "max_attempts": args.max_attempts,
            "client_rate_limit_per_minute": args.rate,
            "targets_not_accepted": args.targets,
            "already_accepted": args.accepted,
        }
    }
    try:
        soak = Scenario(work / "soak", args)
        try:
            report["soak"] = {**soak.run_to_end(), **soak.totals()}
        finally:
            soak.close()
        again = Scenario(work / "kill", args)
        try:
            killed = again.run_and_kill(args.targets // 2)
            resumed = again.run_to_end()
            report["kill_resume"] = {"killed_run": killed, "second_run": resumed, **again.totals()}
        finally:
            again.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    checks = []
    for name in ("soak", "kill_resume"):
        part = report[name]
        final = part if name == "soak" else part["second_run"]
        checks.append(
            final["exit_code"] == 0
            and final["rows_definite"] == final["rows"]
            and part["targets_new_attestations_min"] == part["targets_new_attestations_max"] == 1
            and part["accepted_new_attestations_max"] == 0
            and part["rows_without_audit_entry"] == 0
        )
    report["holds"] = {"soak": checks[0], "kill_resume": checks[1]}
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
