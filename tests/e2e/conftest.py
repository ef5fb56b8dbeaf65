"""Browser journeys: Debian's Chromium, driven by Playwright, against the real dashboard.

One standalone emulator (`python -m mca_core emulator`, loopback, fixture `emulator_url`) and one
`streamlit run dashboard.py` (sandbox mode pointed at that emulator through MCA_SANDBOX_URL,
fixture `app`) serve the whole session; every test gets fresh browser contexts, so a test never
inherits another's sign-in. The customer lists of the partners of SYNCED_USERS are synced once
(`mca_core sync --full`, as a scheduler would run it).

Reusable fixtures and helpers (another e2e module imports them from `tests.e2e.conftest`):

    def test_something(new_page, app):
        page = new_page("admin-agent")          # a fresh context, signed in as that seeded user
        open_page(page, "attest_title")         # through the sidebar, in the same session
        panel = visible_panel(page)             # the open tab (hidden tabs repeat the labels)
        fill_in(page, panel, text("at_first_name"), "Mei")
        choose(page, panel, text("customer_pick"), "contoso", typed="contoso")
        panel.get_by_role("button", name=text("ex_review_submit")).click()
        wait_for_app(page)                      # the rerun finished (Streamlit's own test wait)
        expect(alert(page, "ex_attested")).to_be_visible()
        screenshot(page, "attest-done")         # artifacts/screenshots/attest-done.png, full height

- `app.url` the dashboard, `app.emulator_url` the emulator (its /sandbox controls included),
  `app.data_dir` the desk's data, `synced_rows(app, user_key)` the synced customers of the user's
  partner (to pick a customer by state).
- `new_page(user_key=None, lang="en")`; `sign_in(page, user_key)`; `choose_language(page, lang)`.
- `text(key, lang="en", **params)` a UI string from the pages' own tables; `plain(...)` without
  Markdown; `lead(key)` its text before the first placeholder; `alert(page, key)` the message
  box showing it; `metric_value(page, label)`.
- `download(page, button)` -> (file name, bytes); `parse_eml(bytes)`; `csv_rows(bytes)`.
- `page.goto(...)` opens a NEW Streamlit session, signed out: use `open_page` to stay signed in.

Chromium missing: the tests FAIL in CI (`CI` set), and skip with the reason elsewhere;
`scripts/ensure_browser.sh` (called by `make test`) installs it.
"""

from __future__ import annotations

import contextlib
import csv
import email
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from unittest import mock

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"

#: The portfolio per partner: big enough for paging-free charts and lists, quick to sync.
CUSTOMERS = 80
SEED = 42
#: Every wait is bounded: a hung page fails the test instead of the run.
TIMEOUT_MS = 60_000
START_TIMEOUT_S = 60.0
VIEWPORT = {"width": 1440, "height": 1800}
#: The tallest screenshot taken (Streamlit scrolls inside its own container, so the viewport
#: grows to the content's height for a screenshot).
MAX_SHOT_HEIGHT = 9000
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
#: Partners whose customer list is synced before the journeys (one seeded user of each).
SYNCED_USERS = ("admin-agent", "provider-admin", "indirect-reseller")

APP_RUN_DONE = '[data-testid="stApp"][data-test-script-state="notRunning"]'
APP_CONNECTED = '[data-testid="stApp"][data-test-connection-state="CONNECTED"]'


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def missing_browser(reason: str) -> None:
    """Fail in CI (a missing browser is a broken build), skip with the reason elsewhere."""
    message = f"{reason} Run scripts/ensure_browser.sh (make test does)."
    if in_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


# --- UI strings ------------------------------------------------------------------------------


def text(key: str, lang: str = "en", **params: Any) -> str:
    """A UI string as the pages show it, from the catalogs (locale/); a plural message takes
    its count from `n`."""
    from ui.i18n import has_message, plain_text

    assert has_message(key), f"no message {key!r} in the catalogs"
    return plain_text(key, lang, **params)


