"""The overview at scale (issue 14): what every session shares instead of recomputing.

The enhanced pipeline reads only what it needs from the snapshot, once per snapshot revision and
state of the attestations, and nothing at all on an installation that never started one; the
overview's frame, filtered view and KPIs are one object for every session; the downloads are
built only when clicked; the frame's statuses are computed column-wise with the row rules; and
phonenumbers' geocoder (~100 MB) is imported only when a country's name is shown.
"""

from __future__ import annotations

import io
import itertools
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from mca_core import App
from mca_core.cli.main import main
from mca_core.config import load_settings
from mca_core.domain.models import Contact
from mca_core.emulator import SANDBOX_USERS
from mca_core.store import enhanced_attestations as journal_module
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import (
    AttestationState,
    EnhancedAttestation,
    EnhancedStore,
)
from mca_core.usecases import enhanced, metrics
from mca_core.usecases.sync import snapshot_scope

from .conftest import ROOT

ADMIN = SANDBOX_USERS["admin-agent"].identity()
NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
PAGE = str(ROOT / "pages" / "1_Overview.py")
#: The store's full read, unspied (the reference pipeline uses it).
READ_ALL_ROWS = Store.snapshot_rows


def _rows(n: int) -> list[dict]:
    """n customers: every third not accepted, every third accepted, the rest unknown."""
    rows = []
    for i in range(n):
        accepted = [False, True, None][i % 3]
        rows.append(
            {
                "customer_id": f"00000000-0000-4000-8000-{i:012d}",
                "company_name": f"Company {n - i:03d}",
                "domain": f"c{i}.onmicrosoft.com",
                "country": "DE" if i % 2 else "FR",
                "accepted": accepted,
                "attested": bool(accepted),
                "direct_signed": None,
                "latest_date_agreed": NOW - timedelta(days=30) if accepted else None,
            }
        )
    return rows


def _attestation(customer_id: str, n: int, state: AttestationState, **more) -> EnhancedAttestation:
    return EnhancedAttestation(
        request_id=f"req-{n}",
        partner_tenant_id=ADMIN.partner_tenant_id,
        customer_id=customer_id,
        company_name=f"Started {n}",
        signer=Contact(first_name="Wei", last_name="Li", email="li.wei@example.com"),
        state=state,
        created_at=NOW - timedelta(hours=n),
        updated_at=NOW - timedelta(hours=n),
        **more,
    )


@pytest.fixture
def store(tmp_path):
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    rows = _rows(30)
    s.save_snapshot(rows, taken_by="test", scope=snapshot_scope(ADMIN, "sandbox"), mode="default",
                    summary={"customers": len(rows)})  # fmt: skip
    yield s
    s.dispose()


@pytest.fixture
def spy_rows(monkeypatch):
    """Every read of snapshot rows by the pipeline, and every full read of a snapshot."""
    calls: list[tuple[str, dict]] = []
    pipeline_rows = journal_module.pipeline_rows
    snapshot_rows = Store.snapshot_rows

    def spy_pipeline(store, snapshot_id, **kw):
        calls.append(("pipeline_rows", kw))
        return pipeline_rows(store, snapshot_id, **kw)

    def spy_snapshot(self, snapshot_id):
        calls.append(("snapshot_rows", {}))
        return snapshot_rows(self, snapshot_id)

    monkeypatch.setattr(enhanced, "pipeline_rows", spy_pipeline)
    monkeypatch.setattr(Store, "snapshot_rows", spy_snapshot)
    return calls


def _reference(store: Store) -> enhanced.Pipeline:
    """The pipeline as it was built before issue 14: every row of the snapshot, then the rules."""
    latest = EnhancedStore(store).latest_by_customer(ADMIN.partner_tenant_id)
    snapshot = store.latest_snapshot(snapshot_scope(ADMIN, "sandbox"))
    rows = READ_ALL_ROWS(store, snapshot.id)
    return enhanced.build_pipeline(latest, rows, NOW, synced_at=snapshot.taken_at)


# --- the pipeline ---------------------------------------------------------------------------


def test_without_attestations_started_only_reads_no_snapshot_row(store, spy_rows):
    pipeline = enhanced.load_pipeline(store, ADMIN, "sandbox", now=NOW, started_only=True)
    assert spy_rows == []
    assert pipeline.items == () and pipeline.started == 0
    assert set(pipeline.counts.values()) == {0}


