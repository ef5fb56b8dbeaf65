"""Blocks of the overview page: cached snapshot frame, KPI cards, filters, charts, table."""

from __future__ import annotations

import html
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime

import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from mca_core import App, AuditEvent, InvitationEntry, SnapshotInfo, metrics, reports

from . import i18n
from .i18n import t, t_plain, tn
from .markup import md

#: What a snapshot's frame depends on (`frame_key`): store, snapshot id, revision, cutoff.
FrameKey = tuple[str, int, int, date]

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


def frame_key(app: App, snapshot: SnapshotInfo) -> FrameKey:
    """What the frame of a snapshot depends on: store, snapshot, revision and cutoff."""
    return (app.store_url, snapshot.id, snapshot.revision, app.current_since)


def load_frame(app: App, snapshot: SnapshotInfo) -> pd.DataFrame:
    """The snapshot as a frame judged against the current MCA (`app.current_since`), read once
    per snapshot, revision and cutoff (a sync never changes; the desk's own work is written
    through and bumps the revision). One object shared by every session: never mutate it."""
    return _frame(*frame_key(app, snapshot), app, snapshot)


# --- what the page derives from the frame, shared by every session ---------------------------
#
# Every session of the process draws the same snapshot: the filtered counts, the chart data,
# the table's first rows and the figures are computed once per (frame, filters[, language]) and
# shared (st.cache_resource, bounded). A session keeps none of it: no frame in session_state,
# and the downloads build their file only when clicked, from the shared frame.


@dataclass(frozen=True)
class Filters:
    """The overview's filter values, hashable (a cache key)."""

    statuses: tuple[str, ...] = ()
    resellers: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    attested_from: date | None = None
    attested_to: date | None = None
    text: str = ""

    def key(self) -> tuple[object, ...]:
        needle = self.text.strip().lower()  # what `metrics.filter_customers` looks for
        return (
            self.statuses,
            self.resellers,
            self.countries,
            self.attested_from,
            self.attested_to,
            needle,
        )

    def apply(self, frame: pd.DataFrame) -> pd.DataFrame:
        return metrics.filter_customers(
            frame,
            statuses=self.statuses,
            resellers=self.resellers,
            countries=self.countries,
            attested_from=self.attested_from,
            attested_to=self.attested_to,
            text=self.text,
        )


@dataclass(frozen=True)
class OverviewView:
    """What the page draws below the filters, for one frame and filter set: small frames only
    (the filtered customers themselves are not kept)."""

    #: The frame's and the filters' keys (what everything below was computed from).
    key: tuple[object, ...]
    total: int
    shown: int
    breakdown: pd.DataFrame
    per_month: pd.DataFrame
    by_reseller: pd.DataFrame
    has_resellers: bool
    by_country: pd.DataFrame
    #: The first `TABLE_ROWS` filtered customers (what the table shows and a selection picks).
    head: pd.DataFrame


