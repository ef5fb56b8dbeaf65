"""The Attest page's existing-customer tab: the customer's acceptance, the form, the statement
under review (Confirm / Change), the submission and its outcome. On the enhanced channel the tab
hands over to the enhanced path (signer form, acceptance link, Finalise), drawn only while the
tab is open (the new-customer tab draws the same path for a customer it just created)."""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from mca_core import (
    AttestRequest,
    Contact,
    InvalidInput,
    McaError,
    PartnerCenterError,
    access,
    new_request_id,
    prepare_attestation,
    request_id_after,
    utc_today,
)
from ui import attest_blocks as ab
from ui import enhanced_blocks as eb
from ui.i18n import person_name, t, tn
from ui.markup import md

from .context import AttestContext

ss = st.session_state


def open_existing(ctx: AttestContext, customer_id: str) -> None:
    """From the blocked list: the existing-customer form (classic) or the enhanced path,
    preselected. The date is left empty: only the agent can say when the customer accepted."""
    ss["ex_customer"] = customer_id
    ss["ex_date"] = None
    ss["ex_came_from_blocked"] = customer_id
    ss["attest_tab"] = ctx.tab_labels["existing"]
    ss.pop("ex_outcome", None)
    ss.pop("ex_review", None)


def before_tabs(ctx: AttestContext) -> None:
    """Every run of the page, before the tabs are drawn."""
    # The existing-customer form is hidden while the chosen customer cannot be found (a typo):
    # keep the contact typed so far for when the customer is corrected.
    # The enhanced signer form is drawn by the open tab only: keep what was typed in it too.
    for key in ("ex_first", "ex_last", "ex_email", "ex_phone", "ex_date", *eb.FORM_KEYS):
        if key in ss:
            ss[key] = ss[key]
    if ab.preselect_from_query("ex_customer", "ex_query_customer"):
        ss["attest_tab"] = ctx.tab_labels["existing"]
        ss["ex_date"] = None


# --- existing customer -------------------------------------------------------------------------


def current_status(ctx: AttestContext, reference: str, is_open: bool) -> Any:
    """The customer's acceptance (cached per customer; read from Partner Center when shown)."""
    cached = ss.get("ex_status")
    if cached is not None and cached["ref"] == reference:
        return cached["value"]
    if not is_open:
        return None
    try:
        value: Any = ab.run_use_case(lambda: ctx.app.verify(ctx.actor, reference))
    except McaError as exc:
        value = exc
    ss["ex_status"] = {"ref": reference, "value": value}
    return value


def review_attestation(ctx: AttestContext, reference: str, company: str) -> None:
    """Check the form; when it is sound, show the exact statement before anything is sent."""
    ss.pop("ex_outcome", None)
    try:
        access.check_may_attest(ctx.identity)
        contact, day = prepare_attestation(
            ss.get("ex_first"),
            ss.get("ex_last"),
            ss.get("ex_email"),
            ss.get("ex_phone"),
            ss.get("ex_date"),
            user_tz=ab.browser_timezone(),
        )
    except McaError as exc:
        ss["ex_outcome"] = {"ref": reference, "error": exc}
        return
    ss["ex_review"] = {"ref": reference, "company": company, "contact": contact, "day": day}


def review_step(ctx: AttestContext, reference: str) -> bool:
    """The statement under review, with Confirm / Change; True while it is shown."""
    review = ss.get("ex_review")
    if not review or review["ref"] != reference:
        return False
    contact: Contact = review["contact"]
    with st.container(border=True):
        st.markdown(f"**{t('ex_review_title')}**")
        st.markdown(
            t(
                "ex_review_statement",
                name=person_name(contact.first_name, contact.last_name),
                email=contact.email,
                company=review["company"],
                date=review["day"].isoformat(),
            )
        )
        st.caption(t("ex_review_note"))
        since = ctx.app.current_since
        if review["day"] < since:  # still of an earlier MCA: it will not unblock new orders
            st.warning(
                t("ex_review_earlier_mca", date=review["day"].isoformat(), since=since.isoformat()),
                icon="⚠️",
            )
        change, confirm, _ = st.columns([1, 1, 3])
        if change.button(t("ex_change"), key="exb_change", width="stretch"):
            ss.pop("ex_review", None)
            st.rerun()
        if confirm.button(t("ex_confirm"), key="exb_confirm", type="primary", width="stretch"):
            submit_attestation(ctx, reference, contact, review["day"])
    return True


