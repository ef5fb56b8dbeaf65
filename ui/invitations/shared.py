"""What the Invitations page's generators share: loading the synced customers, the customer
picker and its reset rules, the warnings, generate, and the editor with the hand-off."""

from __future__ import annotations

import itertools
from collections import ChainMap
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import streamlit as st

from mca_core import (
    LOCALES,
    MAILTO_MAX_LENGTH,
    PASSWORD_MASK,
    AccessRefused,
    App,
    Email,
    Identity,
    InvalidInput,
    Invitation,
    McaError,
    PartnerCenterError,
    SendResult,
    SnapshotInfo,
    access,
    invitations,
    metrics,
)
from ui import attest_blocks as ab
from ui.i18n import LANGUAGES, problem_text, refusal_text, t, tn
from ui.markup import Markdown, md

from .context import (
    INVITE,
    PASSWORD_KEY,
    PASSWORD_KEYS,
    PROVIDER,
    RESELLER,
    RESELLER_PASSWORD_KEY,
    InvitationsContext,
)

T = TypeVar("T")

#: What belongs to one customer in a generator: reset whenever the customer changes or the
#: partner presses Done, so one customer's recipient never carries over to the next.
CUSTOMER_TEXT_FIELDS = ("to", "first_name", "last_name", "email", "phone", "user", "company")
DRAFT_FIELDS = ("draft", "subject", "body", "reveal", "sent")


# --- what the page builds the context from -----------------------------------------------------


def allowed(identity: Identity, rule: Callable[[Identity], None]) -> bool:
    try:
        rule(identity)
    except AccessRefused:
        return False
    return True


def available_generators(identity: Identity) -> tuple[tuple[str, str], ...]:
    """(prefix, tab title) of each generator the user may use (the use cases check again)."""
    generators: list[tuple[str, str]] = []
    if allowed(identity, access.check_may_request_from_provider):
        generators.append((PROVIDER, t("inv_gen_provider")))
    if allowed(identity, access.check_may_invite_to_accept):
        generators.append((INVITE, t("inv_gen_invite")))
    if allowed(identity, access.check_may_request_relationship):
        generators.append((RESELLER, t("inv_gen_reseller")))
    return tuple(generators)


def load_customers(app: App, snap: SnapshotInfo | None) -> dict[str, dict[str, Any]]:
    """customer id -> its row in the latest snapshot, kept per snapshot and revision in the
    session (a type-ahead over the whole portfolio and the warnings below, no Partner Center
    call; work written through since the sync bumps the revision and is read again)."""
    if snap is None:
        return {}
    cached = st.session_state.get("inv_rows")
    key = (snap.id, snap.revision)
    if not cached or cached[0] != key:
        # the process's shared copy: the session holds a reference, not its own 100,000 rows
        cached = (key, ab.snapshot_customers(app, snap), snap.taken_at)
        st.session_state["inv_rows"] = cached
    return cached[1]


def _labels(rows: Mapping[str, dict[str, Any]]) -> dict[str, str]:
    return {
        cid: " · ".join(part for part in (row["company_name"], row["domain"]) if part)
        for cid, row in rows.items()
    }


def _names(rows: Mapping[str, dict[str, Any]]) -> dict[str, str]:
    return {cid: str(row.get("company_name") or "") for cid, row in rows.items()}


def _countries(rows: Mapping[str, dict[str, Any]]) -> dict[str, str]:
    return {cid: row.get("country") or "" for cid, row in rows.items()}


def _derived(
    rows: Mapping[str, dict[str, Any]], name: str, build: Callable[[Mapping[str, Any]], T]
) -> T:
    """Built once per snapshot revision for the shared list, else now."""
    return rows.derived(name, build) if isinstance(rows, ab.SyncedRows) else build(rows)


def customer_labels(rows: Mapping[str, dict[str, Any]]) -> Mapping[str, str]:
    return _derived(rows, "inv_labels", _labels)


def customer_countries(rows: Mapping[str, dict[str, Any]]) -> Mapping[str, str]:
    return _derived(rows, "inv_countries", _countries)


# --- helpers -------------------------------------------------------------------------------------


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


def locale_for(country: str) -> str:
    return "zh-CN" if country.upper() == "CN" else "en"


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
    if prefix == RESELLER:
        ss.pop(RESELLER_PASSWORD_KEY, None)
        ss.pop(f"{RESELLER}_user", None)
    for name in DRAFT_FIELDS:
        ss.pop(f"{prefix}_{name}", None)


