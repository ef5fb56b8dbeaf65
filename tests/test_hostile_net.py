"""Defects of a hostile test run (issue 11): a Retry-After of an hour (or garbage), ids that walk
out of their URL segment, and emulator endpoints fed bodies no client would send."""

from __future__ import annotations

import asyncio
import io
import json
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mca_core.auth.providers import SandboxTokenProvider
from mca_core.cli.main import main
from mca_core.domain import errors
from mca_core.domain.models import TokenKind
from mca_core.emulator import SANDBOX_USERS, Emulator, FaultConfig, run_in_thread
from mca_core.partner_center.client import PartnerCenterClient, TemplateCache, _parse_retry_after
from mca_core.partner_center.ratelimit import RateLimiter
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.database import Store
from mca_core.usecases.sync import sync_acceptance

from .conftest import SMALL_PORTFOLIO, Sleeper

BASE = "https://partnercenter.test"
ADMIN = SANDBOX_USERS["admin-agent"].identity()
HOUR = "3600"
NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def run_cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def mock_client(
    handler, *, budget: float = 0.5, attempts: int = 4, fake_sleep: bool = False
) -> PartnerCenterClient:
    """A client over an httpx MockTransport; real sleeps unless `fake_sleep`."""
    http = httpx.AsyncClient(transport=httpx.MockTransport(handler), base_url=BASE)
    tokens = SandboxTokenProvider("admin-agent", issue=lambda key, kind=None: "t", check_mfa=False)
    extra = {"sleep": Sleeper()} if fake_sleep else {}
    return PartnerCenterClient(
        http,
        tokens,
        base_url=BASE,
        limiter=RateLimiter(600_000, **extra),
        retry=RetryPolicy(max_attempts=attempts, budget_seconds=budget),
        templates=TemplateCache(),
        **extra,
    )


def throttled(retry_after: str) -> httpx.Response:
    return httpx.Response(
        429,
        headers={"Retry-After": retry_after},
        json={"statusCode": 429, "message": f"Rate limit is exceeded. Try again in {retry_after}."},
    )


# --- A. Retry-After ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("3600", 3600.0),
        ("0", 0.0),
        (" 2 ", 2.0),
        ("inf", None),
        ("nan", None),
        ("1e309", None),
        ("-5", None),
        ("soon", None),
        ("", None),
        ("1.5.3", None),
        ("2026-11-30 10:00:00", None),  # no time zone: not an HTTP-date
        ("Mon, 30 Nov 2026 10:00:00 -0000", None),  # -0000 parses to a naive datetime
        ("Mon, 30 Nov 2026 10:00:00 GMT", 3600.0),
        ("Wed, 21 Oct 2026 07:28:00 GMT", 0.0),  # in the past: no wait
        (None, None),
    ],
)
def test_retry_after_values_parse_or_fall_back_to_none(value, expected):
    assert _parse_retry_after(value, now=NOW) == expected


@pytest.mark.parametrize(
    "value",
    [
        "inf",
        "nan",
        "1e309",
        "-1",
        "soon",
        "",
        "1.5.3",
        "2026-11-30 10:00:00",
        "Wed, 21 Oct 2026 07:28:00 -0000",
        "Wed, 21 Oct 2026 07:28:00 GMT",
        "Thu, 01 Jan 2099 00:00:00 GMT",
    ],
)
async def test_a_hostile_retry_after_is_a_throttled_error_never_an_internal_one(value):
    pc = mock_client(lambda request: throttled(value), budget=5, attempts=2, fake_sleep=True)
    with pytest.raises(errors.Throttled):
        await pc.get_attestations(str(uuid.uuid4()))
    assert pc.limiter.reserve() <= 5.0  # paused no longer than the budget, if at all


def test_the_limiter_pause_is_clamped_and_ignores_non_finite_values():
    now = [1000.0]
    limiter = RateLimiter(600_000, clock=lambda: now[0])
    for value in (float("inf"), float("nan"), -3.0, None):
        limiter.throttled(value)
        assert limiter.reserve() < 0.01
    limiter.throttled(3600, max_pause=2.0)
    assert limiter.reserve() == pytest.approx(2.0)
    now[0] += 10
    limiter.throttled(3600)  # default cap: the default retry budget
    assert limiter.reserve() <= 180.0 + 0.01


