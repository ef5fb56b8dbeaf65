"""Invitations: write, edit and hand off the emails that get a customer's MCA accepted.

Generators shown are the ones the user may use (the use cases check again): an indirect
reseller sees "Request to my indirect provider" first. A new customer's temporary password lives
only in this page's password widget: drafts kept between runs forget it, and Done (or leaving the
page, which drops the widget's state) clears it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from mca_core.domain import access
from mca_core.domain.errors import AccessRefused, InvalidInput, McaError, PartnerCenterError
from mca_core.domain.models import Identity, PartnerType
from mca_core.usecases import invitations
from mca_core.usecases.invitations import LOCALES, MAILTO_MAX_LENGTH, PASSWORD_MASK, Email
from mca_core.usecases.sync import snapshot_scope
from ui import attest_blocks as ab
from ui import blocks, session
from ui.guard import page_setup, require
from ui.i18n import LANGUAGES, problem_text, refusal_text, t, tn
from ui.markup import md

page_setup("invitations_title", icon="✉️")
actor = require(access.check_signed_in)
desk = session.desk()
identity = actor.identity

#: Session keys: one prefix per generator; the password only ever sits in PASSWORD_KEY.
PROVIDER, INVITE, RESELLER = "inv3", "inv1", "inv2"
PASSWORD_KEY = f"{INVITE}_password"


# --- helpers ---------------------------------------------------------------------------------


def allowed(rule: Callable[[Identity], None]) -> bool:
    try:
        rule(identity)
    except AccessRefused:
        return False
    return True


def show_error(exc: McaError) -> None:
    """Every failure as a sentence: the field and the fix, or the MS-RequestId."""
    if isinstance(exc, InvalidInput):
        for problem in exc.problems:
            st.error(problem_text(problem))
    elif isinstance(exc, AccessRefused):
        st.error(refusal_text(exc))
    elif isinstance(exc, PartnerCenterError):
        st.error(t("inv_pc_error", error=str(exc)))
    else:
        st.error(t("inv_failed", error=str(exc)))


def clear(prefix: str) -> None:
    for key in [k for k in st.session_state if str(k).startswith(prefix)]:
        del st.session_state[key]


def load_customers() -> dict[str, dict[str, Any]]:
    """customer id -> its row in the latest snapshot, kept per snapshot in the session (a
    type-ahead over the whole portfolio and the warnings below, no Partner Center call)."""
    snap = desk.store.latest_snapshot(snapshot_scope(identity, desk.settings.backend))
    if snap is None:
        return {}
    cached = st.session_state.get("inv_rows")
    if not cached or cached[0] != snap.id:
        rows = {row["customer_id"]: row for row in desk.store.snapshot_rows(snap.id)}
        cached = (snap.id, rows, snap.taken_at)
        st.session_state["inv_rows"] = cached
    return cached[1]


def locale_for(country: str) -> str:
    return "zh-CN" if country.upper() == "CN" else "en"


def known_resellers() -> dict[str, str]:
    """An indirect provider's resellers (tenant id -> name): the sandbox directory, or the
    resellers seen on synced customers in live mode (any other tenant id can be typed)."""
    if identity.partner_type is not PartnerType.INDIRECT_PROVIDER:
        return {}
    if desk.is_sandbox:
        from mca_core.emulator import PARTNERS

        return {
            p.tenant_id: p.name
            for p in PARTNERS.values()
            if p.provider_tenant_id == identity.partner_tenant_id
        }
    snap = desk.store.latest_snapshot(snapshot_scope(identity, desk.settings.backend))
    rows = desk.store.snapshot_rows(snap.id) if snap else []
    return {
        r["associated_partner_id"]: r["associated_partner_id"]
        for r in rows
        if r.get("associated_partner_id")
    }


rows = load_customers()
labels = {
    cid: " · ".join(part for part in (row["company_name"], row["domain"]) if part)
    for cid, row in rows.items()
}
countries = {cid: row.get("country") or "" for cid, row in rows.items()}
known: dict[str, str] = st.session_state.setdefault("inv_known", {})
#: Domains of customers created on this desk since the last sync (from the new-customer flow).
known_domains: dict[str, str] = st.session_state.setdefault("inv_known_domains", {})

#: What belongs to one customer in a generator: reset whenever the customer changes or the
#: partner presses Done, so one customer's recipient never carries over to the next.
CUSTOMER_TEXT_FIELDS = ("to", "first_name", "last_name", "email", "phone", "user", "company")
DRAFT_FIELDS = ("draft", "subject", "body", "reveal")


def reset_customer_fields(prefix: str) -> None:
    ss = st.session_state
    for name in CUSTOMER_TEXT_FIELDS:
        if f"{prefix}_{name}" in ss:
            ss[f"{prefix}_{name}"] = ""
    if f"{prefix}_date" in ss:
        ss[f"{prefix}_date"] = None
    if prefix == INVITE:  # the secret leaves the session altogether (as the guard does)
        ss.pop(PASSWORD_KEY, None)
        ss.pop("inv_prefilled", None)
    for name in DRAFT_FIELDS:
        ss.pop(f"{prefix}_{name}", None)


def finish(prefix: str) -> None:
    """Done: the email, its customer and everything typed for that customer leave the page."""
    reset_customer_fields(prefix)
    st.session_state[f"{prefix}_customer"] = None
    st.session_state.pop(f"{prefix}_customer_was", None)


def customer_domains(customer_id: str | None) -> list[str]:
    """The domains the desk knows for a customer: its tenant domain, the domain of the email
    it last accepted the MCA with, and a new customer's domain."""
    row = rows.get(customer_id or "") or {}
    contact = str(row.get("latest_contact_email") or "")
    found = [str(row.get("domain") or ""), contact.rsplit("@", 1)[1] if "@" in contact else ""]
    found.append(known_domains.get(customer_id or "", ""))
    return [d for d in dict.fromkeys(found) if d]


