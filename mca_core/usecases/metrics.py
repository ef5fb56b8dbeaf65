"""Acceptance metrics over a snapshot: what a manager puts on a slide.

Pure functions over pandas frames built from snapshot rows, so the overview page, the report
command and the tests compute the same figures. Status of a customer (`state` in brackets):
  both                   [accepted] a current attestation AND accepted directly (known only
                         when both were asked)
  attested               [accepted] a current attestation by the partner
  direct                 [accepted] accepted by the customer in the Microsoft 365 admin center
  reacceptance_required  [reacceptance_required] only an attestation of an earlier MCA (dated
                         before `current_mca_since`): new orders are refused until it accepts
                         the current MCA
  not_accepted           [not_accepted] none: orders are refused (403 / 13605)
  unknown                [unknown] the last sync could not read it
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd

from mca_core.domain.models import (
    ACCEPTANCE_STATES,
    CURRENT_MCA_SINCE,
    AuditEvent,
    acceptance_evidence,
)
from mca_core.store.database import SnapshotInfo

STATUSES = ("attested", "direct", "both", "reacceptance_required", "not_accepted", "unknown")
ACCEPTED_STATUSES = ("attested", "direct", "both")
#: A customer's state: `ACCEPTANCE_STATES` plus "unknown" (not read).
STATES = (*ACCEPTANCE_STATES, "unknown")
#: Statuses whose new orders are refused.
BLOCKED_STATUSES = ("reacceptance_required", "not_accepted")
NO_RESELLER = "—"
UNKNOWN_COUNTRY = "??"

FRAME_COLUMNS = (
    "customer_id",
    "company_name",
    "domain",
    "country",
    "associated_partner_id",
    "reseller",
    "status",
    "state",
    "accepted",
    "attested",
    "direct_signed",
    "attestation_count",
    "latest_date_agreed",
    "latest_contact_name",
    "latest_contact_email",
    "latest_attested_by",
    "error",
)


def _known(value: Any) -> bool:
    """Not None, NaN or NaT (what a frame holds for a missing value)."""
    return value is not None and not (pd.api.types.is_scalar(value) and pd.isna(value))


def _status(row: Mapping[str, Any], current_since: date) -> str:
    """A row's status, judged from its evidence under the cutoff (see the module docstring)."""
    if not _known(row.get("accepted")):
        return "unknown"
    latest = row.get("latest_date_agreed")
    latest = latest if _known(latest) else None
    direct = row.get("direct_signed")
    return acceptance_evidence(latest, _known(direct) and bool(direct), current_since)


def state_of(status: str) -> str:
    """The acceptance state a status belongs to."""
    return "accepted" if status in ACCEPTED_STATUSES else status


def row_blocked(row: Mapping[str, Any], current_since: date = CURRENT_MCA_SINCE) -> bool:
    """New orders are refused for this snapshot row (not accepted, or only an earlier MCA)."""
    return _status(row, current_since) in BLOCKED_STATUSES


def customers_frame(
    rows: Iterable[Mapping[str, Any]],
    reseller_names: Mapping[str, str] | None = None,
    current_since: date = CURRENT_MCA_SINCE,
) -> pd.DataFrame:
    """Snapshot rows as a typed frame with `status`, `state` and a readable `reseller`,
    judged against the current MCA (`current_since`).

    Column-wise (no row is copied into a dict): at 100k customers this is a small part of what
    reading the rows costs. `status` and `state` are categoricals; text columns are pandas'
    Arrow-backed strings."""
    frame = pd.DataFrame(rows if isinstance(rows, list) else list(rows))
    for column in FRAME_COLUMNS:
        if column not in frame.columns:
            frame[column] = None
    names = dict(reseller_names or {})
    frame["latest_date_agreed"] = pd.to_datetime(frame["latest_date_agreed"], utc=True)
    if len(frame):
        frame["status"] = _statuses(frame, current_since)
        frame["state"] = [state_of(s) for s in frame["status"]]
        frame["reseller"] = [
            names.get(r, r) if isinstance(r, str) and r else NO_RESELLER
            for r in frame["associated_partner_id"]
        ]
        frame["country"] = frame["country"].fillna(UNKNOWN_COUNTRY)
    frame["status"] = pd.Categorical(frame["status"], categories=list(STATUSES))
    frame["state"] = pd.Categorical(frame["state"], categories=list(STATES))
    return frame[list(FRAME_COLUMNS)]


