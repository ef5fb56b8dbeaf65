"""Questions across a partner's snapshots, answered in the database (the digest's queries).

At 100,000 customers a snapshot is 100,000 rows, and a week of hourly syncs is 168 of them:
these queries count and search in SQL and return a handful of rows, never the snapshots' rows.
A row's status is judged from its evidence under the cutoff (`current_since`), as
`usecases.metrics` does it in pandas: unknown (not read), both / attested / direct (accepted),
reacceptance_required (only an attestation dated before the cutoff), not_accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import DateTime, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from mca_core.store.database import SnapshotInfo, Store, _utc, snapshot_rows, snapshots


def _cutoff(current_since: date) -> datetime:
    """An attestation counts for the current MCA from the cutoff's UTC day on."""
    return datetime.combine(current_since, time(0, 0), tzinfo=UTC)


def _conditions(rows: Any, current_since: date) -> dict[str, ColumnElement[bool]]:
    cutoff = _cutoff(current_since)
    known = rows.c.accepted.is_not(None)
    direct = rows.c.direct_signed.is_(True)
    current = and_(rows.c.latest_date_agreed.is_not(None), rows.c.latest_date_agreed >= cutoff)
    not_current = or_(rows.c.latest_date_agreed.is_(None), rows.c.latest_date_agreed < cutoff)
    return {
        "known": known,
        "direct": direct,
        "current": current,
        "accepted": and_(known, or_(direct, current)),
        "blocked": and_(known, rows.c.direct_signed.is_not(True), not_current),
    }


def status_counts(store: Store, snapshot_id: int, current_since: date) -> dict[str, int]:
    """How many rows of one snapshot have each status (every status present, zeros too)."""
    rows = snapshot_rows
    c = _conditions(rows, current_since)
    status = case(
        (~c["known"], "unknown"),
        (and_(c["direct"], c["current"]), "both"),
        (c["current"], "attested"),
        (c["direct"], "direct"),
        (rows.c.latest_date_agreed.is_(None), "not_accepted"),
        else_="reacceptance_required",
    ).label("status")
    query = (
        select(status, func.count().label("n"))
        .where(rows.c.snapshot_id == snapshot_id)
        .group_by(status)
    )
    counts = dict.fromkeys(
        ("both", "attested", "direct", "reacceptance_required", "not_accepted", "unknown"), 0
    )
    with store.engine.connect() as conn:
        for name, n in conn.execute(query):
            counts[str(name)] = int(n)
    return counts


def snapshots_for_period(
    store: Store, scope: str, start: datetime, end: datetime
) -> tuple[SnapshotInfo | None, list[SnapshotInfo]]:
    """The newest complete snapshot taken at or before `start` (the figure the period started
    from, or None), and the complete snapshots taken in (start, end], oldest first."""
    complete = and_(snapshots.c.scope == scope, snapshots.c.complete.is_(True))
    before = (
        select(snapshots)
        .where(complete, snapshots.c.taken_at <= start)
        .order_by(snapshots.c.taken_at.desc(), snapshots.c.id.desc())
        .limit(1)
    )
    within = (
        select(snapshots)
        .where(complete, snapshots.c.taken_at > start, snapshots.c.taken_at <= end)
        .order_by(snapshots.c.taken_at, snapshots.c.id)
    )
    with store.engine.connect() as conn:
        first = conn.execute(before).mappings().first()
        found = conn.execute(within).mappings().all()
    return (SnapshotInfo.from_row(first) if first is not None else None), [
        SnapshotInfo.from_row(r) for r in found
    ]


@dataclass(frozen=True)
class BlockedSince:
    """A customer blocked in a snapshot, and since when without interruption."""

    customer_id: str
    company_name: str
    domain: str
    #: reacceptance_required | not_accepted (in the snapshot asked about)
    status: str
    #: The oldest snapshot since which every snapshot that read the customer found it blocked.
    since: datetime


def blocked_longest(
    store: Store, scope: str, snapshot: SnapshotInfo, current_since: date, limit: int = 5
) -> list[BlockedSince]:
    """The `limit` customers blocked in `snapshot` that have been blocked the longest.

    "Since" is the oldest snapshot of the scope (up to this one) after the last one in which
    the customer was accepted, in which it was blocked: a snapshot that did not read the
    customer (not in it, or its read failed) does not interrupt. One query over the blocked
    customers' rows only (the customer index), returning `limit` rows; ties by company name.
    """
    r = snapshot_rows.alias("r")
    s = snapshots.alias("s")
    now_rows = snapshot_rows.alias("now_rows")
    rc = _conditions(r, current_since)
    nc = _conditions(now_rows, current_since)
    blocked_now = (
        select(now_rows.c.customer_id)
        .where(now_rows.c.snapshot_id == snapshot.id, nc["blocked"])
        .scalar_subquery()
    )
    in_scope = and_(s.c.scope == scope, s.c.taken_at <= snapshot.taken_at)
    last_accepted = (
        select(r.c.customer_id, func.max(s.c.taken_at).label("accepted_at"))
        .select_from(r.join(s, s.c.id == r.c.snapshot_id))
        .where(in_scope, r.c.customer_id.in_(blocked_now), rc["accepted"])
        .group_by(r.c.customer_id)
        .cte("last_accepted")
    )
    since = (
        select(
            r.c.customer_id,
            func.min(s.c.taken_at, type_=DateTime(timezone=True)).label("since"),
        )
        .select_from(
            r.join(s, s.c.id == r.c.snapshot_id).outerjoin(
                last_accepted, last_accepted.c.customer_id == r.c.customer_id
            )
        )
        .where(
            in_scope,
            r.c.customer_id.in_(blocked_now),
            rc["blocked"],
            or_(
                last_accepted.c.accepted_at.is_(None),
                s.c.taken_at > last_accepted.c.accepted_at,
            ),
        )
        .group_by(r.c.customer_id)
        .cte("blocked_since")
    )
    status = case(
        (now_rows.c.latest_date_agreed.is_(None), "not_accepted"),
        else_="reacceptance_required",
    )
    query = (
        select(
            now_rows.c.customer_id,
            now_rows.c.company_name,
            now_rows.c.domain,
            status.label("status"),
            since.c.since,
        )
        .select_from(now_rows.join(since, since.c.customer_id == now_rows.c.customer_id))
        .where(now_rows.c.snapshot_id == snapshot.id)
        .order_by(since.c.since, func.lower(now_rows.c.company_name), now_rows.c.customer_id)
        .limit(limit)
    )
    with store.engine.connect() as conn:
        found = conn.execute(query).mappings().all()
    return [
        BlockedSince(
            customer_id=row["customer_id"],
            company_name=row["company_name"] or "",
            domain=row["domain"] or "",
            status=str(row["status"]),
            since=_as_utc(row["since"]),
        )
        for row in found
    ]


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):  # an aggregate read back as text by a driver that lost the type
        value = datetime.fromisoformat(value)
    moment = _utc(value)
    assert moment is not None
    return moment


__all__ = ["BlockedSince", "blocked_longest", "snapshots_for_period", "status_counts"]