def already_accepted_warning(customer_id: str | None) -> None:
    """Inviting a customer that has already accepted: say so, with its state."""
    row = rows.get(customer_id or "")
    if not row or row.get("accepted") is not True:
        return
    if row.get("attested") and row.get("latest_date_agreed") is not None:
        how = t("inv_accepted_attested", date=row["latest_date_agreed"].date().isoformat())
    else:
        how = t("inv_accepted_direct")
    when = st.session_state["inv_rows"][2].strftime("%Y-%m-%d %H:%M")
    st.warning(
        t("inv_already_accepted", company=row.get("company_name") or row["domain"], how=how,
          when=when),
        icon="✅",
    )  # fmt: skip


def recipient_warning(draft: Email) -> None:
    """A recipient at none of the customer's domains: warn before the email leaves the page."""
    if draft.kind == "provider_request" or not draft.customer_id:
        return
    domains = customer_domains(draft.customer_id)
    if invitations.recipient_outside_customer(draft.to, domains):
        row = rows.get(draft.customer_id) or {}
        company = row.get("company_name") or known.get(draft.customer_id) or draft.customer_id
        st.warning(
            t("inv_recipient_outside", to=draft.to, company=company, domains=", ".join(domains)),
            icon="⚠️",
        )


def customer_picker(prefix: str, label_key: str, locale_key: str | None = None) -> str | None:
    """Type-ahead over the synced customers. Enter picks the best match; a tenant id or domain
    not in the list is accepted as typed (the use case resolves it through Partner Center).
    Choosing another customer resets what belonged to the previous one."""
    key = f"{prefix}_customer"
    options = list(dict.fromkeys([*known, *labels]))
    option_labels = {cid: known.get(cid) or labels.get(cid) or cid for cid in options}
    names = {cid: str((rows.get(cid) or {}).get("company_name") or "") for cid in options}
    current = st.session_state.get(key)
    if current and current not in options:
        options.insert(0, current)

    def on_change() -> None:
        ab.resolve_typed_customer(key, option_labels, names)
        chosen = st.session_state.get(key)
        if chosen != st.session_state.get(f"{key}_was"):
            reset_customer_fields(prefix)
        if locale_key and chosen in countries:
            st.session_state[locale_key] = locale_for(countries[chosen])

    value = st.selectbox(
        t(label_key),
        options,
        index=None,
        format_func=lambda value: known.get(value) or labels.get(value) or value,
        placeholder=t("inv_customer_placeholder"),
        accept_new_options=True,
        key=key,
        on_change=on_change,
    )
    st.session_state[f"{key}_was"] = value
    unmatched = st.session_state.get(f"{key}_unmatched")
    if unmatched and not value:
        st.warning(t("customer_no_match", typed=unmatched), icon="🔎")
    return value


