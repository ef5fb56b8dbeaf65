"""The command-line contract: names, JSON fields and exit codes, in sandbox and in live mode
against the standalone emulator over loopback."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from mca_core.cli.main import main
from mca_core.emulator import Emulator, run_in_thread

ROOT = Path(__file__).resolve().parent.parent


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def run_json(*argv: str):
    code, out, err = run("--json", *argv)
    return code, (json.loads(out) if out.strip() else None), err


def unaccepted_customer_id() -> str:
    _, customers, _ = run_json("customers")
    for c in customers:
        _, status, _ = run_json("status", c["id"])
        if not status["accepted"]:
            return c["id"]
    pytest.fail("the seed has no unaccepted customer")


def test_customers_json(sandbox_env):
    code, docs, err = run_json("customers")
    assert code == 0, err
    assert len(docs) == 40
    assert set(docs[0]) == {"id", "company_name", "domain", "relationship"}
    assert all(d["domain"].endswith(".onmicrosoft.com") for d in docs)


def test_customers_text(sandbox_env):
    code, out, _ = run("customers")
    assert code == 0 and out.strip().endswith("40 customers")


def test_status_json_fields(sandbox_env):
    _, customers, _ = run_json("customers")
    code, doc, _ = run_json("status", customers[0]["id"])
    assert code == 0
    assert set(doc) == {
        "customer_id",
        "state",
        "accepted",
        "latest_acceptance_date",
        "current_mca_since",
        "attested",
        "direct_signed",
        "latest_attestation",
    }
    assert doc["state"] in ("accepted", "reacceptance_required", "not_accepted")
    assert doc["accepted"] == (doc["state"] == "accepted")
    current = (doc["latest_acceptance_date"] or "") >= doc["current_mca_since"]
    assert doc["accepted"] == (current or bool(doc["direct_signed"]))
    if doc["latest_attestation"]:
        assert set(doc["latest_attestation"]) == {"date_agreed", "first_name", "last_name", "email"}


def test_status_by_domain(sandbox_env):
    _, customers, _ = run_json("customers")
    code, doc, _ = run_json("status", customers[3]["domain"])
    assert code == 0 and doc["customer_id"] == customers[3]["id"]


@pytest.mark.classic_tenant
def test_attest_then_again_is_done_and_says_so(sandbox_env):
    cid = unaccepted_customer_id()
    args = (
        "attest",
        cid,
        "--first-name",
        "Jane",
        "--last-name",
        "Doe",
        "--email",
        "jane@contoso.com",
        "--phone",
        "+1 425 555 0100",
        "--date",
        datetime.now(UTC).date().isoformat(),
    )
    code, doc, err = run_json(*args)
    assert code == 0, err
    assert doc["outcome"] == "attested" and doc["request_id"]
    assert doc["attestation"]["date_agreed"] == datetime.now(UTC).date().isoformat()
    code, doc, _ = run_json(*args)
    assert code == 0 and doc["outcome"] == "already_attested"
    assert "already attested" in doc["message"].lower()
    code, out, _ = run(*args)
    assert code == 0 and "already attested" in out
    _, status, _ = run_json("status", cid)
    assert status["accepted"] and status["attested"]
    assert status["latest_attestation"]["email"] == "jane@contoso.com"


@pytest.mark.classic_tenant
def test_future_date_is_invalid_input_naming_the_field(sandbox_env):
    cid = unaccepted_customer_id()
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    code, _, err = run(
        "attest",
        cid,
        "--first-name",
        "Jane",
        "--last-name",
        "Doe",
        "--email",
        "jane@contoso.com",
        "--date",
        tomorrow,
    )
    assert code == 2
    assert "date_agreed" in err and "UTC" in err and "Traceback" not in err


@pytest.mark.classic_tenant
@pytest.mark.parametrize("date_args", [(), ("--date", ""), ("--date", "2025-11-20 garbage")])
def test_classic_attest_never_defaults_or_guesses_the_date(sandbox_env, date_args):
    """Issue 10.1 / 11.9: `--date` missing, empty or loose is invalid input; nothing is sent."""
    cid = unaccepted_customer_id()
    _, before, _ = run_json("status", cid)
    code, doc, err = run_json(
        "attest",
        cid,
        "--first-name",
        "Jane",
        "--last-name",
        "Doe",
        "--email",
        "j@contoso.com",
        *date_args,
    )
    assert code == 2 and doc["error"] == "invalid_input", err
    assert doc["problems"][0]["field"] in ("--date", "date_agreed")
    assert "YYYY-MM-DD" in err
    _, status, _ = run_json("status", cid)
    assert status == before  # nothing was sent


def test_bad_email_and_unknown_customer_are_invalid_input(sandbox_env):
    cid = unaccepted_customer_id()
    code, _, err = run(
        "attest", cid, "--first-name", "Jane", "--last-name", "Doe", "--email", "jane@"
    )
    assert code == 2 and "email" in err
    code, doc, err = run_json(
        "attest",
        "00000000-0000-4000-8000-000000000000",
        "--first-name",
        "Jane",
        "--last-name",
        "Doe",
        "--email",
        "jane@contoso.com",
        "--date",
        "2025-11-20",
    )
    assert code == 2 and doc["error"] == "invalid_input"
    assert doc["problems"][0]["field"] == "customer"
    code, _, err = run("status", "not a customer")
    assert code == 2 and "CUSTOMER_ID" in err


@pytest.mark.parametrize("user", ["helpdesk-agent", "indirect-reseller"])
def test_roles_that_may_not_attest_exit_3(sandbox_env, user):
    code, customers, _ = run_json("--as", user, "customers")
    assert code == 0 and customers
    code, doc, err = run_json(
        "--as",
        user,
        "attest",
        customers[0]["id"],
        "--first-name",
        "Jane",
        "--last-name",
        "Doe",
        "--email",
        "jane@contoso.com",
    )
    assert code == 3 and doc["error"] == "refused"
    if user == "indirect-reseller":
        assert "provider" in err.lower()


def test_argument_errors_exit_2(sandbox_env):
    with pytest.raises(SystemExit) as exc:
        main(["attest", "x"], out=io.StringIO(), err=io.StringIO())
    assert exc.value.code == 2


def test_sync_summary(sandbox_env):
    code, doc, err = run_json("sync")
    assert code == 0, err
    for key in (
        "customers",
        "accepted",
        "reacceptance_required",
        "attested",
        "direct_signed",
        "not_accepted",
        "failed",
        "api_calls",
        "seconds",
    ):
        assert key in doc
    assert doc["customers"] == 40 and doc["failed"] == 0
    assert doc["accepted"] + doc["reacceptance_required"] + doc["not_accepted"] == 40


@pytest.mark.classic_tenant
def test_live_mode_against_the_standalone_emulator(tmp_path, monkeypatch, sandbox_env):
    emulator = Emulator(tmp_path / "standalone", customers=30, seed=11)
    with run_in_thread(emulator, "127.0.0.1", 0) as base_url:

        def token(user: str) -> str:
            r = httpx.post(f"{base_url}/sandbox/token", json={"user": user})
            return r.json()["access_token"]

        monkeypatch.setenv("MCA_ACCESS_TOKEN", token("admin-agent"))
        code, customers, err = run_json("--backend", "live", "--base-url", base_url, "customers")
        assert code == 0, err
        assert len(customers) == 30
        cid = customers[0]["id"]
        code, status, _ = run_json("--backend", "live", "--base-url", base_url, "status", cid)
        assert code == 0 and status["customer_id"] == cid

        # a pre-acquired token: the role is unknown locally, the service's 403 judges -> 3
        monkeypatch.setenv("MCA_ACCESS_TOKEN", token("helpdesk-agent"))
        code, doc, err = run_json(
            "--backend",
            "live",
            "--base-url",
            base_url,
            "attest",
            cid,
            "--first-name",
            "Jane",
            "--last-name",
            "Doe",
            "--email",
            "jane@contoso.com",
            "--date",
            "2025-11-20",
        )
        assert code == 3 and doc["status"] == 403 and doc["request_id"]
        assert "MS-RequestId" in err

        monkeypatch.setenv("MCA_ACCESS_TOKEN", "not-a-jwt")
        code, doc, err = run_json("--backend", "live", "--base-url", base_url, "customers")
        assert code == 1 and doc["status"] == 401 and "Traceback" not in err


def test_module_entry_point_prints_no_traceback(sandbox_env):
    env = {**os.environ}
    result = subprocess.run(
        [sys.executable, "-m", "mca_core", "--json", "status", "nope nope"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert json.loads(result.stdout)["error"] == "invalid_input"


def test_an_unexpected_error_is_a_message_and_exit_1(sandbox_env, monkeypatch):
    import mca_core.cli.main as cli_module

    def boom(cli):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(cli_module, "cmd_customers", boom)
    code, doc, err = run_json("customers")
    assert code == 1 and doc["error"] == "internal"
    assert "disk on fire" in err and "Traceback" not in err


def test_emulator_command_serves_the_contract_flags(tmp_path):
    import socket
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mca_core",
            "emulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--customers",
            "25",
            "--seed",
            "5",
            "--data-dir",
            str(tmp_path / "emu"),
            "--latency-ms",
            "0",
            "--rate-limit",
            "500",
            "--fault-429",
            "0",
            "--fault-5xx",
            "0",
            "--fault-timeout",
            "0",
            "--fault-reset",
            "0",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        health = None
        while time.monotonic() < deadline and health is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1).json()
            except httpx.HTTPError:
                time.sleep(0.2)
        assert health is not None and health["status"] == "ok"
        assert (tmp_path / "emu" / "emulator.sqlite3").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