@st.cache_resource(max_entries=4, show_spinner=False)
def _options(key: FrameKey, _frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The filters' choices: indirect resellers and countries present in the frame."""
    resellers = sorted(r for r in _frame["reseller"].dropna().unique() if r != metrics.NO_RESELLER)
    return resellers, sorted(_frame["country"].dropna().unique())


@st.cache_resource(max_entries=32, show_spinner=False)
def _view(
    key: FrameKey, filters_key: tuple[object, ...], _frame: pd.DataFrame, _filters: Filters
) -> OverviewView:
    filtered = _filters.apply(_frame)
    with_resellers = filtered[filtered["reseller"] != metrics.NO_RESELLER]
    return OverviewView(
        key=(key, filters_key),
        total=len(_frame),
        shown=len(filtered),
        breakdown=metrics.acceptance_breakdown(filtered),
        per_month=metrics.attestations_per_month(filtered),
        by_reseller=blocked_counts(with_resellers, "reseller"),
        has_resellers=bool(len(with_resellers)),
        by_country=blocked_counts(filtered, "country"),
        head=filtered.head(TABLE_ROWS).copy(),
    )


def view(app: App, snapshot: SnapshotInfo, filters: Filters) -> OverviewView:
    """The shared `OverviewView` of the snapshot under `filters`."""
    key = frame_key(app, snapshot)
    return _view(key, filters.key(), load_frame(app, snapshot), filters)


@st.cache_resource(max_entries=4, show_spinner=False)
def _kpis(key: FrameKey, _frame: pd.DataFrame) -> metrics.Kpis:
    return metrics.kpis(_frame)


def kpis(app: App, snapshot: SnapshotInfo) -> metrics.Kpis:
    """The snapshot's KPIs (`metrics.kpis` of the shared frame, once per frame)."""
    return _kpis(frame_key(app, snapshot), load_frame(app, snapshot))


def filtered_frame(app: App, snapshot: SnapshotInfo, filters: Filters) -> pd.DataFrame:
    """The filtered customers (for an export, when its button is clicked)."""
    return filters.apply(load_frame(app, snapshot))


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
        delta=None
        if rate_delta is None
        else 0  # unchanged: shown as the other cards' grey 0, not a green "+0.0 pt"
        if round(rate_delta * 100, 1) == 0
        else t_plain("kpi_rate_delta", delta=rate_delta * 100),
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


def filters(app: App, snapshot: SnapshotInfo) -> Filters:
    """The filter widgets (choices from the shared frame); their values as `Filters`."""
    st.subheader(t("filters"))
    resellers_available, countries_available = _options(
        frame_key(app, snapshot), load_frame(app, snapshot)
    )
    c1, c2, c3 = st.columns([2, 2, 2])
    statuses = c1.multiselect(
        t("filter_status"),
        list(metrics.STATUSES),
        format_func=status_label,
        key="ov_status",
        placeholder=t("filter_any"),
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
        countries_available,
        key="ov_country",
        placeholder=t("filter_any"),
    )
    c4, c5 = st.columns([2, 4])
    dates = c4.date_input(t("filter_dates"), value=(), key="ov_dates", format="YYYY-MM-DD")
    text = c5.text_input(t("filter_text"), key="ov_text", placeholder=t("filter_text_placeholder"))
    start, end = _date_range(dates)
    return Filters(
        statuses=tuple(sorted(statuses)),
        resellers=tuple(sorted(resellers)),
        countries=tuple(sorted(countries)),
        attested_from=start,
        attested_to=end,
        text=text or "",
    )


def filter_caption(shown: OverviewView) -> None:
    st.caption(tn("filter_showing", shown.total, shown=shown.shown))


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


@st.cache_resource(max_entries=160, show_spinner=False)
def _figure(
    kind: str, lang: str, data_key: tuple[object, ...], _build: Callable[[], go.Figure]
) -> go.Figure:
    """A chart built once per data and language and shared by every session (plotly express
    costs tens of milliseconds a figure; st.plotly_chart only reads it)."""
    return _build()


def _layout(fig: go.Figure) -> go.Figure:
    fig.update_layout(height=CHART_HEIGHT, margin={"l": 10, "r": 10, "t": 50, "b": 10})
    return fig


def _empty(title: str, caption: str | None = None) -> None:
    st.markdown(f"**{title}**")
    st.caption(caption or t("chart_empty"))


def _bar_figure(
    data: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    *,
    horizontal: bool = False,
    colour: str = "#0F6CBD",
    labels: dict[str, str] | None = None,
) -> go.Figure:
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
    return _layout(fig)


def _bar(
    data: pd.DataFrame,
    x: str,
    y: str,
    title: str,
    *,
    horizontal: bool = False,
    colour: str = "#0F6CBD",
    labels: dict[str, str] | None = None,
    key: tuple[object, ...] | None = None,
) -> None:
    """A bar chart of `data`; `key` names the data for the shared figure cache (else the data's
    own values are the key)."""
    if data.empty or int(data[y if not horizontal else x].sum()) == 0:
        _empty(title)
        return
    data_key = key if key is not None else _values_key(data)
    fig = _figure(
        f"bar:{x}:{y}:{horizontal}",
        i18n.language(),
        data_key,
        lambda: _bar_figure(data, x, y, title, horizontal=horizontal, colour=colour, labels=labels),
    )
    st.plotly_chart(fig, width="stretch")


def _values_key(data: pd.DataFrame) -> tuple[object, ...]:
    """A small frame's values as a hashable key."""
    return (tuple(data.columns), tuple(data.itertuples(index=False, name=None)))


def _pie_figure(breakdown: pd.DataFrame) -> go.Figure:
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
    return _layout(fig)


def _trend_figure(trend: pd.DataFrame) -> go.Figure:
    fig = px.line(
        trend,
        x="taken_at",
        y="rate",
        markers=True,
        title=t("chart_over_time"),
        labels={"taken_at": t("axis_synced"), "rate": t("axis_rate")},
    )
    fig.update_yaxes(tickformat=".0%", rangemode="tozero")
    return _layout(fig)


def charts(
    shown: OverviewView, snapshots: Sequence[SnapshotInfo], attestations: Sequence[AuditEvent]
) -> None:
    """The charts of the filtered customers (`shown`), the trend and the desk's agents."""
    lang = i18n.language()
    left, right = st.columns(2)
    with left:
        breakdown = shown.breakdown[shown.breakdown["customers"] > 0]
        if breakdown.empty:
            _empty(t("chart_breakdown"))
        else:
            fig = _figure("pie", lang, _values_key(breakdown), lambda: _pie_figure(breakdown))
            st.plotly_chart(fig, width="stretch")
    with right:
        _bar(
            shown.per_month,
            "month",
            "customers",
            t("chart_per_month"),
            labels={"month": t("axis_month"), "customers": t("axis_customers")},
        )
    left, right = st.columns(2)
    with left:
        trend = metrics.acceptance_over_time(snapshots)
        if len(trend) < 2:
            _empty(t("chart_over_time"), t("chart_over_time_empty"))
        else:
            fig = _figure("trend", lang, _values_key(trend), lambda: _trend_figure(trend))
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
    if shown.has_resellers:
        with left:
            _blocked_bar(shown.by_reseller, "reseller", t("chart_by_reseller"), t("col_reseller"))
    else:
        right = left  # a direct-bill portfolio has no resellers: the country chart takes the row
    with right:
        _blocked_bar(shown.by_country, "country", t("chart_by_country"), t("col_country"))


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


def _blocked_figure(data: pd.DataFrame, column: str, title: str, axis: str) -> go.Figure:
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
    fig.update_layout(barmode="stack")
    return _layout(fig)


def _blocked_bar(data: pd.DataFrame, column: str, title: str, axis: str) -> None:
    """Blocked customers by `column` (`blocked_counts`), one colour per blocked status
    (stacked, largest first)."""
    if data.empty:
        _empty(title)
        return
    fig = _figure(
        f"blocked:{column}",
        i18n.language(),
        _values_key(data),
        lambda: _blocked_figure(data, column, title, axis),
    )
    st.plotly_chart(fig, width="stretch")


def export_frame(filtered: pd.DataFrame) -> pd.DataFrame:
    """The filtered table as exported: stable English column names, readable values."""
    out = filtered.copy()
    out["status"] = out["status"].astype(str)
    out["state"] = out["state"].astype(str)
    out["latest_date_agreed"] = out["latest_date_agreed"].dt.strftime("%Y-%m-%d")
    return out.drop(columns=["associated_partner_id"])


def customer_table(
    shown: OverviewView,
    *,
    read_only: bool = False,
    invited: Mapping[str, InvitationEntry] | None = None,
) -> None:
    """The filtered customers (the first `TABLE_ROWS`); selecting a row offers verify / attest /
    invite for it (`read_only`, a Manager: verify only). `invited` (`App.latest_invitations`,
    read once per run) adds "invited on / by"; the rows shown are derived once per view,
    language and invitation log version, shared by every session."""
    head = shown.head
    if shown.shown > TABLE_ROWS:
        st.caption(tn("table_truncated", shown.shown, shown=TABLE_ROWS))
    version = getattr(invited, "version", None) if invited is not None else None
    view = _table_view(shown.key, i18n.language(), head, version, invited)
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
            "invited_on": t("col_invited_on"),
            "invited_by": t("col_invited_by"),
        },
    )
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if not rows or rows[0] >= len(head):
        return
    customer = head.iloc[rows[0]]
    st.markdown(
        f"**{md(customer['company_name'])}** · {md(customer['domain'])} · "
        f"{status_label(str(customer['status']))}"
    )
    params = {"customer": str(customer["customer_id"])}
    actions = st.columns([1, 1, 1, 3])
    if actions[0].button(t("col_verify"), icon="🔎"):
        st.switch_page("pages/3_Verify.py", query_params=params)
    if read_only:
        actions[3].caption(t("manager_read_only_act"))
        return
    if actions[1].button(t("col_attest"), icon="✍️"):
        st.switch_page("pages/2_Attest.py", query_params=params)
    if actions[2].button(t("col_invite"), icon="✉️"):
        st.switch_page("pages/4_Invitations.py", query_params=params)