def locale_picker(key: str) -> str:
    return st.radio(
        t("inv_locale"),
        LOCALES,
        format_func=lambda code: LANGUAGES.get(code, code),
        key=key,
        horizontal=True,
        help=t("inv_locale_help"),
    )


def generate(prefix: str, work: Callable[[Any], Any]) -> None:
    """Run one use case; keep the draft (never its password) and fill the editor with it."""
    try:
        email: Email = desk.run(work, actor)
    except McaError as exc:
        show_error(exc)
        return
    st.session_state[f"{prefix}_draft"] = email.without_password()
    st.session_state[f"{prefix}_subject"] = email.subject
    st.session_state[f"{prefix}_body"] = email.text_body
    st.session_state[f"{prefix}_reveal"] = False
    st.success(t("inv_generated"), icon="✅")


# --- the editor and the hand-off -------------------------------------------------------------


def editor(prefix: str) -> None:
    draft: Email | None = st.session_state.get(f"{prefix}_draft")
    if draft is None:
        return
    password = st.session_state.get(PASSWORD_KEY) if draft.kind == "mca_new" else None
    if draft.kind == "mca_new" and not password:
        st.session_state.pop(f"{prefix}_draft", None)
        st.info(t("inv_password_gone"))
        return
    st.divider()
    st.subheader(t("inv_review"))
    left, right = st.columns(2, gap="large")
    subject = left.text_input(t("inv_subject"), key=f"{prefix}_subject")
    body = left.text_area(t("inv_body"), key=f"{prefix}_body", height=460, help=t("inv_body_help"))
    reveal = draft.kind == "mca_new" and left.toggle(t("inv_reveal"), key=f"{prefix}_reveal")
    if draft.kind == "mca_new" and PASSWORD_MASK not in body:
        left.warning(t("inv_password_removed"))
    try:
        edited: Email | None = draft.edited(subject=subject, body=body).with_password(password)
    except InvalidInput as exc:
        edited = None
        for problem in exc.problems:
            left.error(problem_text(problem), icon="⛔")

        def restore() -> None:
            st.session_state[f"{prefix}_body"] = draft.text_body

        left.button(t("inv_restore"), key=f"{prefix}_restore", on_click=restore)
    with right:
        st.markdown(f"**{t('inv_preview')}**")
        with st.container(border=True):
            st.markdown(f"**{t('inv_subject')}:** {md(invitations.single_line(subject))}")
            if edited is not None:
                html = edited.revealed_html if reveal else edited.html_body
            else:
                html = invitations.text_to_html(body, subject, draft.locale)
            st.html(html or "")
    st.markdown(f"#### {t('inv_send')}")
    if edited is None:
        st.warning(t("inv_not_ready"))
        return
    recipient_warning(draft)
    cols = st.columns([1, 1, 3])
    cols[0].download_button(
        t("inv_download"),
        data=lambda: invitations.eml_for(edited, sender=identity.email or None),
        file_name=invitations.eml_file_name(edited),
        mime="message/rfc822",
        icon="⬇️",
        on_click="ignore",
        help=t("inv_download_help"),
        key=f"{prefix}_download",
        type="primary",
    )
    mailto = invitations.mailto_for(edited)
    if mailto:
        cols[1].link_button(t("inv_open_in_email"), mailto, icon="✉️")
    else:
        cols[2].info(tn("inv_mailto_too_long", MAILTO_MAX_LENGTH))
    st.caption(t("inv_copy"))
    st.code(edited.subject, language=None, wrap_lines=True)
    st.code(edited.revealed_text if reveal else edited.text_body, language=None, wrap_lines=True)
    if draft.kind == "mca_new" and not reveal:
        st.caption(t("inv_copy_masked"))
    st.button(
        t("inv_done"), key=f"{prefix}_done", help=t("inv_done_help"), on_click=finish,
        args=(prefix,),
    )  # fmt: skip


# --- the generators --------------------------------------------------------------------------


