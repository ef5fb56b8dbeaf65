"""The Invitations page's reseller relationship generator: the request that makes the partner a
customer's reseller (an indirect provider may name one of its indirect resellers)."""

from __future__ import annotations

import streamlit as st

from mca_core import PartnerType, RelationshipInvitation
from ui.i18n import t

from .context import RESELLER, RESELLER_PASSWORD_KEY, InvitationsContext
from .shared import (
    already_accepted_warning,
    customer_picker,
    editor,
    generate,
    locale_picker,
    sign_in_fields,
)


def known_resellers(ctx: InvitationsContext) -> dict[str, str]:
    """An indirect provider's resellers (tenant id -> name): the sandbox directory, or the
    resellers seen on synced customers in live mode (any other tenant id can be typed)."""
    identity, app = ctx.identity, ctx.app
    if identity.partner_type is not PartnerType.INDIRECT_PROVIDER:
        return {}
    if app.is_sandbox:
        return {
            p.tenant_id: p.name
            for p in app.partner_names()
            if p.provider_tenant_id == identity.partner_tenant_id
        }
    snap = app.latest_snapshot(identity)
    rows = app.snapshot_rows(snap) if snap else []
    return {
        r["associated_partner_id"]: r["associated_partner_id"]
        for r in rows
        if r.get("associated_partner_id")
    }


def render(ctx: InvitationsContext) -> None:
    identity = ctx.identity
    st.markdown(t("inv_gen_reseller_help"))
    p = RESELLER
    reseller_id = None
    resellers: dict[str, str] = {}
    if identity.partner_type is PartnerType.INDIRECT_PROVIDER:
        resellers = known_resellers(ctx)
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
        customer = customer_picker(ctx, p, "inv_customer_optional", locale_key=f"{p}_locale")
    already_accepted_warning(ctx, customer)
    company = cols[1].text_input(t("inv_company"), key=f"{p}_company")
    with st.expander(t("inv_reseller_sign_in"), expanded=bool(st.session_state.get(f"{p}_user"))):
        st.caption(t("inv_reseller_sign_in_help"))
        sign_in_fields(p, RESELLER_PASSWORD_KEY)
    cols = st.columns(2)
    to = cols[0].text_input(t("inv_to"), key=f"{p}_to", help=t("inv_to_help"))
    with cols[1]:
        locale = locale_picker(f"{p}_locale")
    if st.button(t("inv_generate"), key=f"{p}_generate", type="primary"):
        generate(
            ctx,
            p,
            RelationshipInvitation(
                to=to,
                locale=locale,
                customer=customer or None,
                company_name=company,
                indirect_reseller_id=reseller_id or None,
                reseller_name=resellers.get(reseller_id or "", ""),
                user_name=st.session_state.get(f"{p}_user") or None,
                password=st.session_state.get(RESELLER_PASSWORD_KEY) or None,
            ),
        )
    editor(ctx, p)
