"""Helpers shared by the pages' AppTests: open a page signed in, run it, read its text."""

from __future__ import annotations

import io
import re

from streamlit.testing.v1 import AppTest

from mca_core.cli.main import main


def open_page(path: str, user: str = "admin-agent", **query: str) -> AppTest:
    """The page as `user` (a seeded sandbox user) would open it, with query parameters."""
    at = AppTest.from_file(path, default_timeout=90)
    at.session_state["sandbox_user_key"] = user
    for name, value in query.items():
        at.query_params[name] = value
    return at


def run(target) -> AppTest:
    """Run the app (or the app of a clicked/set widget) and insist on no exception."""
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


_ESCAPED = re.compile(r"\\([!-/:-@\[-`{-~])")


def visible(markdown: object) -> str:
    """Markdown source as a reader sees its characters: escapes and word joiners removed
    (ui.markup escapes every value from outside; the browser tests check the rendering)."""
    return _ESCAPED.sub(r"\1", str(markdown)).replace("\u2060", "")


def texts(at: AppTest) -> str:
    """Everything a reader sees as text: markdown, captions, subheaders, alerts, code, links."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [h.value for h in at.subheader]
    for kind in (at.info, at.success, at.warning, at.error):
        parts += [m.value for m in kind]
    parts += [str(p.proto.label) for p in at.get("page_link")]
    code = [str(c.value) for c in at.code]  # code blocks are shown as they are
    return "\n".join([*(visible(p) for p in parts), *code])


def cli(*args: str) -> int:
    """The command line, quietly (for setting up a sandbox before a page runs)."""
    return main(list(args), out=io.StringIO(), err=io.StringIO())


def create_named_customers(names: dict[str, str]) -> dict[str, str]:
    """Customers with these company names (domain prefix -> name), created through the desk as
    Partner Center may hold them, then synced: domain prefix -> customer id."""
    import uuid

    from mca_core.config import load_settings
    from mca_core.desk import Desk
    from mca_core.domain.models import Address, NewCustomer
    from mca_core.usecases.customers import create_customer

    desk = Desk(load_settings())
    actor = desk.sandbox_actor("admin-agent")
    address = Address(
        first_name="Jane", last_name="Doe", address_line1="1 Main St", city="Redmond", country="US"
    )
    ids = {}
    for prefix, name in names.items():
        new = NewCustomer(
            company_name=name, domain_prefix=prefix, email=f"it@{prefix}.example", address=address
        )
        created = desk.run(
            lambda pc, new=new: create_customer(
                pc, desk.store, actor.identity, new, request_id=str(uuid.uuid4())
            ),
            actor,
        )
        assert created.customer.company_name == name
        ids[prefix] = created.customer.id
    assert cli("sync") == 0
    return ids
