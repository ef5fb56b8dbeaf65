"""Blocks of the overview page: cached snapshot frame, KPI cards, filters, charts, table."""

from __future__ import annotations

import html
from collections.abc import Sequence
from datetime import date

import pandas as pd
import plotly.express as px
import streamlit as st

from mca_core import App, AuditEvent, SnapshotInfo, metrics

from .i18n import t, t_plain, tn
from .markup import md

#: Colours that keep their meaning on every chart (Fluent palette).
STATUS_COLOURS = {
    "attested": "#0F6CBD",
    "direct": "#13A10E",
    "both": "#5C2E91",
    "reacceptance_required": "#EAA300",  # amber: an earlier MCA only, must accept again
    "not_accepted": "#C50F1F",
    "unknown": "#8A8886",
}
TABLE_ROWS = 1000
CHART_HEIGHT = 340


def status_label(status: str) -> str:
    return t(f"status_{status}")


def state_label(state: str) -> str:
    """A customer's acceptance state (`metrics.STATES`) in the UI language."""
    return t("kpi_accepted") if state == "accepted" else status_label(state)


def reseller_names(app: App) -> dict[str, str]:
    """Readable names of indirect resellers: the emulator's directory in the sandbox."""
    return {p.tenant_id: p.name for p in app.partner_names()}


@st.cache_resource(max_entries=4, show_spinner=False)
def _frame(
    store_url: str,
    snapshot_id: int,
    revision: int,
    current_since: date,
    _app: App,
    _snapshot: SnapshotInfo,
) -> pd.DataFrame:
    rows = _app.snapshot_rows(_snapshot)
    return metrics.customers_frame(rows, reseller_names(_app), current_since=current_since)


def load_frame(app: App, snapshot: SnapshotInfo) -> pd.DataFrame:
    """The snapshot as a frame judged against the current MCA (`app.current_since`), read once
    per snapshot, revision and cutoff (a sync never changes; the desk's own work is written
    through and bumps the revision)."""
    return _frame(app.store_url, snapshot.id, snapshot.revision, app.current_since, app, snapshot)


def kpi_cards(now: metrics.Kpis, before: metrics.Kpis | None, current_since: date) -> None:
    change = metrics.deltas(now, before)

    def delta(name: str) -> int | None:
        value = change.get(name)
        return None if value is None else int(value)

    def sum_of(*names: str) -> int | None:
        values = [delta(name) for name in names]
        return None if None in values else sum(v for v in values if v is not None)

    row1 = st.columns(5)
    row1[0].metric(
        t("kpi_customers"), f"{now.customers:,}", delta=delta("customers"), help=t("kpi_delta_help")
    )
    row1[1].metric(t("kpi_accepted"), f"{now.accepted:,}", delta=delta("accepted"))
    row1[2].metric(
        t("kpi_reacceptance_required"),
        f"{now.reacceptance_required:,}",
        delta=delta("reacceptance_required"),
        delta_color="inverse",
        help=t("kpi_reacceptance_required_help", date=current_since.isoformat()),
    )
    row1[3].metric(
        t("kpi_not_accepted"),
        f"{now.not_accepted:,}",
        delta=delta("not_accepted"),
        delta_color="inverse",
    )
    rate_delta = change.get("rate")
    row1[4].metric(
        t("kpi_rate"),
        f"{now.rate:.1%}",
        delta=None if rate_delta is None else t_plain("kpi_rate_delta", delta=rate_delta * 100),
    )
    row2 = st.columns(5)
    row2[0].metric(
        t("kpi_at_risk"),
        f"{now.at_risk:,}",
        delta=sum_of("not_accepted", "reacceptance_required"),
        delta_color="inverse",
        help=t("kpi_at_risk_help"),
    )
    row2[1].metric(
        t("kpi_by_attestation"), f"{now.by_attestation:,}", delta=delta("by_attestation")
    )
    row2[2].metric(t("kpi_directly"), f"{now.directly:,}", delta=delta("directly"))
    row2[3].metric(t("kpi_both"), f"{now.both:,}", delta=delta("both"), help=t("kpi_both_help"))
    row2[4].metric(t("kpi_unknown"), f"{now.unknown:,}")
    st.caption(t("kpi_cutoff_caption", date=current_since.isoformat()))