async def test_an_hour_long_retry_after_fails_that_call_fast_and_the_others_go_on():
    victim = str(uuid.uuid4())
    answered = asyncio.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        if victim in request.url.path:
            answered.set()
            return throttled(HOUR)
        return httpx.Response(200, json={"items": []})

    pc = mock_client(handler, budget=0.5)

    async def victim_call() -> float:
        started = time.monotonic()
        with pytest.raises(errors.Throttled) as caught:
            await pc.get_attestations(victim)
        assert caught.value.retry_after == 3600
        text = str(caught.value)
        assert "asked to wait 3600 seconds" in text and "budget" in text
        return time.monotonic() - started

    async def other_call() -> float:
        await answered.wait()
        await asyncio.sleep(0.02)  # the 429 has reached the shared limiter
        started = time.monotonic()
        assert await pc.get_attestations(str(uuid.uuid4())) == []
        return time.monotonic() - started

    others = 5
    try:
        waits = await asyncio.wait_for(
            asyncio.gather(victim_call(), *(other_call() for _ in range(others))), timeout=10
        )
    finally:
        await pc.http.aclose()
    assert waits[0] < 1.0  # the throttled call itself failed at once
    assert max(waits[1:]) < 0.5 + 0.5  # the others waited at most the budget
    assert pc.stats.failures == 1 and pc.stats.retries == 0


async def test_a_sync_with_one_customer_throttled_for_an_hour_ends_in_time(
    emulator, make_client, tmp_path
):
    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    try:
        victim = (await make_client().list_customers())[5].id
        emulator.faults = FaultConfig(throttle_path=victim, throttle_path_retry_after=HOUR)
        budget = 1.0
        pc = make_client(retry=RetryPolicy(max_attempts=4, budget_seconds=budget))
        started = time.monotonic()
        summary = await asyncio.wait_for(
            sync_acceptance(pc, store, ADMIN, backend="sandbox", source="per_customer"),
            timeout=30,
        )
        assert time.monotonic() - started < 10 * budget
        assert summary.customers == SMALL_PORTFOLIO and summary.failed == 1
        rows = {r["customer_id"]: r for r in store.snapshot_rows(summary.snapshot_id)}
        assert "Throttled" in rows[victim]["error"] and "3600" in rows[victim]["error"]
        assert rows[victim]["accepted"] is None
    finally:
        store.dispose()


async def test_the_emulator_injects_a_verbatim_retry_after_for_one_path(emulator):
    token = emulator.issue_token("admin-agent")
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(transport=emulator.transport(), base_url=BASE) as http:
        victim = (await http.get("/v1/customers", headers=headers)).json()["items"][0]["id"]
        answer = await http.put(
            "/sandbox/faults",
            json={"throttle_path": victim, "throttle_path_retry_after": "soon"},
        )
        assert answer.status_code == 200
        hit = await http.get(f"/v1/customers/{victim}/agreements", headers=headers)
        assert hit.status_code == 429 and hit.headers["Retry-After"] == "soon"
        assert (await http.get("/v1/customers", headers=headers)).status_code == 200


# --- B. ids in URLs ------------------------------------------------------------------------------


async def test_the_client_puts_an_id_into_one_escaped_path_segment():
    seen: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.url.raw_path)
        return httpx.Response(200, json={"items": [], "isSigned": False})

    pc = mock_client(handler, fake_sleep=True)
    try:
        await pc.get_attestations("a/b?c#d")
        await pc.get_direct_signing_status("../x")
        assert seen[0].startswith(b"/v1/customers/a%2Fb%3Fc%23d/agreements?")
        assert seen[1] == b"/v1/customers/..%2Fx/directSignedMicrosoftCustomerAgreementStatus"
        for bad in ("..", ".", ""):
            with pytest.raises(errors.InvalidInput) as caught:
                await pc.get_customer(bad)
            assert caught.value.fields == ["customer_id"]
        with pytest.raises(errors.InvalidInput):
            await pc.call("GET", "/v1/customers/../agreements")
        assert len(seen) == 2  # nothing refused reached the wire
    finally:
        await pc.http.aclose()


@pytest.mark.parametrize("bad", ["../reset?x=", "a/b", "x?y", "x#y", "..", "a b"])
def test_sandbox_accept_refuses_an_id_that_cannot_be_valid(sandbox_env, bad):
    code, out, err = run_cli("--json", "sandbox-accept", bad)
    assert code == 2, err
    assert json.loads(out)["error"] == "invalid_input"
    assert "attestation_id" in out + err


def test_sandbox_accept_cannot_reset_a_standalone_emulator(tmp_path, monkeypatch, sandbox_env):
    emulator = Emulator(tmp_path / "standalone", customers=10, seed=3)
    with emulator.store.reading() as conn:
        customer_id = conn.execute("SELECT id FROM customers WHERE direct_signed = 0").fetchone()[0]
    assert emulator.set_direct_signing(customer_id, True)  # a reset would undo this
    before = emulator.health()
    with run_in_thread(emulator, "127.0.0.1", 0) as base_url:
        monkeypatch.setenv("MCA_SANDBOX_URL", base_url)
        code, _, err = run_cli("sandbox-accept", "../reset?x=")
        after = httpx.get(f"{base_url}/sandbox/health").json()
    assert code == 2, err
    assert "attestation_id" in err
    assert after["seededAt"] == before["seededAt"]
    assert after["directSigned"] == before["directSigned"]
    assert after["customers"] == before["customers"]


