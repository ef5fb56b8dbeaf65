"""Page blocks of the enhanced attestation channel: the channel in use (home, Attest), the
Attest page's enhanced path (signer form with the link's lifetime, acceptance link with copy and
invitation, Finalise, the sandbox's "play the customer"; a refresh that finalised automatically
says so), and the overview's pipeline cards, work list and "finalise every ready attestation".

Every action is one App method; the App calls Partner Center with the partner app's App-only
token, while the identity, role checks and audit stay the user's.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from urllib.parse import quote

import pandas as pd
import phonenumbers
import streamlit as st
from streamlit.errors import StreamlitAPIException

from mca_core import (
    ENHANCED,
    AccessRefused,
    Actor,
    App,
    AttestationState,
    AttestRequest,
    ChannelName,
    Contact,
    Customer,
    EnhancedAttestation,
    Job,
    McaError,
    access,
    enhanced,
    invitations,
    may_attest,
)

from . import attest_blocks as ab
from . import i18n
from .i18n import t, tn
from .markup import md

ss = st.session_state
#: The work list shows this many rows; the cards count every customer.
WORK_LIST_ROWS = 500
FORM_KEYS = ("enh_first", "enh_last", "enh_email", "enh_phone", "enh_company", "enh_country",
             "enh_language", "enh_lifetime")  # fmt: skip
#: The link lifetimes offered, in days (Partner Center takes 5 minutes to 7 days).
LINK_LIFETIME_DAYS = (1, 3, 7)
DEFAULT_LINK_LIFETIME_DAYS = 7


def channel(app: App) -> ChannelName:
    return app.channel


def channel_caption(app: App) -> None:
    """The channel this installation attests through, in words (home page, Attest page)."""
    name = channel(app)
    st.markdown(
        t(
            "channel_in_use",
            label=t("channel_label"),
            channel=t(f"channel_{name}"),
            help=t(f"channel_{name}_help"),
        )
    )


def _utc(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "—"


def _name(signer: Contact) -> str:
    """The signer's name as people write it (family name first for a CJK name)."""
    return i18n.person_name(signer.first_name, signer.last_name)


def _say(
    customer_id: str, kind: str, key: str | None = None, *, n: int | None = None, **params: Any
) -> None:
    """A message for the next run, kept as its key (shown in the language of that run); `n` is
    the count of a plural message."""
    ss["enh_msg"] = {"customer": customer_id, "kind": kind, "key": key, "n": n, "params": params}


def _show_message(customer_id: str) -> None:
    message = ss.get("enh_msg")
    if not message or message["customer"] != customer_id:
        return
    if message["kind"] == "error":
        ab.show_error(message["params"]["error"])
        return
    key, n, params = message["key"], message.get("n"), message["params"]
    text = t(key, **params) if n is None else tn(key, n, **params)
    getattr(st, message["kind"])(text, icon={"success": "✅", "info": "ℹ️"}.get(
        message["kind"], "⚠️"))  # fmt: skip


# --- the Attest page's enhanced path -------------------------------------------------------------


def attest_path(
    app: App, actor: Actor, customer_id: str | None, found: Any, *, signer: Contact | None = None
) -> None:
    """Everything the enhanced channel does for one customer on the Attest page.

    `found` is the customer's Verification, or the Customer itself (a customer just created), or
    None when it could not be read; `customer_id` its tenant id when known; `signer`, who the
    form starts with for a customer chosen now (a new customer's primary contact).
    """
    if not customer_id:
        st.caption(t("enh_pick_first"))
        return
    customer = found if isinstance(found, Customer) else getattr(found, "customer", None)
    _prefill(customer_id, customer, signer)
    records = app.customer_attestations(actor.identity, customer_id)
    now = datetime.now(UTC)
    current = next((r for r in records if r.is_open), None) or (records[0] if records else None)
    _show_message(customer_id)
    if current is not None:
        _attestation_card(app, actor, current, now)
        older = [r for r in records if r.request_id != current.request_id]
        if older:
            with st.expander(t("enh_older", n=len(older))):
                st.dataframe(_history_frame(older, now), hide_index=True, width="stretch")
    state = current.current_state(now) if current is not None else None
    if state is AttestationState.EXPIRED and current is not None:
        st.info(t("enh_new_link_help"), icon="⌛")
        _refill_from(current)
        _signer_form(app, actor, customer_id, submit_key="enh_new_link")
    elif state in (None, AttestationState.FAILED):
        _signer_form(app, actor, customer_id, submit_key="enh_create")
    else:
        with st.expander(t("enh_another")):
            _signer_form(app, actor, customer_id, submit_key="enh_create")


