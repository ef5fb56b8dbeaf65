"""Issue 10, the trust defects, as a page user meets them (AppTest): customer names that look
like Markdown stay text on every page in both languages, an invitation never carries the previous
customer's recipient, a recipient outside the customer's domains and an already accepted customer
are warned about, and Enter in the customer picker picks the best match."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.app import App
from mca_core.config import load_settings
from mca_core.desk import Desk
from mca_core.domain.requests import SyncRequest
from mca_core.store.database import Store
from mca_core.usecases.invitations import recipient_outside_customer
from ui.markup import format_markdown, md

from .apptest import cli, create_named_customers, open_page, run, texts, visible
from .conftest import ROOT

PAGES = {name: str(ROOT / "pages" / f"{name}.py") for name in ("2_Attest", "3_Verify")}
PAGES["4_Invitations"] = str(ROOT / "pages" / "4_Invitations.py")
PAGES["1_Overview"] = str(ROOT / "pages" / "1_Overview.py")

#: Company names as Partner Center or a CSV may hold them: Markdown, Streamlit's extensions,
#: HTML and LaTeX. Each must reach the reader as these characters.
MARKDOWN_NAMES = {
    "mdlink": "[Microsoft login - verify now](https://evil.example/phish)",
    "mdimage": "![logo](https://evil.example/x.png) Ltd",
    "mdhtml": "<b>Bold</b> <a href='https://evil.example'>Co</a>",
    "mdicon": ":material/warning: :red[Urgent] Co :smile:",
    "mdlatex": "Price $x^2$ and $$y$$ Co",
    "mdlist": "- **Starred** _Co_ `code` ~~gone~~",
}
#: What must never stand in a Markdown source: each is live markup when it does.
LIVE_MARKUP = (
    "](https://evil",
    "![",
    "<b>",
    "<a ",
    ":material/warning:",
    ":red[",
    ":smile:",
    "$x^2$",
    "**Starred**",
    "~~gone~~",
    "`code`",
    "https://evil",
)


def markdown_sources(at: AppTest) -> list[str]:
    """Every string a page hands to Streamlit's Markdown renderer."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption]
    parts += [h.value for h in at.subheader] + [h.value for h in at.get("title")]
    for kind in (at.info, at.success, at.warning, at.error):
        parts += [m.value for m in kind]
    parts += [b.label for b in at.button] + [m.label for m in at.metric]
    parts += [e.label for e in at.expander] + [tab.label for tab in at.tabs]
    for radio in at.radio:
        parts += [radio.label, *radio.options]
    return [str(p) for p in parts]


def assert_text_only(at: AppTest, names: dict[str, str], *, must_show: bool = True) -> None:
    sources = markdown_sources(at)
    for source in sources:
        for live in LIVE_MARKUP:
            # live when it stands as typed: its first character not escaped by a backslash
            pattern = r"(?<!\\)" + re.escape(live)
            assert not re.search(pattern, source), f"live markup {live!r} in {source[:200]!r}"
    if must_show:
        shown = "\n".join(visible(s) for s in sources)
        assert any(name in shown for name in names.values()), shown[:500]


@pytest.fixture
def markdown_customers(sandbox_env: Path) -> dict[str, str]:
    """Customers with those names, created through the desk and synced: prefix -> id."""
    return create_named_customers(MARKDOWN_NAMES)


def page(name: str, user: str = "admin-agent", language: str = "en", **state: Any) -> AppTest:
    at = open_page(PAGES[name], user)
    at.session_state["ui_language"] = language
    for key, value in state.items():
        at.session_state[key] = value
    return run(at)


# --- 3. untrusted text renders as text ---------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_markdown_company_names_stay_text_on_every_page(markdown_customers, language):
    for prefix, customer_id in markdown_customers.items():
        one = {prefix: MARKDOWN_NAMES[prefix]}
        assert_text_only(page("3_Verify", language=language, vf_customer=customer_id), one)
        attest = page("2_Attest", language=language, ex_customer=customer_id)
        assert_text_only(attest, one)
        invite = page("4_Invitations", language=language, inv1_customer=customer_id)
        assert_text_only(invite, one, must_show=False)
        run(invite.button(key="inv1_generate").click())
        assert_text_only(invite, one)
    blocked = page("2_Attest", language=language, attest_tab="Blocked customers")
    if language == "zh-CN":
        blocked = page("2_Attest", language=language, attest_tab="受阻客户")
    assert_text_only(blocked, MARKDOWN_NAMES)
    assert_text_only(page("1_Overview", language=language), MARKDOWN_NAMES, must_show=False)


