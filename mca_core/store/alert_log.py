"""What managers were told, and the alerts still to deliver: the alerts' delivery log.

Two tables in the desk's own database (their own MetaData, created on first use):

* `alert_facts`: per partner scope, the last state each subject was alerted in (a customer's
  acceptance state, a customer the sync could not read, an acceptance link's stage). An alert
  names only what differs from it, so the same change never alerts twice, whoever syncs.
* `alert_outbox`: each alert to deliver, one row per email recipient and one for Teams, kept
  `pending` until it was taken (`dropped` once its channel or recipient is removed). A run
  claims its rows first (`sending`), so two processes never send one twice; a claim older than
  `STALE_CLAIM` (a process killed while sending) is taken over.

Facts and outbox rows are written in one serialized transaction: an alert is either queued and
its facts recorded, or neither. Never a secret: a notice holds counts, names and links.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    or_,
    select,
    update,
)

from mca_core.store.database import Store, scrub

alert_metadata = MetaData()

alert_facts = Table(
    "alert_facts",
    alert_metadata,
    Column("scope", String(128), primary_key=True),
    #: "customer:<id>", "unread:<id>", "link:<request id>"
    Column("subject", String(160), primary_key=True),
    Column("value", String(64), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)

alert_outbox = Table(
    "alert_outbox",
    alert_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("scope", String(128), nullable=False),
    Column("channel", String(16), nullable=False),
    #: Email: the one recipient this row is for (one message each, so one refused or slow
    #: recipient never makes another get the alert twice); Teams: empty.
    Column("target", String(320), nullable=False, default=""),
    Column("locale", String(16), nullable=False, default=""),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("created_by", String(256), nullable=False, default=""),
    Column("notice", JSON, nullable=False),
    #: pending | sending | sent | dropped (its channel or recipient is no longer configured)
    Column("status", String(16), nullable=False, default="pending"),
    Column("attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=False, default=""),
    Column("last_attempt_at", DateTime(timezone=True)),
    Column("claimed_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
    Column("receipt", Text, nullable=False, default=""),
)
Index("ix_alert_outbox_scope_status", alert_outbox.c.scope, alert_outbox.c.status)

#: A claim this old belongs to a process that died while sending: another run takes it over.
STALE_CLAIM = timedelta(minutes=10)
_CHUNK = 500


@dataclass(frozen=True)
class OutboxItem:
    id: int
    scope: str
    channel: str
    target: str
    locale: str
    created_at: datetime
    created_by: str
    notice: dict[str, Any]
    status: str
    attempts: int
    last_error: str
    last_attempt_at: datetime | None
    sent_at: datetime | None
    receipt: str


def _utc(value: datetime | None) -> datetime | None:
    if value is not None and value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value


def _item(row: Any) -> OutboxItem:
    r = dict(row._mapping)
    return OutboxItem(
        id=r["id"],
        scope=r["scope"],
        channel=r["channel"],
        target=r["target"] or "",
        locale=r["locale"] or "",
        created_at=_utc(r["created_at"]) or datetime.now(UTC),
        created_by=r["created_by"] or "",
        notice=dict(r["notice"] or {}),
        status=r["status"],
        attempts=int(r["attempts"] or 0),
        last_error=r["last_error"] or "",
        last_attempt_at=_utc(r["last_attempt_at"]),
        sent_at=_utc(r["sent_at"]),
        receipt=r["receipt"] or "",
    )


class AlertLog:
    """The facts told and the outbox of one desk store."""

    def __init__(self, store: Store):
        self.store = store
        store.ensure_schema(alert_metadata)

    def facts(self, scope: str) -> dict[str, str]:
        """subject -> value last told, for one partner scope."""
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(alert_facts.c.subject, alert_facts.c.value).where(
                    alert_facts.c.scope == scope
                )
            )
            return {subject: value for subject, value in rows}

    def record(
        self,
        scope: str,
        *,
        told: Mapping[str, str],
        forgotten: Iterable[str],
        notices: Iterable[tuple[str, str, str, dict[str, Any]]],
        created_by: str,
        expected: Mapping[str, str] | None = None,
        now: datetime | None = None,
    ) -> bool:
        """Record the facts now told (`told`: subject -> value; `forgotten`: subjects that no
        longer hold) and queue the notice once per (channel, target, locale), in one
        transaction no other run of this scope interleaves with. With `expected` (the facts the
        notice was computed from), nothing is written and False returned when another run
        changed them meanwhile."""
        moment = now or datetime.now(UTC)
        with self.store.serialized(f"alerts:{scope}") as conn:
            if expected is not None:
                current = dict(
                    conn.execute(
                        select(alert_facts.c.subject, alert_facts.c.value).where(
                            alert_facts.c.scope == scope
                        )
                    ).all()
                )
                if current != dict(expected):
                    return False
            changed = list(told)
            gone = list(forgotten)
            for start in range(0, len(changed) + len(gone), _CHUNK):
                chunk = (changed + gone)[start : start + _CHUNK]
                conn.execute(
                    delete(alert_facts).where(
                        and_(alert_facts.c.scope == scope, alert_facts.c.subject.in_(chunk))
                    )
                )
            if changed:
                conn.execute(
                    insert(alert_facts),
                    [
                        {"scope": scope, "subject": s, "value": told[s], "since": moment}
                        for s in changed
                    ],
                )
            for channel, target, locale, notice in notices:
                conn.execute(
                    insert(alert_outbox).values(
                        scope=scope,
                        channel=channel,
                        target=target,
                        locale=locale,
                        created_at=moment,
                        created_by=created_by,
                        notice=scrub(notice),
                        status="pending",
                        attempts=0,
                        last_error="",
                        receipt="",
                    )
                )
        return True

    def claim(self, scope: str, now: datetime | None = None) -> list[OutboxItem]:
        """Take this scope's undelivered alerts for sending, oldest first."""
        moment = now or datetime.now(UTC)
        stale = moment - STALE_CLAIM
        o = alert_outbox.c
        with self.store.serialized(f"alerts-outbox:{scope}") as conn:
            ids = [
                row.id
                for row in conn.execute(
                    select(o.id)
                    .where(
                        o.scope == scope,
                        or_(
                            o.status == "pending",
                            and_(o.status == "sending", o.claimed_at < stale),
                        ),
                    )
                    .order_by(o.id)
                )
            ]
            if not ids:
                return []
            conn.execute(
                update(alert_outbox)
                .where(o.id.in_(ids))
                .values(status="sending", claimed_at=moment)
            )
            rows = conn.execute(select(alert_outbox).where(o.id.in_(ids)).order_by(o.id)).all()
        return [_item(r) for r in rows]

    def delivered(self, item_id: int, receipt: str = "", now: datetime | None = None) -> None:
        self._finish(item_id, now, status="sent", sent_at=now, last_error="", receipt=receipt)

    def failed(self, item_id: int, reason: str, now: datetime | None = None) -> None:
        """Back to pending with the reason: the next run sends it again."""
        self._finish(item_id, now, status="pending", claimed_at=None, last_error=reason)

    def dropped(self, item_id: int, reason: str, now: datetime | None = None) -> None:
        """Not to be sent any more (its channel or recipient was removed), with the reason."""
        self._finish(item_id, now, status="dropped", claimed_at=None, last_error=reason)

    def _finish(self, item_id: int, now: datetime | None, **values: Any) -> None:
        """One try of a claimed alert is over: count it, with its outcome."""
        moment = now or datetime.now(UTC)
        if "sent_at" in values:
            values["sent_at"] = moment
        if "receipt" in values:
            values["receipt"] = str(values["receipt"])[:2000]
        values["last_error"] = str(scrub(values["last_error"]))[:2000]
        with self.store.engine.begin() as conn:
            conn.execute(
                update(alert_outbox)
                .where(alert_outbox.c.id == item_id)
                .values(last_attempt_at=moment, attempts=alert_outbox.c.attempts + 1, **values)
            )

    def pending(self, scope: str) -> list[OutboxItem]:
        o = alert_outbox.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(alert_outbox)
                .where(o.scope == scope, o.status.in_(("pending", "sending")))
                .order_by(o.id)
            ).all()
        return [_item(r) for r in rows]

    def recent(self, scope: str, limit: int = 50) -> list[OutboxItem]:
        """The newest alerts of the scope (any status), newest first."""
        o = alert_outbox.c
        with self.store.engine.connect() as conn:
            rows = conn.execute(
                select(alert_outbox).where(o.scope == scope).order_by(o.id.desc()).limit(limit)
            ).all()
        return [_item(r) for r in rows]


__all__ = ["STALE_CLAIM", "AlertLog", "OutboxItem", "alert_facts", "alert_outbox"]
