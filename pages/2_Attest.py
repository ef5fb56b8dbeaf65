"""Attest: confirm that a customer accepted the MCA — an existing customer, a new customer, a
CSV in bulk, or the customers whose orders are blocked. Admin and Sales agents of a direct-bill
partner or an indirect provider only (the use cases check again)."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from mca_core.domain import access
from mca_core.domain.errors import AccessRefused, InvalidInput, McaError, PartnerCenterError
from mca_core.domain.models import Address, Contact, Customer, NewCustomer, PartnerType
from mca_core.domain.validation import utc_today
from mca_core.usecases import bulk
from mca_core.usecases.attestation import attest_customer, prepare_attestation
from mca_core.usecases.customers import (
    CULTURES,
    NewCustomerOutcome,
    check_new_customer_request,
    create_customer_with_attestation,
    new_request_id,
    request_id_after,
)
from mca_core.usecases.reports import MEDIA_TYPES
from mca_core.usecases.sync import accepted_changes, new_customer_changes
from mca_core.usecases.verify import verify_customer
from ui import attest_blocks as ab
from ui import enhanced_blocks as eb
from ui import i18n, session
from ui.guard import page_setup
from ui.i18n import person_name, problem_text, t, tn
from ui.markup import md

page_setup("attest_title", icon="✍️")
actor = ab.require_attester()
desk = session.desk()
identity = actor.identity
ss = st.session_state

st.title(t("attest_title"))
st.caption(t("attest_intro"))
eb.channel_caption(desk)
ENHANCED = eb.channel(desk) == "enhanced"

snapshot, synced = ab.synced_customers(desk, actor)
TAB_KEYS = ("existing", "new", "bulk", "blocked")
TAB_LABELS = {key: t(f"tab_{key}") for key in TAB_KEYS}


def open_existing(customer_id: str) -> None:
    """From the blocked list: the existing-customer form, preselected. The date is left empty:
    only the agent can say when the customer accepted."""
    ss["ex_customer"] = customer_id
    ss["ex_date"] = None
    ss["ex_came_from_blocked"] = customer_id
    ss["attest_tab"] = TAB_LABELS["existing"]
    ss.pop("ex_outcome", None)
    ss.pop("ex_review", None)


# --- the credentials of a new customer are shown once ------------------------------------------


def drop_credentials() -> None:
    """The first admin's password leaves the session: after it was dismissed, handed to the
    invitation generator, or the user left the page."""
    outcome = ss.get("ncx_outcome")
    if isinstance(outcome, NewCustomerOutcome) and outcome.credentials is not None:
        ss["ncx_outcome"] = outcome.without_credentials()
    ss["ncx_creds_dropped"] = True
    ss.pop("ncx_creds_shown", None)


# The reveal toggle exists only while the credentials are on screen; a run of another page
# forgets it, so its absence after they were shown means the user left: drop them.
if ss.get("ncx_creds_shown") and "creds_reveal" not in ss:
    drop_credentials()
ab.keep_widget_state("nc_")
# The existing-customer form is hidden while the chosen customer cannot be found (a typo):
# keep the contact typed so far for when the customer is corrected.
for _key in ("ex_first", "ex_last", "ex_email", "ex_phone", "ex_date"):
    if _key in ss:
        ss[_key] = ss[_key]
if ab.preselect_from_query("ex_customer", "ex_query_customer"):
    ss["attest_tab"] = TAB_LABELS["existing"]
    ss["ex_date"] = None


# --- existing customer -------------------------------------------------------------------------


def current_status(reference: str, is_open: bool) -> Any:
    """The customer's acceptance (cached per customer; read from Partner Center when shown)."""
    cached = ss.get("ex_status")
    if cached is not None and cached["ref"] == reference:
        return cached["value"]
    if not is_open:
        return None
    try:
        value: Any = ab.run_use_case(
            desk, actor, lambda pc: verify_customer(pc, desk.store, identity, reference)
        )
    except McaError as exc:
        value = exc
    ss["ex_status"] = {"ref": reference, "value": value}
    return value