@pytest.mark.classic_tenant
def test_the_review_statement_escapes_what_the_agent_typed(markdown_customers):
    at = page("2_Attest", ex_customer=markdown_customers["mdlink"])
    at.text_input(key="ex_first").set_value("Jane")
    at.text_input(key="ex_last").set_value("Doe")
    at.text_input(key="ex_email").set_value("jane@contoso.com")
    from mca_core.domain.validation import utc_today

    at.date_input(key="ex_date").set_value(utc_today())
    run(next(b for b in at.button if b.label == "Review attestation").click())
    assert_text_only(at, {"mdlink": MARKDOWN_NAMES["mdlink"]})
    assert "accepted the Microsoft Customer Agreement for" in texts(at)


def test_parameters_are_escaped_but_templates_and_code_spans_are_kept():
    text = format_markdown(
        "**{name}** · `{id}` · {n:,}", {"name": "[x](y)", "id": "a`b", "n": 1234}
    )
    assert text == "**\\[x\\](y)** · `aˋb` · 1,234"
    assert format_markdown("{inner}", {"inner": md("*a*")}) == "\\*a\\*"  # not escaped twice
    assert visible(md("1. Tom & Jerry <b> :smile: www.x.com a@b.c $5")) == (
        "1. Tom & Jerry <b> :smile: www.x.com a@b.c $5"
    )


# --- 2. an invitation never goes to the previous customer's contact ----------------------------


def synced_invitations(user: str = "admin-agent") -> AppTest:
    assert cli("sync") == 0
    return run(open_page(PAGES["4_Invitations"], user))


def snapshot_rows() -> list[dict]:
    store = Store(load_settings().resolved_store_url)
    return store.snapshot_rows(store.latest_snapshot().id)


def test_changing_the_customer_resets_the_recipient_and_the_draft(sandbox_env):
    at = synced_invitations()
    first, second = (r["customer_id"] for r in snapshot_rows()[:2])
    run(at.selectbox(key="inv1_customer").set_value(first))
    run(at.text_input(key="inv1_to").input("cfo@first.example"))
    run(at.button(key="inv1_generate").click())
    assert at.session_state["inv1_draft"].to == "cfo@first.example"
    run(at.selectbox(key="inv1_customer").set_value(second))
    assert at.text_input(key="inv1_to").value == ""
    assert "inv1_draft" not in at.session_state and not at.code  # no email of the first one


def test_done_clears_the_customer_and_the_recipient(sandbox_env):
    at = synced_invitations()
    first = snapshot_rows()[0]["customer_id"]
    run(at.selectbox(key="inv1_customer").set_value(first))
    run(at.text_input(key="inv1_to").input("cfo@first.example"))
    run(at.button(key="inv1_generate").click())
    run(at.button(key="inv1_done").click())
    assert at.text_input(key="inv1_to").value == ""
    assert at.selectbox(key="inv1_customer").value is None
    assert not at.code


def test_a_recipient_outside_the_customers_domains_is_warned_about(sandbox_env):
    at = synced_invitations()
    row = snapshot_rows()[0]
    run(at.selectbox(key="inv1_customer").set_value(row["customer_id"]))
    run(at.text_input(key="inv1_to").input("cfo@somebody-else.example"))
    run(at.button(key="inv1_generate").click())
    warning = " ".join(visible(w.value) for w in at.warning)
    assert "Check the recipient" in warning and "cfo@somebody-else.example" in warning
    assert row["domain"] in warning
    prefix = row["domain"].split(".")[0]
    run(at.text_input(key="inv1_to").input(f"cfo@{prefix}.com"))  # the same organisation
    run(at.button(key="inv1_generate").click())
    assert not [w for w in at.warning if "Check the recipient" in w.value]


def test_inviting_a_customer_that_already_accepted_says_so(sandbox_env):
    at = synced_invitations()
    accepted = next(r for r in snapshot_rows() if r["accepted"] is True)
    run(at.selectbox(key="inv1_customer").set_value(accepted["customer_id"]))
    warning = " ".join(visible(w.value) for w in at.warning)
    assert "has already accepted the MCA" in warning
    assert ("attested on" in warning) or ("accepted directly" in warning)
    blocked = next(r for r in snapshot_rows() if r["accepted"] is False)
    run(at.selectbox(key="inv1_customer").set_value(blocked["customer_id"]))
    assert not [w for w in at.warning if "already accepted" in w.value]


