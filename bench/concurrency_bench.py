"""Concurrent sessions benchmark: the Streamlit server's cost per open browser session. Prints JSON.

    .venv/bin/python bench/concurrency_bench.py [--sizes 1500 100000] [--sessions 1 5 10 20]
        [--timeout 300] [--disconnected-ttl 2]

For each store size one `streamlit run dashboard.py` (sandbox mode, embedded emulator, headless,
as tests/e2e/conftest.py starts it) serves a fresh data folder whose store holds a synthetic
snapshot of that many customers for the sandbox admin-agent's scope (bench/overview_bench.py's
`synthetic_rows`). After one warm-up visit, each round drives N real Chromium sessions at once (one
browser, N contexts, asyncio Playwright): sign in as admin-agent, open the Overview (ready: the
KPI metrics shown, the script not running, no status widget or skeleton), pick one Status filter
and wait for the rerun, open Attest and wait for it. The N sessions stay open while measuring and
are closed after the round (Streamlit keeps a closed session `--disconnected-ttl` seconds, 2 here
instead of its 120, and forgets it at the next connection after that: a signed-out visit of the
home page before each round does that, so each round starts from the same baseline).

Per round (`results`):

- `server_rss_mb`: VmRSS of the server and its children with the N sessions still open;
  `server_peak_rss_mb`: the highest of the samples taken every 0.2 s during the round;
- `rss_mb_per_added_session`: (RSS with N sessions open - RSS just before the round) / N;
- `cpu_seconds_per_visit`: server CPU (utime + stime of the server and its children, /proc) during
  the round / N (a visit = sign-in, Overview, filter change, Attest);
- `page_ready_p50_s` / `page_ready_p95_s`: seconds from the click to the page ready, over all
  page loads of the round, and per load in `page_ready_by_step` (overview, filter, attest);
- `errors`: lines with "Traceback" or "Error" in the server's log during the round, plus
  `st.exception` boxes seen on pages, plus steps that never became ready (`error_detail`).

`targets`: at 100000 customers and 20 sessions, cpu_seconds_per_visit <= 0.5,
rss_mb_per_added_session <= 15 and errors == 0.

The browsers share the machine's cores with the server: the server figures (CPU per visit, RSS
per session) are the targets; page-ready times are indicative only. Progress goes to stderr, so
`... | jq` reads stdout alone.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM_FLAGS, free_port  # noqa: E402  (the browser tests')

USER_KEY = "admin-agent"
SANDBOX_CUSTOMERS = 50  # the embedded emulator's own portfolio; the pages read the store's snapshot
VIEWPORT = {"width": 1440, "height": 1000}
START_TIMEOUT_S = 120.0
SAMPLE_EVERY_S = 0.2
STEPS = ("overview", "filter", "attest")
ERROR_LINE = re.compile(r"Traceback|Error")
TARGET = {"customers": 100000, "sessions": 20}
CLK_TCK = os.sysconf("SC_CLK_TCK")

#: True when Streamlit finished the run an action started and the page shows what `want` asks:
#: connected, script `notRunning`, no status widget or skeleton; `title` in the page's h1,
#: `metric` a KPI card visible, `sidebar` text in the sidebar, `changed` a run seen (or the
#: captions' text, e.g. "N of M customers match the filters", changed) since `ARM_JS` ran.
READY_JS = """(want) => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) return false;
    if (app.getAttribute('data-test-connection-state') !== 'CONNECTED') return false;
    if (app.getAttribute('data-test-script-state') !== 'notRunning') return false;
    if (document.querySelector('[data-testid="stStatusWidget"]')) return false;
    if (document.querySelector('[data-testid="stSkeleton"]')) return false;
    if (want.title) {
        const h1 = document.querySelector('[data-testid="stMain"] h1');
        if (!h1 || !h1.innerText.includes(want.title)) return false;
    }
    if (want.metric) {
        const m = document.querySelector('[data-testid="stMetric"]');
        if (!m || !m.getClientRects().length) return false;
    }
    if (want.sidebar) {
        const side = document.querySelector('[data-testid="stSidebar"]');
        if (!side || !side.innerText.includes(want.sidebar)) return false;
    }
    if (want.changed) {
        const captions = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')];
        const text = captions.map((e) => e.innerText).join(' | ');
        if (!window.__benchRunSeen && text === window.__benchBefore) return false;
    }
    return true;
}"""
#: Before an action: watch the script state for a run (its old value too: a short run's
#: running -> notRunning may land in one observer callback) and remember the captions' text.
ARM_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    const captions = [...document.querySelectorAll('[data-testid="stCaptionContainer"]')];
    window.__benchRunSeen = false;
    window.__benchBefore = captions.map((e) => e.innerText).join(' | ');
    if (window.__benchObserver) window.__benchObserver.disconnect();
    if (!app) return;
    window.__benchObserver = new MutationObserver((records) => {
        for (const r of records) {
            if (r.oldValue === 'running' || app.getAttribute(r.attributeName) === 'running') {
                window.__benchRunSeen = true;
            }
        }
    });
    window.__benchObserver.observe(app, {
        attributes: true, attributeOldValue: true, attributeFilter: ['data-test-script-state'],
    });
}"""
EXCEPTIONS_JS = "() => document.querySelectorAll('[data-testid=\"stException\"]').length"


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- the server and its /proc figures --------------------------------------------------------


