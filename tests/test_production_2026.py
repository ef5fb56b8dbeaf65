"""Issue 13's "done when", end to end in the sandbox on production's defaults (the enhanced
channel; the classic call refused as Microsoft retired it on 2026-01-05): signers for 20
customers get 20 links, the customer accepts some, `finalise --all-ready` finalises exactly
those, and every count agrees on the three acceptance states."""

from __future__ import annotations

import csv
import io
import json

from mca_core import load_settings

from . import test_bulk_signers as signers
from .apptest import open_page, run
from .conftest import ROOT
from .test_bulk_signers import run as cli
from .test_bulk_signers import states, write_signers

#: The 60-customer sandbox of the bulk signers' tests (a fixture).
sandbox = signers.sandbox

ACCEPTED_BY_THE_CUSTOMER = 7


def test_twenty_links_some_accepted_finalise_all_ready_finalises_exactly_those(sandbox, tmp_path):
    app, actor = sandbox
    assert app.channel == "enhanced" and load_settings().sandbox_classic_retired_on is not None
    by_state = states(app, actor)
    fresh = (by_state["not_accepted"] + by_state["reacceptance_required"])[:20]
    signers = write_signers(tmp_path / "signers.csv", fresh)
    results = tmp_path / "results.csv"
    code, out, err = cli("bulk-attest", str(signers), "--out", str(results))  # no --channel
    assert code == 0, out + err
    rows = list(csv.DictReader(io.StringIO(results.read_text("utf-8-sig"))))
    assert [r["state"] for r in rows] == ["link_created"] * 20

    accepting = rows[:ACCEPTED_BY_THE_CUSTOMER]
    for row in accepting:
        assert cli("sandbox-accept", row["attestation_id"])[0] == 0
    code, out, err = cli("--json", "finalise", "--all-ready")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["finalised"] == ACCEPTED_BY_THE_CUSTOMER and doc["failed"] == 0
    finalised = {i["customer_id"] for i in doc["items"] if i["outcome"] == "attested"}
    assert finalised == {r["customer_id"] for r in accepting}
    for row in accepting[:2]:
        _, status, _ = cli("--json", "status", row["customer_id"])
        assert json.loads(status)["state"] == "accepted"
    code, out, _ = cli("--json", "finalise", "--all-ready")
    assert json.loads(out)["finalised"] == 0  # nothing twice

    code, out, err = cli("--json", "sync")
    assert code == 0, err
    summary = json.loads(out)
    assert summary["reacceptance_required"] > 0
    assert (
        summary["accepted"]
        + summary["reacceptance_required"]
        + summary["not_accepted"]
        + summary["failed"]
        == summary["customers"]
    )
    overview = run(open_page(str(ROOT / "pages" / "1_Overview.py"), "admin-agent"))
    metrics = {m.label: m.value for m in overview.metric}
    assert metrics["Must re-accept"] == f"{summary['reacceptance_required']:,}"
    assert metrics["Not accepted (orders refused)"] == f"{summary['not_accepted']:,}"
    assert metrics["Accepted"] == f"{summary['accepted']:,}"


def test_classic_attest_is_refused_naming_the_enhanced_flow(sandbox):
    app, actor = sandbox
    customer = states(app, actor)["not_accepted"][0].id
    code, _, err = cli(
        "attest", customer, "--channel", "classic", "--first-name", "Wei", "--last-name", "Zhang",
        "--email", "wei.zhang@example.cn", "--date", "2026-11-20",
    )  # fmt: skip
    assert code == 1
    assert "retired the classic attestation call on 2026-01-05" in err and "enhanced" in err
    [event] = app.audit_events(actor.identity, action="attest")
    assert event.outcome == "failed"


def test_a_classic_bulk_run_against_the_retired_call_stops_and_names_the_enhanced_flow(
    sandbox, tmp_path
):
    """The retired call would refuse every row: the first refusal stops the run, and every row
    says why and how to go on; nothing is attested."""
    from .test_hostile_cli import bulk_csv

    app, actor = sandbox
    ids = [c.id for c in states(app, actor)["not_accepted"][:3]]
    rows = bulk_csv(tmp_path / "classic.csv", ids)
    code, out, err = cli("--json", "bulk-attest", str(rows), "--channel", "classic")
    assert code == 1, err
    doc = json.loads(out)
    outcomes = [r["outcome"] for r in doc["rows"]]
    assert outcomes == ["failed"] * 3
    assert all("enhanced" in r["message"] and "2026-01-05" in r["message"] for r in doc["rows"])
    assert all(not app.status(actor, i).attested for i in ids)