def submit_attestation(ctx: AttestContext, reference: str, contact: Contact, day: date) -> None:
    """Send exactly the statement the agent confirmed."""
    rid = ss.setdefault("ex_rid", new_request_id())
    ss.pop("ex_review", None)
    try:
        outcome = ab.run_use_case(
            lambda: ctx.app.attest(
                ctx.actor,
                AttestRequest(
                    customer=reference,
                    first_name=contact.first_name,
                    last_name=contact.last_name,
                    email=contact.email,
                    phone=contact.phone_number,
                    date_agreed=day,
                    user_tz=ab.browser_timezone(),
                    request_id=rid,
                ),
            )
        )
    except McaError as exc:
        ss["ex_outcome"] = {"ref": reference, "error": exc}
        if isinstance(exc, PartnerCenterError):
            ss["ex_rid"] = request_id_after(exc, rid)
        st.rerun()
    ss["ex_outcome"] = {"ref": reference, "result": outcome.classic}
    ss["ex_rid"] = new_request_id()
    # The customer's acceptance as it stands now, from the answer: no second read (one click,
    # only the requests it needs, one audit row).
    known = ss.get("ex_status") or {}
    status = known.get("value") if known.get("ref") == reference else None
    if status is not None and not isinstance(status, McaError):
        status = ctx.app.verified_after(status, ctx.actor, outcome)
        ss["ex_status"] = {"ref": reference, "value": status}
    else:
        ss.pop("ex_status", None)
    st.rerun()


def show_attest_outcome(reference: str) -> None:
    outcome = ss.get("ex_outcome")
    if not outcome or outcome["ref"] != reference:
        return
    if "error" in outcome:
        ab.show_error(outcome["error"], lead=t("ex_not_attested"))
        return
    result = outcome["result"]
    if result.outcome == "already_attested":
        st.info(t("ex_already", rid=result.request_id or "—"), icon="ℹ️")
        return
    stored = result.attestation
    st.success(t("ex_attested", rid=result.request_id or "—"), icon="✅")
    if stored is not None:
        c = stored.primary_contact
        st.markdown(
            t(
                "ex_stored",
                name=person_name(c.first_name, c.last_name),
                email=c.email,
                phone=c.phone_number or "—",
                date=stored.date_agreed.date().isoformat(),
                template=stored.template_id,
            )
        )


def render(ctx: AttestContext, *, is_open: bool) -> None:
    if ctx.snapshot is None:
        ab.offer_sync(ctx.app, ctx.actor, key="ex_sync")
    else:
        st.caption(tn("list_synced", len(ctx.synced), when=ab.utc_time(ctx.snapshot.taken_at)))
        ab.partial_list_warning(ctx.snapshot)
    reference = ab.customer_picker(ctx.synced, key="ex_customer")
    if not reference:
        st.caption(t("ex_pick_first"))
        return
    if ss.get("ex_came_from_blocked") == reference:
        st.info(t("ex_from_blocked_enhanced") if ctx.enhanced else t("ex_from_blocked"), icon="👉")
    status = current_status(ctx, reference, is_open)
    if isinstance(status, McaError):
        ab.show_error(status)
        if isinstance(status, InvalidInput):
            return
    elif status is not None:
        with st.container(border=True):
            st.markdown(f"**{md(status.customer.company_name)}** · {md(status.customer.domain)}")
            ab.verdict_block(status)
            if status.attestations:
                with st.expander(t("ex_all_attestations", n=len(status.attestations))):
                    st.dataframe(ab.attestation_frame(status), hide_index=True)
    if ctx.enhanced:  # the enhanced channel: signer form, acceptance link, Finalise
        if is_open:  # one signer form per run: the new-customer tab may be drawing it
            found = None if isinstance(status, McaError) else status
            customer_id = found.customer.id if found is not None else None
            eb.attest_path(ctx.app, ctx.actor, customer_id, found)
        return
    if review_step(ctx, reference):
        show_attest_outcome(reference)
        return
    ab.default_state({"ex_date": None})  # empty until the agent enters the date
    ab.classic_retired_warning()
    with st.form("ex_form"):
        st.markdown(f"**{t('ex_form_title')}**")
        left, right = st.columns(2)
        left.text_input(t("at_first_name"), key="ex_first")
        right.text_input(t("at_last_name"), key="ex_last")
        left.text_input(t("at_email"), key="ex_email", placeholder="jane@contoso.com")
        right.text_input(t("at_phone_optional"), key="ex_phone", placeholder="+1 425 555 0100")
        left.date_input(t("at_date_agreed"), key="ex_date", format="YYYY-MM-DD")
        right.caption(t("utc_rule", today=utc_today().isoformat()))
        submitted = st.form_submit_button(t("ex_review_submit"), type="primary")
    if submitted:
        company = reference
        if status is not None and not isinstance(status, McaError):
            company = status.customer.company_name or status.customer.domain
        review_attestation(ctx, reference, company)
        if ss.get("ex_review"):
            st.rerun()
    show_attest_outcome(reference)
