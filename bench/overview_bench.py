"""Overview page benchmark: script run time (AppTest, warm cache), peak RSS, and the cost of one
more user (CPU of a visit, memory of a session) by store size.

    .venv/bin/python bench/overview_bench.py [--sizes 1000 10000 100000] [--runs 5] [--visits 4]

One customer in five has an invitation in the log (env BENCH_INVITED_SHARE, default 0.2), so the
table's "Invited on / by" columns are measured too.

Each size runs in its own process (so peak RSS is that size's own): a synthetic snapshot of N
customers is written to a fresh (temporary, removed after) store, the overview page runs once to
warm its cache, then `--runs` more times; the median of those is reported with the process's
peak RSS. Then the many-users measure: a visit is a new AppTest session (a new user: sign in,
open the overview, pick one country in the filter); after one visit to warm the shared caches,
`--visits` more are made and kept alive. `visit_cpu_seconds` is the median CPU time (all threads:
time.process_time) of one visit; `session_rss_mb` what each kept session added to the RSS.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import gc
import json
import os
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COUNTRIES = ["US", "CN", "GB", "DE", "FR", "JP", "AU", "CA", "NL", "IN", "BR"]


def synthetic_rows(n: int, seed: int = 1) -> list[dict]:
    rng = random.Random(seed)
    start = datetime(2019, 8, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        roll = rng.random()
        attested = roll < 0.45
        direct = None if attested else roll < 0.70
        accepted = attested or bool(direct)
        rows.append(
            {
                "customer_id": f"00000000-0000-4000-8000-{i:012d}",
                "company_name": f"Company {i} Ltd",
                "domain": f"company{i}.onmicrosoft.com",
                "country": rng.choice(COUNTRIES),
                "associated_partner_id": rng.choice([None, None, "r1", "r2"]),
                "attested": attested,
                "direct_signed": direct,
                "accepted": accepted,
                "attestation_count": 1 if attested else 0,
                "latest_date_agreed": start + timedelta(days=rng.randrange(2600))
                if attested
                else None,
                "latest_contact_name": "Jane Doe" if attested else None,
                "latest_contact_email": "jane@example.com" if attested else None,
            }
        )
    return rows


def save_synthetic_snapshot(store, scope: str, size: int, rows: list[dict] | None = None) -> list:
    """A snapshot of `size` synthetic customers (or these `rows`) in `scope`, as a sync writes
    one; the rows written."""
    rows = synthetic_rows(size) if rows is None else rows
    accepted = sum(1 for r in rows if r["accepted"])
    store.save_snapshot(
        rows,
        taken_by="bench",
        scope=scope,
        mode="default",
        summary={
            "customers": len(rows),
            "accepted": accepted,
            "not_accepted": len(rows) - accepted,
        },
    )
    return rows


def _rss_mb() -> float:
    """The process's current resident set (Linux), in MB, after a full collection and after
    giving freed heap back to the system (else what the cold run freed hides what a session
    adds)."""
    gc.collect()
    import pyarrow  # pandas' strings live in Arrow's own pool (mimalloc): it frees lazily

    pyarrow.default_memory_pool().release_unused()
    with contextlib.suppress(OSError, AttributeError):  # not glibc: the figure is rougher
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _invite(store, rows: list[dict], share: float) -> int:
    """Invitation log rows for `share` of the customers (the Overview's "Invited on / by")."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert

    from mca_core.emulator import SANDBOX_USERS
    from mca_core.store.invitation_log import InvitationLog, invitation_log

    InvitationLog(store)  # the table, as the desk creates it
    user = SANDBOX_USERS["admin-agent"]
    step = max(1, round(1 / share)) if share > 0 else 0
    chosen = rows[::step] if step else []
    now = datetime.now(UTC)
    entries = [
        {
            "partner_tenant_id": user.partner_tenant_id, "customer_id": r["customer_id"],
            "company_name": r["company_name"], "kind": "mca_existing",
            "recipient": f"it@{r['domain']}", "locale": "en", "user_id": user.user_id,
            "user_name": user.display_name, "at": now - timedelta(days=number % 30),
            "how": "sent", "failure": "",
        }
        for number, r in enumerate(chosen)
    ]  # fmt: skip
    with store.engine.begin() as conn:
        for start in range(0, len(entries), 5000):
            conn.execute(insert(invitation_log), entries[start : start + 5000])
    return len(entries)


def child(size: int, runs: int, visits: int) -> dict:
    work = tempfile.mkdtemp(prefix=f"mca-ov-{size}-")
    try:
        return _measure(work, size, runs, visits)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _measure(work: str, size: int, runs: int, visits: int) -> dict:
    os.environ.update(
        {
            "MCA_DATA_DIR": os.path.join(work, "data"),
            "MCA_SECRETS_FILE": os.path.join(work, "none.toml"),
            "MCA_SANDBOX_CUSTOMERS": "50",
        }
    )
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    from streamlit.testing.v1 import AppTest

    from mca_core.config import load_settings
    from mca_core.emulator import SANDBOX_USERS
    from mca_core.store.database import Store
    from mca_core.usecases.sync import snapshot_scope

    settings = load_settings()
    store = Store(settings.resolved_store_url)
    scope = snapshot_scope(SANDBOX_USERS["admin-agent"].identity(), "sandbox")
    rows = save_synthetic_snapshot(store, scope, size)
    invited = _invite(store, rows, float(os.environ.get("BENCH_INVITED_SHARE", "0.2")))
    del rows
    page = str(ROOT / "pages" / "1_Overview.py")

    def session() -> AppTest:
        at = AppTest.from_file(page, default_timeout=600)
        at.session_state["sandbox_user_key"] = "admin-agent"
        return at

    at = session()
    t0 = time.perf_counter()
    at.run()
    cold = time.perf_counter() - t0
    assert not at.exception, at.exception
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - t0)
        assert not at.exception
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def visit() -> tuple[AppTest, float]:
        cpu = time.process_time()
        user = session()
        user.run()
        assert not user.exception, user.exception
        user.multiselect(key="ov_country").set_value(["DE"]).run()
        assert not user.exception, user.exception
        return user, time.process_time() - cpu

    for _ in range(2):  # warm the shared caches for this filter, and the allocator
        visit()
    kept = []
    before = _rss_mb()
    cpu_times = []
    for _ in range(visits):
        user, cpu = visit()
        kept.append(user)
        cpu_times.append(cpu)
    added = (_rss_mb() - before) / max(visits, 1)
    return {
        "customers": size,
        "invited": invited,
        "cold_seconds": round(cold, 3),
        "warm_seconds_median": round(statistics.median(times), 3),
        "peak_rss_mb": round(peak_kb / 1024, 1),
        "visit_cpu_seconds": round(statistics.median(cpu_times), 3),
        "session_rss_mb": round(added, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--visits", type=int, default=4)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.runs, args.visits)))
        return
    results = []
    command = [sys.executable, __file__, "--runs", str(args.runs), "--visits", str(args.visits)]
    for size in args.sizes:
        out = subprocess.run(
            [*command, "--child", str(size)],
            capture_output=True,
            text=True,
            check=True,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    by_size = {r["customers"]: r for r in results}
    report: dict = {"results": results}
    if 1000 in by_size and 100000 in by_size:
        ratio = by_size[100000]["warm_seconds_median"] / by_size[1000]["warm_seconds_median"]
        report["targets"] = {
            "time_100k_over_1k": round(ratio, 2),
            "time_100k_le_3x_1k": ratio <= 3,
            "peak_rss_100k_le_500mb": by_size[100000]["peak_rss_mb"] <= 500,
            "visit_cpu_100k_le_0_5s": by_size[100000]["visit_cpu_seconds"] <= 0.5,
            "session_rss_100k_le_15mb": by_size[100000]["session_rss_mb"] <= 15,
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
