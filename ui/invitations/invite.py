"""The Invitations page's MCA invitation generator: invite an existing customer, or a new
customer with its first user name and temporary password (which lives only in its widget)."""

from __future__ import annotations

import streamlit as st

from mca_core import ExistingCustomerInvitation, NewCustomerInvitation
from ui.i18n import t

from .context import INVITE, PASSWORD_KEY, InvitationsContext
from .shared import (
    already_accepted_warning,
    customer_picker,
    editor,
    generate,
    locale_picker,
    sign_in_fields,
)


def render(ctx: InvitationsContext) -> None:
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
    customer = customer_picker(ctx, p, "inv_customer", locale_key=f"{p}_locale")
    already_accepted_warning(ctx, customer)
    if mode == "new":
        sign_in_fields(p, PASSWORD_KEY)
    cols = st.columns(2)
    to = cols[0].text_input(t("inv_to"), key=f"{p}_to", help=t("inv_to_help"))
    with cols[1]:
        locale = locale_picker(f"{p}_locale")
    if st.button(t("inv_generate"), key=f"{p}_generate", type="primary"):
        if mode == "new":
            user_name = st.session_state.get(f"{p}_user")
            password = st.session_state.get(PASSWORD_KEY)
            generate(
                ctx,
                p,
                NewCustomerInvitation(
                    customer=customer or "",
                    user_name=user_name,
                    password=password,
                    to=to,
                    locale=locale,
                ),
            )
        else:
            generate(
                ctx,
                p,
                ExistingCustomerInvitation(
                    customer=customer or "",
                    to=to,
                    locale=locale,
                ),
            )
    editor(ctx, p)
