"""The Attest page's new-customer tab: the form, the review, the creation (with the attestation
or the customer's own acceptance), the first admin's credentials shown once, and the hand-off to
the invitation generator. On the enhanced channel there is no "attest now": once the customer is
created, the tab offers the enhanced step for it (the signer form, starting as the primary
contact, and its acceptance link: `ui.enhanced_blocks.attest_path`)."""

from __future__ import annotations

from datetime import date

import streamlit as st

from mca_core import (
    CULTURES,
    AccessRefused,
    Address,
    Contact,
    InvalidInput,
    McaError,
    NewCustomer,
    NewCustomerOutcome,
    NewCustomerRequest,
    PartnerCenterError,
    PartnerType,
    access,
    check_new_customer_request,
    new_request_id,
    request_id_after,
    utc_today,
)
from ui import attest_blocks as ab
from ui import enhanced_blocks as eb
from ui import i18n
from ui.i18n import person_name, t
from ui.markup import md

from .context import AttestContext

ss = st.session_state


# --- the credentials of a new customer are shown once ------------------------------------------


def drop_credentials() -> None:
    """The first admin's password leaves the session: after it was dismissed, handed to the
    invitation generator, or the user left the page."""
    outcome = ss.get("ncx_outcome")
    if isinstance(outcome, NewCustomerOutcome) and outcome.credentials is not None:
        ss["ncx_outcome"] = outcome.without_credentials()
    ss["ncx_creds_dropped"] = True
    ss.pop("ncx_creds_shown", None)


def before_tabs() -> None:
    """Every run of the page, before the tabs are drawn."""
    # The reveal toggle exists only while the credentials are on screen; a run of another page
    # forgets it, so its absence after they were shown means the user left: drop them.
    if ss.get("ncx_creds_shown") and "creds_reveal" not in ss:
        drop_credentials()
    ab.keep_widget_state("nc_")


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


