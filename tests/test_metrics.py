"""Metrics on small frames with known answers, and exports that neutralise formulas."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime

import openpyxl
import pandas as pd

from mca_core.domain.models import AuditEvent
from mca_core.store.database import SnapshotInfo
from mca_core.usecases import metrics
from mca_core.usecases.reports import export_table, neutralise


def row(
    cid,
    attested,
    direct,
    accepted,
    *,
    country="US",
    reseller=None,
    when=None,
    name="Contoso",
    domain=None,
):
    return {
        "customer_id": cid,
        "company_name": name,
        "domain": domain or f"{cid}.onmicrosoft.com",
        "country": country,
        "associated_partner_id": reseller,
        "attested": attested,
        "direct_signed": direct,
        "accepted": accepted,
        "latest_date_agreed": when,
        "latest_contact_name": "Jane Doe" if attested else None,
    }


ROWS = [
    row("a", True, None, True, when=datetime(2026, 1, 5, tzinfo=UTC)),
    row("b", True, True, True, when=datetime(2026, 1, 20, tzinfo=UTC), country="CN"),
    row("c", False, True, True, country="DE"),
    row("d", False, False, False, country="CN", reseller="r1", name="杭州华泰科技有限公司"),
    row("e", False, False, False, country="CN", reseller="r1"),
    row("f", False, False, False, country=None, reseller="r2", name="Fabrikam"),
    row("g", None, None, None),
    row("h", True, None, True, when=datetime(2025, 12, 31, 23, 0, tzinfo=UTC), country="GB"),
]


def frame():
    return metrics.customers_frame(ROWS, {"r1": "Northwind Traders IT"})


def test_statuses_and_kpis():
    f = frame()
    assert list(f["status"].astype(str)) == [
        "attested",
        "both",
        "direct",
        "not_accepted",
        "not_accepted",
        "not_accepted",
        "unknown",
        "attested",
    ]
    k = metrics.kpis(f)
    assert (k.customers, k.accepted, k.by_attestation, k.directly, k.both) == (8, 4, 2, 1, 1)
    assert (k.not_accepted, k.unknown, k.at_risk, k.reacceptance_required) == (3, 1, 3, 0)
    assert k.rate == 0.5
    assert list(f["state"].astype(str)) == [
        "accepted",
        "accepted",
        "accepted",
        "not_accepted",
        "not_accepted",
        "not_accepted",
        "unknown",
        "accepted",
    ]


def test_kpis_from_summary_match_the_rows():
    k = metrics.kpis_from_summary(
        {
            "customers": 8, "accepted": 4, "attested": 3, "direct_signed": 2,
            "not_accepted": 3, "by_attestation": 2, "directly": 1, "both": 1,
        }
    )  # fmt: skip
    assert (k.by_attestation, k.directly, k.both, k.unknown) == (2, 1, 1, 1)
    # a summary from before the sync counted them: totals that also count attestations of an
    # earlier MCA, so no breakdown (and no delta) rather than a false one
    old = metrics.kpis_from_summary(
        {"customers": 8, "accepted": 4, "attested": 3, "direct_signed": 2, "not_accepted": 3}
    )
    assert (old.by_attestation, old.directly, old.both, old.accepted) == (None, None, None, 4)
    change = metrics.deltas(k, old)
    assert change["both"] is None and change["accepted"] == 0


def test_kpis_from_summary_count_reacceptance():
    k = metrics.kpis_from_summary(
        {
            "customers": 10,
            "accepted": 4,
            "attested": 4,
            "direct_signed": 0,
            "reacceptance_required": 3,
            "not_accepted": 2,
        }
    )
    assert (k.reacceptance_required, k.not_accepted, k.at_risk, k.unknown) == (3, 2, 5, 1)


#: The 2023 refresh: an attestation dated before the cutoff is of an earlier MCA.
REFRESH_ROWS = [
    # only a pre-cutoff attestation (a snapshot taken before the desk knew the refresh said
    # accepted: the evidence decides, not the stored flag)
    row("old", True, False, True, when=datetime(2022, 5, 1, tzinfo=UTC), country="CN"),
    row("new", True, None, True, when=datetime(2023, 4, 1, tzinfo=UTC)),  # the cutoff day
    row("signed", True, True, True, when=datetime(2021, 1, 1, tzinfo=UTC)),  # old + directly
    row("none", False, False, False, country="CN"),
]


def test_an_attestation_before_the_current_mca_must_be_accepted_again():
    f = metrics.customers_frame(REFRESH_ROWS)
    assert list(f["status"].astype(str)) == [
        "reacceptance_required",
        "attested",
        "direct",  # its attestation is of an earlier MCA: the direct acceptance counts
        "not_accepted",
    ]
    assert list(f["state"].astype(str)) == [
        "reacceptance_required",
        "accepted",
        "accepted",
        "not_accepted",
    ]
    k = metrics.kpis(f)
    assert (k.accepted, k.by_attestation, k.directly, k.both) == (2, 1, 1, 0)
    assert (k.reacceptance_required, k.not_accepted, k.at_risk, k.unknown) == (1, 1, 2, 0)
    assert k.as_dict()["reacceptance_required"] == 1 and k.as_dict()["at_risk"] == 2
    breakdown = dict(zip(*metrics.acceptance_breakdown(f).values.T, strict=True))
    assert breakdown["reacceptance_required"] == 1 and breakdown["not_accepted"] == 1
    assert metrics.not_accepted_by(f, "country").to_dict("records") == [
        {"country": "CN", "customers": 2}  # both kinds of blocked customers
    ]
    assert list(metrics.filter_customers(f, statuses=["reacceptance_required"])["customer_id"]) == [
        "old"
    ]
    since = date(2023, 4, 1)
    assert [metrics.row_blocked(r, since) for r in REFRESH_ROWS] == [True, False, False, True]
    assert metrics.row_blocked(REFRESH_ROWS[0]) is True  # the default cutoff is 2023-04-01


def test_moving_the_cutoff_makes_the_old_attestation_current():
    early = date(2020, 1, 1)
    f = metrics.customers_frame(REFRESH_ROWS, current_since=early)
    assert list(f["status"].astype(str)) == ["attested", "attested", "both", "not_accepted"]
    assert list(f["state"].astype(str)) == ["accepted", "accepted", "accepted", "not_accepted"]
    assert [metrics.row_blocked(r, early) for r in REFRESH_ROWS] == [False, False, False, True]
    now = metrics.kpis(metrics.customers_frame(REFRESH_ROWS))
    before = metrics.kpis(f)
    change = metrics.deltas(now, before)
    assert (change["reacceptance_required"], change["accepted"], change["not_accepted"]) == (
        1,
        -1,
        0,
    )
    assert metrics.deltas(now, None)["reacceptance_required"] is None


def test_deltas():
    now = metrics.kpis(frame())
    before = metrics.kpis(metrics.customers_frame(ROWS[:4]))
    d = metrics.deltas(now, before)
    assert d["customers"] == 4 and d["not_accepted"] == 2 and d["accepted"] == 1
    assert d["rate"] == round(0.5 - 0.75, 4)
    assert metrics.deltas(now, None)["accepted"] is None


def test_breakdown_month_reseller_country():
    f = frame()
    breakdown = dict(zip(*metrics.acceptance_breakdown(f).values.T, strict=True))
    assert breakdown == {
        "attested": 2,
        "direct": 1,
        "both": 1,
        "reacceptance_required": 0,
        "not_accepted": 3,
        "unknown": 1,
    }
    months = metrics.attestations_per_month(f)
    assert [m.strftime("%Y-%m") for m in months["month"]] == ["2025-12", "2026-01"]
    assert list(months["customers"]) == [1, 2]
    by_reseller = metrics.not_accepted_by(f, "reseller")
    assert by_reseller.to_dict("records")[0] == {"reseller": "Northwind Traders IT", "customers": 2}
    assert "r2" in set(by_reseller["reseller"])  # unknown names show the tenant id
    by_country = metrics.not_accepted_by(f, "country")
    assert by_country.to_dict("records")[0] == {"country": "CN", "customers": 2}
    assert metrics.UNKNOWN_COUNTRY in set(by_country["country"])


def test_filters():
    f = frame()
    assert list(metrics.filter_customers(f, statuses=["not_accepted"])["customer_id"]) == [
        "d",
        "e",
        "f",
    ]
    assert list(metrics.filter_customers(f, resellers=["Northwind Traders IT"])["customer_id"]) == [
        "d",
        "e",
    ]
    assert list(
        metrics.filter_customers(f, countries=["CN"], statuses=["both"])["customer_id"]
    ) == ["b"]
    jan = metrics.filter_customers(f, attested_from=date(2026, 1, 1), attested_to=date(2026, 1, 20))
    assert list(jan["customer_id"]) == ["a", "b"]  # the last day counts whole
    assert list(metrics.filter_customers(f, text="华泰")["customer_id"]) == ["d"]
    assert list(metrics.filter_customers(f, text="E.ONMICROSOFT")["customer_id"]) == ["e"]
    assert len(metrics.filter_customers(f)) == 8


def test_acceptance_over_time_skips_incomplete():
    snaps = [
        SnapshotInfo(
            2,
            datetime(2026, 2, 1, tzinfo=UTC),
            "x",
            "s",
            "default",
            True,
            {"customers": 10, "accepted": 8},
        ),
        SnapshotInfo(
            1,
            datetime(2026, 1, 1, tzinfo=UTC),
            "x",
            "s",
            "default",
            True,
            {"customers": 10, "accepted": 5},
        ),
        SnapshotInfo(
            3,
            datetime(2026, 3, 1, tzinfo=UTC),
            "x",
            "s",
            "default",
            False,
            {"customers": 4, "accepted": 4},
        ),
    ]
    trend = metrics.acceptance_over_time(snaps)
    assert list(trend["rate"]) == [0.5, 0.8]


def test_attestations_per_agent():
    def ev(name, outcome, action="attest"):
        return AuditEvent(user_id=name, user_name=name, action=action, outcome=outcome)

    events = [
        ev("Megan", "attested"),
        ev("Megan", "attested"),
        ev("Adele", "attested", "bulk_attest"),
        ev("Adele", "failed"),
        ev("Lee", "attested", "verify"),
    ]
    per_agent = metrics.attestations_per_agent(events)
    assert per_agent.to_dict("records") == [
        {"agent": "Megan", "attestations": 2},
        {"agent": "Adele", "attestations": 1},
    ]


def test_exports_neutralise_formulas_in_csv_and_xlsx():
    for value in ("=1+1", "+1", "-2", "@SUM(A1)", "\tx", "\rx"):
        assert neutralise(value) == "'" + value
    assert neutralise("Contoso") == "Contoso" and neutralise(5) == 5
    table = pd.DataFrame({"company_name": ['=HYPERLINK("http://x")', "杭州华泰"], "n": [1, 2]})
    csv_bytes = export_table(table, "csv")
    assert csv_bytes.startswith(b"\xef\xbb\xbf")
    text = csv_bytes.decode("utf-8-sig")
    assert "'=HYPERLINK" in text and "杭州华泰" in text
    book = openpyxl.load_workbook(io.BytesIO(export_table(table, "xlsx")))
    cells = [c.value for c in book.active["A"]]
    assert cells[1].startswith("'=") and cells[2] == "杭州华泰"
    assert book.active["A2"].data_type == "s"
    records = json.loads(export_table(table, "json"))
    assert records[0]["company_name"].startswith("=")  # JSON is data, not a spreadsheet