def provider_tab() -> None:
    provider = identity.provider_name or t("inv_provider_unknown")
    st.markdown(t("inv_gen_provider_help", provider=provider))
    p = PROVIDER
    customer = customer_picker(p, "inv_customer")
    ask = st.radio(
        t("inv_ask"),
        invitations.PROVIDER_ASKS,
        format_func={value: t(f"inv_ask_{value}") for value in invitations.PROVIDER_ASKS}.get,
        key=f"{p}_ask",
        horizontal=True,
    )
    if ask == "attest":
        st.markdown(f"**{t('inv_contact')}**")
        cols = st.columns(2)
        cols[0].text_input(t("inv_first_name"), key=f"{p}_first_name")
        cols[1].text_input(t("inv_last_name"), key=f"{p}_last_name")
        cols[0].text_input(t("inv_contact_email"), key=f"{p}_email")
        cols[1].text_input(t("inv_contact_phone"), key=f"{p}_phone")
        # empty until the reseller enters when the customer accepted: never claimed for them
        if f"{p}_date" not in st.session_state:
            st.session_state[f"{p}_date"] = None
        cols[0].date_input(t("inv_date"), key=f"{p}_date", format="YYYY-MM-DD")
    cols = st.columns(2)
    to = cols[0].text_input(t("inv_to_provider"), key=f"{p}_to", help=t("inv_to_help"))
    with cols[1]:
        locale = locale_picker(f"{p}_locale")
    if st.button(t("inv_generate"), key=f"{p}_generate", type="primary"):
        s = st.session_state
        generate(
            p,
            lambda pc: invitations.provider_request(
                pc,
                desk.store,
                identity,
                customer=customer or "",
                ask=ask,
                to=to,
                locale=locale,
                contact_first_name=s.get(f"{p}_first_name"),
                contact_last_name=s.get(f"{p}_last_name"),
                contact_email=s.get(f"{p}_email"),
                contact_phone=s.get(f"{p}_phone"),
                date_agreed=s.get(f"{p}_date"),
            ),
        )
    editor(p)


def invite_tab() -> None:
    st.markdown(t("inv_gen_invite_help"))
    p = INVITE
    company = st.session_state.get("inv_prefilled")
    if company and not st.session_state.get(PASSWORD_KEY):
        st.session_state.pop("inv_prefilled")  # the prefilled password has left the page
    elif company:
        st.info(t("inv_prefilled", company=company), icon="🆕")
    mode = st.radio(
        t("inv_mode"),
        ("existing", "new"),
        format_func={value: t(f"inv_mode_{value}") for value in ("existing", "new")}.get,
        key=f"{p}_mode",
        horizontal=True,
    )
    customer = customer_picker(p, "inv_customer", locale_key=f"{p}_locale")
    already_accepted_warning(customer)
    if mode == "new":
        cols = st.columns(2)
        cols[0].text_input(t("inv_user_name"), key=f"{p}_user", help=t("inv_user_name_help"))
        cols[1].text_input(
            t("inv_password"),
            key=PASSWORD_KEY,
            type="password",
            help=t("inv_password_help"),
            autocomplete="off",
        )
    cols = st.columns(2)
    to = cols[0].text_input(t("inv_to"), key=f"{p}_to", help=t("inv_to_help"))
    with cols[1]:
        locale = locale_picker(f"{p}_locale")
    if st.button(t("inv_generate"), key=f"{p}_generate", type="primary"):
        if mode == "new":
            user_name = st.session_state.get(f"{p}_user")
            password = st.session_state.get(PASSWORD_KEY)
            generate(
                p,
                lambda pc: invitations.invitation_for_new_customer(
                    pc,
                    desk.store,
                    identity,
                    customer=customer or "",
                    user_name=user_name,
                    password=password,
                    to=to,
                    locale=locale,
                ),
            )
        else:
            generate(
                p,
                lambda pc: invitations.invitation_for_existing_customer(
                    pc,
                    desk.store,
                    identity,
                    customer=customer or "",
                    to=to,
                    locale=locale,
                ),
            )
    editor(p)


