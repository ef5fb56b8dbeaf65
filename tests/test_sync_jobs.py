"""Long work outlives the page: the sync runs as a job of the server process that every session
of the partner sees, one sync per partner at a time across processes (a store lock; the CLI's
exit 6), and a sandbox that opens on data."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import textwrap
import threading

import pytest

from mca_core import App, SyncRequest, WorkBusy, load_settings
from mca_core.cli.main import EXIT_BUSY, main

from .apptest import open_page, run
from .conftest import ROOT

pytestmark = pytest.mark.usefixtures("sandbox_env")


def fresh_app() -> App:
    return App.from_settings(load_settings())


def held_elsewhere(key: str, holder: str = "Night job") -> subprocess.Popen:
    """Another process holding the partner's sync lock until its stdin closes."""
    script = textwrap.dedent(
        f"""
        import sys
        from mca_core import load_settings
        from mca_core.store.database import Store
        from mca_core.store.locks import exclusive
        store = Store(load_settings().resolved_store_url)
        with exclusive(store, {key!r}, holder={holder!r}):
            print("held", flush=True)
            sys.stdin.read()
        """
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def release(proc: subprocess.Popen) -> None:
    assert proc.stdin is not None
    proc.stdin.close()
    proc.wait(timeout=30)


def test_a_sync_job_runs_in_the_background_and_every_session_sees_it():
    app, other_session = fresh_app(), fresh_app()
    actor = app.sandbox_actor("admin-agent")
    colleague = other_session.sandbox_actor("sales-agent")  # same partner
    gate = threading.Event()
    original = App.sync

    def slow_sync(self, who, request=None):
        gate.wait(30)
        return original(self, who, request)

    App.sync = slow_sync  # type: ignore[method-assign]
    try:
        first = app.start_sync(actor, SyncRequest())
        joined = other_session.start_sync(colleague, SyncRequest())
        assert first.started and not joined.started and joined.job is first.job
        seen = other_session.sync_job(colleague.identity)
        assert seen is first.job and seen.running and seen.started_by == actor.identity.display_name
    finally:
        gate.set()
        App.sync = original  # type: ignore[method-assign]
    assert first.job.wait(60)
    job = other_session.sync_job(colleague.identity)
    assert job is first.job and job.state == "done"
    assert job.result.customers == 40 and job.result.source == "records"
    assert other_session.latest_snapshot(colleague.identity).id == job.result.snapshot_id


def test_a_second_sync_of_the_same_partner_is_refused_naming_the_first():
    app = fresh_app()
    actor = app.sandbox_actor("admin-agent")
    holder = held_elsewhere(app.sync_lock_key(actor.identity))
    try:
        with pytest.raises(WorkBusy) as refused:
            app.sync(actor)
        assert refused.value.holder == "Night job" and refused.value.since is not None
        assert "Night job" in str(refused.value) and "Overview" in str(refused.value)
        out, err = io.StringIO(), io.StringIO()
        assert main(["--json", "sync"], out=out, err=err) == EXIT_BUSY == 6
        doc = json.loads(out.getvalue())
        assert doc["error"] == "busy" and doc["holder"] == "Night job" and doc["since"]
        assert "Night job" in err.getvalue()
        # another partner is not held up
        provider = app.sandbox_actor("provider-admin")
        assert app.sync(provider).complete
    finally:
        release(holder)
    assert app.latest_snapshot(actor.identity) is None  # the refused sync wrote nothing
    assert app.sync(actor).complete  # the lock went with its holder


def test_two_syncs_at_once_in_one_process_one_runs_one_is_refused(monkeypatch):
    monkeypatch.setenv("MCA_SYNC_SOURCE", "per_customer")
    app = fresh_app()
    actor = app.sandbox_actor("admin-agent")
    inside, proceed = threading.Event(), threading.Event()

    def progress(done: int, total: int, phase: str) -> None:
        if phase == "status":
            inside.set()
            proceed.wait(30)

    results: list[object] = []
    worker = threading.Thread(
        target=lambda: results.append(app.sync(actor, SyncRequest(progress=progress)))
    )
    worker.start()
    try:
        assert inside.wait(30)
        with pytest.raises(WorkBusy):
            fresh_app().sync(app.sandbox_actor("sales-agent"))
    finally:
        proceed.set()
        worker.join(60)
    assert len(results) == 1 and results[0].complete


def test_the_sandbox_opens_on_data(monkeypatch):
    monkeypatch.setenv("MCA_SANDBOX_FIRST_SYNC", "true")
    app = fresh_app()
    start = app.open_sandbox_on_data()
    assert start is not None and start.job.wait(60) and start.job.state == "done"
    actor = app.sandbox_actor()
    snapshot = app.latest_snapshot(actor.identity)
    assert snapshot is not None and snapshot.summary["customers"] == 40
    assert app.open_sandbox_on_data() is None  # once only
    # the indirect provider's partner gets its own first snapshot when one of them signs in
    provider = app.sandbox_actor("provider-admin")
    again = app.open_sandbox_on_data(provider)
    assert again is not None and again.job.wait(60)
    assert app.latest_snapshot(provider.identity) is not None


def test_the_first_page_shows_the_first_sync_then_the_overview(monkeypatch):
    monkeypatch.setenv("MCA_SANDBOX_FIRST_SYNC", "true")
    gate = threading.Event()
    original = App.sync

    def slow_sync(self, who, request=None):
        gate.wait(30)
        return original(self, who, request)

    monkeypatch.setattr(App, "sync", slow_sync)
    home = run(open_page(str(ROOT / "dashboard.py"), user="admin-agent"))
    try:
        shown = " ".join(i.value for i in home.info)
        assert "first sync is reading your customers" in shown
        assert not any(b.label == "Sync now from Partner Center" for b in home.button)
    finally:
        gate.set()
    app = fresh_app()
    job = app.sync_job(app.sandbox_actor().identity)
    assert job is not None and job.wait(60)
    home = run(home)
    assert any(m.label == "Customers" and m.value == "40" for m in home.metric)
    assert any("Synced 40 customers" in s.value for s in home.sidebar.success)
    home = run(home)  # the reruns that follow the end of a sync do not hide it at once
    assert any("Synced 40 customers" in s.value for s in home.sidebar.success)
    seen = home.session_state["sync_jobs_seen"]
    home.session_state["sync_jobs_seen"] = {k: v - 61 for k, v in seen.items()}
    home = run(home)  # a minute on, it is gone
    assert not any("Synced 40 customers" in s.value for s in home.sidebar.success)


def test_a_colleague_sees_a_bulk_run_going_on_and_then_its_report():
    """The signers run of the Attest page is a job too: a colleague's Bulk tab shows it running
    (no second run offered), then its report, without loading the file."""
    from mca_core import BulkSignersRequest, bulk_signers

    from .apptest import cli

    assert cli("sync") == 0
    app = fresh_app()
    actor = app.sandbox_actor("admin-agent")
    snapshot = app.latest_snapshot(actor.identity)
    blocked = [r for r in app.snapshot_rows(snapshot) if r["accepted"] is False][:2]
    lines = ["customer_id,first_name,last_name,email,phone,country,language,company_name"]
    lines += [
        f"{r['customer_id']},Wei,Li,wei{i}@example.com,,,zh-CN," for i, r in enumerate(blocked)
    ]
    rows = bulk_signers.read_signers_csv(("\n".join(lines) + "\n").encode())
    gate = threading.Event()

    def work(progress, cancel):
        gate.wait(30)
        request = BulkSignersRequest(
            rows=rows, dry_run=False, progress=lambda d, n: progress(d, n, "rows"), cancel=cancel
        )
        return app.bulk_attest_signers(actor, request)

    job = app.start_job(actor, "bulk_sig", work).job
    attest = open_page(str(ROOT / "pages" / "2_Attest.py"), user="sales-agent")
    attest.session_state["attest_tab"] = "Bulk (CSV)"
    try:
        attest = run(attest)
        going = [i.value for i in attest.info if "A run of this file is going on" in i.value]
        assert going and "Megan Bowen" in going[0]
        assert not [b for b in attest.button if b.label in ("Dry run", "Create the links")]
    finally:
        gate.set()
    assert job.wait(60) and job.state == "done"
    attest = run(attest)
    shown = {m.label: m.value for m in attest.metric}
    assert shown["link created"] == "2"


def test_a_colleague_sees_finalise_all_running_then_what_it_did(monkeypatch):
    """ "Finalise all" is a job as well: the Overview of another session of the partner says it
    is running (no second button) and then shows its counts."""
    from .apptest import cli

    assert cli("sync") == 0
    app = fresh_app()
    actor = app.sandbox_actor("admin-agent")
    snapshot = app.latest_snapshot(actor.identity)
    blocked = next(r for r in app.snapshot_rows(snapshot) if r["accepted"] is False)
    person = ("--first-name", "Mei", "--last-name", "Chen", "--email", "mei@example.com")
    assert cli("attest", blocked["customer_id"], *person) == 0  # a link: the pipeline starts
    gate, original = threading.Event(), App.finalise_ready

    def held(self, who):
        gate.wait(30)
        return original(self, who)

    monkeypatch.setattr(App, "finalise_ready", held)
    job = app.start_finalise_ready(actor).job
    overview = open_page(str(ROOT / "pages" / "1_Overview.py"), user="sales-agent")
    try:
        overview = run(overview)
        going = [i.value for i in overview.info if "Finalising every accepted" in i.value]
        assert going and actor.identity.display_name in going[0]
        assert not [b for b in overview.button if b.label == "Finalise every ready attestation"]
    finally:
        gate.set()
    assert job.wait(60) and job.state == "done"
    overview = run(overview)
    done = [m.value for m in [*overview.success, *overview.info] if "still waiting" in m.value]
    assert done and done[0].startswith("0 agreements created")
    assert [b for b in overview.button if b.label == "Finalise every ready attestation"]
    overview = run(overview)  # shown once in this session
    assert not [m for m in [*overview.success, *overview.info] if "still waiting" in m.value]