# --- processes -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], log: Path, ok: str) -> None:
    """Poll a health URL until it answers `ok`; a process that died shows its log."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"{url} never came up:\n{log.read_text(errors='replace')[-3000:]}")
        try:
            if ok in httpx.get(url, timeout=2).text:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    pytest.fail(f"{url} not healthy after {START_TIMEOUT_S:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@dataclass(frozen=True)
class App:
    """The dashboard under test and the standalone emulator behind it."""

    url: str
    emulator_url: str
    data_dir: Path
    env: dict[str, str]


def app_env(data_dir: Path, emulator_url: str, *, classic_tenant: bool = False) -> dict[str, str]:
    """A clean sandbox configuration: nothing from the developer's MCA_* or secrets.toml.
    `classic_tenant`: the classic channel (retired by Microsoft on 2026-01-05, an opt-in)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCA_")}
    if classic_tenant:
        env["MCA_ATTESTATION_CHANNEL"] = "classic"
    env.update(
        MCA_BACKEND="sandbox",
        MCA_SANDBOX_URL=emulator_url,
        MCA_DATA_DIR=str(data_dir),
        MCA_SANDBOX_CUSTOMERS=str(CUSTOMERS),
        MCA_RATE_LIMIT_PER_MINUTE="60000",
        MCA_SANDBOX_FIRST_SYNC="false",  # the journeys start from "Sync now"
        MCA_SECRETS_FILE=str(data_dir / "no-secrets.toml"),
        PYTHONUNBUFFERED="1",
    )
    return env


