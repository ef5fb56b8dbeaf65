"""The Invitations page's "Request to my indirect provider" generator: an indirect reseller asks
its provider for an enhanced attestation for the customer's signer, or for its relationship
link."""

from __future__ import annotations

import streamlit as st

from mca_core import ProviderRequest, invitations
from ui.i18n import t

from .context import PROVIDER, InvitationsContext
from .shared import customer_picker, editor, generate, locale_picker


def render(ctx: InvitationsContext) -> None:
    identity = ctx.identity
    provider = identity.provider_name or t("inv_provider_unknown")
    st.markdown(t("inv_gen_provider_help", provider=provider))
    p = PROVIDER
    customer = customer_picker(ctx, p, "inv_customer")
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
    cols = st.columns(2)
    to = cols[0].text_input(t("inv_to_provider"), key=f"{p}_to", help=t("inv_to_help"))
    with cols[1]:
        locale = locale_picker(f"{p}_locale")
    if st.button(t("inv_generate"), key=f"{p}_generate", type="primary"):
        s = st.session_state
        generate(
            ctx,
            p,
            ProviderRequest(
                customer=customer or "",
                ask=ask,
                to=to,
                locale=locale,
                contact_first_name=s.get(f"{p}_first_name"),
                contact_last_name=s.get(f"{p}_last_name"),
                contact_email=s.get(f"{p}_email"),
                contact_phone=s.get(f"{p}_phone"),
            ),
        )
    editor(ctx, p)