@pytest.mark.classic_tenant
def test_an_attestation_made_since_the_sync_reaches_the_invitations_page_at_once(sandbox_env):
    """The page keeps the customer list per snapshot in the session: work written through
    since the sync bumps the snapshot's revision, and the page reads the rows again."""
    at = synced_invitations()
    blocked = next(r for r in snapshot_rows() if r["accepted"] is False and not r["attested"])
    run(at.selectbox(key="inv1_customer").set_value(blocked["customer_id"]))
    assert not [w for w in at.warning if "already accepted" in w.value]
    signer = ["--first-name", "Li", "--last-name", "Na", "--email", "li.na@example.cn"]
    assert cli("attest", blocked["customer_id"], *signer, "--date", "2026-11-20") == 0
    run(at)
    warning = " ".join(visible(w.value) for w in at.warning)
    assert "has already accepted the MCA" in warning


@pytest.mark.parametrize(
    ("to", "domains", "outside"),
    [
        ("cfo@adamsgroup.com", ["adamsyork.onmicrosoft.com"], True),
        ("cfo@adams-york.com", ["adamsyork.onmicrosoft.com"], False),
        ("it@mail.contoso.co.uk", ["contoso.onmicrosoft.com"], False),
        ("jane@contoso.com", ["contoso.onmicrosoft.com", "fabrikam.com"], False),
        ("x@gmail.com", ["contoso.onmicrosoft.com", "contoso.com"], True),
        ("", ["contoso.com"], False),
        ("x@contoso.com", [], False),
    ],
)
def test_recipient_domain_rule(to, domains, outside):
    assert recipient_outside_customer(to, domains) is outside


# --- 5. Enter in the customer picker picks the best match --------------------------------------


def typed(at: AppTest, key: str, text: str) -> AppTest:
    """What the browser sends when Enter picks "Add: <text>" in a type-ahead."""
    box = at.selectbox(key=key)
    if text not in box.options:
        box.options.append(text)
    return run(box.set_value(text))


