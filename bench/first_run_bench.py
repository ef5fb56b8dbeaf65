"""The sandbox's first start, as a new user meets it: seconds from the first page answering to
a populated overview. Prints JSON.

    .venv/bin/python bench/first_run_bench.py [--customers 1500] [--runs 3]

Each run: a fresh data dir (no emulator database, no snapshot), `streamlit run dashboard.py` on
the sandbox's defaults, Debian's Chromium opens the home page (t0: the sign-in form shows),
signs in as the Admin agent, opens the Acceptance overview and waits for its KPI cards (t1).
`start_to_first_page_seconds`: from the server's start to t0 (the emulator seeds meanwhile).
The emulator seeds its customers and the first sync runs in the background from the first page
on (`sandbox_first_sync`). Target: t1 - t0 <= 15 s.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM_FLAGS, free_port  # noqa: E402  (the browser tests')


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def one_run(browser, customers: int) -> dict:
    work = Path(tempfile.mkdtemp(prefix="mca-first-run-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCA_")}
    env.update(
        MCA_DATA_DIR=str(work / "data"),
        MCA_SECRETS_FILE=str(work / "none.toml"),
        MCA_SANDBOX_CUSTOMERS=str(customers),
    )
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "streamlit", "run", "dashboard.py", "--server.headless",
            "true", "--server.port", str(port), "--server.address", "127.0.0.1",
            "--browser.gatherUsageStats", "false",
        ],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    context = None
    try:
        started = time.monotonic()
        while True:
            try:
                if httpx.get(f"{url}/_stcore/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() - started > 120:
                raise SystemExit("streamlit did not start")
            time.sleep(0.1)
        server_ready = time.monotonic() - started
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.set_default_timeout(120_000)
        page.goto(url)
        sign_in = page.get_by_role("button", name="Sign in")
        sign_in.wait_for()
        t0 = time.monotonic()
        first_page = t0 - started  # the embedded emulator seeds while the first page renders
        page.get_by_test_id("stRadio").get_by_text("Admin agent", exact=False).first.click()
        sign_in.click()
        page.get_by_test_id("stSidebar").get_by_role("link", name="Acceptance overview").click()
        page.get_by_test_id("stMetric").first.wait_for()
        t1 = time.monotonic()
        customers_shown = page.get_by_test_id("stMetric").first.inner_text()
        return {
            "server_ready_seconds": round(server_ready, 2),
            "start_to_first_page_seconds": round(first_page, 2),
            "first_page_to_overview_seconds": round(t1 - t0, 2),
            "first_kpi": " ".join(customers_shown.split()),
        }
    finally:
        if context is not None:
            context.close()
        os.killpg(server.pid, 15)
        server.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--customers", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    results = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=shutil.which("chromium"), args=CHROMIUM_FLAGS
        )
        try:
            for i in range(args.runs):
                log(f"run {i + 1} of {args.runs} ...")
                results.append(one_run(browser, args.customers))
        finally:
            browser.close()
    worst = max(r["first_page_to_overview_seconds"] for r in results)
    print(
        json.dumps(
            {
                "customers_per_partner": args.customers,
                "runs": results,
                "median_seconds": statistics.median(
                    r["first_page_to_overview_seconds"] for r in results
                ),
                "targets": {"first_page_to_overview_le_15s": worst <= 15},
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