@contextlib.contextmanager
def standalone_emulator(data_dir: Path, *, classic_tenant: bool = False) -> Iterator[str]:
    """`python -m mca_core emulator` on a free loopback port, without its rate limit. It refuses
    the retired classic call, as production does, unless `classic_tenant` (a tenant that still
    accepts it)."""
    port = free_port()
    log = data_dir / "emulator.log"
    command = [
        sys.executable, "-m", "mca_core", "emulator", "--port", str(port),
        "--customers", str(CUSTOMERS), "--seed", str(SEED), "--data-dir", str(data_dir),
        "--rate-limit", "0",
        *(["--classic-retired-on", "never"] if classic_tenant else []),
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(f"{url}/sandbox/health", process, log, "ok")
        yield url
    finally:
        stop(process)


@pytest.fixture(scope="session")
def emulator_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The session's emulator: a tenant that still accepts the classic call, for the journeys
    of the classic forms (test_enhanced_journey runs production's defaults on its own)."""
    with standalone_emulator(tmp_path_factory.mktemp("emulator"), classic_tenant=True) as url:
        yield url


@pytest.fixture(scope="session")
def app(tmp_path_factory: pytest.TempPathFactory, emulator_url: str) -> Iterator[App]:
    """`streamlit run dashboard.py` on a free port, sandbox mode over the standalone emulator,
    with the customer lists of SYNCED_USERS' partners already synced."""
    data_dir = tmp_path_factory.mktemp("desk")
    env = app_env(data_dir, emulator_url, classic_tenant=True)
    with dashboard(data_dir, emulator_url, env, before=lambda: sync_as(SYNCED_USERS, env)) as app:
        yield app  # the lists synced while Streamlit starts; no page reads one before


@contextlib.contextmanager
def dashboard(
    data_dir: Path,
    emulator_url: str,
    env: dict[str, str],
    before: Callable[[], None] | None = None,
) -> Iterator[App]:
    """`streamlit run dashboard.py` on a free loopback port with `env` (its log in data_dir);
    `before` runs while it starts."""
    port = free_port()
    log = data_dir / "streamlit.log"
    command = [
        sys.executable, "-m", "streamlit", "run", "dashboard.py",
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
    ]  # fmt: skip
    with log.open("wb") as out:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if before is not None:
            before()
        wait_healthy(f"{url}/_stcore/health", process, log, "ok")
        yield App(url=url, emulator_url=emulator_url, data_dir=data_dir, env=env)
    finally:
        stop(process)


def sync_as(users: tuple[str, ...], env: dict[str, str]) -> None:
    """`python -m mca_core --as USER sync --full` for each user, in process (as a scheduler
    would run it, without an interpreter start per user)."""
    from mca_core.cli.main import main

    for user in users:
        out, err = io.StringIO(), io.StringIO()
        with mock.patch.dict(os.environ, env, clear=True):
            code = main(["--as", user, "sync", "--full"], out=out, err=err)
        assert code == 0, f"sync as {user} failed: {err.getvalue()[-2000:]}"


def synced_rows(app: App, user_key: str) -> list[dict[str, Any]]:
    """The latest synced customer rows of the user's partner, as the pages read them (tests use
    them to pick customers by state: not accepted, accepted, with a reseller...)."""
    from mca_core.emulator import SANDBOX_USERS
    from mca_core.store.database import Store
    from mca_core.usecases.sync import snapshot_scope

    store = Store(f"sqlite:///{(app.data_dir / 'desk.sqlite3').as_posix()}")
    try:
        scope = snapshot_scope(SANDBOX_USERS[user_key].identity(), "sandbox")
        snapshot = store.latest_snapshot(scope)
        assert snapshot is not None, f"no synced list for {user_key}"
        return store.snapshot_rows(snapshot.id)
    finally:
        store.dispose()


# --- the browser -----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium (`playwright install` cannot download here)."""
    executable = shutil.which("chromium")
    if executable is None:
        missing_browser("Debian's chromium is not installed.")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        missing_browser("Playwright is not installed (requirements-dev.txt).")
    expect.set_options(timeout=TIMEOUT_MS)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for stale in SCREENSHOTS.glob("*.png"):  # the folder shows this run only
        stale.unlink()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def new_page(browser: Any, app: App) -> Iterator[Callable[..., Any]]:
    """Factory: `new_page(user_key=None, lang="en")` -> a Page in a fresh browser context on the
    home page, signed in as that seeded user (or signed out when None)."""
    contexts: list[Any] = []

    def factory(user_key: str | None = None, *, lang: str = "en") -> Any:
        context = browser.new_context(
            viewport=VIEWPORT, accept_downloads=True, locale="en-US", timezone_id="UTC"
        )
        context.set_default_timeout(TIMEOUT_MS)
        contexts.append(context)
        page = context.new_page()
        page.goto(app.url)
        wait_for_app(page)
        if lang != "en":
            choose_language(page, lang)
        if user_key is not None:
            sign_in(page, user_key, lang=lang)
        return page

    yield factory
    for context in contexts:
        context.close()


def wait_for_app(page: Any) -> None:
    """Wait until Streamlit finished the run an interaction started, as Streamlit's own e2e tests
    do: connected, script `notRunning`, no status widget, no skeleton left."""
    from playwright.sync_api import expect

    page.wait_for_timeout(250)  # let a rerun request reach the server before looking
    page.locator(APP_CONNECTED).wait_for(state="attached", timeout=TIMEOUT_MS)
    page.locator(APP_RUN_DONE).wait_for(state="attached", timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0, timeout=TIMEOUT_MS)
    expect(page.get_by_test_id("stSkeleton")).to_have_count(0, timeout=TIMEOUT_MS)


def signed_in(browser: Any, app: App, user_key: str) -> tuple[Any, Any]:
    """A new browser context (its own session) on `app`, signed in as the seeded user:
    (context, page); close the context when done."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(app.url)
    wait_for_app(page)
    sign_in(page, user_key)
    return context, page


def sign_in(page: Any, user_key: str, *, lang: str = "en") -> None:
    """Home page -> the seeded user's radio option (by its visible name) -> Sign in."""
    from playwright.sync_api import expect

    from mca_core.emulator import SANDBOX_USERS

    user = SANDBOX_USERS[user_key]
    page.get_by_test_id("stRadio").get_by_text(user.display_name, exact=False).click()
    page.get_by_role("button", name=text("sign_in_button", lang)).click()
    wait_for_app(page)
    expect(page.get_by_test_id("stSidebar")).to_contain_text(user.display_name)


def choose_language(page: Any, lang: str) -> None:
    """The sidebar's language selectbox (a session setting, kept across pages)."""
    from ui.i18n import LANGUAGES

    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").click()
    page.get_by_role("option", name=LANGUAGES[lang]).click()
    wait_for_app(page)


def open_page(page: Any, title_key: str, lang: str = "en") -> None:
    """Go to a page through its sidebar link: the same Streamlit session, still signed in.
    (The page may still refuse the user: that is for the test to check.)"""
    from ui.nav import NAVIGATION, PAGE_PATHS

    path = next(PAGE_PATHS[file] for file, (key, _) in NAVIGATION.items() if key == title_key)
    page.get_by_test_id("stSidebar").get_by_role("link", name=text(title_key, lang)).click()
    page.wait_for_url(re.compile(re.escape(path.rstrip("/")) + r"/?(\?.*)?$"))
    wait_for_app(page)


def visible_panel(page: Any) -> Any:
    """The open tab's panel (the hidden tabs hold widgets with the same labels)."""
    return page.get_by_role("tabpanel").filter(visible=True)


def fill_in(
    page: Any, scope: Any, label: str, value: str, *, commit: bool = True, nth: int = 0
) -> None:
    """Type into the (`nth`) text input labelled `label`. `commit` presses Enter and waits for
    the rerun (outside a form); in a form leave it False: the submit button sends every field."""
    box = scope.get_by_label(label, exact=True).nth(nth)
    box.fill(value)
    if commit:
        box.press("Enter")
        wait_for_app(page)


def choose(page: Any, scope: Any, label: str, option: str, *, typed: str | None = None) -> None:
    """Pick the option containing `option` in the selectbox or multiselect labelled `label`,
    typing `typed` first to narrow a long list (the list shows only the first options)."""
    widget = scope.locator('[data-testid="stSelectbox"], [data-testid="stMultiSelect"]').filter(
        has=page.get_by_text(label, exact=True)
    )
    widget.locator("input").first.click()
    if typed:
        page.keyboard.type(typed)
    # Not the "Add: <typed>" entry a selectbox accepting new options puts first.
    options = page.get_by_role("option").filter(has_text=option)
    options.filter(has_not_text=re.compile(r"^Add: ")).first.click()
    wait_for_app(page)


def enter_date(page: Any, scope: Any, label: str, value: str) -> None:
    """Type a date into the date field labelled `label` as a person does: the field is a group
    of year / month / day segments (react-aria), typed as digits; a partial value ("2025-03")
    leaves the later segments empty. Then leave the field."""
    group = scope.get_by_role("group", name=label).first
    segments = group.get_by_role("spinbutton")
    segments.first.click()
    for index, part in enumerate(value.split("-")):
        if index and part:
            segments.nth(index).click()
        if part:
            page.keyboard.type(part)
    page.keyboard.press("Escape")  # the calendar the field opened closes; the value stays
    wait_for_app(page)


def plain(key: str, lang: str = "en", **params: Any) -> str:
    """A UI string as the browser shows it: Markdown's ** and ` markers gone."""
    return re.sub(r"\*\*|`", "", text(key, lang, **params))


def lead(key: str, lang: str = "en") -> str:
    """The part of a UI string before its first placeholder, as shown (for messages that carry
    a request id or a count)."""
    return re.sub(r"\*\*|`", "", text(key, lang).split("{", 1)[0]).strip().rstrip("(").strip()


def alert(page: Any, key: str, lang: str = "en") -> Any:
    return page.get_by_test_id("stAlert").filter(has_text=lead(key, lang))


def download(page: Any, button: Any) -> tuple[str, bytes]:
    """Click a download button; the file's suggested name and bytes."""
    with page.expect_download() as info:
        button.click()
    done = info.value
    return done.suggested_filename, Path(done.path()).read_bytes()


def parse_eml(data: bytes) -> tuple[EmailMessage, str, str]:
    message = email.message_from_bytes(data, policy=policy.default)
    assert isinstance(message, EmailMessage)
    plain_part = message.get_body(preferencelist=("plain",))
    html_part = message.get_body(preferencelist=("html",))
    assert plain_part is not None and html_part is not None, "the .eml needs text and HTML"
    return message, plain_part.get_content(), html_part.get_content()


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def metric_value(page: Any, label: str) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=label).first
    return metric.get_by_test_id("stMetricValue").inner_text().strip()


def screenshot(page: Any, name: str) -> Path:
    """The whole page as artifacts/screenshots/<name>.png: the viewport grows to the height of
    Streamlit's scrolling main container for the shot, then returns to its size."""
    height = page.evaluate(
        """() => {
            const main = document.querySelector('[data-testid="stMain"]');
            const side = document.querySelector('[data-testid="stSidebarContent"]');
            return Math.max(main ? main.scrollHeight : 0, side ? side.scrollHeight : 0);
        }"""
    )
    size = page.viewport_size or VIEWPORT
    tall = min(MAX_SHOT_HEIGHT, max(int(height) + 40, size["height"]))
    path = SCREENSHOTS / f"{name}.png"
    if tall != size["height"]:
        page.set_viewport_size({"width": size["width"], "height": tall})
        page.wait_for_timeout(150)  # the width is unchanged: only new rows of content paint
    try:
        page.screenshot(path=str(path), full_page=False, animations="disabled")
    finally:
        if tall != size["height"]:
            page.set_viewport_size(size)
    return path