def review_attestation(reference: str, company: str) -> None:
    """Check the form; when it is sound, show the exact statement before anything is sent."""
    ss.pop("ex_outcome", None)
    try:
        access.check_may_attest(identity)
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


def review_step(reference: str) -> bool:
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
        change, confirm, _ = st.columns([1, 1, 3])
        if change.button(t("ex_change"), key="exb_change", width="stretch"):
            ss.pop("ex_review", None)
            st.rerun()
        if confirm.button(t("ex_confirm"), key="exb_confirm", type="primary", width="stretch"):
            submit_attestation(reference, contact, review["day"])
    return True


def submit_attestation(reference: str, contact: Contact, day: date) -> None:
    """Send exactly the statement the agent confirmed."""
    rid = ss.setdefault("ex_rid", new_request_id())
    ss.pop("ex_review", None)
    try:
        result = ab.run_use_case(
            desk,
            actor,
            lambda pc: attest_customer(
                pc,
                desk.store,
                identity,
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
    except McaError as exc:
        ss["ex_outcome"] = {"ref": reference, "error": exc}
        if isinstance(exc, PartnerCenterError):
            ss["ex_rid"] = request_id_after(exc, rid)
        st.rerun()
    ss["ex_outcome"] = {"ref": reference, "result": result}
    desk.write_through(  # every page agrees at once, before the next sync
        identity,
        result.customer_id,
        lambda before: accepted_changes(
            before,
            contact=contact,
            date_agreed=day,
            attested_by=identity.user_id,
            new_attestation=result.outcome == "attested",
        ),
    )
    ss["ex_rid"] = new_request_id()
    ss.pop("ex_status", None)  # the customer's status changed: read it again
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


def existing_tab(is_open: bool) -> None:
    if snapshot is None:
        ab.offer_sync(desk, actor, key="ex_sync")
    else:
        st.caption(tn("list_synced", len(synced), when=ab.utc_time(snapshot.taken_at)))
    reference = ab.customer_picker(synced, key="ex_customer")
    if not reference:
        st.caption(t("ex_pick_first"))
        return
    if ss.get("ex_came_from_blocked") == reference:
        st.info(t("ex_from_blocked"), icon="👉")
    status = current_status(reference, is_open)
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
    if ENHANCED:  # the enhanced channel: signer form, acceptance link, Finalise
        found = None if isinstance(status, McaError) else status
        eb.attest_path(desk, actor, found.customer.id if found is not None else None, found)
        return
    if review_step(reference):
        show_attest_outcome(reference)
        return
    ab.default_state({"ex_date": None})  # empty until the agent enters the date
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
        review_attestation(reference, company)
        if ss.get("ex_review"):
            st.rerun()
    show_attest_outcome(reference)


# --- new customer ------------------------------------------------------------------------------

CONTACT_COPY = {
    "nc_att_first": "nc_first",
    "nc_att_last": "nc_last",
    "nc_att_email": "nc_email",
    "nc_att_phone": "nc_phone",
}


def form_customer() -> NewCustomer:
    def value(key: str) -> str:
        return str(ss.get(key) or "")

    return NewCustomer(
        company_name=value("nc_company"),
        domain_prefix=value("nc_domain"),
        email=value("nc_email"),
        culture=value("nc_culture"),
        language="",
        address=Address(
            first_name=value("nc_first"),
            last_name=value("nc_last"),
            address_line1=value("nc_address"),
            city=value("nc_city"),
            state=value("nc_state"),
            postal_code=value("nc_postal"),
            country=value("nc_country"),
            phone_number=value("nc_phone"),
        ),
        associated_partner_id=value("nc_reseller") or None,
    )


def form_attestation() -> tuple[Contact, date] | None:
    if ss.get("nc_agreement") != "attest_now":
        return None
    contact = Contact(
        first_name=str(ss.get("nc_att_first") or ""),
        last_name=str(ss.get("nc_att_last") or ""),
        email=str(ss.get("nc_att_email") or ""),
        phone_number=str(ss.get("nc_att_phone") or "") or None,
    )
    return contact, ss.get("nc_att_date")


def follow_primary_contact() -> None:
    """The attestation's contact starts as the primary contact and follows it until edited."""
    copied = ss.setdefault("ncx_copied", {})
    for target, source in CONTACT_COPY.items():
        if ss.get(target, "") in ("", copied.get(target)):
            ss[target] = ss.get(source, "")
        copied[target] = ss.get(source, "")


def new_customer_form() -> None:
    ab.default_state({"nc_culture": "en-US", "nc_agreement": "attest_now", "nc_att_date": None})
    st.markdown(f"##### {t('nc_account')}")
    left, right = st.columns(2)
    left.text_input(t("at_company_name"), key="nc_company")
    with right:
        prefix, suffix = st.columns([3, 2], vertical_alignment="bottom")
        prefix.text_input(t("at_domain_prefix"), key="nc_domain", help=t("at_domain_prefix_help"))
        suffix.markdown("`.onmicrosoft.com`")
    left.text_input(t("at_address_line1"), key="nc_address")
    right.text_input(t("at_city"), key="nc_city")
    left.text_input(t("at_state_optional"), key="nc_state")
    right.text_input(t("at_postal_optional"), key="nc_postal")
    left.selectbox(
        t("at_country"),
        ab.country_codes(i18n.language()),
        index=None,
        key="nc_country",
        format_func=lambda code: f"{ab.country_name(code)} ({code})",
        placeholder=t("at_country_placeholder"),
    )
    right.selectbox(
        t("at_culture"),
        list(CULTURES),
        key="nc_culture",
        format_func=lambda c: f"{c} · {ab.country_name(c.split('-')[1])}",
        help=t("at_culture_help"),
    )
    if identity.partner_type is PartnerType.INDIRECT_PROVIDER:
        st.text_input(t("reseller_optional"), key="nc_reseller", help=t("reseller_help"))
    st.markdown(f"##### {t('nc_primary_contact')}")
    left, right = st.columns(2)
    left.text_input(t("at_first_name"), key="nc_first")
    right.text_input(t("at_last_name"), key="nc_last")
    left.text_input(t("at_email"), key="nc_email", placeholder="jane@contoso.com")
    right.text_input(t("at_phone_optional"), key="nc_phone", placeholder="+1 425 555 0100")

    st.markdown(f"##### {t('nc_agreement')}")
    st.caption(t("nc_agreement_help"))
    if ENHANCED:  # the customer accepts on Microsoft's page; the link follows the creation
        ss["nc_agreement"] = "customer_accepts"
        st.caption(t("enh_new_customer_note"))
    st.radio(
        t("nc_agreement_how"),
        ["customer_accepts"] if ENHANCED else ["attest_now", "customer_accepts"],
        key="nc_agreement",
        format_func=lambda choice: t(f"nc_choice_{choice}"),
    )
    if ss.get("nc_agreement") == "attest_now":
        follow_primary_contact()
        with st.container(border=True):
            st.caption(t("nc_att_prefilled"))
            left, right = st.columns(2)
            left.text_input(t("at_first_name"), key="nc_att_first")
            right.text_input(t("at_last_name"), key="nc_att_last")
            left.text_input(t("at_email"), key="nc_att_email")
            right.text_input(t("at_phone_optional"), key="nc_att_phone")
            left.date_input(t("at_date_agreed"), key="nc_att_date", format="YYYY-MM-DD")
            right.caption(t("utc_rule", today=utc_today().isoformat()))
    else:
        st.info(t("nc_customer_accepts_info"), icon="ℹ️")
    error = ss.get("ncx_error")
    if error is not None:
        ab.show_error(error)
    if st.button(t("nc_review"), type="primary", key="ncb_review"):
        try:
            check_new_customer_request(
                identity, form_customer(), form_attestation(), user_tz=ab.browser_timezone()
            )
        except McaError as exc:
            ss["ncx_error"] = exc
        else:
            ss.pop("ncx_error", None)
            ss["ncx_step"] = "review"
        st.rerun()


def review_lines(new: NewCustomer) -> str:
    a = new.address
    place = ", ".join(x for x in (a.address_line1, a.city, a.state, a.postal_code) if x)
    contact = " · ".join(
        x for x in (person_name(a.first_name, a.last_name), new.email, a.phone_number) if x
    )
    lines = [
        f"- **{t('at_company_name')}**: {md(new.company_name)}",
        f"- **{t('at_domain')}**: {md(new.domain)}",
        f"- **{t('at_address_line1')}**: {md(place)} — {md(ab.country_name(a.country))} "
        f"({md(a.country)})",
        f"- **{t('at_culture')}**: {md(new.culture)}",
        f"- **{t('nc_primary_contact')}**: {md(contact)}",
    ]
    if new.associated_partner_id:
        lines.append(f"- **{t('reseller_optional')}**: {md(new.associated_partner_id)}")
    return "\n".join(lines)


def create_new_customer() -> None:
    create_rid = ss.setdefault("ncx_create_rid", new_request_id())
    attest_rid = ss.setdefault("ncx_attest_rid", new_request_id())
    new, attestation = form_customer(), form_attestation()
    try:
        outcome = ab.run_use_case(
            desk,
            actor,
            lambda pc: create_customer_with_attestation(
                pc,
                desk.store,
                identity,
                new,
                attestation,
                create_request_id=create_rid,
                attest_request_id=attest_rid,
                user_tz=ab.browser_timezone(),
            ),
        )
    except McaError as exc:
        ss["ncx_error"] = exc
        if isinstance(exc, PartnerCenterError):
            ss["ncx_create_rid"] = request_id_after(exc, create_rid)
        if isinstance(exc, InvalidInput):
            ss["ncx_step"] = "form"
        st.rerun()
    ss.pop("ncx_error", None)
    if isinstance(outcome.attestation_error, PartnerCenterError):
        ss["ncx_attest_rid"] = request_id_after(outcome.attestation_error, attest_rid)
    if ss.get("ncx_creds_dropped"):  # a retry replays the creation: never show them twice
        outcome = outcome.without_credentials()
    ss["ncx_outcome"] = outcome
    ss["ncx_step"] = "done"
    desk.write_through(
        identity, outcome.customer.id, lambda _: new_customer_changes(outcome.customer)
    )
    if outcome.attestation is not None and attestation is not None:
        contact, day = attestation
        desk.write_through(
            identity,
            outcome.customer.id,
            lambda before: accepted_changes(
                before,
                contact=contact,
                date_agreed=day,
                attested_by=identity.user_id,
                new_attestation=outcome.attestation.outcome == "attested",
            ),
        )
    st.rerun()


def new_customer_review() -> None:
    new, attestation = form_customer(), form_attestation()
    st.markdown(f"##### {t('nc_review_title')}")
    left, right = st.columns(2)
    with left, st.container(border=True):
        st.markdown(f"**{t('nc_account')}**")
        try:
            clean, prepared = check_new_customer_request(
                identity, new, attestation, user_tz=ab.browser_timezone()
            )
        except McaError as exc:  # changed since the review started (e.g. the UTC date)
            ss["ncx_error"], ss["ncx_step"] = exc, "form"
            st.rerun()
        st.markdown(review_lines(clean))
    with right, st.container(border=True):
        st.markdown(f"**{t('nc_agreement')}**")
        if prepared is None:
            st.markdown(t("nc_choice_customer_accepts"))
        else:
            contact, day = prepared
            st.markdown(
                t(
                    "nc_review_attest",
                    name=person_name(contact.first_name, contact.last_name),
                    email=contact.email,
                    date=day.isoformat(),
                )
            )
    st.caption(t("nc_review_note"))
    error = ss.get("ncx_error")
    if error is not None:
        ab.show_error(error, lead=t("nc_not_created"))
    back, create, _ = st.columns([1, 1, 3])
    if back.button(t("nc_back"), key="ncb_back", width="stretch"):
        ss["ncx_step"] = "form"
        ss.pop("ncx_error", None)
        st.rerun()
    if create.button(t("nc_create"), type="primary", key="ncb_create", width="stretch"):
        create_new_customer()


def show_credentials(outcome: NewCustomerOutcome) -> None:
    creds = outcome.credentials
    if creds is None:
        if ss.get("ncx_creds_dropped"):
            st.caption(t("creds_gone"))
        return
    with st.container(border=True):
        st.markdown(f"**{t('creds_title')}**")
        st.warning(t("creds_once"), icon="🔐")
        st.caption(t("creds_sign_in"))
        st.code(creds.user_name, language=None)
        st.caption(t("creds_password"))
        if st.toggle(t("creds_reveal"), key="creds_reveal"):
            st.code(creds.password.get_secret_value(), language=None)
        else:
            st.code("•" * 12, language=None)
        ss["ncx_creds_shown"] = True
        if st.button(t("creds_saved"), key="ncb_creds_saved"):
            drop_credentials()
            st.rerun()


def invitation_prefill(outcome: NewCustomerOutcome) -> dict[str, str]:
    creds = outcome.credentials
    culture = str(ss.get("nc_culture") or "")
    return {
        "kind": "mca_new",
        "customer_id": outcome.customer.id,
        "company_name": outcome.customer.company_name,
        "domain": outcome.customer.domain,
        "user_name": creds.user_name if creds else "",
        "password": creds.password.get_secret_value() if creds else "",
        "to": str(ss.get("nc_email") or ""),
        "locale": "zh-CN" if culture.lower().startswith("zh") else "en",
    }


def start_over() -> None:
    ab.clear_state("nc_")
    ab.clear_state("ncx_")
    ss.pop("creds_reveal", None)


def new_customer_done(outcome: NewCustomerOutcome) -> None:
    c = outcome.customer
    st.success(
        t(
            "nc_created",
            company=c.company_name,
            domain=c.domain,
            id=c.id,
            rid=outcome.created.request_id or "—",
        ),
        icon="✅",
    )
    if outcome.attestation is not None:
        if outcome.attestation.outcome == "already_attested":
            st.info(t("ex_already", rid=outcome.attestation.request_id or "—"), icon="ℹ️")
        else:
            st.success(t("nc_attested", rid=outcome.attestation.request_id or "—"), icon="✅")
    elif outcome.attestation_error is not None:
        st.error(t("nc_attest_failed", company=c.company_name), icon="⚠️")
        ab.show_error(outcome.attestation_error)
        if st.button(t("nc_retry"), type="primary", key="ncb_retry"):
            create_new_customer()
    else:
        st.info(t("nc_next_invite"), icon="✉️")
    if ENHANCED:
        st.button(
            t("enh_open_link_tab"),
            key="ncb_enh_link",
            type="primary",
            icon="🔗",
            on_click=open_existing,
            args=(c.id,),
        )
    show_credentials(outcome)
    invite, again, _ = st.columns([2, 2, 3])
    available = ab.page_exists(ab.INVITATIONS_PAGE)
    if invite.button(
        t("nc_send_invitation"),
        key="ncb_invite",
        disabled=not available,
        help=None if available else t("page_not_yet"),
        width="stretch",
    ):
        ss["invite_prefill"] = invitation_prefill(outcome)
        drop_credentials()
        st.switch_page(ab.INVITATIONS_PAGE)
    if again.button(t("nc_another"), key="ncb_another", width="stretch"):
        start_over()
        st.rerun()


def new_customer_tab() -> None:
    try:
        access.check_may_create_customer(identity)
    except AccessRefused as exc:
        ab.show_error(exc)
        return
    st.caption(t("nc_intro"))
    outcome = ss.get("ncx_outcome")
    step = ss.get("ncx_step", "form")
    if step == "done" and isinstance(outcome, NewCustomerOutcome):
        new_customer_done(outcome)
    elif step == "review":
        new_customer_review()
    else:
        new_customer_form()


# --- bulk (CSV) --------------------------------------------------------------------------------

GRID_ORDER = ("line", "state", "problems", *bulk.COLUMNS)
#: What the bulk tab keeps between runs: the file's bytes, the edited grid, the last report.
BULK_STATE = (
    "bulk_file_fp",
    "bulk_bytes",
    "bulk_name",
    "bulk_base",
    "bulk_file_error",
    "bulk_report",
    "bulk_dry_fp",
)


def known_customers() -> tuple[dict[str, Customer] | None, set[str] | None]:
    if snapshot is None:
        return None, None
    customers = {
        cid: Customer(
            id=cid,
            tenant_id=cid,
            domain=r.get("domain") or "",
            company_name=r.get("company_name") or "",
        )
        for cid, r in synced.items()
    }
    return customers, {cid for cid, r in synced.items() if r.get("accepted")}


def annotated(frame: pd.DataFrame) -> pd.DataFrame:
    """The grid with each row's state and problems beside it (from the core's row checks)."""
    frame = ab.normalise_grid(frame)
    customers, accepted = known_customers()
    rows = bulk.rows_from_records(frame[["line", *bulk.COLUMNS]].to_dict("records"))
    checks = {
        c.row.line: c for c in bulk.check_rows(rows, customers=customers, accepted_ids=accepted)
    }
    states, problems = [], []
    for line in frame["line"]:
        check = checks.get(int(line))
        if check is None:
            states.append("")
            problems.append("")
            continue
        marks = [("⛔ " + t("row_invalid")) if check.problems else ("✅ " + t("row_ready"))]
        marks += ["⚠️ " + t(f"flag_{flag}") for flag in check.flags]
        states.append(" · ".join(marks))
        problems.append(ab.problem_list(check.problems))
    frame["state"] = states
    frame["problems"] = problems
    return frame


def load_file(name: str, data: bytes, encoding: str = "auto") -> None:
    # the file and the encoding it is read with: choosing another encoding reads it again
    ss["bulk_file_fp"] = hashlib.sha256(encoding.encode() + b"\0" + data).hexdigest()
    ss["bulk_bytes"], ss["bulk_name"] = data, name
    for key in ("bulk_report", "bulk_dry_fp", "bulk_base", "bulk_file_error"):
        ss.pop(key, None)  # a new file (or encoding): the old grid and reports no longer apply
    try:
        rows = bulk.read_csv(data, encoding)
    except bulk.CsvUnusable as exc:
        ss["bulk_file_error"] = exc
        return
    ss["bulk_base"] = annotated(ab.grid_from_rows(rows))
    ss["bulk_version"] = ss.get("bulk_version", 0) + 1


def grid_rows() -> list[bulk.BulkRow]:
    base: pd.DataFrame = ss["bulk_base"]
    return bulk.rows_from_records(base[["line", *bulk.COLUMNS]].to_dict("records"))


def rows_fingerprint(rows: list[bulk.BulkRow]) -> str:
    payload = json.dumps([[r.line, *r.values().values()] for r in rows], ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def run_bulk_now(rows: list[bulk.BulkRow], *, dry_run: bool) -> None:
    bar = st.progress(0.0, text=tn("bulk_progress", len(rows), done=0))

    def progress(done: int, total: int) -> None:
        bar.progress(done / total if total else 1.0, text=tn("bulk_progress", total, done=done))

    try:
        report = desk.run(
            lambda pc: bulk.run_bulk(
                pc, desk.store, identity, rows, dry_run=dry_run, progress=progress
            ),
            actor,
        )
    except McaError as exc:
        bar.empty()
        ab.show_error(exc)
        return
    bar.empty()
    ss["bulk_report"] = report
    desk.write_through_bulk(identity, report, rows)  # every page agrees at once
    if dry_run:
        ss["bulk_dry_fp"] = rows_fingerprint(rows)
    st.rerun()


def show_report(report: bulk.BulkReport) -> None:
    counts = report.counts
    st.markdown(f"##### {t('bulk_dry_title') if report.dry_run else t('bulk_result_title')}")
    shown = [k for k in bulk.OUTCOMES if counts.get(k)]
    cols = st.columns(max(1, len(shown)))
    for col, key in zip(cols, shown, strict=False):
        col.metric(t(f"outcome_{key}"), counts[key])
    if report.resumed:
        st.info(tn("bulk_resumed", report.resumed), icon="↩️")
    if report.dry_run:
        st.caption(t("bulk_dry_note"))
    elif report.ok:
        st.success(t("bulk_all_done"), icon="✅")
    else:
        st.warning(t("bulk_resume_hint"), icon="↩️")
    frame = pd.DataFrame(
        [
            {
                t("col_line"): o.line,
                t("col_customer"): o.customer,
                t("col_outcome"): t(f"outcome_{o.outcome}"),
                t("col_message"): o.message,
                t("col_request_id"): o.request_id or "",
            }
            for o in report.outcomes
        ]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        t("bulk_download_results"),
        data=bulk.results_csv(report),
        file_name=f"mca-bulk-{'dry-run' if report.dry_run else 'results'}.csv",
        mime=MEDIA_TYPES["csv"],
        icon="⬇️",
        on_click="ignore",
        key="bulk_download_results",
    )


def bulk_tab() -> None:
    if ENHANCED:
        st.warning(t("enh_bulk_note"), icon="⚠️")
    st.caption(t("bulk_intro"))
    st.download_button(
        t("bulk_template"),
        data=bulk.template_csv(),
        file_name="mca-bulk-attestation-template.csv",
        mime=MEDIA_TYPES["csv"],
        icon="⬇️",
        on_click="ignore",
        key="bulk_template",
    )
    # Only UTF-8 and UTF-16 with a BOM are read unasked; GB18030 is the user's word (issue 11:
    # a Korean file read as GB18030 gives plausible Chinese names), confirmed in the grid below.
    encoding = st.selectbox(
        t("bulk_encoding"),
        bulk.ENCODINGS,
        format_func=lambda key: t(f"bulk_encoding_{key}"),
        key="bulk_encoding",
        help=t("bulk_encoding_help"),
    )
    upload = st.file_uploader(
        t("bulk_upload"),
        type=["csv", "txt"],
        key=f"bulk_upload_{ss.get('bulk_upload_n', 0)}",
        help=t("bulk_upload_help"),
    )
    if upload is not None:
        data = upload.getvalue()
        if ss.get("bulk_file_fp") != hashlib.sha256(encoding.encode() + b"\0" + data).hexdigest():
            load_file(upload.name, data, encoding)
    if ss.get("bulk_name"):
        st.caption(tn("bulk_file", len(ss.get("bulk_bytes") or b""), name=ss["bulk_name"]))
    error = ss.get("bulk_file_error")
    if error is not None:
        st.error(f"{t('bulk_file_unusable')}\n\n{problem_text(error.problem)}", icon="📄")
        return
    base = ss.get("bulk_base")
    if base is None:
        return
    if encoding != "auto":
        st.info(t("bulk_encoding_check", encoding=t(f"bulk_encoding_{encoding}")), icon="🔤")
    if snapshot is None:
        st.caption(t("bulk_no_snapshot"))
    key = f"bulk_grid_{ss.get('bulk_version', 0)}"
    edited = st.data_editor(
        base,
        key=key,
        num_rows="dynamic",
        hide_index=True,
        width="stretch",
        column_order=GRID_ORDER,
        column_config=ab.grid_columns(),
    )
    delta = ss.get(key) or {}
    if any(delta.get(part) for part in ("edited_rows", "added_rows", "deleted_rows")):
        ss["bulk_base"] = annotated(edited)
        ss["bulk_version"] = ss.get("bulk_version", 0) + 1
        st.rerun()
    rows = grid_rows()
    invalid = int((base["problems"] != "").sum())
    st.caption(tn("bulk_counts", len(rows), invalid=invalid))
    dry_done = ss.get("bulk_dry_fp") == rows_fingerprint(rows)
    dry, submit, reset, _ = st.columns([1, 1, 1, 2])
    if dry.button(t("bulk_dry_run"), key="bulkb_dry", width="stretch", disabled=not rows):
        run_bulk_now(rows, dry_run=True)
    if submit.button(
        t("bulk_submit"),
        key="bulkb_submit",
        type="primary",
        width="stretch",
        disabled=not (rows and dry_done),
        help=None if dry_done else t("bulk_submit_help"),
    ):
        run_bulk_now(rows, dry_run=False)
    if reset.button(t("bulk_reset"), key="bulkb_reset", width="stretch"):
        for name in BULK_STATE:
            ss.pop(name, None)
        ss["bulk_upload_n"] = ss.get("bulk_upload_n", 0) + 1  # a fresh, empty uploader
        st.rerun()
    report = ss.get("bulk_report")
    if report is not None:
        show_report(report)


# --- blocked customers -------------------------------------------------------------------------

BLOCKED_PAGE_SIZE = 20


def blocked_tab() -> None:
    if snapshot is None:
        ab.offer_sync(desk, actor, key="bl_sync")
        return
    blocked = [r for r in synced.values() if r.get("accepted") is False]
    since = desk.store.audit(
        partner_tenant_id=identity.partner_tenant_id,
        action=["attest", "bulk_attest", "finalise"],
        outcome=["attested", "already_attested"],
        since=snapshot.taken_at,
    )
    done = {e.customer_id for e in since}
    left = [r for r in blocked if r["customer_id"] not in done]
    st.warning(t("blocked_why"), icon="⛔")
    notes = [tn("list_synced", len(synced), when=ab.utc_time(snapshot.taken_at))]
    if len(left) < len(blocked):
        notes.append(tn("blocked_done_since", len(blocked) - len(left)))
    st.caption(" ".join(notes))
    if not left:
        st.success(t("blocked_none"), icon="✅")
        return
    count, search, paging = st.columns([1, 3, 1], vertical_alignment="bottom")
    count.metric(t("blocked_count"), f"{len(left):,}")
    query = search.text_input(t("blocked_search"), key="bl_search").strip().casefold()
    if query:
        left = [
            r
            for r in left
            if query in f"{r.get('company_name')} {r.get('domain')} {r['customer_id']}".casefold()
        ]
    left.sort(key=lambda r: str(r.get("company_name") or "").casefold())
    pages = max(1, -(-len(left) // BLOCKED_PAGE_SIZE))
    page = 1
    if pages > 1:
        page = int(paging.number_input(t("blocked_page", pages=pages), 1, pages, 1, key="bl_page"))
    if not left:
        st.caption(t("blocked_no_match"))
        return
    head = st.columns([4, 4, 1, 2])
    for col, key in zip(
        head, ("col_company", "col_domain", "col_country", "col_action"), strict=True
    ):
        col.markdown(f"**{t(key)}**")
    start = (page - 1) * BLOCKED_PAGE_SIZE
    for row in left[start : start + BLOCKED_PAGE_SIZE]:
        cols = st.columns([4, 4, 1, 2], vertical_alignment="center")
        cols[0].markdown(md(row.get("company_name") or "—"))
        cols[1].markdown(md(row.get("domain") or ""))
        cols[2].markdown(md(row.get("country") or ""))
        cols[3].button(
            t("blocked_attest"),
            key=f"bl_attest_{row['customer_id']}",
            on_click=open_existing,
            args=(row["customer_id"],),
            width="stretch",
        )


tabs = st.tabs(list(TAB_LABELS.values()), key="attest_tab", on_change="rerun")
with tabs[0]:
    existing_tab(bool(tabs[0].open))
with tabs[1]:
    new_customer_tab()
with tabs[2]:
    bulk_tab()
with tabs[3]:
    blocked_tab()
