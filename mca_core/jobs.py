"""Background jobs: long work (a sync, a bulk run, finalise-all) runs in the server process.

A browser session that starts a sync must not own it: leaving the page, reloading or closing
the tab would stop it halfway, and another user of the same partner would neither see it nor
be kept from starting a second one. So the work runs in a worker thread of the process, kept
in a `JobRegistry` under a key (e.g. the partner's snapshot scope + ":sync"): every session
asks the registry for the key's job and shows its progress and, once it ends, its result.

One job per key runs at a time in this process: starting a key that is already running hands
back the running job (`JobStart.started` is False) instead of starting another, so a double
click or a second user joins the running work. Across processes (several dashboard instances,
the CLI) the work itself takes `mca_core.store.locks.exclusive`, which refuses with WorkBusy.

The last finished job of each key is kept for a while (`keep_finished`, one hour by default)
so a session that comes back later still finds the result. Nothing here imports Streamlit.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, NamedTuple

from mca_core.domain.errors import McaError

log = logging.getLogger(__name__)

#: (done, total, phase): the same shape as the sync use case's progress callback.
ProgressCallback = Callable[[int, int, str], None]
#: The work of a job: called as work(progress, cancel) in the job's thread; returns the result.
Work = Callable[[ProgressCallback, threading.Event], Any]
JobState = Literal["running", "done", "failed", "cancelled"]

#: How long a process that exits waits for its running jobs to stop and keep what they did.
STOP_GRACE_S = 20.0
#: How long the last finished job of a key stays visible.
KEEP_FINISHED = timedelta(hours=1)


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Progress:
    """How far a job is: `done` of `total` units in `phase` (total 0: not known yet)."""

    done: int = 0
    total: int = 0
    phase: str = ""

    @property
    def fraction(self) -> float | None:
        """Between 0 and 1, or None while the total is not known."""
        if self.total <= 0:
            return None
        return min(max(self.done / self.total, 0.0), 1.0)


class Job:
    """One piece of long work running (or run) in a worker thread of this process.

    `error` is what a user may be shown: the message of the McaError the work raised, or, for
    an unexpected exception, a generic sentence (the traceback goes to the log, never to the
    page). `cancel` is the event the work watches; set it (or call `request_cancel`) to ask the
    work to stop: a job whose work ends after that is "cancelled", with what it returned.
    """

    def __init__(self, key: str, kind: str, started_by: str, started_at: datetime):
        self.id = uuid.uuid4().hex[:12]
        self.key = key
        self.kind = kind
        self.started_by = started_by
        self.started_at = started_at
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        self._ended = threading.Event()
        self._state: JobState = "running"
        self._progress = Progress()
        self._finished_at: datetime | None = None
        self._result: Any = None
        self._error: str | None = None
        self._exception: McaError | None = None

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.kind} {self.key!r} {self.state}>"

    @property
    def state(self) -> JobState:
        with self._lock:
            return self._state

    @property
    def running(self) -> bool:
        return self.state == "running"

    @property
    def progress(self) -> Progress:
        with self._lock:
            return self._progress

    @property
    def finished_at(self) -> datetime | None:
        with self._lock:
            return self._finished_at

    @property
    def result(self) -> Any:
        """What the work returned (also for a cancelled job); None while running or failed."""
        with self._lock:
            return self._result

    @property
    def error(self) -> str | None:
        """The user-facing message of a failed (or cancelled-by-error) job."""
        with self._lock:
            return self._error

    @property
    def exception(self) -> McaError | None:
        """The McaError the work raised (for a caller that renders it its own way)."""
        with self._lock:
            return self._exception

    @property
    def failure(self) -> McaError | None:
        """Why a failed job failed, as an McaError to show (None when it did not fail)."""
        with self._lock:
            if self._state != "failed":
                return None
            return self._exception or McaError(self._error or "")

    def request_cancel(self) -> None:
        self.cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the job to end; True when it has (then the registry shows it finished)."""
        return self._ended.wait(timeout)

    def report(self, done: int, total: int, phase: str) -> None:
        """The progress callback handed to the work (thread-safe)."""
        with self._lock:
            self._progress = Progress(int(done), int(total), str(phase))

    def _finish(
        self,
        state: JobState,
        at: datetime,
        *,
        result: Any = None,
        error: str | None = None,
        exception: McaError | None = None,
    ) -> None:
        with self._lock:
            if self._state != "running":
                return
            self._state = state
            self._finished_at = at
            self._result = result
            self._error = error
            self._exception = exception


class JobStart(NamedTuple):
    """What `JobRegistry.start` did: the key's running job, and whether this call started it."""

    job: Job
    started: bool