def _prefill(customer_id: str, customer: Any, signer: Contact | None = None) -> None:
    """A newly chosen customer: company name and country as Partner Center has them, the signer
    as given (or empty: a signer belongs to one customer), the agreement language of the
    customer's country (else of the UI language) and the default link lifetime."""
    ab.default_state({"enh_lifetime": DEFAULT_LINK_LIFETIME_DAYS})
    if ss.get("enh_for") == customer_id:
        return
    ss["enh_for"] = customer_id
    ss.pop("enh_refilled", None)  # back to a customer with an expired link: its details again
    ss["enh_first"] = signer.first_name if signer else ""
    ss["enh_last"] = signer.last_name if signer else ""
    ss["enh_email"] = signer.email if signer else ""
    ss["enh_phone"] = (signer.phone_number or "") if signer else ""
    if customer is not None:
        ss["enh_company"] = customer.company_name or ""
        ss["enh_country"] = customer.country or None
    ss["enh_language"] = default_language(getattr(customer, "country", None))


def default_language(country: str | None) -> str:
    """The agreement language offered first: the culture of the customer's country when the
    list has one (DE: de-DE), else Simplified Chinese in the Chinese UI, else en-US."""
    found = [c for c in enhanced.AGREEMENT_LANGUAGES if c.endswith(f"-{(country or '').upper()}")]
    if country and found:
        return found[0]
    return "zh-CN" if i18n.language() == "zh-CN" else "en-US"


def culture(code: str | None) -> str:
    """A stored agreement language as a culture code (the desk once kept `en`, `de`, ...)."""
    text = str(code or "")
    return enhanced.LANGUAGE_CULTURES.get(text.lower(), text)


def _refill_from(record: EnhancedAttestation) -> None:
    """A new link after expiry starts with the expired one's details (once per attestation)."""
    if ss.get("enh_refilled") == record.request_id:
        return
    ss["enh_refilled"] = record.request_id
    ss["enh_first"] = record.signer.first_name
    ss["enh_last"] = record.signer.last_name
    ss["enh_email"] = record.signer.email
    ss["enh_phone"] = record.signer.phone_number or ""
    ss["enh_company"] = record.company_name
    ss["enh_country"] = record.country
    ss["enh_language"] = culture(record.language)


def _signer_form(app: App, actor: Actor, customer_id: str, *, submit_key: str) -> None:
    languages = list(enhanced.AGREEMENT_LANGUAGES)
    chosen = ss.get("enh_language")
    if chosen and chosen not in languages:
        languages.insert(0, chosen)
    with st.form("enh_form"):
        st.markdown(f"**{t('enh_form_title')}**")
        st.caption(t("enh_form_help"))
        left, right = st.columns(2)
        left.text_input(t("enh_signer_first"), key="enh_first")
        right.text_input(t("enh_signer_last"), key="enh_last")
        left.text_input(t("enh_signer_email"), key="enh_email", placeholder="jane@contoso.com")
        right.text_input(t("enh_signer_phone"), key="enh_phone", placeholder="+1 425 555 0100")
        left.text_input(t("enh_company"), key="enh_company")
        lang = i18n.language()  # labels fixed at drawing time (not read back per call)
        right.selectbox(
            t("enh_country"),
            ab.country_codes(lang),
            index=None,
            key="enh_country",
            format_func=lambda code: country_label(code, lang),
            placeholder=t("at_country_placeholder"),
        )
        left.selectbox(
            t("enh_language"),
            languages,
            key="enh_language",
            help=t("enh_language_help"),
            format_func=lambda code: language_name(code, lang),
        )
        right.selectbox(
            t("enh_lifetime"),
            LINK_LIFETIME_DAYS,
            key="enh_lifetime",
            help=t("enh_lifetime_help"),
            format_func={days: tn("enh_lifetime_days", days) for days in LINK_LIFETIME_DAYS}.get,
        )
        submitted = st.form_submit_button(t(submit_key), type="primary")
    if submitted:
        _create(app, actor, customer_id)