def filters(frame: pd.DataFrame) -> pd.DataFrame:
    st.subheader(t("filters"))
    c1, c2, c3 = st.columns([2, 2, 2])
    statuses = c1.multiselect(
        t("filter_status"),
        list(metrics.STATUSES),
        format_func=status_label,
        key="ov_status",
        placeholder=t("filter_any"),
    )
    resellers_available = sorted(
        r for r in frame["reseller"].dropna().unique() if r != metrics.NO_RESELLER
    )
    resellers: list[str] = []
    if resellers_available:
        resellers = c2.multiselect(
            t("filter_reseller"),
            resellers_available,
            key="ov_reseller",
            placeholder=t("filter_any"),
        )
    countries = (c3 if resellers_available else c2).multiselect(
        t("filter_country"),
        sorted(frame["country"].dropna().unique()),
        key="ov_country",
        placeholder=t("filter_any"),
    )
    c4, c5 = st.columns([2, 4])
    dates = c4.date_input(t("filter_dates"), value=(), key="ov_dates", format="YYYY-MM-DD")
    text = c5.text_input(t("filter_text"), key="ov_text", placeholder=t("filter_text_placeholder"))
    start, end = _date_range(dates)
    filtered = metrics.filter_customers(
        frame,
        statuses=statuses,
        resellers=resellers,
        countries=countries,
        attested_from=start,
        attested_to=end,
        text=text,
    )
    st.caption(tn("filter_showing", len(frame), shown=len(filtered)))
    return filtered


def _date_range(value: object) -> tuple[date | None, date | None]:
    if isinstance(value, date):
        return value, value
    if isinstance(value, Sequence) and not isinstance(value, str):
        items = list(value)
        if len(items) == 2:
            return items[0], items[1]
        if len(items) == 1:
            return items[0], None
    return None, None


def _bar(
    data: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    *,
    horizontal: bool = False,
    colour: str = "#0F6CBD",
    labels: dict[str, str] | None = None,
) -> None:
    if data.empty or int(data[y if not horizontal else x].sum()) == 0:
        st.markdown(f"**{title}**")
        st.caption(t("chart_empty"))
        return
    # Plotly renders a little HTML in labels (<a href>, <b>): names from Partner Center and
    # the store are data, so the category axis gets them escaped.
    category = y if horizontal else x
    data = data.assign(**{category: data[category].astype(str).map(html.escape)})
    fig = px.bar(
        data,
        x=x,
        y=y,
        orientation="h" if horizontal else "v",
        title=title,
        labels=labels or {},
        color_discrete_sequence=[colour],
    )
    if horizontal:
        fig.update_yaxes(autorange="reversed")
    fig.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    st.plotly_chart(fig, width="stretch")


def charts(
    filtered: pd.DataFrame, snapshots: Sequence[SnapshotInfo], attestations: Sequence[AuditEvent]
) -> None:
    left, right = st.columns(2)
    with left:
        breakdown = metrics.acceptance_breakdown(filtered)
        breakdown = breakdown[breakdown["customers"] > 0]
        if breakdown.empty:
            st.markdown(f"**{t('chart_breakdown')}**")
            st.caption(t("chart_empty"))
        else:
            breakdown = breakdown.assign(label=breakdown["status"].map(status_label))
            fig = px.pie(
                breakdown,
                names="label",
                values="customers",
                hole=0.55,
                title=t("chart_breakdown"),
                labels={"label": t("col_status"), "customers": t("axis_customers")},
                color="status",
                color_discrete_map=STATUS_COLOURS,
            )
            # automargin: a small slice's outside label is not clipped at the chart's edge
            fig.update_traces(textinfo="value+percent", sort=False, automargin=True)
            fig.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 50, "b": 10})
            st.plotly_chart(fig, width="stretch")
    with right:
        per_month = metrics.attestations_per_month(filtered)
        _bar(
            per_month,
            "month",
            "customers",
            t("chart_per_month"),
            labels={"month": t("axis_month"), "customers": t("axis_customers")},
        )
    left, right = st.columns(2)
    with left:
        trend = metrics.acceptance_over_time(snapshots)
        if len(trend) < 2:
            st.markdown(f"**{t('chart_over_time')}**")
            st.caption(t("chart_over_time_empty"))
        else:
            fig = px.line(
                trend,
                x="taken_at",
                y="rate",
                markers=True,
                title=t("chart_over_time"),
                labels={"taken_at": t("axis_synced"), "rate": t("axis_rate")},
            )
            fig.update_yaxes(tickformat=".0%", rangemode="tozero")
            fig.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 50, "b": 10})
            st.plotly_chart(fig, width="stretch")
    with right:
        per_agent = metrics.attestations_per_agent(attestations)
        _bar(
            per_agent,
            "attestations",
            "agent",
            t("chart_per_agent"),
            horizontal=True,
            labels={"agent": t("axis_agent"), "attestations": t("axis_attestations")},
        )
    left, right = st.columns(2)
    with_resellers = filtered[filtered["reseller"] != metrics.NO_RESELLER]
    if len(with_resellers):
        with left:
            _blocked_bar(with_resellers, "reseller", t("chart_by_reseller"), t("col_reseller"))
    else:
        right = left  # a direct-bill portfolio has no resellers: the country chart takes the row
    with right:
        _blocked_bar(filtered, "country", t("chart_by_country"), t("col_country"))


