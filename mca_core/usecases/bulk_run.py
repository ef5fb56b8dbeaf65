"""What both bulk runs share: the classic one (`bulk`, an attestation per row) and the enhanced
one (`bulk_signers`, an acceptance link per row).

A run (`RowRun`, each module's `_Run` adds its own steps) keeps one outcome per row and reports
progress after each; it works on a few rows at a time and, once it is cancelled or Partner Center
refused the user, starts no more of them; one row's surprise never stops the others. The run as
a whole is audited once (`audit_run`), under the one action of every bulk run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from mca_core.domain.models import Identity
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.database import Store
from mca_core.usecases import audit

#: The audit action of bulk runs, whichever channel ran them.
ACTION = "bulk_attest"
DEFAULT_CONCURRENCY = 8
ProgressCallback = Callable[[int, int], None]
Outcome = TypeVar("Outcome")


def tally(states: Iterable[str], names: Iterable[str]) -> dict[str, int]:
    """How many rows ended in each of `names` (every name, zero included, in that order)."""
    found = Counter(states)
    return {name: found.get(name, 0) for name in names}


def run_key(partner: str, rows: list[list[Any]]) -> str:
    """The identity of one submitted file: the same normalised `rows` for the same partner, the
    same key."""
    payload = json.dumps({"partner": partner, "rows": rows}, ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class RunReport(Protocol):
    """What the summary audit row reads of a run's report."""

    run_key: str
    dry_run: bool
    cancelled: bool

    @property
    def counts(self) -> dict[str, int]: ...


class RowRun(Generic[Outcome]):
    """The state of one bulk run that both channels keep: the outcome of each row by its index
    in the file, the progress, the gate the rows pass one by one, and why no more are sent."""

    #: The message of a row not started because the run was cancelled.
    CANCELLED: ClassVar[str]
    #: What every audit row of the run names first (the channel, when not the classic one).
    TAG: ClassVar[dict[str, str]] = {}

    def __init__(
        self,
        pc: PartnerCenterClient,
        store: Store,
        identity: Identity,
        rows: list[Any],
        *,
        dry_run: bool,
        progress: ProgressCallback | None,
        cancel: threading.Event | None,
        concurrency: int,
    ):
        self.pc, self.store, self.identity, self.rows = pc, store, identity, rows
        self.dry_run, self.cancel = dry_run, cancel
        self.progress = progress or (lambda done, total: None)
        self.concurrency = max(1, concurrency)
        self.gate = asyncio.Semaphore(self.concurrency)
        self.outcomes: dict[int, Outcome] = {}
        #: (state, message) of the rows not sent after Partner Center refused the user.
        self.abort: tuple[str, str] | None = None

    def finish(self, index: int, outcome: Outcome) -> None:
        self.outcomes[index] = outcome
        self.progress(len(self.outcomes), len(self.rows))

    async def in_turn(
        self,
        index: int,
        send: Callable[[], Awaitable[Outcome | None]],
        *,
        not_sent: Callable[[str, str], Outcome | None],
        failed: Callable[[str], Outcome | None],
    ) -> None:
        """Row `index` in its turn at the gate: `send()` it, unless the run was cancelled or
        refused meanwhile (`not_sent(state, message)`); an unexpected error fails this row only
        (`failed(message)`). Each returns the row's outcome to finish it with, or None when it
        finished the row itself."""
        async with self.gate:
            await asyncio.sleep(0)  # a point where a cancelled or dying run stops between rows
            if self.cancel is not None and self.cancel.is_set():
                outcome = not_sent("cancelled", self.CANCELLED)
            elif self.abort is not None:
                outcome = not_sent(*self.abort)
            else:
                try:
                    outcome = await send()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # one row's surprise never stops the others
                    outcome = failed(f"Unexpected error ({type(exc).__name__}): {exc}")
            if outcome is not None:
                self.finish(index, outcome)

    async def gather(self, tasks: list[asyncio.Task[None]]) -> None:
        """Wait for the rows' tasks."""
        try:
            await asyncio.gather(*tasks)
        except BaseException:  # cancelled or dying: start nothing more (what ended is kept)
            for task in tasks:
                task.cancel()
            raise

    def audit_run(self, report: RunReport, **more: Any) -> None:
        """The run's one summary audit row: how many rows ended in each state, and `more`."""
        counts = {k: v for k, v in report.counts.items() if v}
        outcome = "dry_run" if report.dry_run else ("cancelled" if report.cancelled else "done")
        audit.record(
            self.store,
            self.identity,
            ACTION,
            outcome,
            inputs={
                **self.TAG,
                "run_key": report.run_key,
                "rows": len(self.rows),
                "counts": counts,
                **more,
            },
            detail=", ".join(f"{n} {k}" for k, n in counts.items()) or "no rows",
        )


__all__ = [
    "ACTION",
    "DEFAULT_CONCURRENCY",
    "ProgressCallback",
    "RowRun",
    "run_key",
    "tally",
]