def language_name(code: str, lang: str = "en") -> str:
    """An agreement language by its name in the UI language `lang`, with its tag."""
    key = f"lang_{code}"
    return f"{i18n.message(key, lang)} ({code})" if i18n.has_message(key) else code


@lru_cache(maxsize=1024)
def country_label(code: str, lang: str = "en") -> str:
    """A country by its name in the UI language `lang`, with its ISO code."""
    example = phonenumbers.example_number(code) if code else None
    name = ab.region_name(code, "zh" if lang == "zh-CN" else "en") if example else ""
    return f"{name or code} ({code})" if example else code


def _create(app: App, actor: Actor, customer_id: str) -> None:
    request = AttestRequest(
        customer=customer_id,
        first_name=ss.get("enh_first"),
        last_name=ss.get("enh_last"),
        email=ss.get("enh_email"),
        phone=ss.get("enh_phone"),
        company_name=ss.get("enh_company"),
        country=ss.get("enh_country"),
        language=ss.get("enh_language"),
        link_lifetime_hours=int(ss.get("enh_lifetime") or DEFAULT_LINK_LIFETIME_DAYS) * 24,
        channel=ENHANCED,
    )
    try:
        result = ab.run_use_case(lambda: app.attest(actor, request))
    except McaError as exc:
        _say(customer_id, "error", error=exc)
        _show_message(customer_id)
        return
    kind = "success" if result.outcome == "link_created" else "info"
    _say(customer_id, kind, f"enh_{result.outcome}", rid=result.request_id or "—")
    ss["enh_inv_to"] = str(ss.get("enh_email") or "")
    ss.pop("enh_email_ready", None)
    st.rerun()


def _attestation_card(app: App, actor: Actor, record: EnhancedAttestation, now: datetime) -> None:
    state = record.current_state(now)
    with st.container(border=True):
        st.markdown(f"**{t('enh_current')}** · {t('enh_state_' + state.value)}")
        st.caption(
            t(
                "enh_facts",
                id=record.attestation_id or "—",
                signer=_name(record.signer),
                email=record.signer.email,
                created=_utc(record.created_at),
                who=record.created_by_name or record.created_by,
            )
        )
        if state is AttestationState.LINK_SENT and record.acceptance_link:
            st.markdown(t("enh_valid_until", when=_utc(record.expires_at)))
            st.caption(t("enh_link_caption"))
            st.code(record.acceptance_link, language=None)
            if not app.link_reachable:
                st.caption(t("enh_link_unreachable"))
        if record.accepted_at and state in (
            AttestationState.ACCEPTED,
            AttestationState.AGREEMENT_CREATED,
        ):
            st.caption(t("enh_accepted_at", when=_utc(record.accepted_at)))
        if state is AttestationState.AGREEMENT_CREATED:
            st.caption(
                t("enh_finalised_at", when=_utc(record.finalised_at), who=record.finalised_by)
            )
        if record.last_error and state not in (
            AttestationState.ACCEPTED,
            AttestationState.AGREEMENT_CREATED,
        ):
            st.caption(t("enh_last_error", error=record.last_error[:300]))
        _actions(app, actor, record, state)
        if state is AttestationState.LINK_SENT and record.acceptance_link:
            _invitation(app, actor, record)


def _actions(app: App, actor: Actor, record: EnhancedAttestation, state: AttestationState) -> None:
    if state in (AttestationState.AGREEMENT_CREATED, AttestationState.FAILED):
        return
    cols = st.columns([2, 2, 3])
    if cols[0].button(t("enh_check_status"), key="enhb_refresh", width="stretch"):
        _refresh(app, actor, record.customer_id)
        st.rerun()
    finalise_ready = state in (AttestationState.ACCEPTED, AttestationState.LINK_SENT,
                               AttestationState.CREATING)  # fmt: skip
    if finalise_ready and cols[1].button(
        t("enh_finalise"),
        key="enhb_finalise",
        type="primary" if state is AttestationState.ACCEPTED else "secondary",
        width="stretch",
    ):
        _finalise(app, actor, record)
    if (
        app.is_sandbox
        and state is AttestationState.LINK_SENT
        and record.attestation_id
        and cols[2].button(t("enh_play_customer"), key="enhb_play", icon="🧪", width="stretch")
    ):
        _play_customer(app, actor, record)