def descendants(pid: int) -> list[int]:
    """The process and all its living descendants (from /proc/*/stat parent ids)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        with suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{entry}/stat").read_text()
            ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_mb(pid: int) -> float:
    """VmRSS of the process tree, MiB."""
    total_kb = 0
    for proc in descendants(pid):
        with suppress(OSError):
            for line in Path(f"/proc/{proc}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
                    break
    return total_kb / 1024


def cpu_seconds(pid: int) -> float:
    """utime + stime of the process tree (and of children it already reaped), seconds."""
    ticks = 0
    for proc in descendants(pid):
        with suppress(OSError, IndexError, ValueError):
            stat = Path(f"/proc/{proc}/stat").read_text()
            fields = stat[stat.rindex(")") + 2 :].split()
            # fields[0] is field 3 (state): utime 14, stime 15, cutime 16, cstime 17.
            ticks += int(fields[11]) + int(fields[12])
            if proc == pid:
                ticks += int(fields[13]) + int(fields[14])
    return ticks / CLK_TCK


class PeakSampler(threading.Thread):
    """The highest RSS of the server tree, sampled every SAMPLE_EVERY_S until stopped."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.peak = rss_mb(pid)
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.wait(SAMPLE_EVERY_S):
            self.peak = max(self.peak, rss_mb(self.pid))

    def stop(self) -> float:
        self._stop_event.set()
        self.join(timeout=5)
        self.peak = max(self.peak, rss_mb(self.pid))
        return self.peak


def server_env(data_dir: Path) -> dict[str, str]:
    """A clean sandbox configuration (embedded emulator): nothing from the developer's MCA_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCA_")}
    env.update(
        MCA_BACKEND="sandbox",
        MCA_DATA_DIR=str(data_dir),
        MCA_SANDBOX_CUSTOMERS=str(SANDBOX_CUSTOMERS),
        MCA_RATE_LIMIT_PER_MINUTE="60000",
        MCA_SECRETS_FILE=str(data_dir / "no-secrets.toml"),
        PYTHONUNBUFFERED="1",
    )
    return env


def seed_store(size: int) -> None:
    """(In a child process with the server's environment.) A synthetic snapshot of `size`
    customers for the admin-agent's scope, as bench/overview_bench.py writes it."""
    from bench.overview_bench import save_synthetic_snapshot
    from mca_core.config import load_settings
    from mca_core.emulator import SANDBOX_USERS
    from mca_core.store.database import Store
    from mca_core.usecases.sync import snapshot_scope

    settings = load_settings()
    store = Store(settings.resolved_store_url)
    try:
        scope = snapshot_scope(SANDBOX_USERS[USER_KEY].identity(), "sandbox")
        save_synthetic_snapshot(store, scope, size)
    finally:
        store.dispose()


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    url: str
    log_path: Path

    def log_size(self) -> int:
        return self.log_path.stat().st_size

    def error_lines(self, offset: int) -> list[str]:
        with self.log_path.open("rb") as handle:
            handle.seek(offset)
            text = handle.read().decode("utf-8", errors="replace")
        return [line for line in text.splitlines() if ERROR_LINE.search(line)]


def start_server(data_dir: Path, ttl: int) -> Server:
    port = free_port()
    log_path = data_dir.parent / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard.py",
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
        "--server.disconnectedSessionTTL", str(ttl),
    ]  # fmt: skip
    with log_path.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=server_env(data_dir),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with all its children
        )
    server = Server(process, f"http://127.0.0.1:{port}", log_path)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log_path.read_text(errors="replace")[-3000:]
            stop_server(server)
            raise RuntimeError(f"streamlit exited at start:\n{tail}")
        with suppress(httpx.HTTPError):
            if "ok" in httpx.get(f"{server.url}/_stcore/health", timeout=2).text:
                return server
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"streamlit not healthy after {START_TIMEOUT_S:.0f} s")