def new_customer_form(ctx: AttestContext) -> None:
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
    lang = i18n.language()  # labels fixed at drawing time (not read back per call)
    left.selectbox(
        t("at_country"),
        ab.country_codes(lang),
        index=None,
        key="nc_country",
        format_func=lambda code: f"{ab.country_name(code, lang)} ({code})",
        placeholder=t("at_country_placeholder"),
    )
    right.selectbox(
        t("at_culture"),
        list(CULTURES),
        key="nc_culture",
        format_func=lambda c: f"{c} · {ab.country_name(c.split('-')[1], lang)}",
        help=t("at_culture_help"),
    )
    if ctx.identity.partner_type is PartnerType.INDIRECT_PROVIDER:
        st.text_input(t("reseller_optional"), key="nc_reseller", help=t("reseller_help"))
    st.markdown(f"##### {t('nc_primary_contact')}")
    left, right = st.columns(2)
    left.text_input(t("at_first_name"), key="nc_first")
    right.text_input(t("at_last_name"), key="nc_last")
    left.text_input(t("at_email"), key="nc_email", placeholder="jane@contoso.com")
    right.text_input(t("at_phone_optional"), key="nc_phone", placeholder="+1 425 555 0100")

    st.markdown(f"##### {t('nc_agreement')}")
    if ctx.enhanced:  # the customer accepts on Microsoft's page; the link follows the creation
        ss["nc_agreement"] = "customer_accepts"
        st.info(t("enh_new_customer_note"), icon="🔗")
    else:
        st.caption(t("nc_agreement_help"))
        st.radio(
            t("nc_agreement_how"),
            ["attest_now", "customer_accepts"],
            key="nc_agreement",
            format_func={c: t(f"nc_choice_{c}") for c in ("attest_now", "customer_accepts")}.get,
        )
    if not ctx.enhanced and ss.get("nc_agreement") == "attest_now":
        follow_primary_contact()
        with st.container(border=True):
            ab.classic_retired_warning()
            st.caption(t("nc_att_prefilled"))
            left, right = st.columns(2)
            left.text_input(t("at_first_name"), key="nc_att_first")
            right.text_input(t("at_last_name"), key="nc_att_last")
            left.text_input(t("at_email"), key="nc_att_email")
            right.text_input(t("at_phone_optional"), key="nc_att_phone")
            left.date_input(t("at_date_agreed"), key="nc_att_date", format="YYYY-MM-DD")
            right.caption(t("utc_rule", today=utc_today().isoformat()))
    elif not ctx.enhanced:
        st.info(t("nc_customer_accepts_info"), icon="ℹ️")
    error = ss.get("ncx_error")
    if error is not None:
        ab.show_error(error)
    if st.button(t("nc_review"), type="primary", key="ncb_review"):
        try:
            check_new_customer_request(
                ctx.identity, form_customer(), form_attestation(), user_tz=ab.browser_timezone()
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


def create_new_customer(ctx: AttestContext) -> None:
    create_rid = ss.setdefault("ncx_create_rid", new_request_id())
    attest_rid = ss.setdefault("ncx_attest_rid", new_request_id())
    new, attestation = form_customer(), form_attestation()
    try:
        outcome = ab.run_use_case(
            lambda: ctx.app.create_customer(
                ctx.actor,
                NewCustomerRequest(
                    customer=new,
                    attestation=attestation,
                    create_request_id=create_rid,
                    attest_request_id=attest_rid,
                    user_tz=ab.browser_timezone(),
                ),
            )
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
    st.rerun()


def new_customer_review(ctx: AttestContext) -> None:
    new, attestation = form_customer(), form_attestation()
    st.markdown(f"##### {t('nc_review_title')}")
    left, right = st.columns(2)
    with left, st.container(border=True):
        st.markdown(f"**{t('nc_account')}**")
        try:
            clean, prepared = check_new_customer_request(
                ctx.identity, new, attestation, user_tz=ab.browser_timezone()
            )
        except McaError as exc:  # changed since the review started (e.g. the UTC date)
            ss["ncx_error"], ss["ncx_step"] = exc, "form"
            st.rerun()
        st.markdown(review_lines(clean))
    with right, st.container(border=True):
        st.markdown(f"**{t('nc_agreement')}**")
        if ctx.enhanced:
            st.markdown(t("enh_new_customer_note"))
        elif prepared is None:
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
        create_new_customer(ctx)


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


def primary_contact() -> Contact:
    """The new customer's primary contact as typed (the enhanced signer form starts with it)."""
    return Contact(
        first_name=str(ss.get("nc_first") or ""),
        last_name=str(ss.get("nc_last") or ""),
        email=str(ss.get("nc_email") or ""),
        phone_number=str(ss.get("nc_phone") or "") or None,
    )


def enhanced_step(ctx: AttestContext, outcome: NewCustomerOutcome, *, is_open: bool) -> None:
    """The enhanced channel's next step for the customer just created: its acceptance link.
    Drawn while this tab is open only (the existing-customer tab draws the same form when it is
    open; one signer form per run). Nothing of the credentials goes into it."""
    st.markdown(f"##### {t('nc_enh_step')}")
    st.caption(t("nc_enh_step_help"))
    if is_open:
        customer = outcome.customer
        eb.attest_path(ctx.app, ctx.actor, customer.id, customer, signer=primary_contact())


def new_customer_done(
    ctx: AttestContext, outcome: NewCustomerOutcome, *, is_open: bool = True
) -> None:
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
            create_new_customer(ctx)
    elif not ctx.enhanced:
        st.info(t("nc_next_invite"), icon="✉️")
    show_credentials(outcome)  # first: a rerun from the step below keeps them on screen
    if ctx.enhanced:
        enhanced_step(ctx, outcome, is_open=is_open)
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


def render(ctx: AttestContext, *, is_open: bool = True) -> None:
    try:
        access.check_may_create_customer(ctx.identity)
    except AccessRefused as exc:
        ab.show_error(exc)
        return
    st.caption(t("nc_intro"))
    outcome = ss.get("ncx_outcome")
    step = ss.get("ncx_step", "form")
    if step == "done" and isinstance(outcome, NewCustomerOutcome):
        new_customer_done(ctx, outcome, is_open=is_open)
    elif step == "review":
        new_customer_review(ctx)
    else:
        new_customer_form(ctx)