def _refresh(app: App, actor: Actor, customer_id: str) -> enhanced.RefreshSummary | None:
    """Read the customer's links; with `auto_finalise` the App also creates the agreement of an
    accepted one, and the message says so (instead of "ready to finalise")."""
    try:
        summary = ab.run_use_case(
            lambda: app.refresh_links(actor, [customer_id], notify=app.should_notify())
        )
    except McaError as exc:
        _say(customer_id, "error", error=exc)
        return None
    if summary.finalised:
        _say(customer_id, "success", "enh_auto_finalised")
        ss.pop("ex_status", None)  # the customer's acceptance changed: read it again
    elif summary.status_read:
        _say(customer_id, "info", "enh_refreshed", n=summary.checked,
             changed=summary.changed)  # fmt: skip
    else:
        _say(customer_id, "info", "enh_no_status_read")
    return summary


def _finalise(app: App, actor: Actor, record: EnhancedAttestation) -> None:
    customer_id = record.customer_id
    try:
        outcome = ab.run_use_case(lambda: app.finalise(actor, customer_id, record.attestation_id))
    except enhanced.CustomerNotAcceptedYet:
        _say(customer_id, "warning", "enh_not_accepted")
    except enhanced.AcceptanceLinkExpired:
        _say(customer_id, "warning", "enh_expired")
    except McaError as exc:
        _say(customer_id, "error", error=exc)
    else:
        if outcome.outcome == "attested":
            _say(customer_id, "success", "enh_finalised", rid=outcome.request_id or "—")
        else:
            _say(customer_id, "info", "enh_finalised_already")
        ss.pop("ex_status", None)  # the customer's acceptance changed: read it again
    st.rerun()


def _play_customer(app: App, actor: Actor, record: EnhancedAttestation) -> None:
    """Sandbox only: the customer clicks Accept; then the status is read as usual."""
    customer_id = record.customer_id
    try:
        played = app.play_customer_accepts(str(record.attestation_id))
    except McaError as exc:
        _say(customer_id, "error", error=exc)
        st.rerun()
    if played == "expired":
        _say(customer_id, "warning", "enh_played_expired")
        st.rerun()
    summary = _refresh(app, actor, customer_id)  # reads the new state, as the partner would
    if summary is not None and summary.finalised:
        _say(customer_id, "success", "enh_played_finalised")
    elif summary is not None:
        _say(customer_id, "success", "enh_played")
    st.rerun()


def _invitation(app: App, actor: Actor, record: EnhancedAttestation) -> None:
    with st.expander(t("enh_send_invitation"), icon="✉️"):
        ab.default_state({"enh_inv_to": record.signer.email, "enh_inv_locale": _locale(record)})
        left, right = st.columns([3, 1])
        left.text_input(t("enh_invite_to"), key="enh_inv_to")
        right.selectbox(
            t("enh_invite_locale"),
            list(invitations.LOCALES),
            key="enh_inv_locale",
            format_func=lambda code: i18n.LANGUAGES.get(code, code),
        )
        if st.button(t("enh_invite_prepare"), key="enhb_inv_prepare"):
            try:
                mail = app.acceptance_invitation(
                    actor,
                    record,
                    to=ss.get("enh_inv_to"),
                    locale=ss.get("enh_inv_locale"),
                )
            except McaError as exc:
                ab.show_error(exc)
                return
            ss["enh_email_ready"] = {"request": record.request_id, "email": mail}
        ready = ss.get("enh_email_ready")
        if not ready or ready["request"] != record.request_id:
            return
        mail = ready["email"]
        st.markdown(f"**{md(mail.subject)}**")
        st.code(mail.text_body, language=None, wrap_lines=True)
        cols = st.columns(2)
        link = invitations.mailto_for(mail)
        if link:
            cols[0].link_button(t("enh_invite_open"), link, icon="📧", width="stretch")
        else:
            cols[0].caption(t("enh_invite_too_long"))
        cols[1].download_button(
            t("enh_invite_eml"),
            data=invitations.eml_for(mail, actor.identity.email or None),
            file_name=invitations.eml_file_name(mail),
            mime="message/rfc822",
            icon="⬇️",
            on_click="ignore",
            key="enhb_inv_eml",
            width="stretch",
        )


