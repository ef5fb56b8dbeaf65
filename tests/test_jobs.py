"""Background jobs: long work runs in the process, not in a page, and every session sees it."""

from __future__ import annotations

import logging
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest

from mca_core.domain.errors import AccessRefused, WorkBusy
from mca_core.jobs import JOBS, Job, JobRegistry, Progress

WAIT = 30.0  # generous: only a hung job takes this long


def eventually(check, timeout: float = WAIT) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("the condition never held")
        time.sleep(0.01)


@pytest.fixture
def registry():
    jobs = JobRegistry()
    yield jobs
    for job in jobs.jobs():
        job.request_cancel()
    assert jobs.wait_all(WAIT)


def test_a_job_runs_in_the_background_and_reports_progress(registry):
    go = threading.Event()
    seen: dict[str, object] = {}

    def work(progress, cancel):
        thread = threading.current_thread()
        seen["thread"], seen["daemon"] = thread.name, thread.daemon
        progress(1, 3, "customers")
        assert go.wait(WAIT)
        progress(3, 3, "saving")
        return {"snapshot_id": 7}

    started = registry.start("p1:sync", "sync", "Jane Doe", work)
    job = started.job
    assert started.started is True
    assert (job.key, job.kind, job.started_by) == ("p1:sync", "sync", "Jane Doe")
    eventually(lambda: job.progress == Progress(1, 3, "customers"))
    assert job.state == "running" and job.running and job.finished_at is None
    assert job.progress.fraction == pytest.approx(1 / 3)
    assert registry.current("p1:sync") is job
    assert registry.get(job.id) is job
    assert seen["thread"] == f"mca-job-sync-{job.id}" and seen["daemon"] is True

    go.set()
    assert job.wait(WAIT)
    assert job.state == "done"
    assert job.result == {"snapshot_id": 7}
    assert job.error is None
    assert job.progress == Progress(3, 3, "saving")
    assert job.finished_at is not None and job.finished_at >= job.started_at


def test_starting_a_running_key_returns_the_running_job(registry):
    go = threading.Event()
    calls: list[str] = []

    def work(name):
        def run(progress, cancel):
            calls.append(name)
            assert go.wait(WAIT)
            return name

        return run

    first = registry.start("p1:sync", "sync", "Jane Doe", work("first"))
    second = registry.start("p1:sync", "sync", "Li Wei", work("second"))
    other = registry.start("p2:sync", "sync", "Li Wei", work("other partner"))
    assert first.started and not second.started and other.started
    assert second.job is first.job
    assert second.job.started_by == "Jane Doe"  # who really runs it
    assert other.job is not first.job
    go.set()
    assert registry.wait_all(WAIT)
    assert sorted(calls) == ["first", "other partner"]
    assert first.job.result == "first"


