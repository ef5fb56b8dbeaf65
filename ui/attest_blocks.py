"""Page blocks of the Attest, Verify and Audit pages: the attest guard, the customer type-ahead,
error messages, links with a preselected customer, and widget state that survives a step."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, tzinfo
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import pandas as pd
import phonenumbers
import streamlit as st
from streamlit.errors import StreamlitAPIException

from mca_core import (
    BULK_COLUMNS,
    AccessRefused,
    Actor,
    App,
    ClassicAttestationRetired,
    InvalidInput,
    McaError,
    PartnerCenterError,
    Role,
    SnapshotInfo,
    Verification,
    VerifiedAttestation,
    access,
    classify_customer_ref,
    metrics,
)

from . import blocks, i18n
from .guard import require
from .i18n import t, tn
from .markup import md

T = TypeVar("T")
ROOT = Path(__file__).resolve().parent.parent
INVITATIONS_PAGE = "pages/4_Invitations.py"
ATTEST_PAGE = "pages/2_Attest.py"
VERIFY_PAGE = "pages/3_Verify.py"
ROLE_VALUES = {r.value for r in Role}
PAGE_PATHS = {ATTEST_PAGE: "/Attest", VERIFY_PAGE: "/Verify", INVITATIONS_PAGE: "/Invitations"}


# --- guard -----------------------------------------------------------------------------------


def require_attester() -> Actor:
    """The Attest page guard: `check_may_attest`, with a link to where a refused user goes.

    An indirect reseller is pointed to Invitations → Request to my indirect provider; a Helpdesk
    agent to Verify. The page stops for both; the use cases check again.
    """
    actor = require(access.check_signed_in)
    try:
        access.check_may_attest(actor.identity)
    except AccessRefused as exc:
        st.error(f"**{t('guard_refused')}** — {i18n.refusal_text(exc)}")
        if exc.code == "reseller_cannot_attest":
            link_page(INVITATIONS_PAGE, t("go_provider_request"), icon="✉️")
        else:
            link_page(VERIFY_PAGE, t("go_verify"), icon="🔎")
        st.stop()
    return actor


# --- links -----------------------------------------------------------------------------------


def page_exists(page: str) -> bool:
    return (ROOT / page).is_file()


def link_page(
    page: str, label: str, *, icon: str | None = None, customer: str | None = None
) -> None:
    """A link to another page (optionally `?customer=`); plain text while the page is absent."""
    if not page_exists(page):
        st.caption(f"{label} — {t('page_not_yet')}")
        return
    query = {"customer": customer} if customer else None
    try:
        st.page_link(page, label=label, icon=icon, query_params=query)
    except StreamlitAPIException:  # the page runs as its own entrypoint (AppTest)
        suffix = f"?customer={customer}" if customer else ""
        st.markdown(f"[{(icon + ' ') if icon else ''}{label}]({PAGE_PATHS.get(page, '/')}{suffix})")


# --- messages --------------------------------------------------------------------------------


def show_error(error: McaError, *, lead: str | None = None) -> None:
    """Any desk error as a clear message in the UI language; never a traceback."""
    head = f"**{lead}** " if lead else ""
    if isinstance(error, InvalidInput):
        lines = "\n".join(f"- {i18n.problem_text(p)}" for p in error.problems)
        st.error(f"{head}{t('at_fix_these')}\n\n{lines}")
    elif isinstance(error, AccessRefused):
        st.error(f"{head}**{t('guard_refused')}** — {i18n.refusal_text(error)}")
    elif isinstance(error, PartnerCenterError):
        st.error(f"{head}{partner_center_text(error)}")
    else:
        st.error(f"{head}{md(error)}")


def partner_center_text(error: PartnerCenterError) -> str:
    facts = []
    if error.status is not None:
        facts.append(f"HTTP {md(error.status)}")
    if error.code not in (None, ""):
        facts.append(t("code_is", code=error.code))
    if isinstance(error, ClassicAttestationRetired):  # the core's text is English only
        text = t("classic_retired_refused")
    else:
        text = t("pc_failed", message=error.message)
    if facts:
        text += f" ({', '.join(facts)})"
    if error.request_id:
        text += "  \n" + t("request_id_is", rid=error.request_id)
    return text


def classic_retired_warning() -> None:
    """A classic form says, every time it is shown, that Microsoft retired the call it makes."""
    st.warning(t("classic_retired_warning"), icon="⚠️")


def problem_list(problems: Iterable[Any]) -> str:
    """For table cells (plain text)."""
    return "; ".join(i18n.problem_plain(p) for p in problems)


# --- time ------------------------------------------------------------------------------------


def browser_timezone() -> tzinfo | None:
    """The browser's zone, to tell a user east of UTC why 'today' may still be in the future."""
    name = getattr(st.context, "timezone", None)
    if not name:
        return None
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return None


