"""Alerts benchmark: what telling managers costs on a large portfolio.

    .venv/bin/python bench/alerts_bench.py [--customers 100000] [--change 0.01]

A synthetic snapshot of N customers (the overview benchmark's) in a fresh temporary store; a real
SMTP server and a Teams-like webhook on loopback (the tests' receivers). It times `notify` three
times: the first alert (every subject recorded), a run with nothing changed, and a run after a
new snapshot in which `--change` of the customers changed state; it reports the messages that
arrived, the first email's size and the process's peak RSS. Prints one JSON document.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--change", type=float, default=0.01)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="mca-alerts-bench-")
    from tests.receivers import SmtpServer, Webhook

    smtp, hook = SmtpServer().start(), Webhook().start()
    try:
        os.environ.update(
            {
                **smtp.env(),
                "MCA_DATA_DIR": os.path.join(work, "data"),
                "MCA_SECRETS_FILE": os.path.join(work, "none.toml"),
                "MCA_ALERT_TO": "ana@contoso.example, zh-CN:li.lei@contoso.example",
                "MCA_TEAMS_WEBHOOK_URL": hook.url,
            }
        )
        print(json.dumps(run(args.customers, args.change, smtp, hook), indent=2))
    finally:
        smtp.stop()
        hook.stop()
        shutil.rmtree(work, ignore_errors=True)


def run(size: int, change: float, smtp, hook) -> dict:
    from overview_bench import save_synthetic_snapshot, synthetic_rows

    from mca_core.config import load_settings
    from mca_core.emulator import SANDBOX_USERS
    from mca_core.store.database import Store
    from mca_core.usecases import alerts
    from mca_core.usecases.sync import snapshot_scope

    settings = load_settings()
    store = Store(settings.resolved_store_url)
    identity = SANDBOX_USERS["admin-agent"].identity()
    scope = snapshot_scope(identity, "sandbox")
    rows = synthetic_rows(size)

    def snapshot() -> None:
        save_synthetic_snapshot(store, scope, size, rows)

    def timed() -> tuple[float, alerts.NotifyOutcome]:
        started = time.perf_counter()
        outcome = alerts.notify(store, identity, settings)
        return time.perf_counter() - started, outcome

    snapshot()
    first_s, first = timed()
    same_s, same = timed()
    rng = random.Random(7)
    flipped = rng.sample(range(size), int(size * change))
    for i in flipped:  # blocked customers accept directly, accepted ones lose it
        row = rows[i]
        accepted = not row["accepted"]
        row.update(accepted=accepted, direct_signed=accepted, attested=False,
                   latest_date_agreed=None)  # fmt: skip
    snapshot()
    change_s, changed = timed()
    first_email = smtp.messages[0].message.as_bytes() if smtp.messages else b""
    return {
        "customers": size,
        "first_alert_seconds": round(first_s, 2),
        "first_alert_kinds": dict(alerts.kinds_of(first.notice)),
        "no_change_seconds": round(same_s, 2),
        "no_change_queued": same.queued,
        "changed_customers": len(flipped),
        "change_seconds": round(change_s, 2),
        "change_kinds": dict(alerts.kinds_of(changed.notice)),
        "emails_received": len(smtp.messages),
        "cards_received": len(hook.cards),
        "first_email_kb": round(len(first_email) / 1024, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


if __name__ == "__main__":
    main()