def _statuses(frame: pd.DataFrame, current_since: date) -> np.ndarray:
    """`_status` of every row at once (the same rules, as boolean masks); `latest_date_agreed`
    is already a UTC datetime column."""
    known = frame["accepted"].notna().to_numpy()
    direct = frame["direct_signed"]
    is_direct = np.zeros(len(frame), dtype=bool)
    direct_known = direct.notna().to_numpy()
    is_direct[direct_known] = [bool(v) for v in direct.to_numpy()[direct_known]]
    dates = frame["latest_date_agreed"]
    # an attestation counts for the current MCA from the cutoff's UTC day on
    cutoff = pd.Timestamp(current_since).tz_localize("UTC")
    current = (dates.notna() & (dates >= cutoff)).to_numpy()
    dated = dates.notna().to_numpy()
    return np.select(
        [~known, is_direct & current, current, is_direct, ~dated],
        ["unknown", "both", "attested", "direct", "not_accepted"],
        default="reacceptance_required",
    )


@dataclass(frozen=True)
class Kpis:
    customers: int
    accepted: int
    #: None in KPIs read from an older snapshot's summary that did not count them.
    by_attestation: int | None
    directly: int | None
    both: int | None
    not_accepted: int
    unknown: int
    #: Only an acceptance of an earlier MCA: new orders refused until the current one is.
    reacceptance_required: int = 0

    @property
    def rate(self) -> float:
        return self.accepted / self.customers if self.customers else 0.0

    @property
    def at_risk(self) -> int:
        """Customers whose new orders will be refused (403 / 13605)."""
        return self.not_accepted + self.reacceptance_required

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "rate": round(self.rate, 4), "at_risk": self.at_risk}


def kpis(frame: pd.DataFrame) -> Kpis:
    counts = frame["status"].value_counts()

    def n(status: str) -> int:
        return int(counts.get(status, 0))

    return Kpis(
        customers=len(frame),
        accepted=n("attested") + n("direct") + n("both"),
        by_attestation=n("attested"),
        directly=n("direct"),
        both=n("both"),
        not_accepted=n("not_accepted"),
        unknown=n("unknown"),
        reacceptance_required=n("reacceptance_required"),
    )


def kpis_from_summary(summary: Mapping[str, Any]) -> Kpis:
    """KPIs of an older snapshot from its stored summary (no rows needed)."""
    customers = int(summary.get("customers") or 0)
    accepted = int(summary.get("accepted") or 0)
    attested = int(summary.get("attested") or 0)
    direct = int(summary.get("direct_signed") or 0)
    not_accepted = int(summary.get("not_accepted") or 0)
    reaccept = int(summary.get("reacceptance_required") or 0)
    if "both" in summary:  # the sync counted each row's status (since issue 14)
        by_attestation = int(summary.get("by_attestation") or 0)
        directly, both = int(summary.get("directly") or 0), int(summary.get("both") or 0)
    else:
        # An older summary has only attested / direct totals, which since the MCA refresh also
        # count attestations of an earlier MCA: no breakdown rather than a false change.
        by_attestation = directly = both = None
        del attested, direct
    return Kpis(
        customers=customers,
        accepted=accepted,
        by_attestation=by_attestation,
        directly=directly,
        both=both,
        not_accepted=not_accepted,
        unknown=max(0, customers - accepted - not_accepted - reaccept),
        reacceptance_required=reaccept,
    )


def deltas(now: Kpis, before: Kpis | None) -> dict[str, float | None]:
    """Change since the previous snapshot, per KPI (None when there is nothing to compare)."""
    names = (
        "customers",
        "accepted",
        "by_attestation",
        "directly",
        "both",
        "reacceptance_required",
        "not_accepted",
    )
    if before is None:
        return {name: None for name in (*names, "rate")}
    out: dict[str, float | None] = {
        name: None
        if getattr(before, name) is None or getattr(now, name) is None
        else getattr(now, name) - getattr(before, name)
        for name in names
    }
    out["rate"] = round(now.rate - before.rate, 4)
    return out