@pytest.mark.parametrize(
    "path",
    [
        "/sandbox/attestations/..%2Freset/accept",
        "/sandbox/attestations/..%2F..%2Fsandbox%2Freset",
        "/sandbox/attestations/%2E%2E/%2E%2E/reset",
        "/v1/customers/%2E%2E/agreements",
    ],
)
async def test_the_emulator_does_not_follow_an_encoded_traversal(emulator, path):
    before = emulator.health()["seededAt"]
    async with httpx.AsyncClient(transport=emulator.transport(), base_url=BASE) as http:
        answer = await http.post(path, json={})
    assert answer.status_code == 400
    assert answer.json()["code"] == 400056
    assert emulator.health()["seededAt"] == before


# --- C. emulator robustness ----------------------------------------------------------------------

DEEP_LIST = b"[" * 100_000 + b"]" * 100_000
DEEP_OBJECT = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
BAD_BODIES = {
    "list": b'["admin-agent"]',
    "deep list": DEEP_LIST,
    "deep object": DEEP_OBJECT,
    "not json": b"\xff\xfe user=admin",
    "user is a list": b'{"user": ["admin-agent"]}',
    "user is an object": b'{"user": {"a": 1}}',
    "kind is a list": b'{"user": "admin-agent", "kind": [1]}',
    "NaN": b'{"user": NaN}',
}


@pytest.mark.parametrize("name", list(BAD_BODIES))
async def test_sandbox_token_answers_400_to_a_bad_body(emulator, name):
    async with httpx.AsyncClient(transport=emulator.transport(), base_url=BASE) as http:
        answer = await http.post(
            "/sandbox/token",
            content=BAD_BODIES[name],
            headers={"Content-Type": "application/json"},
        )
    assert answer.status_code == 400
    assert answer.json()["code"] == 400056


@pytest.mark.parametrize("body", [DEEP_LIST, DEEP_OBJECT, b"[1, 2]", b"{nope", b"Infinity"])
async def test_every_emulator_body_answers_400_not_500(emulator, body):
    app_user = {"Authorization": f"Bearer {emulator.issue_token('admin-agent')}"}
    app_only = {
        "Authorization": f"Bearer {emulator.issue_token('admin-agent', kind=TokenKind.APP_ONLY)}"
    }
    async with httpx.AsyncClient(transport=emulator.transport(), base_url=BASE) as http:
        cid = (await http.get("/v1/customers", headers=app_user)).json()["items"][0]["id"]
        targets = [
            ("POST", "/v1/customers", app_user),
            ("POST", f"/v1/customers/{cid}/agreements", app_user),
            ("POST", "/v1/attestations/enhanced", app_only),
            ("PUT", "/sandbox/faults", {}),
            ("POST", f"/sandbox/customers/{cid}/direct-signing", {}),
            ("PUT", "/sandbox/enhanced", {}),
            ("POST", "/sandbox/clock", {}),
        ]
        for method, path, headers in targets:
            answer = await http.request(
                method,
                path,
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            assert answer.status_code == 400, (method, path, answer.text[:200])
            assert answer.json()["code"] == 400056, (method, path)


@pytest.mark.parametrize(
    "settings",
    [
        b'{"latency_ms": 1e400}',  # a JSON number that overflows to infinity
        b'{"retry_after_seconds": 1e400}',
        b'{"timeout_hang_seconds": "inf"}',
        b'{"rate_limit_per_minute": "nan"}',
        b'{"fault_429": "nan"}',
        b'{"latency_ms": Infinity}',
    ],
)
async def test_fault_settings_refuse_non_finite_numbers(emulator, settings):
    async with httpx.AsyncClient(transport=emulator.transport(), base_url=BASE) as http:
        answer = await http.put("/sandbox/faults", content=settings)
    assert answer.status_code == 400
    assert emulator.faults == FaultConfig()


def _serve_nothing(*args, **kwargs) -> None:
    return None


@pytest.mark.parametrize(
    ("host", "warned"),
    [("0.0.0.0", True), ("::", True), ("192.168.1.20", True), ("127.0.0.1", False)],
)
def test_the_emulator_command_warns_when_bound_beyond_loopback(
    tmp_path: Path, monkeypatch, sandbox_env, host, warned
):
    import mca_core.emulator

    monkeypatch.setattr(mca_core.emulator, "serve", _serve_nothing)
    argv = ["emulator", "--host", host, "--port", "0", "--customers", "3"]
    code, _, err = run_cli(*argv, "--data-dir", str(tmp_path / "emu"))
    assert code == 0, err
    assert ("WARNING" in err) is warned
    if warned:
        assert "/sandbox/" in err and "reset" in err and "token" in err


def test_the_emulator_module_warns_too(tmp_path: Path, monkeypatch, capsys):
    from mca_core.emulator import __main__ as entry

    monkeypatch.setattr(entry, "serve", _serve_nothing)
    entry.main(["--host", "0.0.0.0", "--customers", "3", "--data-dir", str(tmp_path / "e")])
    assert "WARNING" in capsys.readouterr().err