def blocked_counts(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """Customers whose new orders are refused, per `column` value (the largest groups, as
    `metrics.not_accepted_by` ranks them) and per blocked status: column, status, customers."""
    top = metrics.not_accepted_by(frame, column)
    blocked = frame.loc[frame["status"].isin(metrics.BLOCKED_STATUSES)]
    pairs = pd.DataFrame(
        {column: blocked[column].fillna("—").astype(str), "status": blocked["status"].astype(str)}
    )
    counts = pairs.value_counts()
    records = [
        {column: value, "status": status, "customers": int(counts.get((value, status), 0))}
        for value in top[column]
        for status in metrics.BLOCKED_STATUSES
    ]
    out = pd.DataFrame(records, columns=[column, "status", "customers"])
    return out[out["customers"] > 0].reset_index(drop=True)


def _blocked_bar(frame: pd.DataFrame, column: str, title: str, axis: str) -> None:
    """Blocked customers by `column`, one colour per blocked status (stacked, largest first)."""
    data = blocked_counts(frame, column)
    if data.empty:
        st.markdown(f"**{title}**")
        st.caption(t("chart_empty"))
        return
    # names from Partner Center are data: escaped, as in _bar
    data = data.assign(
        **{column: data[column].map(html.escape)}, label=data["status"].map(status_label)
    )
    fig = px.bar(
        data,
        x="customers",
        y=column,
        orientation="h",
        title=title,
        color="label",
        color_discrete_map={status_label(s): c for s, c in STATUS_COLOURS.items()},
        category_orders={
            column: list(dict.fromkeys(data[column])),
            "label": [status_label(s) for s in metrics.BLOCKED_STATUSES],
        },
        labels={column: axis, "customers": t("axis_customers"), "label": t("col_status")},
    )
    # plotly express draws the first of `category_orders` at the top of a horizontal bar chart
    fig.update_layout(
        barmode="stack", height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 50, "b": 10}
    )
    st.plotly_chart(fig, width="stretch")


def export_frame(filtered: pd.DataFrame) -> pd.DataFrame:
    """The filtered table as exported: stable English column names, readable values."""
    out = filtered.copy()
    out["status"] = out["status"].astype(str)
    out["state"] = out["state"].astype(str)
    out["latest_date_agreed"] = out["latest_date_agreed"].dt.strftime("%Y-%m-%d")
    return out.drop(columns=["associated_partner_id"])


def customer_table(filtered: pd.DataFrame) -> None:
    """The filtered customers; selecting a row offers verify / attest / invite for it."""
    shown = filtered.head(TABLE_ROWS)
    if len(filtered) > TABLE_ROWS:
        st.caption(tn("table_truncated", len(filtered), shown=TABLE_ROWS))
    view = pd.DataFrame(
        {
            "company": shown["company_name"],
            "domain": shown["domain"],
            "status": shown["status"].astype(str).map(status_label),
            "state": shown["state"].astype(str).map(state_label),
            "country": shown["country"],
            "reseller": shown["reseller"],
            "latest": shown["latest_date_agreed"].dt.strftime("%Y-%m-%d").fillna("—"),
            "contact": shown["latest_contact_name"].fillna("—"),
        }
    )
    event = st.dataframe(
        view,
        hide_index=True,
        width="stretch",
        key="ov_table",
        on_select="rerun",
        selection_mode="single-row",
        column_config={
            "company": t("col_company"),
            "domain": t("col_domain"),
            "status": t("col_status"),
            "state": t("col_acceptance"),
            "country": t("col_country"),
            "reseller": t("col_reseller"),
            "latest": t("col_latest"),
            "contact": t("col_contact"),
        },
    )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if not rows:
        return
    customer = shown.iloc[rows[0]]
    st.markdown(
        f"**{md(customer['company_name'])}** · {md(customer['domain'])} · "
        f"{status_label(str(customer['status']))}"
    )
    params = {"customer": str(customer["customer_id"])}
    actions = st.columns([1, 1, 1, 3])
    if actions[0].button(t("col_verify"), icon="🔎"):
        st.switch_page("pages/3_Verify.py", query_params=params)
    if actions[1].button(t("col_attest"), icon="✍️"):
        st.switch_page("pages/2_Attest.py", query_params=params)
    if actions[2].button(t("col_invite"), icon="✉️"):
        st.switch_page("pages/4_Invitations.py", query_params=params)