def test_the_pipeline_reads_the_snapshot_once_per_revision_and_stays_correct(store, spy_rows):
    journal = EnhancedStore(store)
    first = enhanced.load_pipeline(store, ADMIN, "sandbox", now=NOW)
    assert [c[0] for c in spy_rows] == ["pipeline_rows"]  # a few columns, never every row
    assert first.counts[enhanced.Stage.REQUIRED] == 10 and first.started == 0
    assert first.items == _reference(store).items
    # A rerun (any session): the same object, nothing read.
    assert enhanced.load_pipeline(store, ADMIN, "sandbox", now=NOW) is first
    assert len(spy_rows) == 1

    # Attestations started: rebuilt, reading only their customers' rows.
    not_accepted = [r["customer_id"] for r in _rows(30) if r["accepted"] is False]
    accepted = [r["customer_id"] for r in _rows(30) if r["accepted"]]
    journal.add(_attestation(not_accepted[0], 1, AttestationState.LINK_SENT,
                             expires_at=NOW + timedelta(days=1)))  # fmt: skip
    journal.add(_attestation(not_accepted[1], 2, AttestationState.ACCEPTED))
    journal.add(_attestation(accepted[0], 3, AttestationState.FAILED))  # accepted since: hidden
    second = enhanced.load_pipeline(store, ADMIN, "sandbox", now=NOW)
    assert spy_rows[-1][1]["not_accepted"] is False  # the sync's part was kept
    assert sorted(spy_rows[-1][1]["customer_ids"]) == sorted([*not_accepted[:2], accepted[0]])
    reference = _reference(store)
    assert second.items == reference.items and second.counts == reference.counts
    assert second.started == 2
    assert [i.stage for i in second.items[:2]] == [enhanced.Stage.READY, enhanced.Stage.PENDING]
    assert second.work() == tuple(i for i in second.items if i.stage is not enhanced.Stage.DONE)

    # The clock alone moves a link to "expired": a new key, the right stage.
    later = enhanced.load_pipeline(store, ADMIN, "sandbox", now=NOW + timedelta(days=2))
    assert later.counts[enhanced.Stage.EXPIRED] == 1 and later.counts[enhanced.Stage.PENDING] == 0

    # The desk's own work bumps the revision: the snapshot is read again.
    snapshot = store.latest_snapshot(snapshot_scope(ADMIN, "sandbox"))
    assert store.write_through(snapshot.id, not_accepted[5], {"accepted": True})
    reads = len(spy_rows)
    third = enhanced.load_pipeline(store, ADMIN, "sandbox", now=NOW)
    assert spy_rows[reads][1]["not_accepted"] is True
    assert not_accepted[5] not in {i.customer_id for i in third.items}
    assert third.items == _reference(store).items
    cache = enhanced._cache_of(store)  # the older revision's ~n/3 items are not kept
    assert len(cache._required) == 1 and len(cache._pipelines) == 1
    assert all(kind == "pipeline_rows" for kind, _ in spy_rows)


def test_a_classic_installation_overview_reads_no_snapshot_row_for_the_pipeline(
    sandbox_env, monkeypatch, spy_rows
):
    monkeypatch.setenv("MCA_ATTESTATION_CHANNEL", "classic")
    monkeypatch.setenv("MCA_SANDBOX_CLASSIC_RETIRED_ON", "never")
    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    for _ in range(2):
        at = AppTest.from_file(PAGE, default_timeout=90)
        at.session_state["sandbox_user_key"] = "admin-agent"
        at.run()
        assert not at.exception
        assert not any(h.value == "Enhanced attestation pipeline" for h in at.subheader)
    assert not [c for c in spy_rows if c[0] == "pipeline_rows"]
    assert len([c for c in spy_rows if c[0] == "snapshot_rows"]) <= 1  # the shared frame, once


# --- the overview's shared data ---------------------------------------------------------------