@pytest.mark.parametrize(
    "page_name, key", [("3_Verify", "vf_customer"), ("2_Attest", "ex_customer")]
)
def test_enter_on_typed_text_picks_the_best_match(sandbox_env, page_name, key):
    assert cli("sync") == 0
    rows = sorted(snapshot_rows(), key=lambda r: r["company_name"].lower())
    target = rows[len(rows) // 2]
    word = target["company_name"].split()[0]
    expected = next(r for r in rows if r["company_name"].casefold().startswith(word.casefold()))
    at = typed(page(page_name), key, word.lower())
    assert at.selectbox(key=key).value == expected["customer_id"]
    assert "neither a tenant id nor a domain" not in texts(at)


def test_free_text_that_matches_nothing_and_is_no_id_is_refused_before_any_call(sandbox_env):
    assert cli("sync") == 0
    at = typed(page("3_Verify"), "vf_customer", "zzz no such company")
    assert at.selectbox(key="vf_customer").value is None
    assert "No synced customer matches" in texts(at)
    assert not Store(load_settings().resolved_store_url).audit(action="verify")


def test_a_tenant_id_or_domain_not_in_the_list_is_kept_as_typed(sandbox_env):
    assert cli("sync") == 0
    at = typed(page("3_Verify"), "vf_customer", "nosuch.onmicrosoft.com")
    assert at.selectbox(key="vf_customer").value == "nosuch.onmicrosoft.com"


# --- 6. a refresh the user leaves goes on; one stopped part-way says so ------------------------


def test_leaving_the_page_mid_sync_does_not_stop_it(sandbox_env, monkeypatch):
    """Streamlit stops a script the user navigates away from by raising at its next call (the
    progress bar). The sync used to die with it; it now runs as a job of the server process,
    so the page that left takes nothing with it and the snapshot is complete."""
    from streamlit.runtime.scriptrunner_utils.exceptions import StopException

    from ui import blocks

    class LeavingBar:
        def progress(self, *_args, **_kwargs) -> None:
            raise StopException()

        def empty(self) -> None:
            pass

    monkeypatch.setattr(blocks.st, "progress", lambda *a, **k: LeavingBar())
    gate, original = threading.Event(), App.sync

    def held_sync(self, who, request=None):  # still running when the page looks
        gate.wait(30)
        return original(self, who, request)

    monkeypatch.setattr(App, "sync", held_sync)
    app = App(Desk(load_settings()))
    actor = app.sandbox_actor("admin-agent")
    try:
        with pytest.raises(StopException):
            blocks.run_sync_with_progress(app, actor, incremental=False)
        assert app.sync_job(actor.identity).running  # the page left; the sync did not
    finally:
        gate.set()
    job = app.sync_job(actor.identity)
    assert job is not None and job.wait(60)
    assert job.state == "done" and job.result.complete
    snap = app.latest_snapshot(actor.identity)
    assert snap is not None and snap.complete and snap.id == job.result.snapshot_id
    assert len(app.snapshot_rows(snap)) == snap.summary["customers"] == 40
    assert [e.outcome for e in app.desk.store.audit(action="sync")] == ["done"]


def test_a_sync_stopped_part_way_keeps_what_was_fetched_and_says_so(sandbox_env, monkeypatch):
    """Stopped (the sidebar's Stop button sets the job's cancel event): what was read is kept,
    marked incomplete, and every page that lists customers says the list is partial."""
    monkeypatch.setenv("MCA_SYNC_SOURCE", "per_customer")
    desk = Desk(load_settings())
    actor = desk.sandbox_actor("admin-agent")
    cancel = threading.Event()

    def progress(done: int, total: int, phase: str) -> None:
        if phase == "status" and done >= 5:
            cancel.set()

    App(desk).sync(actor, SyncRequest(progress=progress, cancel=cancel))
    snap = desk.store.latest_snapshot()
    assert snap is not None and snap.complete is False  # kept, and marked so
    assert 0 < len(desk.store.snapshot_rows(snap.id)) < snap.summary["customers"]
    [event] = desk.store.audit(action="sync")
    assert event.outcome == "cancelled"
    overview = page("1_Overview")
    assert any("cancelled or stopped part-way" in w.value for w in overview.warning)
    # every page that lists customers from the snapshot says the list is partial
    for name in ("2_Attest", "3_Verify", "4_Invitations"):
        shown = page(name)
        assert any("This list is partial" in w.value for w in shown.warning), name


# --- 6. work done on the desk shows everywhere at once ------------------------------------------


def latest_row(customer_id: str) -> dict:
    store = Store(load_settings().resolved_store_url)
    row = store.snapshot_row(store.latest_snapshot().id, customer_id)
    assert row is not None
    return row


def accepted_metric(at: AppTest) -> str:
    return next(m.value for m in at.metric if m.label.startswith("Accepted"))


@pytest.mark.classic_tenant
def test_an_attestation_on_the_page_updates_the_overview_at_once(sandbox_env):
    from mca_core.domain.validation import utc_today

    assert cli("sync") == 0
    blocked = next(r for r in snapshot_rows() if r["accepted"] is False)
    before = accepted_metric(page("1_Overview"))
    at = page("2_Attest", ex_customer=blocked["customer_id"])
    at.text_input(key="ex_first").set_value("Wei")
    at.text_input(key="ex_last").set_value("Li")
    at.text_input(key="ex_email").set_value("li.wei@example.com")
    at.date_input(key="ex_date").set_value(utc_today())
    run(next(b for b in at.button if b.label == "Review attestation").click())
    run(next(b for b in at.button if b.label == "Confirm and attest").click())
    row = latest_row(blocked["customer_id"])
    assert row["accepted"] is True and row["written_through_at"] is not None
    assert row["latest_contact_email"] == "li.wei@example.com"
    assert row["latest_date_agreed"].date() == utc_today()
    overview = page("1_Overview")
    after = accepted_metric(overview)
    assert int(after.replace(",", "")) == int(before.replace(",", "")) + 1
    assert "Includes work done on this desk since the sync (1 change" in texts(overview)
    # the blocked list and the pickers read the same rows
    blocked_tab = page("2_Attest", attest_tab="Blocked customers")
    assert not [b for b in blocked_tab.button if b.key == f"bl_attest_{blocked['customer_id']}"]


@pytest.mark.classic_tenant
def test_an_attestation_on_the_command_line_is_written_through_too(sandbox_env):
    assert cli("sync") == 0
    blocked = next(r for r in snapshot_rows() if r["accepted"] is False)
    code = cli(
        "attest", blocked["customer_id"], "--first-name", "Jane", "--last-name", "Doe",
        "--email", "jane@contoso.com", "--date", "2025-11-20",
    )  # fmt: skip
    assert code == 0
    row = latest_row(blocked["customer_id"])
    assert row["accepted"] is True and row["attested"] is True
    assert row["latest_date_agreed"].date().isoformat() == "2025-11-20"
    assert row["written_through_at"] is not None


@pytest.mark.classic_tenant
def test_a_bulk_run_is_written_through_row_by_row(sandbox_env, tmp_path):
    assert cli("sync") == 0
    blocked = [r for r in snapshot_rows() if r["accepted"] is False][:3]
    lines = ["customer,first_name,last_name,email,phone,date_agreed"]
    lines += [
        f"{r['customer_id']},Ann,Lee,ann{i}@example.com,,2025-11-20" for i, r in enumerate(blocked)
    ]
    path = tmp_path / "rows.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert cli("bulk-attest", str(path)) == 0
    for i, r in enumerate(blocked):
        row = latest_row(r["customer_id"])
        assert row["accepted"] is True and row["written_through_at"] is not None
        assert row["latest_contact_email"] == f"ann{i}@example.com"