def reseller_tab() -> None:
    st.markdown(t("inv_gen_reseller_help"))
    p = RESELLER
    reseller_id = None
    resellers: dict[str, str] = {}
    if identity.partner_type is PartnerType.INDIRECT_PROVIDER:
        resellers = known_resellers()
        # Labels fixed at render time: a format_func must not depend on the UI language later.
        shown = {"": t("inv_reseller_none"), **resellers}
        reseller_id = st.selectbox(
            t("inv_reseller_pick"),
            list(shown),
            format_func=lambda value: shown.get(value, value),
            accept_new_options=True,
            key=f"{p}_reseller",
        )
    elif identity.partner_type is PartnerType.INDIRECT_RESELLER:
        provider = identity.provider_name or t("inv_provider_unknown")
        st.caption(t("inv_reseller_link_note", provider=provider))
    cols = st.columns(2)
    with cols[0]:
        customer = customer_picker(p, "inv_customer_optional", locale_key=f"{p}_locale")
    already_accepted_warning(customer)
    company = cols[1].text_input(t("inv_company"), key=f"{p}_company")
    cols = st.columns(2)
    to = cols[0].text_input(t("inv_to"), key=f"{p}_to", help=t("inv_to_help"))
    with cols[1]:
        locale = locale_picker(f"{p}_locale")
    if st.button(t("inv_generate"), key=f"{p}_generate", type="primary"):
        generate(
            p,
            lambda pc: invitations.relationship_request(
                pc,
                desk.store,
                identity,
                to=to,
                locale=locale,
                customer=customer or None,
                company_name=company,
                indirect_reseller_id=reseller_id or None,
                reseller_name=resellers.get(reseller_id or "", ""),
            ),
        )
    editor(p)


# --- the page --------------------------------------------------------------------------------

st.title(t("invitations_title"))
st.caption(t("inv_caption"))

generators: list[tuple[str, str, Callable[[], None]]] = []
if allowed(access.check_may_request_from_provider):
    generators.append((PROVIDER, t("inv_gen_provider"), provider_tab))
if allowed(access.check_may_invite_to_accept):
    generators.append((INVITE, t("inv_gen_invite"), invite_tab))
if allowed(access.check_may_request_relationship):
    generators.append((RESELLER, t("inv_gen_reseller"), reseller_tab))
if not generators:
    st.warning(t("inv_none_available"))
    st.stop()
prefixes = [g[0] for g in generators]

# Coming from the new-customer flow: consume the prefill once (the password goes to the widget).
prefill = st.session_state.pop("invite_prefill", None)
if isinstance(prefill, dict) and INVITE in prefixes:
    clear(INVITE)
    customer_id = str(prefill.get("customer_id") or "")
    name = str(prefill.get("company_name") or "")
    known[customer_id] = " · ".join(x for x in (name, str(prefill.get("domain") or "")) if x)
    known_domains[customer_id] = str(prefill.get("domain") or "")
    st.session_state[f"{INVITE}_mode"] = "new"
    st.session_state[f"{INVITE}_customer"] = customer_id
    st.session_state[f"{INVITE}_user"] = str(prefill.get("user_name") or "")
    st.session_state[PASSWORD_KEY] = str(prefill.get("password") or "")
    st.session_state[f"{INVITE}_to"] = str(prefill.get("to") or "")
    locale = str(prefill.get("locale") or "en")
    st.session_state[f"{INVITE}_locale"] = locale if locale in LOCALES else "en"
    st.session_state["inv_prefilled"] = name or customer_id
    st.session_state["inv_tab"] = INVITE

# ?customer=<tenant id>: preselect it everywhere once (and the email language by its country).
wanted = st.query_params.get("customer")
if wanted and st.session_state.get("inv_query_customer") != wanted:
    st.session_state["inv_query_customer"] = wanted
    for prefix in prefixes:
        if st.session_state.get(f"{prefix}_customer") != wanted:
            reset_customer_fields(prefix)  # nothing of another customer comes along
        st.session_state[f"{prefix}_customer"] = wanted
        if wanted in countries:
            st.session_state[f"{prefix}_locale"] = locale_for(countries[wanted])
    if INVITE in prefixes and not st.session_state.get("inv_prefilled"):
        st.session_state[f"{INVITE}_mode"] = "existing"

if not labels:
    with st.container(border=True):
        st.info(t("inv_no_snapshot"))
        if blocks.may_sync(identity) and st.button(t("sync_now")):
            blocks.run_sync_with_progress(desk, actor, incremental=False)
            st.rerun()

titles = {prefix: title for prefix, title, _ in generators}
opened = st.session_state.get("inv_tab")
default = titles.get(opened) if opened in titles else generators[0][1]
for tab, (_, _, show) in zip(
    st.tabs(list(titles.values()), default=default), generators, strict=True
):
    with tab:
        show()
