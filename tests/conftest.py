"""Shared fixtures: a small seeded emulator in-process, and clients for its seeded users."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from mca_core.auth.providers import SandboxTokenProvider
from mca_core.domain.models import TokenKind
from mca_core.emulator import Emulator
from mca_core.partner_center.client import PartnerCenterClient, TemplateCache
from mca_core.partner_center.ratelimit import RateLimiter
from mca_core.partner_center.retry import RetryPolicy

ROOT = Path(__file__).resolve().parent.parent
BASE_URL = "https://partnercenter.test"
SMALL_PORTFOLIO = 60


@pytest.fixture
def emulator(tmp_path) -> Emulator:
    return Emulator(tmp_path / "emulator", customers=SMALL_PORTFOLIO, seed=7)


class Sleeper:
    """A fake sleep that records what the client waited, without waiting."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def make_client(emulator) -> AsyncIterator[Callable[..., PartnerCenterClient]]:
    """Build clients over the in-process emulator (or a given transport)."""
    opened: list[httpx.AsyncClient] = []

    def factory(
        user: str = "admin-agent",
        *,
        kind: TokenKind = TokenKind.APP_USER,
        mfa: bool = True,
        transport: httpx.AsyncBaseTransport | None = None,
        emu: Emulator | None = None,
        timeout: float = 5.0,
        retry: RetryPolicy | None = None,
        sleep: Sleeper | None = None,
    ) -> PartnerCenterClient:
        source = emu or emulator
        http = httpx.AsyncClient(transport=transport or source.transport(), base_url=BASE_URL)
        opened.append(http)

        def issue(key: str, kind: TokenKind = kind) -> str:
            return source.issue_token(key, mfa=mfa, kind=kind)

        tokens = SandboxTokenProvider(user, issue=issue, kind=kind, check_mfa=False)
        extra = {"sleep": sleep} if sleep is not None else {}
        limiter = RateLimiter(600_000, **extra)  # a fake sleep also skips the limiter's pauses
        return PartnerCenterClient(
            http,
            tokens,
            base_url=BASE_URL,
            limiter=limiter,
            timeout=timeout,
            retry=retry or RetryPolicy(max_attempts=4),
            templates=TemplateCache(),
            **extra,
        )

    yield factory
    for http in opened:
        await http.aclose()


#: The classic channel against a tenant that still accepts the retired call (opt-in).
CLASSIC_TENANT_ENV = {
    "MCA_ATTESTATION_CHANNEL": "classic",
    "MCA_SANDBOX_CLASSIC_RETIRED_ON": "never",
}


def _classic_tenant(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if request.node.get_closest_marker("classic_tenant"):
        for name, value in CLASSIC_TENANT_ENV.items():
            monkeypatch.setenv(name, value)


@pytest.fixture(autouse=True)
def classic_tenant(request, monkeypatch) -> None:
    """Tests marked `classic_tenant` exercise the classic channel, which production refused
    from 2026-01-05: they configure a tenant that still accepts it. Everything else runs on
    the defaults, as production: the enhanced channel, the classic call refused."""
    _classic_tenant(request, monkeypatch)


@pytest.fixture
def sandbox_env(tmp_path, monkeypatch, request):
    """A clean sandbox configuration: own data dir, small portfolio, no local secrets file."""
    for name in list(os.environ):
        if name.startswith("MCA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("MCA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("MCA_SANDBOX_CUSTOMERS", "40")
    # pages open on an empty sandbox (their tests sync by hand); test_sync_jobs turns it on
    monkeypatch.setenv("MCA_SANDBOX_FIRST_SYNC", "false")
    monkeypatch.setenv("MCA_RATE_LIMIT_PER_MINUTE", "60000")
    monkeypatch.setenv("MCA_SECRETS_FILE", str(tmp_path / "no-secrets.toml"))
    monkeypatch.chdir(ROOT)
    _classic_tenant(request, monkeypatch)
    return tmp_path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A real PostgreSQL database for the store's tests (see tests/pg.py)."""
    from .pg import temporary_cluster

    given = os.environ.get("MCA_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    with temporary_cluster() as url:
        yield url


def pytest_collection_modifyitems(config, items):
    """Browser tests run last: their session-wide Playwright loop would otherwise sit under the
    async tests that follow them in the same run."""
    for item in items:  # a browser test is one by where it lives, whatever it declares
        if "e2e" in item.path.parts and item.get_closest_marker("e2e") is None:
            item.add_marker(pytest.mark.e2e)
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


# Real receivers of what the desk sends (tests/receivers.py): `smtp_server`, `webhook`.
from .receivers import smtp_server, webhook  # noqa: E402, F401
