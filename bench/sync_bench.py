"""Sync benchmark against the standalone emulator over real loopback HTTP. Prints JSON.

    .venv/bin/python bench/sync_bench.py [--customers 2000] [--latency-ms 50] [--rate 6000]

The per-customer reads (`source="per_customer"`; bench/records_bench.py measures the records).
1. full sync (default mode: stop at the first evidence) of N customers: seconds, API calls,
   calls per customer, 429s, and the floor = calls / rate (the limit is the real bottleneck);
2. an incremental sync right after (nothing changed);
3. the sequential baseline (one request at a time, both calls per customer, as a PowerShell loop
   does) on a 200-customer sample, extrapolated to N.
The client's limiter is set to the emulator's limit, so the engine should run close to the floor.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mca_core.config import load_settings  # noqa: E402
from mca_core.desk import Desk  # noqa: E402
from mca_core.partner_center.client import CallStats  # noqa: E402
from mca_core.usecases.sync import sync_acceptance  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_emulator(
    data_dir: str, customers: int, latency_ms: float, rate: float
) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mca_core",
            "emulator",
            "--port",
            str(port),
            "--customers",
            str(customers),
            "--latency-ms",
            str(latency_ms),
            "--rate-limit",
            str(rate),
            "--data-dir",
            data_dir,
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
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


async def sequential_baseline(desk: Desk, actor, sample: int) -> dict:
    """One request at a time: list, then attestations AND direct signing for each customer."""
    stats = CallStats()
    started = time.monotonic()
    async with desk.client(actor.tokens, stats=stats, concurrency=1) as pc:
        customers = (await pc.list_customers())[:sample]
        for customer in customers:
            await pc.get_attestations(customer.id)
            await pc.get_direct_signing_status(customer.id)
    return {
        "customers": len(customers),
        "seconds": round(time.monotonic() - started, 2),
        "api_calls": stats.calls,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--rate", type=float, default=6000, help="requests per minute")
    parser.add_argument("--sample", type=int, default=200)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="mca-bench-")
    proc, base = start_emulator(
        os.path.join(work, "emulator"), args.customers, args.latency_ms, args.rate
    )
    try:
        token = httpx.post(f"{base}/sandbox/token", json={"user": "admin-agent"}).json()[
            "access_token"
        ]
        settings = load_settings(
            {
                "backend": "live",
                "pc_base_url": base,
                "data_dir": os.path.join(work, "desk"),
                "rate_limit_per_minute": args.rate,
                "access_token": token,
                "max_concurrency": 32,
            },
            secrets={},
        )
        desk = Desk(settings)
        actor = asyncio.run(desk.live_actor())

        def run_sync(incremental: bool) -> dict:
            summary = desk.run(
                lambda pc: sync_acceptance(
                    pc,
                    desk.store,
                    actor.identity,
                    backend="live",
                    incremental=incremental,
                    concurrency=64,
                    source="per_customer",  # the per-customer engine (records_bench: records)
                ),
                actor,
                stats=CallStats(),
            )
            return summary.as_dict()

        full = run_sync(False)
        floor = full["api_calls"] / (args.rate / 60)
        full_report = {
            "seconds": full["seconds"],
            "api_calls": full["api_calls"],
            "calls_per_customer": round(full["api_calls"] / full["customers"], 3),
            "throttled_429": full["throttled"],
            "floor_seconds": round(floor, 2),
            "seconds_over_floor": round(full["seconds"] / floor, 3),
            "customers": full["customers"],
            "accepted": full["accepted"],
            "failed": full["failed"],
        }
        incremental = run_sync(True)
        baseline = asyncio.run(sequential_baseline(desk, actor, args.sample))
        extrapolated = baseline["seconds"] * full["customers"] / max(1, baseline["customers"])
        report = {
            "setup": {
                "customers": args.customers,
                "latency_ms": args.latency_ms,
                "rate_limit_per_minute": args.rate,
                "transport": "HTTP over loopback",
            },
            "full_sync": full_report,
            "incremental_sync": {
                "seconds": incremental["seconds"],
                "api_calls": incremental["api_calls"],
                "reused": incremental["reused"],
                "throttled_429": incremental["throttled"],
                "ratio_to_full": round(incremental["seconds"] / full["seconds"], 3),
            },
            "sequential_baseline": {
                **baseline,
                "extrapolated_seconds": round(extrapolated, 1),
                "ratio_to_full_sync": round(extrapolated / full["seconds"], 2),
            },
            "targets": {
                "full_within_1.15x_floor": full["seconds"] <= 1.15 * floor,
                "calls_per_customer_le_1.6": full["api_calls"] / full["customers"] <= 1.6,
                "incremental_le_0.45x_full": incremental["seconds"] <= 0.45 * full["seconds"],
            },
        }
        print(json.dumps(report, indent=2))
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
