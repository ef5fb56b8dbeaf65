"""No page calls a deprecated Streamlit API (issue 10, item 8).

Streamlit reports most deprecations through its logger (`streamlit.deprecation_util.
show_deprecation_warning`, e.g. "Please replace `use_container_width` with `width` ... will be
removed after 2025-12-31"), not as Python warnings, and pyproject.toml ignores Streamlit's
DeprecationWarnings besides: so this test listens on every channel at once while each page runs,
signed in as each seeded user over a synced sandbox: Streamlit's deprecation function, every
`streamlit.*` logger and Python's warnings (always shown here, whatever the global filters).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import warnings
from collections.abc import Iterator
from unittest import mock

import pytest
import streamlit.logger as st_logger
from streamlit import deprecation_util
from streamlit.testing.v1 import AppTest

from mca_core.cli.main import main
from mca_core.emulator import SANDBOX_USERS

from .conftest import ROOT

PAGES = ("dashboard.py", *(f"pages/{p.name}" for p in sorted((ROOT / "pages").glob("*.py"))))

#: What Streamlit and libraries say when an API is on its way out.
DEPRECATION = re.compile(
    r"deprecat|will be removed|removed after|removed in a (future|later)|no longer supported"
    r"|disallowed in a later",
    re.IGNORECASE,
)
WARNING_KINDS = (DeprecationWarning, PendingDeprecationWarning, FutureWarning)


class _Collect(logging.Handler):
    def __init__(self, found: list[str]) -> None:
        super().__init__(logging.WARNING)
        self.found = found

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if DEPRECATION.search(message):
            self.found.append(f"log {record.name}: {message}")


@contextlib.contextmanager
def deprecation_spy() -> Iterator[list[str]]:
    """Every deprecation reported inside the block, as readable lines."""
    found: list[str] = []
    handler = _Collect(found)
    # Streamlit's loggers do not propagate: listen on each, and on any created meanwhile.
    names = [n for n in logging.Logger.manager.loggerDict if n.startswith("streamlit")]
    loggers = {logging.getLogger(n) for n in [*names, "streamlit"]}
    original_get_logger = st_logger.get_logger

    def get_logger(name: str) -> logging.Logger:
        logger = original_get_logger(name)
        if handler not in logger.handlers:
            logger.addHandler(handler)
            loggers.add(logger)
        return logger

    def spy(message: str, *args: object, **kwargs: object) -> None:
        found.append(f"show_deprecation_warning: {message}")

    for logger in loggers:
        logger.addHandler(handler)
    # show_once deprecations already shown earlier in this process would be skipped silently.
    deprecation_util._shown_warnings.clear()
    try:
        with (
            warnings.catch_warnings(record=True) as caught,
            # Callers that look the function up on its module (st.components.v1's wrappers, v2).
            mock.patch.object(deprecation_util, "show_deprecation_warning", spy),
            mock.patch.object(st_logger, "get_logger", get_logger),
        ):
            warnings.simplefilter("always")
            yield found
            found.extend(
                f"{w.category.__name__} {w.filename}:{w.lineno}: {w.message}"
                for w in caught
                if issubclass(w.category, WARNING_KINDS) or DEPRECATION.search(str(w.message))
            )
    finally:
        for logger in loggers:
            logger.removeHandler(handler)


@pytest.fixture(scope="module")
def synced_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One sandbox for the module: every seeded user's partner synced, so the Overview draws
    its charts and tables (where the deprecated calls were)."""
    data = tmp_path_factory.mktemp("deprecations")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("MCA_"):
                mp.delenv(name)
        mp.setenv("MCA_DATA_DIR", str(data / "data"))
        mp.setenv("MCA_SANDBOX_CUSTOMERS", "40")
        mp.setenv("MCA_RATE_LIMIT_PER_MINUTE", "60000")
        mp.setenv("MCA_SECRETS_FILE", str(data / "no-secrets.toml"))
        mp.chdir(ROOT)
        for user in SANDBOX_USERS:
            if user == "manager":  # read-only: reads its partner's snapshot (admin-agent's sync)
                continue
            code = main(["--as", user, "sync"], out=io.StringIO(), err=io.StringIO())
            assert code == 0, f"sync as {user}"
        yield


def run_page(page: str, user: str | None) -> list[str]:
    at = AppTest.from_file(str(ROOT / page), default_timeout=90)
    if user is not None:
        at.session_state["sandbox_user_key"] = user
    with deprecation_spy() as found:
        at.run()
    assert not at.exception, [e.value for e in at.exception]
    return found


@pytest.mark.parametrize("page", PAGES)
@pytest.mark.parametrize("user", list(SANDBOX_USERS))
def test_no_page_reports_a_deprecation(synced_sandbox, page, user):
    assert run_page(page, user) == []


def test_signed_out_home_reports_no_deprecation(synced_sandbox):
    assert run_page("dashboard.py", None) == []


def _deprecated_calls() -> None:  # an AppTest script: runs on its own, imports inside
    import pandas as pd
    import plotly.express as px
    import streamlit as st

    frame = pd.DataFrame({"a": [1, 2], "b": [3, 4]})
    st.plotly_chart(px.bar(frame, x="a", y="b"), use_container_width=True)
    st.dataframe(frame, use_container_width=True)


def test_the_spy_catches_a_deprecated_call(synced_sandbox):
    """The test above would fail on the calls it was written for (the Overview's charts and
    table used `use_container_width`, logged 'will be removed after 2025-12-31')."""
    at = AppTest.from_function(_deprecated_calls, default_timeout=60)
    with deprecation_spy() as found:
        at.run()
    assert not at.exception
    assert len(found) == 2, found
    assert all("use_container_width" in line for line in found)


def test_the_spy_catches_python_deprecation_warnings():
    with deprecation_spy() as found:
        warnings.warn("old thing is deprecated", DeprecationWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
    assert len(found) == 1 and "old thing" in found[0]


def test_no_page_source_uses_use_container_width():
    """Branches a page run may not reach (the Alerts page's tables appear only with a channel
    configured and alerts sent) are read as source: `width=` replaced `use_container_width`."""
    sources = [ROOT / "dashboard.py", *(ROOT / "pages").glob("*.py"), *(ROOT / "ui").rglob("*.py")]
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for path in sources
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if "use_container_width" in line
    ]
    assert found == []