@st.cache_resource(max_entries=64, show_spinner=False)
def _table_view(
    key: tuple[object, ...],
    lang: str,
    _head: pd.DataFrame,
    invited_version: int | None = None,
    _invited: Mapping[str, InvitationEntry] | None = None,
) -> pd.DataFrame:
    """The table's rows as shown, in `lang`, for the view of `key` (frame, filters) and the
    invitation log's `invited_version` (None: no invitation columns)."""
    columns = {
        "company": _head["company_name"],
        "domain": _head["domain"],
        "status": _head["status"].astype(str).map(status_label),
        "state": _head["state"].astype(str).map(state_label),
        "country": _head["country"],
        "reseller": _head["reseller"],
        "latest": _head["latest_date_agreed"].dt.strftime("%Y-%m-%d").fillna("—"),
        "contact": _head["latest_contact_name"].fillna("—"),
    }
    if _invited is not None:
        found = [_invited.get(str(cid)) for cid in _head["customer_id"]]
        columns["invited_on"] = [e.at.strftime("%Y-%m-%d") if e else "—" for e in found]
        columns["invited_by"] = [(e.user_name or e.user_id) if e else "—" for e in found]
    return pd.DataFrame(columns, index=_head.index)


def export_labels() -> dict[str, str]:
    """The Excel summary's texts (`reports.SUMMARY_LABELS`' keys) in the session's language:
    the KPI cards' and the status labels' words, so the workbook says what the page says."""
    labels = {
        "title": t_plain("export_title"),
        "partner": t_plain("export_partner"),
        "taken_at": t_plain("export_taken_at"),
        "kpis": t_plain("export_kpis"),
        "per_state": t_plain("export_per_state"),
        "per_status": t_plain("export_per_status"),
        "count": t_plain("kpi_customers"),
        "share": t_plain("export_share"),
        "customers": t_plain("kpi_customers"),
        "accepted": t_plain("kpi_accepted"),
        "rate": t_plain("kpi_rate"),
        "by_attestation": t_plain("kpi_by_attestation"),
        "directly": t_plain("kpi_directly"),
        "both": t_plain("kpi_both"),
        "reacceptance_required": t_plain("kpi_reacceptance_required"),
        "not_accepted": t_plain("kpi_not_accepted"),
        "at_risk": t_plain("kpi_at_risk"),
        "unknown": t_plain("kpi_unknown"),
    }
    labels.update({f"status_{s}": t_plain(f"status_{s}") for s in metrics.STATUSES})
    labels.update(
        {
            f"state_{s}": t_plain("kpi_accepted" if s == "accepted" else f"status_{s}")
            for s in metrics.STATES
        }
    )
    return labels