def test_many_sessions_starting_at_once_start_one_job(registry):
    go = threading.Event()
    attempts = 8
    barrier = threading.Barrier(attempts)
    results = []

    def work(progress, cancel):
        assert go.wait(WAIT)

    def click():
        barrier.wait()
        results.append(registry.start("p1:sync", "sync", "someone", work))

    threads = [threading.Thread(target=click) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(WAIT)
    go.set()
    assert sum(r.started for r in results) == 1
    assert len({r.job.id for r in results}) == 1


def test_a_failing_job_records_the_users_message(registry):
    def refused(progress, cancel):
        progress(2, 10, "customers")
        raise AccessRefused("sync", "Only admin agents may sync.", "Ask an admin agent.")

    job = registry.start("p1:sync", "sync", "Jane Doe", refused).job
    assert job.wait(WAIT)
    assert job.state == "failed"
    assert job.error == "Only admin agents may sync. Ask an admin agent."
    assert isinstance(job.exception, AccessRefused)
    assert job.result is None
    assert job.progress == Progress(2, 10, "customers")  # how far it got


def test_an_unexpected_error_is_logged_not_shown(registry, caplog):
    def broken(progress, cancel):
        raise KeyError("secret-internal-detail")

    with caplog.at_level(logging.ERROR, logger="mca_core.jobs"):
        job = registry.start("p1:bulk", "bulk run", "Jane Doe", broken).job
        assert job.wait(WAIT)
    assert job.state == "failed"
    assert job.error == (
        "The bulk run stopped on an unexpected error. The server's log has the details "
        f"(job {job.id})."
    )
    assert "secret-internal-detail" not in job.error
    assert job.exception is None
    logged = [r for r in caplog.records if r.name == "mca_core.jobs" and r.exc_info]
    assert logged and "secret-internal-detail" in str(logged[0].exc_info[1])


def test_a_busy_lock_in_the_work_fails_the_job_with_its_message(registry):
    def locked_elsewhere(progress, cancel):
        raise WorkBusy("p1:sync", holder="Li Wei", host="desk-2", pid=42)

    job = registry.start("p1:sync", "sync", "Jane Doe", locked_elsewhere).job
    assert job.wait(WAIT)
    assert job.state == "failed"
    assert job.error == (
        "A sync is already running: started by Li Wei on host desk-2 (pid 42). "
        "Wait for it to finish, then try again."
    )


def test_cancel_stops_the_work_and_keeps_what_it_returned(registry):
    def until_cancelled(progress, cancel):
        done = 0
        while not cancel.wait(0.01):
            done += 1
            progress(done, 0, "customers")
        return {"complete": False, "rows": done}

    job = registry.start("p1:sync", "sync", "Jane Doe", until_cancelled).job
    eventually(lambda: job.progress.done >= 3)
    assert job.progress.fraction is None  # total not known yet
    job.request_cancel()
    assert job.wait(WAIT)
    assert job.state == "cancelled"
    assert job.result["complete"] is False and job.result["rows"] >= 3
    assert job.cancel.is_set()


def test_the_finished_job_stays_visible_for_a_while_then_goes():
    now = [datetime(2026, 11, 30, 10, 0, tzinfo=UTC)]
    registry = JobRegistry(keep_finished=timedelta(hours=1), clock=lambda: now[0])
    first = registry.start("p1:sync", "sync", "Jane Doe", lambda progress, cancel: 1).job
    assert first.wait(WAIT)
    assert registry.current("p1:sync") is first  # another session finds the result
    assert registry.get(first.id) is first
    assert registry.jobs("p1:") == [first]
    assert registry.jobs("p2:") == []

    now[0] += timedelta(minutes=59)
    assert registry.current("p1:sync") is first
    now[0] += timedelta(minutes=2)
    assert registry.current("p1:sync") is None
    assert registry.get(first.id) is None

    again = registry.start("p1:sync", "sync", "Li Wei", lambda progress, cancel: 2)
    assert again.started and again.job is not first
    assert again.job.wait(WAIT)
    assert registry.current("p1:sync") is again.job and again.job.result == 2


def test_a_new_run_replaces_the_last_finished_one(registry):
    first = registry.start("p1:sync", "sync", "Jane Doe", lambda p, c: "one").job
    assert first.wait(WAIT)
    go = threading.Event()
    second = registry.start("p1:sync", "sync", "Li Wei", lambda p, c: go.wait(WAIT)).job
    assert second is not first
    assert registry.current("p1:sync") is second  # running wins over finished
    go.set()
    assert second.wait(WAIT)
    assert registry.current("p1:sync") is second
    assert [job.id for job in registry.jobs()] == [second.id]


def test_the_process_has_one_registry():
    assert isinstance(JOBS, JobRegistry)
    assert isinstance(JOBS.jobs(), list)
    assert Job.__module__ == "mca_core.jobs"


def test_a_process_that_exits_stops_its_jobs_and_lets_them_keep_their_work(tmp_path):
    """Ctrl+C on the dashboard must not wait hours for a long sync, nor kill it before it saves
    what it read: at exit every running job is asked to stop and given a while to end."""
    import subprocess
    import sys
    import textwrap
    import time

    saved = tmp_path / "saved"
    script = textwrap.dedent(
        f"""
        import time
        from mca_core.jobs import JOBS

        def work(progress, cancel):
            while not cancel.is_set():  # hours of work, unless asked to stop
                time.sleep(0.05)
            open({str(saved)!r}, "w").write("kept")
            return "stopped"

        JOBS.start("k", "sync", "tester", work)
        time.sleep(0.3)
        """
    )
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", script], timeout=60, check=False)
    assert done.returncode == 0
    assert time.monotonic() - started < 30
    assert saved.read_text() == "kept"