def _locale(record: EnhancedAttestation) -> str:
    return "zh-CN" if record.language.lower().startswith("zh") else "en"


def _history_frame(records: list[EnhancedAttestation], now: datetime) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                t("pipe_col_stage"): t("enh_state_" + r.current_state(now).value),
                t("pipe_col_signer"): f"{_name(r.signer)} <{r.signer.email}>",
                t("pipe_col_expires"): _utc(r.expires_at),
                "id": r.attestation_id or "—",
            }
            for r in records
        ]
    )


# --- the overview's pipeline ---------------------------------------------------------------------


def pipeline_section(app: App, actor: Actor) -> None:
    """Pipeline cards (required / pending / expired links / ready to finalise) and a work list,
    shown when the installation uses the enhanced channel or has enhanced attestations."""
    identity = actor.identity
    if not may_attest(identity):
        return  # nothing on it is theirs to do (indirect resellers, Helpdesk agents)
    enhanced_channel = channel(app) == ENHANCED
    # a classic installation draws the section only once an attestation was started: it learns
    # that without reading the snapshot (`started_only`)
    pipeline = app.pipeline(identity, started_only=not enhanced_channel)
    started = pipeline.started > 0
    if not enhanced_channel and not started:
        return
    head, refresh, finalise = st.columns([3, 1, 1], vertical_alignment="bottom")
    head.subheader(t("pipe_title"))
    st.caption(t("pipe_caption"))
    if (
        _may_refresh(identity)
        and started
        and refresh.button(t("pipe_refresh"), key="pipeb_refresh", width="stretch")
    ):
        _refresh_all(app, actor)
    job = app.job(identity, "finalise_ready")  # anyone's of the partner, this session's too
    if job is not None and job.running:
        st.info(t("pipe_finalising", who=job.started_by), icon="⏳")
    elif started and finalise.button(
        t("pipe_finalise_ready"),
        key="pipeb_finalise_ready",
        type="primary" if pipeline.counts[enhanced.Stage.READY] else "secondary",
        width="stretch",
        help=t("pipe_finalise_ready_help"),
    ):
        _finalise_all_ready(app, actor)
    seen: set[str] = ss.setdefault("pipe_jobs_seen", set())
    if job is not None and not job.running and job.id not in seen and "pipe_msg" not in ss:
        ss["pipe_msg"] = _job_outcome(job)  # a colleague's (or a left page's) finalise-all
    if job is not None and not job.running:
        seen.add(job.id)
    _show_pipeline_message(ss.pop("pipe_msg", None))
    counts = pipeline.counts
    cards = st.columns(4)
    cards[0].metric(t("pipe_required"), f"{counts[enhanced.Stage.REQUIRED]:,}",
                    help=t("pipe_required_help"))  # fmt: skip
    cards[1].metric(t("pipe_pending"), f"{counts[enhanced.Stage.PENDING]:,}")
    cards[2].metric(t("pipe_expired"), f"{counts[enhanced.Stage.EXPIRED]:,}")
    cards[3].metric(t("pipe_ready"), f"{counts[enhanced.Stage.READY]:,}")
    notes = [f"{t('pipe_done')}: {counts[enhanced.Stage.DONE]:,}"]
    if not pipeline.synced:
        notes.append(t("pipe_no_sync"))
    st.caption(" · ".join(notes))
    work = pipeline.work()
    st.markdown(f"##### {t('pipe_work_list')}")
    if not work:
        st.success(t("pipe_empty"), icon="✅")
        return
    shown = work[:WORK_LIST_ROWS]
    st.caption(t("pipe_pick"))
    event = st.dataframe(
        work_list_frame(list(shown)),
        hide_index=True,
        width="stretch",
        key="pipe_work_list",
        on_select="rerun",
        selection_mode="single-row",
    )
    if len(work) > len(shown):
        st.caption(tn("pipe_shown", len(work), shown=len(shown)))
    rows = list(getattr(getattr(event, "selection", None), "rows", []) or [])
    if rows:
        item = shown[rows[0]]
        st.markdown(f"**{md(item.company_name)}** · {t(f'pipe_stage_{item.stage.value}')}")
        if st.button(t("pipe_open_label"), key="pipeb_open", icon="✍️", type="primary"):
            open_attest(item.customer_id)


