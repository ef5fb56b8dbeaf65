"""Overview page benchmark: script run time (AppTest, warm cache) and peak RSS by store size.

    .venv/bin/python bench/overview_bench.py [--sizes 1000 10000 100000] [--runs 5]

Each size runs in its own process (so peak RSS is that size's own): a synthetic snapshot of N
customers is written to a fresh store, the overview page runs once to warm its cache, then
`--runs` more times; the median of those is reported with the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
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


def child(size: int, runs: int) -> dict:
    work = tempfile.mkdtemp(prefix=f"mca-ov-{size}-")
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
    rows = synthetic_rows(size)
    accepted = sum(1 for r in rows if r["accepted"])
    store.save_snapshot(
        rows,
        taken_by="bench",
        scope=scope,
        mode="default",
        summary={"customers": size, "accepted": accepted, "not_accepted": size - accepted},
    )
    del rows
    at = AppTest.from_file(str(ROOT / "pages" / "1_Overview.py"), default_timeout=600)
    at.session_state["sandbox_user_key"] = "admin-agent"
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
    return {
        "customers": size,
        "cold_seconds": round(cold, 3),
        "warm_seconds_median": round(statistics.median(times), 3),
        "peak_rss_mb": round(peak_kb / 1024, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child, args.runs)))
        return
    results = []
    for size in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(size), "--runs", str(args.runs)],
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
        }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