def stop_server(server: Server) -> None:
    """SIGTERM to the server's process group, SIGKILL if it lingers."""
    process = server.process
    with suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        with suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)
    with suppress(ProcessLookupError):  # children that outlived the leader
        os.killpg(process.pid, signal.SIGKILL)


def settle(pid: int, wait_s: float, limit_s: float = 30.0) -> None:
    """Let the server drop closed sessions and go idle (< 5 % of a core over 1 s)."""
    time.sleep(wait_s)
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.05:
            return


# --- one browser session ---------------------------------------------------------------------


@dataclass(frozen=True)
class Strings:
    """The UI strings the journey clicks and waits for (English, from the pages' catalogs)."""

    app_title: str
    overview: str
    attest: str
    sign_in: str
    status_filter: str
    status_option: str
    user: str

    @classmethod
    def load(cls) -> Strings:
        from mca_core.emulator import SANDBOX_USERS
        from ui.i18n import plain_text

        return cls(
            app_title=plain_text("app_title", "en"),
            overview=plain_text("overview_title", "en"),
            attest=plain_text("attest_title", "en"),
            sign_in=plain_text("sign_in_button", "en"),
            status_filter=plain_text("filter_status", "en"),
            status_option=plain_text("status_not_accepted", "en"),
            user=SANDBOX_USERS[USER_KEY].display_name,
        )


@dataclass
class Visit:
    context: Any
    ready_s: dict[str, float] = field(default_factory=dict)
    exceptions: int = 0
    failure: str | None = None


async def ready(page: Any, timeout_ms: int, **want: Any) -> int:
    """Wait for READY_JS; the st.exception boxes then on the page."""
    await page.wait_for_function(READY_JS, arg=want, polling=100, timeout=timeout_ms)
    return int(await page.evaluate(EXCEPTIONS_JS))


async def visit(browser: Any, url: str, s: Strings, timeout_ms: int) -> Visit:
    """Sign in, Overview, one filter, Attest: the context stays open (the caller closes it)."""
    from playwright.async_api import TimeoutError as PlaywrightTimeoutError

    context = await browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(timeout_ms)
    result = Visit(context)
    step = "sign_in"
    try:
        page = await context.new_page()
        await page.goto(url)
        await ready(page, timeout_ms, title=s.app_title)
        await page.get_by_test_id("stRadio").get_by_text(s.user, exact=False).click()
        await page.evaluate(ARM_JS)
        await page.get_by_role("button", name=s.sign_in).click()
        result.exceptions += await ready(page, timeout_ms, changed=True, sidebar=s.user)
        sidebar = page.get_by_test_id("stSidebar")

        step = "overview"
        await page.evaluate(ARM_JS)
        start = time.perf_counter()
        await sidebar.get_by_role("link", name=s.overview).click()
        result.exceptions += await ready(page, timeout_ms, title=s.overview, metric=True)
        result.ready_s[step] = time.perf_counter() - start

        step = "filter"
        widget = page.get_by_test_id("stMultiSelect").filter(
            has=page.get_by_text(s.status_filter, exact=True)
        )
        await widget.locator("input").first.click()
        option = page.get_by_role("option", name=s.status_option, exact=True)
        try:  # a click on the box may only focus it: the arrow key opens the list then
            await option.wait_for(state="visible", timeout=3000)
        except PlaywrightTimeoutError:
            await page.keyboard.press("ArrowDown")
            await option.wait_for(state="visible")
        await page.evaluate(ARM_JS)
        start = time.perf_counter()
        await option.click()
        result.exceptions += await ready(
            page, timeout_ms, title=s.overview, metric=True, changed=True
        )
        result.ready_s[step] = time.perf_counter() - start
        await page.keyboard.press("Escape")  # close the option list

        step = "attest"
        await page.evaluate(ARM_JS)
        start = time.perf_counter()
        await sidebar.get_by_role("link", name=s.attest).click()
        result.exceptions += await ready(page, timeout_ms, title=s.attest)
        result.ready_s[step] = time.perf_counter() - start
    except Exception as exc:  # a step that never got ready: counted, the others go on
        result.failure = f"{step}: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
    return result