def open_attest(customer_id: str) -> None:
    """The Attest page with the customer preselected (a plain link when it runs alone)."""
    try:
        st.switch_page("pages/2_Attest.py", query_params={"customer": customer_id})
    except StreamlitAPIException:
        st.markdown(f"[{t('pipe_open_label')}](/Attest?customer={quote(customer_id, safe='')})")


def work_list_frame(items: list[enhanced.PipelineItem]) -> pd.DataFrame:
    """One row per customer to work on, with a link to the Attest page preselecting it."""
    # the labels are looked up once per run, not once per row and column
    stage_label = {stage: t(f"pipe_stage_{stage.value}") for stage in enhanced.Stage}
    columns = [t("pipe_col_stage"), t("pipe_col_company"), t("pipe_col_domain"),
               t("pipe_col_signer"), t("pipe_col_expires")]  # fmt: skip
    rows = []
    for item in items:
        record = item.attestation
        rows.append(
            (
                stage_label[item.stage],
                item.company_name or "—",
                item.domain or "—",
                _name(record.signer) if record else "—",
                _utc(record.expires_at) if record and item.stage is enhanced.Stage.PENDING else "—",
            )
        )
    return pd.DataFrame(rows, columns=columns)


def _may_refresh(identity: Any) -> bool:
    try:
        access.check_may_refresh_links(identity)
    except AccessRefused:
        return False
    return True


def _refresh_all(app: App, actor: Actor) -> None:
    try:
        ss["pipe_msg"] = ab.run_use_case(
            lambda: app.refresh_links(actor, notify=app.should_notify())
        )
    except McaError as exc:
        ss["pipe_msg"] = exc
    st.rerun()


def _finalise_all_ready(app: App, actor: Actor) -> None:
    """Every attestation whose customer accepted gets its agreement (`App.finalise_ready`), as
    a job of the server: leaving the page does not stop it, and a second click joins it."""
    job = app.start_finalise_ready(actor).job
    with st.spinner(t("at_working")):
        job.wait()
    ss["pipe_msg"] = _job_outcome(job)
    ss.setdefault("pipe_jobs_seen", set()).add(job.id)
    st.rerun()


def _job_outcome(job: Job) -> Any:
    """A finished finalise-all job as the message block shows it: its summary or its error."""
    return job.failure or job.result


def _show_pipeline_message(message: Any) -> None:
    """What the last pipeline action did (kept over its rerun as the core's summary)."""
    if message is None:
        return
    if isinstance(message, McaError):
        ab.show_error(message)
        return
    if isinstance(message, enhanced.ReadySummary):
        kind = st.success if message.finalised and not message.failed else st.info
        kind(
            tn("pipe_ready_done", message.finalised, not_ready=message.not_ready,
               failed=message.failed),
            icon="🏁",
        )  # fmt: skip
        if message.probed:
            st.caption(t("pipe_ready_probed"))
        stuck = [i for i in message.items if i.outcome in ("failed", "expired")]
        if stuck:
            st.dataframe(
                pd.DataFrame(
                    [
                        {
                            t("pipe_col_company"): i.company_name or i.customer_id,
                            t("col_outcome"): t(f"outcome_{i.outcome}"),
                            t("col_message"): i.message,
                            t("col_request_id"): i.request_id or "",
                        }
                        for i in stuck
                    ]
                ),
                hide_index=True,
                width="stretch",
            )
        return
    if message.status_read:
        st.info(tn("enh_refreshed", message.checked, changed=message.changed), icon="ℹ️")
    else:
        st.info(t("enh_no_status_read"), icon="ℹ️")
    if message.finalised:
        st.success(tn("pipe_auto_finalised", message.finalised), icon="🏁")


__all__ = [
    "attest_path",
    "channel",
    "channel_caption",
    "culture",
    "default_language",
    "language_name",
    "pipeline_section",
    "work_list_frame",
]