class JobRegistry:
    """The jobs of this process by key: at most one running per key, plus the last finished
    one (for `keep_finished`). Thread-safe; `clock` is for tests."""

    def __init__(
        self,
        *,
        keep_finished: timedelta = KEEP_FINISHED,
        clock: Callable[[], datetime] = _now,
    ):
        self.keep_finished = keep_finished
        self._clock = clock
        self._lock = threading.Lock()
        self._running: dict[str, Job] = {}
        self._finished: dict[str, Job] = {}

    def start(self, key: str, kind: str, started_by: str, work: Work) -> JobStart:
        """Run `work(progress, cancel)` in a new worker thread under `key`; when a job of `key`
        is already running, return that one (started False) and run nothing.

        The thread is a daemon, so a process asked to exit (Ctrl+C on the dashboard) is not
        held for hours by a long sync: at exit `stop_all` asks every running job to stop and
        waits a while for it to keep what it did (a sync saves its snapshot marked
        incomplete; a bulk run's rows are journaled)."""
        with self._lock:
            running = self._running.get(key)
            if running is not None:
                return JobStart(running, False)
            job = Job(key, kind, started_by, self._clock())
            thread = threading.Thread(
                target=self._run, args=(job, work), name=f"mca-job-{kind}-{job.id}", daemon=True
            )
            self._running[key] = job
            try:
                thread.start()
            except BaseException:
                del self._running[key]
                raise
        log.info("Job %s started: %s %r by %s", job.id, kind, key, started_by)
        return JobStart(job, True)

    def current(self, key: str) -> Job | None:
        """The running job of `key`, else its last finished one while it is kept, else None."""
        with self._lock:
            self._prune()
            return self._running.get(key) or self._finished.get(key)

    def get(self, job_id: str) -> Job | None:
        """The job with this id, while it runs or is the kept last finished job of its key."""
        with self._lock:
            self._prune()
            for job in (*self._running.values(), *self._finished.values()):
                if job.id == job_id:
                    return job
        return None

    def jobs(self, prefix: str = "") -> list[Job]:
        """Running and kept finished jobs whose key starts with `prefix`, newest first."""
        with self._lock:
            self._prune()
            found = [
                job
                for job in (*self._running.values(), *self._finished.values())
                if job.key.startswith(prefix)
            ]
        return sorted(found, key=lambda job: job.started_at, reverse=True)

    def wait_all(self, timeout: float | None = None) -> bool:
        """Wait for every running job to end (a CLI exiting, a test); True when all have."""
        with self._lock:
            jobs = list(self._running.values())
        deadline = None if timeout is None else time.monotonic() + timeout
        for job in jobs:
            left = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not job.wait(left):
                return False
        return True

    def stop_all(self, grace_seconds: float = STOP_GRACE_S) -> bool:
        """Ask every running job to stop and wait up to `grace_seconds` for them to end; True
        when they all did (the process exits either way)."""
        with self._lock:
            running = list(self._running.values())
        for job in running:
            job.request_cancel()
        return self.wait_all(grace_seconds)

    def _prune(self) -> None:
        """Forget finished jobs older than `keep_finished` (the caller holds the lock)."""
        now = self._clock()
        for key, job in list(self._finished.items()):
            at = job.finished_at
            if at is not None and now - at > self.keep_finished:
                del self._finished[key]

    def _run(self, job: Job, work: Work) -> None:
        try:
            result = work(job.report, job.cancel)
        except McaError as exc:
            state: JobState = "cancelled" if job.cancel.is_set() else "failed"
            job._finish(state, self._clock(), error=str(exc), exception=exc)
            log.info("Job %s %s: %s", job.id, state, exc)
        except Exception:
            log.exception("Job %s (%s %r) failed unexpectedly", job.id, job.kind, job.key)
            job._finish("failed", self._clock(), error=self._unexpected(job))
        else:
            state = "cancelled" if job.cancel.is_set() else "done"
            job._finish(state, self._clock(), result=result)
            log.info("Job %s %s", job.id, state)
        finally:
            job._finish("failed", self._clock(), error=self._unexpected(job))  # if still running
            with self._lock:
                if self._running.get(job.key) is job:
                    del self._running[job.key]
                self._finished[job.key] = job
            job._ended.set()

    @staticmethod
    def _unexpected(job: Job) -> str:
        return (
            f"The {job.kind} stopped on an unexpected error. The server's log has the details "
            f"(job {job.id})."
        )


#: The registry of this process (the dashboard's server, a CLI run).
JOBS = JobRegistry()
atexit.register(JOBS.stop_all)