def test_sessions_share_one_frame_and_one_filtered_view(sandbox_env, monkeypatch):
    from ui import overview_blocks

    st.cache_resource.clear()
    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    built: list[pd.DataFrame] = []
    filtered: list[int] = []
    exports: list[int] = []
    customers_frame, filter_customers = metrics.customers_frame, metrics.filter_customers
    export_frame = overview_blocks.export_frame

    def spy_frame(*args, **kw):
        built.append(customers_frame(*args, **kw))
        return built[-1]

    def spy_filter(frame, **kw):
        filtered.append(len(frame))
        return filter_customers(frame, **kw)

    def spy_export(frame):
        exports.append(len(frame))
        return export_frame(frame)

    monkeypatch.setattr(metrics, "customers_frame", spy_frame)
    monkeypatch.setattr(metrics, "filter_customers", spy_filter)
    monkeypatch.setattr(overview_blocks, "export_frame", spy_export)

    def session() -> AppTest:
        at = AppTest.from_file(PAGE, default_timeout=90)
        at.session_state["sandbox_user_key"] = "admin-agent"
        at.run()
        assert not at.exception
        return at

    first, second = session(), session()
    assert len(built) == 1  # read and judged once for every session
    app = App.from_settings(load_settings())
    snapshot = app.latest_snapshot(app.sandbox_actor("admin-agent").identity)
    frame = overview_blocks.load_frame(app, snapshot)
    assert frame is built[0]
    assert "Customers" in {m.label for m in second.metric}
    unfiltered = len(filtered)  # the unfiltered view, computed once
    assert unfiltered == 1

    country = frame["country"].value_counts().index[0]
    expected = frame.loc[frame["country"] == country]
    for at in (first, second):
        at.multiselect(key="ov_country").set_value([country]).run()
        assert not at.exception
        table = at.dataframe[-1].value
        assert len(table) == len(expected) < len(frame)
        assert set(table["country"]) == {country}
        assert list(table["domain"]) == list(expected["domain"])
        assert any(f"{len(expected):,} of {len(frame):,}" in c.value for c in at.caption)
    assert len(filtered) == unfiltered + 1  # the second session reused the first's view
    view = overview_blocks.view(app, snapshot, overview_blocks.Filters(countries=(country,)))
    assert view.shown == len(expected)
    assert view.breakdown["customers"].sum() == len(expected)
    assert exports == []  # the download files are built only when a button is clicked
    assert len(built) == 1


def test_filtered_frame_builds_the_export_of_the_filters(sandbox_env):
    from ui import overview_blocks

    assert main(["sync"], out=io.StringIO(), err=io.StringIO()) == 0
    app = App.from_settings(load_settings())
    snapshot = app.latest_snapshot(app.sandbox_actor("admin-agent").identity)
    filters = overview_blocks.Filters(statuses=("not_accepted",), text="  ")
    out = overview_blocks.export_frame(overview_blocks.filtered_frame(app, snapshot, filters))
    frame = overview_blocks.load_frame(app, snapshot)
    assert list(out["customer_id"]) == list(
        frame.loc[frame["status"] == "not_accepted", "customer_id"]
    )
    assert set(out["status"]) <= {"not_accepted"}


# --- the frame --------------------------------------------------------------------------------


def test_statuses_column_wise_follow_the_row_rules():
    cutoff = date(2023, 4, 1)
    moments = [None, datetime(2023, 4, 1, tzinfo=UTC), datetime(2023, 3, 31, 23, 59),
               datetime(2023, 4, 1, 7, 0, tzinfo=UTC) - timedelta(hours=8), pd.NaT]  # fmt: skip
    cases = itertools.product((None, True, False), (None, True, False, float("nan")), moments)
    rows = [
        {"customer_id": str(i), "accepted": a, "direct_signed": d, "latest_date_agreed": m}
        for i, (a, d, m) in enumerate(cases)
    ]
    frame = metrics.customers_frame(rows, current_since=cutoff)
    assert list(frame["status"].astype(str)) == [metrics._status(r, cutoff) for r in rows]
    assert set(frame["status"].astype(str)) == set(metrics.STATUSES)
    assert isinstance(frame["status"].dtype, pd.CategoricalDtype)
    assert metrics.customers_frame([]).empty


# --- imports ----------------------------------------------------------------------------------


def test_the_geocoder_is_imported_only_for_a_country_name():
    code = (
        "import sys\n"
        "import ui.attest_blocks as ab, ui.enhanced_blocks as eb, ui.overview_blocks\n"
        "assert 'phonenumbers.geocoder' not in sys.modules\n"
        "print(ab.country_name('DE', 'en'), eb.country_label('CN', 'zh-CN'))\n"
        "assert 'phonenumbers.geocoder' in sys.modules\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "Germany 中国 (CN)"