def finish(prefix: str) -> None:
    """Done: the email, its customer and everything typed for that customer leave the page."""
    reset_customer_fields(prefix)
    st.session_state[f"{prefix}_customer"] = None
    st.session_state.pop(f"{prefix}_customer_was", None)


def customer_domains(ctx: InvitationsContext, customer_id: str | None) -> list[str]:
    """The domains the desk knows for a customer: its tenant domain, the domain of the email
    it last accepted the MCA with, and a new customer's domain."""
    row = ctx.rows.get(customer_id or "") or {}
    contact = str(row.get("latest_contact_email") or "")
    found = [str(row.get("domain") or ""), contact.rsplit("@", 1)[1] if "@" in contact else ""]
    found.append(ctx.known_domains.get(customer_id or "", ""))
    return [d for d in dict.fromkeys(found) if d]


def already_accepted_warning(ctx: InvitationsContext, customer_id: str | None) -> None:
    """Inviting a customer that has already accepted the current MCA: say so, with its state.
    A customer whose acceptance is of an earlier MCA must accept the current one: say that
    instead (an invitation to accept is exactly what it needs)."""
    row = ctx.rows.get(customer_id or "")
    if not row or row.get("accepted") is None:
        return
    when = st.session_state["inv_rows"][2].strftime("%Y-%m-%d %H:%M")
    company = row.get("company_name") or row["domain"]
    since = ctx.app.current_since
    if metrics.row_blocked(row, since):
        latest = row.get("latest_date_agreed")
        if latest is not None:  # blocked with an acceptance: one of an earlier MCA
            st.info(
                t("inv_reacceptance_required", company=company, date=latest.date().isoformat(),
                  since=since.isoformat(), when=when),
                icon="🔁",
            )  # fmt: skip
        return
    latest = row.get("latest_date_agreed")
    if row.get("attested") and latest is not None and latest.date() >= since:
        how = t("inv_accepted_attested", date=latest.date().isoformat())
    else:  # accepted, and not by a current attestation: directly
        how = t("inv_accepted_direct")
    st.warning(
        t("inv_already_accepted", company=company, how=how, when=when),
        icon="✅",
    )


def recipient_warning(ctx: InvitationsContext, draft: Email) -> None:
    """A recipient at none of the customer's domains: warn before the email leaves the page."""
    if draft.kind == "provider_request" or not draft.customer_id:
        return
    domains = customer_domains(ctx, draft.customer_id)
    if invitations.recipient_outside_customer(draft.to, domains):
        row = ctx.rows.get(draft.customer_id) or {}
        company = row.get("company_name") or ctx.known.get(draft.customer_id) or draft.customer_id
        st.warning(
            t("inv_recipient_outside", to=draft.to, company=company, domains=", ".join(domains)),
            icon="⚠️",
        )


def customer_picker(
    ctx: InvitationsContext, prefix: str, label_key: str, locale_key: str | None = None
) -> str | None:
    """Type-ahead over the synced customers. Enter picks the best match; a tenant id or domain
    not in the list is accepted as typed (the use case resolves it through Partner Center).
    Choosing another customer resets what belonged to the previous one."""
    known, labels, rows, countries = ctx.known, ctx.labels, ctx.rows, ctx.countries
    key = f"{prefix}_customer"
    # at most PICKER_LIMIT synced customers go to the browser; Enter searches them all
    listed = list(itertools.islice(labels, ab.PICKER_LIMIT))
    options = list(dict.fromkeys([*known, *listed]))
    option_labels = ChainMap(known, labels)
    names = _derived(rows, "inv_names", _names)
    current = st.session_state.get(key)
    if current and current not in options:
        options.insert(0, current)
    if len(labels) > ab.PICKER_LIMIT:
        st.caption(tn("customer_pick_capped", len(labels), shown=ab.PICKER_LIMIT))

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


def sign_in_fields(prefix: str, password_key: str) -> None:
    """A new customer's first-admin sign-in name and temporary password; the password lives only
    in its own field (`password_key`), which the guard drops when the user leaves the page."""
    cols = st.columns(2)
    cols[0].text_input(t("inv_user_name"), key=f"{prefix}_user", help=t("inv_user_name_help"))
    cols[1].text_input(
        t("inv_password"),
        key=password_key,
        type="password",
        help=t("inv_password_help"),
        autocomplete="off",
    )