def acceptance_breakdown(frame: pd.DataFrame) -> pd.DataFrame:
    counts = frame["status"].value_counts().reindex(list(STATUSES), fill_value=0)
    return pd.DataFrame({"status": counts.index.astype(str), "customers": counts.to_numpy()})


def attestations_per_month(frame: pd.DataFrame) -> pd.DataFrame:
    """Customers by the month of their newest attestation (UTC)."""
    dates = frame["latest_date_agreed"].dropna()
    if dates.empty:
        return pd.DataFrame(
            {"month": pd.Series(dtype="datetime64[ns]"), "customers": pd.Series(dtype=int)}
        )
    months = dates.dt.tz_convert("UTC").dt.tz_localize(None).dt.to_period("M").dt.to_timestamp()
    counts = months.value_counts().sort_index()
    return pd.DataFrame({"month": counts.index, "customers": counts.to_numpy()})


def acceptance_over_time(snapshots: Sequence[SnapshotInfo]) -> pd.DataFrame:
    """The acceptance rate at each complete snapshot, oldest first."""
    points = []
    for snap in sorted(snapshots, key=lambda s: s.taken_at):
        if not snap.complete:
            continue
        k = kpis_from_summary(snap.summary)
        points.append(
            {
                "taken_at": snap.taken_at,
                "rate": k.rate,
                "accepted": k.accepted,
                "customers": k.customers,
            }
        )
    return pd.DataFrame(points, columns=["taken_at", "rate", "accepted", "customers"])


def not_accepted_by(frame: pd.DataFrame, column: str, top: int = 15) -> pd.DataFrame:
    """Customers whose new orders are refused (not accepted, or an earlier MCA only), grouped
    by `column` (reseller, country), largest first."""
    subset = frame.loc[frame["status"].isin(BLOCKED_STATUSES), column].fillna("—")
    counts = subset.value_counts().head(top)
    return pd.DataFrame({column: counts.index.astype(str), "customers": counts.to_numpy()})


def attestations_per_agent(events: Iterable[AuditEvent]) -> pd.DataFrame:
    """Attestations made through the desk, per agent (from the audit log)."""
    names = [
        e.user_name or e.user_id
        for e in events
        if e.action in ("attest", "bulk_attest", "finalise") and e.outcome == "attested"
    ]
    counts = pd.Series(names, dtype=object).value_counts()
    return pd.DataFrame({"agent": counts.index.astype(str), "attestations": counts.to_numpy()})


def filter_customers(
    frame: pd.DataFrame,
    *,
    statuses: Sequence[str] = (),
    resellers: Sequence[str] = (),
    countries: Sequence[str] = (),
    attested_from: date | datetime | None = None,
    attested_to: date | datetime | None = None,
    text: str = "",
) -> pd.DataFrame:
    """The table and charts below the filters show only what these keep."""
    mask = pd.Series(True, index=frame.index)
    if statuses:
        mask &= frame["status"].isin(list(statuses))
    if resellers:
        mask &= frame["reseller"].isin(list(resellers))
    if countries:
        mask &= frame["country"].isin(list(countries))
    if attested_from is not None:
        start = (
            pd.Timestamp(attested_from).tz_localize("UTC")
            if pd.Timestamp(attested_from).tzinfo is None
            else pd.Timestamp(attested_from)
        )
        mask &= frame["latest_date_agreed"] >= start
    if attested_to is not None:
        end = pd.Timestamp(attested_to)
        end = end.tz_localize("UTC") if end.tzinfo is None else end
        if not isinstance(attested_to, datetime):
            end = end + pd.Timedelta(days=1)  # the whole last day
            mask &= frame["latest_date_agreed"] < end
        else:
            mask &= frame["latest_date_agreed"] <= end
    needle = text.strip().lower()
    if needle:
        haystack = (
            frame["company_name"].fillna("").str.lower()
            + "\n"
            + frame["domain"].fillna("").str.lower()
            + "\n"
            + frame["customer_id"].fillna("").str.lower()
        )
        mask &= haystack.str.contains(needle, regex=False)
    return frame.loc[mask]