async def drop_closed_sessions(
    browser: Any, server: Server, s: Strings, ttl: int, timeout_ms: int
) -> None:
    """Streamlit forgets a closed session only when its session storage is next used after the
    TTL (a lazy TTL cache): without this, the previous round's sessions are still held when the
    baseline is taken and freed during the next round. A bare visit of the home page (signed
    out, cheap) after the TTL expires them; then the server goes idle."""
    settle(server.process.pid, ttl + 1)
    context = await browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    try:
        page = await context.new_page()
        await page.goto(server.url)
        await ready(page, timeout_ms, title=s.app_title)
    finally:
        await context.close()
    settle(server.process.pid, ttl + 1)


# --- rounds ----------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(0, math.ceil(q * len(ordered)) - 1)], 3)


def ready_figures(visits: list[Visit]) -> dict[str, Any]:
    every = [v.ready_s[step] for v in visits for step in STEPS if step in v.ready_s]
    by_step = {}
    for step in STEPS:
        values = [v.ready_s[step] for v in visits if step in v.ready_s]
        by_step[step] = {
            "p50_s": round(statistics.median(values), 3) if values else None,
            "p95_s": percentile(values, 0.95),
            "loads": len(values),
        }
    return {
        "page_ready_p50_s": round(statistics.median(every), 3) if every else None,
        "page_ready_p95_s": percentile(every, 0.95),
        "page_ready_by_step": by_step,
    }


async def run_round(
    browser: Any, server: Server, size: int, n: int, s: Strings, timeout_ms: int
) -> dict[str, Any]:
    pid = server.process.pid
    log_offset = server.log_size()
    baseline = rss_mb(pid)
    sampler = PeakSampler(pid)
    sampler.start()
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    visits: list[Visit] = []
    try:
        visits = list(
            await asyncio.gather(*(visit(browser, server.url, s, timeout_ms) for _ in range(n)))
        )
        wall = time.perf_counter() - started
        cpu = cpu_seconds(pid) - cpu_before
        await asyncio.sleep(0.5)  # the last websocket messages; the sessions stay open
        open_rss = rss_mb(pid)
        peak = sampler.stop()
    finally:
        sampler.stop()
        for v in visits:
            with suppress(Exception):
                await v.context.close()
    log_errors = server.error_lines(log_offset)
    failures = [v.failure for v in visits if v.failure]
    exceptions = sum(v.exceptions for v in visits)
    for line in log_errors[:20]:
        log(f"  server log: {line}")
    for failure in failures:
        log(f"  not ready: {failure}")
    row: dict[str, Any] = {
        "customers": size,
        "sessions": n,
        "server_rss_mb": round(open_rss, 1),
        "server_peak_rss_mb": round(peak, 1),
        "server_rss_before_mb": round(baseline, 1),
        "rss_mb_per_added_session": round((open_rss - baseline) / n, 2),
        "cpu_seconds_per_visit": round(cpu / n, 3),
        **ready_figures(visits),
        "errors": len(log_errors) + exceptions + len(failures),
        "error_detail": {
            "server_log_lines": len(log_errors),
            "page_exceptions": exceptions,
            "not_ready": len(failures),
        },
        "round_wall_s": round(wall, 1),
    }
    return row