def export_table(
    frame: pd.DataFrame,
    fmt: str,
    *,
    partner: str = "",
    taken_at: datetime | None = None,
    labels: dict[str, str] | None = None,
    notes: Sequence[tuple[str, str]] = (),
) -> bytes:
    """The filtered customers as a file; a workbook opens on the summary of these customers
    (`metrics.kpis`, as the cards count them)."""
    if fmt != "xlsx":
        return reports.export_table(export_frame(frame), fmt)
    return reports.export_table(
        export_frame(frame),
        "xlsx",
        summary=metrics.kpis(frame),
        partner=partner,
        taken_at=taken_at,
        labels=labels,
        notes=notes,
    )


def download_buttons(
    app: App, snapshot: SnapshotInfo, filters: Filters, *, partner: str = ""
) -> None:
    """CSV and Excel of the filtered table, built only when a button is clicked: the callable a
    download button keeps (for as long as its session lives) holds the filter values, not a
    copy of the customers. The workbook's summary names `partner`; its texts are taken in the
    session's language now (the file may be built outside the script run)."""
    stamp = snapshot.taken_at.strftime("%Y%m%d-%H%M")
    labels = export_labels()
    notes: tuple[tuple[str, str], ...] = ()
    if any(filters.key()):  # the summary counts only the customers the filters keep
        total = kpis(app, snapshot).customers
        notes = ((t_plain("export_filters"), t_plain("export_filtered_of", total=f"{total:,}")),)

    def build(fmt: str) -> Callable[[], bytes]:
        return lambda: export_table(
            filtered_frame(app, snapshot, filters),
            fmt,
            partner=partner,
            taken_at=snapshot.taken_at,
            labels=labels,
            notes=notes,
        )

    cols = st.columns([1, 1, 4])
    for col, fmt, label in ((cols[0], "csv", "download_csv"), (cols[1], "xlsx", "download_xlsx")):
        col.download_button(
            t(label),
            data=build(fmt),
            file_name=f"mca-acceptance-{stamp}.{fmt}",
            mime=reports.MEDIA_TYPES[fmt],
            icon="⬇️",
            on_click="ignore",
        )