def generate(ctx: InvitationsContext, prefix: str, request: Invitation) -> None:
    """Generate one email; keep the draft (never its password) and fill the editor with it."""
    try:
        email: Email = ctx.app.invite(ctx.actor, request)
    except McaError as exc:
        show_error(exc)
        return
    st.session_state[f"{prefix}_draft"] = email.without_password()
    st.session_state[f"{prefix}_subject"] = email.subject
    st.session_state[f"{prefix}_body"] = email.text_body
    st.session_state[f"{prefix}_reveal"] = False
    st.success(t("inv_generated"), icon="✅")


# --- the editor and the hand-off -----------------------------------------------------------------


def editor(ctx: InvitationsContext, prefix: str) -> None:
    draft: Email | None = st.session_state.get(f"{prefix}_draft")
    if draft is None:
        return
    # A draft with a new customer's sign-in holds the mask; its password lives only in the
    # generator's password field: gone from there, the draft goes too.
    with_password = PASSWORD_MASK in draft.text_body and draft.kind in PASSWORD_KEYS
    password = st.session_state.get(PASSWORD_KEYS[draft.kind]) if with_password else None
    if with_password and not password:
        st.session_state.pop(f"{prefix}_draft", None)
        st.info(t("inv_password_gone"))
        return
    st.divider()
    st.subheader(t("inv_review"))
    left, right = st.columns(2, gap="large")
    subject = left.text_input(t("inv_subject"), key=f"{prefix}_subject")
    body = left.text_area(t("inv_body"), key=f"{prefix}_body", height=460, help=t("inv_body_help"))
    reveal = with_password and left.toggle(t("inv_reveal"), key=f"{prefix}_reveal")
    if with_password and PASSWORD_MASK not in body:
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
    recipient_warning(ctx, draft)
    cols = st.columns([1, 1, 1, 2])
    cols[0].download_button(
        t("inv_download"),
        data=lambda: invitations.eml_for(edited, sender=ctx.identity.email or None),
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
        cols[3].info(tn("inv_mailto_too_long", MAILTO_MAX_LENGTH))
    if ctx.app.email_configured:
        send_button(ctx, prefix, edited, cols[2])
    st.caption(t("inv_copy"))
    st.code(edited.subject, language=None, wrap_lines=True)
    st.code(edited.revealed_text if reveal else edited.text_body, language=None, wrap_lines=True)
    if draft.kind == "mca_new" and not reveal:
        st.caption(t("inv_copy_masked"))
    st.button(
        t("inv_done"), key=f"{prefix}_done", help=t("inv_done_help"), on_click=finish,
        args=(prefix,),
    )  # fmt: skip


def send_button(ctx: InvitationsContext, prefix: str, email: Email, where: Any) -> None:
    """Send the email from the desk (SMTP configured): one message, rate limited, recorded in
    the invitation log and audited. The result stays under the buttons until the customer
    changes; a failure keeps the .eml download beside it."""
    key = f"{prefix}_sent"
    disabled = not invitations.single_line(email.to)
    if where.button(
        t("inv_send_now"),
        key=f"{prefix}_send",
        icon="📨",
        disabled=disabled,
        help=t("inv_send_now_help") if not disabled else t("inv_send_needs_to"),
    ):
        with st.spinner(t("inv_sending")):
            try:
                result = ctx.app.send_invitation(ctx.actor, email)
            except McaError as exc:  # no SMTP server or From address after all
                show_error(exc)
                return
        st.session_state[key] = send_outcome(result)
    outcome = st.session_state.get(key)
    if outcome:
        ok, text = outcome
        (st.success if ok else st.error)(text, icon="📨" if ok else "⛔")


def send_outcome(result: SendResult) -> tuple[bool, str]:
    """(sent, the sentence to show) for one send: the recipient and Message-ID, or why not
    (a delivery failure's masked reason, a refusal, a missing field) and that the .eml stays."""
    email = result.email
    if result.sent:
        return True, t("inv_sent", to=email.to, message_id=result.message_id or "")
    error = result.error
    if isinstance(error, InvalidInput):
        why = Markdown(" ".join(problem_text(p) for p in error.problems))
    elif isinstance(error, AccessRefused):
        why = refusal_text(error)
    else:
        why = result.reason  # data (the server's answer, secrets masked): escaped
    return False, t("inv_send_failed", to=email.to, reason=why)