async def bench_size(
    browser: Any, size: int, sessions: list[int], s: Strings, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    timeout_ms = int(args.timeout * 1000)
    work = Path(tempfile.mkdtemp(prefix=f"mca-conc-{size}-"))
    server: Server | None = None
    try:
        data_dir = work / "data"
        data_dir.mkdir()
        log(f"{size} customers: writing the synthetic snapshot")
        subprocess.run(
            [sys.executable, __file__, "--seed-store", str(size)],
            cwd=ROOT,
            env=server_env(data_dir),
            check=True,
        )
        server = start_server(data_dir, args.disconnected_ttl)
        log(f"{size} customers: server {server.url} pid {server.process.pid}, warming up")
        offset = server.log_size()
        started = time.perf_counter()
        warm = await visit(browser, server.url, s, timeout_ms)
        await warm.context.close()
        warm_errors = server.error_lines(offset)
        warmup = {
            "customers": size,
            "seconds": round(time.perf_counter() - started, 2),
            "ready_s": {k: round(v, 3) for k, v in warm.ready_s.items()},
            "errors": len(warm_errors) + warm.exceptions + (1 if warm.failure else 0),
        }
        log(f"  warm-up: {warmup}" + (f" FAILED {warm.failure}" if warm.failure else ""))
        for line in warm_errors[:20]:
            log(f"  server log: {line}")
        rows = []
        for n in sessions:
            await drop_closed_sessions(browser, server, s, args.disconnected_ttl, timeout_ms)
            log(f"{size} customers, {n} sessions: round starts")
            row = await run_round(browser, server, size, n, s, timeout_ms)
            log(
                f"  rss {row['server_rss_before_mb']} -> {row['server_rss_mb']} MB "
                f"(peak {row['server_peak_rss_mb']}), "
                f"{row['rss_mb_per_added_session']} MB/session, "
                f"cpu/visit {row['cpu_seconds_per_visit']} s, ready p50 {row['page_ready_p50_s']} "
                f"p95 {row['page_ready_p95_s']} s, errors {row['errors']}, {row['round_wall_s']} s"
            )
            rows.append(row)
        return rows, warmup
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(work, ignore_errors=True)


def targets(results: list[dict[str, Any]]) -> dict[str, Any]:
    row = next(
        (
            r
            for r in results
            if r["customers"] == TARGET["customers"] and r["sessions"] == TARGET["sessions"]
        ),
        None,
    )
    if row is None:
        return {**TARGET, "measured": False}
    cpu_ok = row["cpu_seconds_per_visit"] <= 0.5
    rss_ok = row["rss_mb_per_added_session"] <= 15
    errors_ok = row["errors"] == 0
    return {
        **TARGET,
        "measured": True,
        "cpu_seconds_per_visit": row["cpu_seconds_per_visit"],
        "cpu_seconds_per_visit_le_0_5": cpu_ok,
        "rss_mb_per_added_session": row["rss_mb_per_added_session"],
        "rss_mb_per_added_session_le_15": rss_ok,
        "errors": row["errors"],
        "errors_eq_0": errors_ok,
        "all_met": cpu_ok and rss_ok and errors_ok,
    }


async def bench(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.async_api import async_playwright

    executable = shutil.which("chromium")
    if executable is None:
        raise SystemExit("Debian's chromium is not installed (scripts/ensure_browser.sh).")
    strings = Strings.load()
    # SIGTERM (a `kill`): cancel the run, so the finally blocks stop the server and the browser
    # and remove the temp folder.
    task = asyncio.current_task()
    if task is not None:
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    results: list[dict[str, Any]] = []
    warmups: list[dict[str, Any]] = []
    started, started_at = time.perf_counter(), time.strftime("%Y-%m-%dT%H:%M:%S%z")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            for size in args.sizes:
                rows, warmup = await bench_size(browser, size, args.sessions, strings, args)
                results.extend(rows)
                warmups.append(warmup)
        finally:
            await browser.close()
    return {
        "results": results,
        "targets": targets(results),
        "warmup": warmups,
        "started_at": started_at,
        "wall_seconds": round(time.perf_counter() - started, 1),
        "cpu_count": os.cpu_count(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1500, 100000])
    parser.add_argument("--sessions", type=int, nargs="+", default=[1, 5, 10, 20])
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per page step")
    parser.add_argument(
        "--disconnected-ttl",
        type=int,
        default=2,
        help="server.disconnectedSessionTTL: seconds a closed session is kept (Streamlit: 120)",
    )
    parser.add_argument("--seed-store", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.seed_store is not None:
        seed_store(args.seed_store)
        return
    report = asyncio.run(bench(args))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