def utc_time(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value is not None else ""


# --- the synced customer list ----------------------------------------------------------------


@dataclass(frozen=True)
class Picker:
    """A synced list as the customer picker needs it: ids sorted by name, their labels and
    names. Built once per snapshot revision and shared by every session (read-only)."""

    options: tuple[str, ...]
    labels: Mapping[str, str]
    names: Mapping[str, str]


#: The most customers a picker sends to the browser: typing and Enter search them all.
PICKER_LIMIT = 2000


def build_picker(rows: Mapping[str, dict[str, Any]]) -> Picker:
    options = sorted(rows, key=lambda cid: str(rows[cid].get("company_name") or "").lower())
    return Picker(
        options=tuple(options),
        labels=MappingProxyType({cid: customer_label(rows[cid]) for cid in options}),
        names=MappingProxyType({cid: str(rows[cid].get("company_name") or "") for cid in options}),
    )


class SyncedRows(Mapping[str, dict[str, Any]]):
    """A snapshot's rows by customer id, shared by every session (read-only), with its picker
    built on first use."""

    def __init__(self, rows: dict[str, dict[str, Any]]):
        self._rows = rows
        self._picker: Picker | None = None
        self._blocked: dict[date, list[dict[str, Any]]] = {}
        self._derived: dict[str, Any] = {}

    def __getitem__(self, key: str) -> dict[str, Any]:
        return self._rows[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def blocked(self, current_since: date) -> list[dict[str, Any]]:
        """The rows whose new orders are refused under the cutoff, found once per cutoff."""
        found = self._blocked.get(current_since)
        if found is None:
            found = _blocked(self._rows, current_since)
            self._blocked[current_since] = found
        return found

    def derived(self, name: str, build: Callable[[Mapping[str, dict[str, Any]]], T]) -> T:
        """`build(rows)` once per snapshot revision, shared by every session (read-only)."""
        if name not in self._derived:  # two sessions may both build it: the same value
            self._derived[name] = build(self._rows)
        return self._derived[name]

    @property
    def picker(self) -> Picker:
        if self._picker is None:  # two sessions may both build it: the same value
            self._picker = build_picker(self._rows)
        return self._picker


@st.cache_resource(show_spinner=False, max_entries=4)
def _synced(
    _app: App, _snapshot: SnapshotInfo, store_url: str, snapshot_id: int, revision: int
) -> SyncedRows:
    """Read once per revision (work written through since the sync shows) and shared by every
    session, not copied per run: at 100,000 customers a copy per run cost about a second and
    ~100 MB a session."""
    return SyncedRows({r["customer_id"]: r for r in _app.snapshot_rows(_snapshot)})


def blocked_rows(rows: Mapping[str, dict[str, Any]], current_since: date) -> list[dict[str, Any]]:
    """The synced rows whose new orders are refused (shared when they are `synced_customers`')."""
    if isinstance(rows, SyncedRows):
        return rows.blocked(current_since)
    return _blocked(rows, current_since)


def _blocked(rows: Mapping[str, dict[str, Any]], current_since: date) -> list[dict[str, Any]]:
    return [r for r in rows.values() if metrics.row_blocked(r, current_since)]


def synced_customers(app: App, actor: Actor) -> tuple[Any, Mapping[str, dict[str, Any]]]:
    """The latest snapshot (or None) and its rows by customer id, for type-ahead and lists."""
    snap = app.latest_snapshot(actor.identity)
    if snap is None:
        return None, {}
    return snap, snapshot_customers(app, snap)


def snapshot_customers(app: App, snap: SnapshotInfo) -> SyncedRows:
    """A snapshot's rows by customer id, shared by every session of the process."""
    return _synced(app, snap, app.store_url, snap.id, snap.revision)


def partial_list_warning(snapshot: SnapshotInfo | None) -> None:
    """Say so when the customer list comes from a sync that stopped part-way: a customer
    missing from the type-ahead or the blocked list may simply not have been read."""
    if snapshot is not None and not snapshot.complete:
        st.warning(t("list_partial"), icon="⚠️")


def offer_sync(app: App, actor: Actor, *, key: str) -> None:
    """No synced list yet: say so and offer the sync (when the user may run one)."""
    st.info(t("no_synced_list"))
    blocks.read_only_note(actor.identity)
    if blocks.may_sync(actor.identity) and st.button(t("sync_now"), key=key):
        blocks.run_sync_with_progress(app, actor, incremental=False)
        st.rerun()


def customer_label(row: dict[str, Any]) -> str:
    name = row.get("company_name") or "—"
    return f"{name} — {row.get('domain') or ''} · {row['customer_id']}"


def best_match(typed: str, labels: dict[str, str], names: dict[str, str]) -> str | None:
    """The customer a person means by `typed` (what Enter picks): an exact tenant id, domain or
    name first, then a name that starts with it, a word of the name that starts with it, and
    last any label that contains it; ties go to the list's order (`labels` is in that order)."""
    needle = " ".join(typed.split()).casefold()
    if not needle:
        return None
    best: tuple[int, int] | None = None
    chosen: str | None = None
    for position, (cid, label) in enumerate(labels.items()):
        name = names.get(cid, "").casefold()
        if needle == cid.casefold() or needle == name or f"— {needle} ·" in label.casefold():
            rank = 0
        elif name.startswith(needle):
            rank = 1
        elif any(word.startswith(needle) for word in name.split()):
            rank = 2
        elif needle in label.casefold():
            rank = 3
        else:
            continue
        if best is None or (rank, position) < best:
            best, chosen = (rank, position), cid
    return chosen


def resolve_typed_customer(key: str, labels: dict[str, str], names: dict[str, str]) -> None:
    """on_change of a customer picker that accepts typed text: Enter on "Add: <text>" picks the
    best match in the list when there is one; other text stays only when it is a tenant id or
    a domain (Partner Center is asked); anything else is cleared with a message."""
    ss = st.session_state
    value = ss.get(key)
    ss.pop(f"{key}_unmatched", None)
    if not value or value in labels:
        return
    typed = str(value).strip()
    match = best_match(typed, labels, names)
    if match is not None:
        ss[key] = match
        return
    try:
        classify_customer_ref(typed)
    except InvalidInput:
        ss[key] = None
        ss[f"{key}_unmatched"] = typed


def customer_picker(
    rows: Mapping[str, dict[str, Any]], *, key: str, label: str | None = None
) -> str | None:
    """Type-ahead over the synced customers by name, domain or tenant id. Enter picks the best
    match among all of them; a tenant id or domain that is not in the list is returned as typed
    (the use case resolves it); other text is refused with a message. At most `PICKER_LIMIT`
    are sent to the browser (the first by name), so a large portfolio does not cost every
    session the whole list; typing and Enter still search every customer."""
    picker = rows.picker if isinstance(rows, SyncedRows) else build_picker(rows)
    labels, names = picker.labels, picker.names
    options = list(picker.options[:PICKER_LIMIT])
    chosen = st.session_state.get(key)
    if chosen and chosen not in options:
        options.insert(0, chosen)
    if len(picker.options) > PICKER_LIMIT:
        st.caption(tn("customer_pick_capped", len(picker.options), shown=PICKER_LIMIT))

    def describe(value: str) -> str:
        return labels.get(value, value)

    value = st.selectbox(
        label or t("customer_pick"),
        options,
        index=None,
        format_func=describe,
        key=key,
        placeholder=t("customer_placeholder"),
        accept_new_options=True,
        help=t("customer_pick_help"),
        on_change=resolve_typed_customer,
        args=(key, labels, names),
    )
    unmatched = st.session_state.get(f"{key}_unmatched")
    if unmatched and not value:
        st.warning(t("customer_no_match", typed=unmatched), icon="🔎")
    return str(value).strip() if value else None


def preselect_from_query(key: str, marker: str) -> str | None:
    """`?customer=<tenant id>` preselects the picker once per arrival: not again while the user
    works on the page (the parameter stays in the URL), again when a link brings them back."""
    wanted = st.query_params.get("customer")
    if not wanted:
        st.session_state.pop(marker, None)
        return None
    if st.session_state.get(marker) != wanted:
        st.session_state[marker] = wanted
        st.session_state[key] = wanted.strip().lower()
        return wanted
    return None


# --- state that survives a step --------------------------------------------------------------


def keep_widget_state(prefix: str) -> None:
    """Streamlit forgets a widget's value in a run that does not draw it (a review step, another
    page). Re-assigning the keys marks them as ours, so what was typed is kept."""
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(prefix):
            st.session_state[key] = st.session_state[key]


def default_state(values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key not in st.session_state:
            st.session_state[key] = value


def clear_state(prefix: str) -> None:
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(prefix):
            del st.session_state[key]


# --- countries -------------------------------------------------------------------------------


def region_name(code: str, lang: str) -> str:
    """A region's name in `lang` ("en", "zh") from phonenumbers' geocoder data, else "".

    The geocoder is imported here, on the first name asked for: its data is ~100 MB of every
    process that imports it, and most pages (the overview) never show a country's name."""
    from phonenumbers import geocoder

    example = phonenumbers.example_number(code) if code else None
    return (geocoder.country_name_for_number(example, lang) if example else "") or ""


def country_name(code: str, ui_language: str | None = None) -> str:
    """The country's name in the UI language (from phonenumbers' data), else the code; a
    widget's labels pass the language of the run that drew them."""
    lang = "zh" if (ui_language or i18n.language()) == "zh-CN" else "en"
    return region_name(code, lang) or code


@st.cache_data(show_spinner=False)
def country_codes(lang: str) -> list[str]:
    """ISO codes sorted by their name in `lang` (the name is what people look for)."""
    lang_code = "zh" if lang == "zh-CN" else "en"

    def name(code: str) -> str:
        return region_name(code, lang_code) or code

    return sorted(
        (c for c in phonenumbers.SUPPORTED_REGIONS if c not in ("001",)), key=lambda c: name(c)
    )


def run_use_case(action: Callable[[], T]) -> T:
    """One App action with a spinner (the one place pages wait on Partner Center)."""
    with st.spinner(t("at_working")):
        return action()


# --- a customer's acceptance ------------------------------------------------------------------


def verdict_block(found: Verification) -> None:
    """Accepted (the current MCA), must re-accept (an earlier MCA only) or not accepted; can
    order or not, in words and in three figures."""
    status = found.status
    if found.state == "accepted":
        st.success(t("verdict_accepted"), icon="✅")
    elif found.state == "reacceptance_required":
        latest_day = status.latest_acceptance_date
        st.warning(
            t(
                "verdict_reacceptance_required",
                latest=latest_day.isoformat() if latest_day is not None else "—",
                since=status.current_since.isoformat(),
            ),
            icon="⚠️",
        )
    else:
        st.error(t("verdict_not_accepted"), icon="⛔")
    latest = found.status.latest_attestation
    cols = st.columns(3)
    cols[0].metric(t("m_attestations"), len(found.attestations))
    cols[1].metric(t("m_direct"), t("at_yes") if found.direct_signed else t("at_no"))
    cols[2].metric(
        t("m_latest"), latest.date_agreed.date().isoformat() if latest is not None else "—"
    )


def attested_by_text(item: VerifiedAttestation) -> str:
    if item.attested_by_source == "audit":
        known = item.attested_by_role in ROLE_VALUES
        role = i18n.role_label(item.attested_by_role) if known else ""
        return f"{item.attested_by} ({role})" if role else str(item.attested_by)
    if item.attested_by_source == "partner_center":
        return i18n.t_plain("pc_user", user=item.attested_by)  # a table cell: plain text
    return "—"


def attestation_frame(found: Verification) -> pd.DataFrame:
    """One row per attestation, newest first, with column names in the UI language."""
    rows = []
    for item in found.attestations:
        a = item.attestation
        rows.append(
            {
                t("col_date_agreed"): a.date_agreed.date().isoformat(),
                t("col_contact"): i18n.person_name(
                    a.primary_contact.first_name, a.primary_contact.last_name
                ),
                t("col_email"): a.primary_contact.email,
                t("col_phone"): a.primary_contact.phone_number or "",
                t("col_attested_by"): attested_by_text(item),
                t("col_attested_at"): utc_time(item.attested_at),
                t("col_template"): a.template_id,
            }
        )
    return pd.DataFrame(rows)


# --- the bulk grid ------------------------------------------------------------------------------


def grid_from_rows(rows: list[Any], columns: tuple[str, ...] = BULK_COLUMNS) -> pd.DataFrame:
    """The editable grid of an uploaded file: its line number and the file's columns (the
    classic file's six, or the signers file's `columns`), as text."""
    frame = pd.DataFrame([{"line": r.line, **r.values()} for r in rows], columns=["line", *columns])
    frame["state"] = ""
    frame["problems"] = ""
    return frame


def normalise_grid(frame: pd.DataFrame, columns: tuple[str, ...] = BULK_COLUMNS) -> pd.DataFrame:
    """After edits: text cells (None -> ""), a line number for each added row, blank rows out."""
    out = frame.reset_index(drop=True).copy()
    for column in columns:
        if column not in out.columns:
            out[column] = ""
        out[column] = out[column].map(lambda v: "" if v is None or v != v else str(v).strip())
    out = out[out[list(columns)].ne("").any(axis=1)].reset_index(drop=True)
    lines = pd.to_numeric(out.get("line"), errors="coerce") if "line" in out else None
    if lines is None:
        lines = pd.Series([float("nan")] * len(out))
    next_line = int(lines.max()) + 1 if lines.notna().any() else 2
    numbers: list[int] = []
    for value in lines:
        if value != value:  # NaN: a row added in the grid
            numbers.append(next_line)
            next_line += 1
        else:
            numbers.append(int(value))
    out["line"] = pd.Series(numbers, dtype="int64")
    for column in ("state", "problems"):
        if column not in out.columns:
            out[column] = ""
    return out[["line", *columns, "state", "problems"]]


def grid_columns(columns: tuple[str, ...] = BULK_COLUMNS) -> dict[str, Any]:
    """The grid's column headers in the UI language (the file's `columns`, line, state and
    problems)."""
    text = st.column_config.TextColumn
    every = {
        "line": st.column_config.NumberColumn(t("col_line"), disabled=True, width="small"),
        "state": text(t("col_state"), disabled=True, width="medium"),
        "customer": text(t("col_customer"), width="medium"),
        "first_name": text(t("at_first_name")),
        "last_name": text(t("at_last_name")),
        "email": text(t("at_email"), width="medium"),
        "phone": text(t("at_phone_optional")),
        "date_agreed": text(t("col_date_agreed"), help=t("at_date_format_help")),
        "customer_id": text(t("col_customer"), width="medium", help=t("sig_customer_help")),
        "country": text(t("enh_country"), help=t("sig_country_help")),
        "language": text(t("enh_language"), help=t("sig_language_help")),
        "company_name": text(t("enh_company"), help=t("sig_company_help")),
        "problems": text(t("col_problems"), disabled=True, width="medium"),
    }
    return {name: every[name] for name in ("line", "state", *columns, "problems")}


def action_label(action: str) -> str:
    """An audit action in the UI language (unknown actions as they are stored)."""
    key = f"action_{action}"
    return t(key) if i18n.has_message(key) else action


def outcome_label(outcome: str) -> str:
    key = f"outcome_{outcome}"
    return t(key) if i18n.has_message(key) else outcome
