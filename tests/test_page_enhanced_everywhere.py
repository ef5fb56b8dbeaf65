"""AppTest of "the enhanced channel is the default, everywhere" on screen: classic labelled as
retired wherever it shows (and its refusal worded), the signer form's link lifetime and
agreement languages (culture codes by name), a refresh that finalised automatically says so
(Attest and Overview), "Finalise every ready attestation" on the Overview, the new-customer tab's
enhanced step, the blocked list's "Send a link…", and the bulk tab's signers file (grid, dry
run, run, states, results CSV and invitations zip). English and Simplified Chinese."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from datetime import date, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.store.enhanced_attestations import AttestationState, EnhancedStore
from mca_core.usecases import enhanced
from ui import enhanced_blocks as eb
from ui import i18n

from .apptest import cli, run, texts, visible
from .test_page_enhanced import ADMIN, ATTEST, HOME, OVERVIEW, app, blocked, rows, store

RETIRED = "retired by Microsoft on 2026-01-05"
RETIRED_ZH = "已于 2026-01-05 被 Microsoft 停用"
CREATE = "FormSubmitter:enh_form-Create attestation and link"
SIGNER = ["--first-name", "Mei", "--last-name", "Chen", "--email", "mei@example.com"]


@pytest.fixture
def synced(sandbox_env):
    """The defaults (the enhanced channel, the classic call refused) and a synced list."""
    assert cli("sync") == 0
    return sandbox_env


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def chinese(at: AppTest) -> AppTest:
    at.session_state["ui_language"] = "zh-CN"
    return at


def on_tab(at: AppTest, label: str) -> AppTest:
    at.session_state["attest_tab"] = label
    return at


def link_for(customer_id: str) -> str:
    """A link created from the command line (the enhanced channel): its attestation id."""
    assert cli("--json", "attest", customer_id, *SIGNER) == 0
    return rows(customer_id)[0].attestation_id


def warnings(at) -> str:
    """The warnings of the page, or of one tab (`at.tabs[i]`): every tab's content runs."""
    return "\n".join(w.value for w in at.warning)


# --- 1. classic, labelled retired -------------------------------------------------------------


@pytest.mark.classic_tenant
def test_classic_is_labelled_retired_on_home_attest_and_every_classic_form(sandbox_env):
    assert cli("sync") == 0
    home = texts(run(app(HOME)))
    assert f"Attestation channel: Classic** — {RETIRED}" in home
    at = run(app(ATTEST, customer=blocked()["customer_id"]))
    assert f"Attestation channel: Classic** — {RETIRED}" in texts(at)
    existing, new, bulk, _ = at.tabs
    assert at.text_input(key="ex_first") and RETIRED in warnings(existing)  # the classic form
    assert RETIRED in warnings(new)  # "attest now" is the first choice
    assert RETIRED in warnings(bulk)
    run(at.radio(key="nc_agreement").set_value("customer_accepts"))
    assert RETIRED not in warnings(at.tabs[1])  # nothing classic on that tab now
    assert [d.label for d in at.tabs[2].get("download_button")] == ["Download the CSV template"]
    at = run(chinese(app(ATTEST)))
    assert RETIRED_ZH in warnings(at.tabs[2]) and "证明渠道：经典** — " + RETIRED_ZH in texts(at)
    assert RETIRED_ZH in texts(run(chinese(app(HOME))))


def test_a_classic_attestation_refused_as_retired_is_explained(synced, monkeypatch):
    monkeypatch.setenv("MCA_ATTESTATION_CHANNEL", "classic")  # opted in; the tenant refuses it
    customer = blocked()["customer_id"]
    for lang, says in (
        ("en", "Partner Center refused the classic attestation: it was " + RETIRED),
        ("zh-CN", "合作伙伴中心拒绝了经典证明：该调用" + RETIRED_ZH),
    ):
        at = app(ATTEST, customer=customer)
        at.session_state["ui_language"] = lang
        run(at)
        at.text_input(key="ex_first").set_value("Wei")
        at.text_input(key="ex_last").set_value("Li")
        at.text_input(key="ex_email").set_value("li.wei@example.com")
        at.date_input(key="ex_date").set_value(date(2025, 11, 20))
        review = next(b for b in at.button if b.key.startswith("FormSubmitter:ex_form"))
        run(review.click())
        run(at.button(key="exb_confirm").click())
        shown = "\n".join(e.value for e in at.error)
        assert says in shown and 'attestation_channel = "enhanced"' in shown
        assert "HTTP" in shown  # the service's facts stay
    assert [e.outcome for e in store().audit(action="attest")] == ["failed", "failed"]


# --- 2. the signer form: link lifetime, agreement languages ------------------------------------


def test_the_signer_form_requests_the_chosen_link_lifetime(synced):
    first, second = blocked(0)["customer_id"], blocked(1)["customer_id"]
    at = run(app(ATTEST, customer=first))
    lifetime = at.selectbox(key="enh_lifetime")
    assert lifetime.options == ["1 day", "3 days", "7 days"] and lifetime.value == 7  # default
    lifetime.set_value(1)
    at.text_input(key="enh_first").set_value("Wei")
    at.text_input(key="enh_last").set_value("Li")
    at.text_input(key="enh_email").set_value("li.wei@example.com")
    run(at.button(key=CREATE).click())
    [record] = rows(first)
    assert abs(record.expires_at - record.created_at - timedelta(days=1)) < timedelta(seconds=5)
    at = run(app(ATTEST, customer=second))
    at.text_input(key="enh_first").set_value("Mei")
    at.text_input(key="enh_last").set_value("Chen")
    at.text_input(key="enh_email").set_value("mei@example.com")
    run(at.button(key=CREATE).click())
    [record] = rows(second)
    assert abs(record.expires_at - record.created_at - timedelta(days=7)) < timedelta(seconds=5)
    asked = [e.inputs.get("link_lifetime_minutes") for e in store().audit(action="attest_enhanced")]
    assert sorted(asked) == ["10080", "1440"]


def test_the_language_picker_shows_culture_codes_by_name(synced):
    row = blocked()
    at = run(app(ATTEST, customer=row["customer_id"]))
    picker = at.selectbox(key="enh_language")
    codes = [option.rsplit(" (", 1)[1].rstrip(")") for option in picker.options]
    assert codes == list(enhanced.AGREEMENT_LANGUAGES)  # culture codes, each by its name
    assert "English (United States) (en-US)" in picker.options
    assert "Chinese (Traditional, Hong Kong SAR) (zh-HK)" in picker.options
    assert "German (Germany) (de-DE)" in picker.options
    of_country = [c for c in codes if c.endswith(f"-{row['country']}")]
    assert picker.value == (of_country[0] if of_country else "en-US")  # the customer's country
    at = run(chinese(app(ATTEST, customer=row["customer_id"])))
    options = at.selectbox(key="enh_language").options
    assert "繁体中文（中国香港特别行政区） (zh-HK)" in options and "英语（美国） (en-US)" in options
    assert at.selectbox(key="enh_lifetime").options == ["1 天", "3 天", "7 天"]
    assert "链接有效期" in [w.label for w in at.selectbox]


def test_the_default_agreement_language_and_older_language_values():
    found = [eb.default_language(c) for c in ("DE", "HK", "NO", "gb", "MX", None)]
    assert found == ["de-DE", "zh-HK", "nb-NO", "en-GB", "en-US", "en-US"]
    assert [eb.culture(v) for v in ("en", "zh", "no", "zh-HK", "")] == [
        "en-US", "zh-CN", "nb-NO", "zh-HK", ""
    ]  # fmt: skip


# --- 3. a refresh that finalised automatically says so ----------------------------------------


def test_play_the_customer_and_check_status_say_the_agreement_was_created(synced):
    played, checked = blocked(0)["customer_id"], blocked(1)["customer_id"]
    link_for(played)
    at = run(app(ATTEST, customer=played))
    run(at.button(key="enhb_play").click())
    message = "Sandbox: the customer accepted; the agreement was created automatically."
    assert message in [s.value for s in at.success]
    assert rows(played)[0].state is AttestationState.AGREEMENT_CREATED
    assert "ready to finalise" not in texts(at) and "Agreement created" in texts(at)
    assert any(s.value.startswith("**Accepted**") for s in at.success)  # read again

    assert cli("sandbox-accept", link_for(checked)) == 0  # the customer clicked Accept
    at = run(chinese(app(ATTEST, customer=checked)))
    assert "链接已发送 — 等待客户接受" in texts(at)  # the desk has not read it yet
    run(at.button(key="enhb_refresh").click())
    assert "客户已接受；协议已自动创建。" in [s.value for s in at.success]
    assert rows(checked)[0].state is AttestationState.AGREEMENT_CREATED
    outcomes = [e.outcome for e in store().audit(action="finalise")]
    assert outcomes == ["attested", "attested"]


def test_the_overview_refresh_says_how_many_were_finalised(synced):
    waiting, accepted = blocked(0)["customer_id"], blocked(1)["customer_id"]
    link_for(waiting)
    assert cli("sandbox-accept", link_for(accepted)) == 0
    at = run(app(OVERVIEW))
    run(at.button(key="pipeb_refresh").click())
    success = [s.value for s in at.success]
    assert "1 customer accepted; the agreement was created automatically." in success
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Links pending"], metrics["Ready to finalise"]) == ("1", "0")
    assert "Agreements created: 1" in texts(at)
    assert rows(accepted)[0].state is AttestationState.AGREEMENT_CREATED
    chinese_text = i18n.plain_text("pipe_auto_finalised", "zh-CN", n=1)
    assert chinese_text == "1 个客户已接受；协议已自动创建。"


def test_finalise_every_ready_attestation_on_the_overview(synced, monkeypatch):
    monkeypatch.setenv("MCA_AUTO_FINALISE", "false")  # accepted links wait for the agent
    waiting, ready = blocked(0)["customer_id"], blocked(1)["customer_id"]
    link_for(waiting)
    assert cli("sandbox-accept", link_for(ready)) == 0
    at = run(app(OVERVIEW))
    assert at.button(key="pipeb_finalise_ready").label == "Finalise every ready attestation"
    run(at.button(key="pipeb_finalise_ready").click())
    done = "1 agreement created; 1 still waiting for the customer; 0 failed."
    assert done in [s.value for s in at.success]
    assert rows(ready)[0].state is AttestationState.AGREEMENT_CREATED
    assert rows(waiting)[0].state is AttestationState.LINK_SENT  # kept
    assert "Agreements created: 1" in texts(at)
    at = run(chinese(app(OVERVIEW)))
    assert at.button(key="pipeb_finalise_ready").label == "完成所有可完成的证明"
    run(at.button(key="pipeb_finalise_ready").click())
    assert "已创建 0 份协议；1 份仍在等待客户；0 份失败。" in [i.value for i in at.info]


# --- 4. the new-customer tab's enhanced step ---------------------------------------------------


def fill_new_customer(at: AppTest, prefix: str) -> None:
    values = {
        "nc_company": "Wingtip Toys",
        "nc_domain": prefix,
        "nc_address": "1 Main Street",
        "nc_city": "Redmond",
        "nc_first": "Jane",
        "nc_last": "Doe",
        "nc_email": "jane@wingtip.example",
    }
    for key, value in values.items():
        at.text_input(key=key).set_value(value)
    at.selectbox(key="nc_country").set_value("US")


def test_a_new_customer_gets_its_acceptance_link_on_the_same_tab(synced):
    at = run(on_tab(app(ATTEST), "New customer"))
    assert not [r for r in at.radio if r.key == "nc_agreement"]  # no "attest now"
    assert not [d for d in at.date_input if d.key == "nc_att_date"]
    assert "this tab offers its acceptance link" in texts(at)
    fill_new_customer(at, "wingtiplink")
    run(button(at, "Review").click())
    run(button(at, "Create customer").click())
    outcome = at.session_state["ncx_outcome"]
    password = outcome.credentials.password.get_secret_value()
    assert "Customer created" in texts(at) and "The customer's acceptance link" in texts(at)
    assert "admin@wingtiplink.onmicrosoft.com" in [c.value for c in at.code]  # shown once
    # the enhanced step, for the new customer, the signer starting as the primary contact
    assert at.text_input(key="enh_first").value == "Jane"
    assert at.text_input(key="enh_email").value == "jane@wingtip.example"
    assert at.text_input(key="enh_company").value == "Wingtip Toys"
    assert at.selectbox(key="enh_country").value == "US"
    assert at.session_state["enh_language"] == "en-US"
    run(at.button(key=CREATE).click())
    assert any("Attestation created" in s.value for s in at.success)
    [record] = rows(outcome.customer.id)
    assert record.signer.email == "jane@wingtip.example" and record.company_name == "Wingtip Toys"
    assert record.acceptance_link in [c.value for c in at.code]
    assert "admin@wingtiplink.onmicrosoft.com" in [c.value for c in at.code]  # still there
    assert at.session_state["ncx_outcome"].credentials is not None  # until dismissed
    run(button(at, "I have saved them — hide").click())
    assert at.session_state["ncx_outcome"].credentials is None
    kept = {k: repr(v) for k, v in at.session_state.to_dict().items()}
    assert not [k for k, v in kept.items() if password in v], "the password is kept somewhere"
    audit = json.dumps([e.model_dump(mode="json") for e in store().audit()])
    assert password not in audit
    assert [e.action for e in store().audit()][:2] == ["attest_enhanced", "create_customer"]


def test_the_new_customer_step_in_chinese(synced):
    at = run(chinese(on_tab(app(ATTEST), "新客户")))
    fill_new_customer(at, "wingtipzh")
    run(next(b for b in at.button if b.key == "ncb_review").click())
    run(next(b for b in at.button if b.key == "ncb_create").click())
    assert "客户的接受链接" in texts(at)
    assert [w.label for w in at.text_input if w.key == "enh_first"] == ["签署人名"]


# --- 5. the blocked list ------------------------------------------------------------------------


def test_the_blocked_list_sends_a_link(synced):
    at = run(on_tab(app(ATTEST), "Blocked customers"))
    labels = {b.label for b in at.button if b.key.startswith("bl_attest_")}
    assert labels == {"Send a link…"}
    assert "Send each one an acceptance link" in warnings(at)
    first = next(b for b in at.button if b.key.startswith("bl_attest_"))
    customer_id = first.key.removeprefix("bl_attest_")
    run(first.click())
    assert at.session_state["attest_tab"] == "Existing customer"
    assert at.selectbox(key="ex_customer").value == customer_id
    assert any("create the acceptance link" in i.value for i in at.info)
    assert at.text_input(key="enh_first").value == ""  # the enhanced path, not the classic form
    assert not [w for w in at.text_input if w.key == "ex_first"]
    at = run(chinese(on_tab(app(ATTEST), "受阻客户")))
    assert {b.label for b in at.button if b.key.startswith("bl_attest_")} == {"发送链接…"}


# --- 6. the bulk tab: a file of signers --------------------------------------------------------


def signers_file(good: list[str], domain: str) -> bytes:
    lines = ["customer_id,first_name,last_name,email,phone,country,language,company_name"]
    lines += [f"{cid},Wei,Li,wei{i}@example.com,,,zh-CN," for i, cid in enumerate(good)]
    lines.append(f"{good[0]},Mei,Chen,mei@example.com,,,,")  # the same customer again
    lines.append(f"{domain},Ann,,not-an-email,,,,")  # two problems
    return ("\n".join(lines) + "\n").encode()


def upload(at: AppTest, data: bytes, name: str = "signers.csv") -> AppTest:
    at.file_uploader[0].set_value((name, data, "text/csv"))
    return run(at)


def test_bulk_signers_grid_dry_run_run_and_downloads(synced):
    good = [blocked(0)["customer_id"], blocked(1)["customer_id"]]
    at = run(on_tab(app(ATTEST), "Bulk (CSV)"))
    labels = [d.label for d in at.get("download_button")]
    assert labels == ["Download the signers template (CSV)"]
    assert RETIRED not in warnings(at)  # nothing classic here
    from mca_core import bulk_signers

    header = next(csv.reader(io.StringIO(bulk_signers.template_csv().decode("utf-8-sig"))))
    assert [h.split(" ")[0] for h in header] == list(bulk_signers.COLUMNS)

    upload(at, signers_file(good, "nosuch.onmicrosoft.com"))
    grid = at.data_editor[0].value
    assert list(grid["line"]) == [2, 3, 4, 5]
    assert grid["state"].str.startswith("✅").tolist() == [True, True, False, False]
    assert "line 2" in grid.loc[2, "problems"]  # the same customer: the later line
    assert "Last name" in grid.loc[3, "problems"] and "Email" in grid.loc[3, "problems"]
    assert "not in the synced list" in grid.loc[3, "state"]  # what the latest sync says
    assert "4 rows, 2 with problems" in texts(at)
    assert button(at, "Create the links").disabled  # a dry run first

    run(button(at, "Dry run").click())
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["would create a link"], metrics["invalid"]) == ("2", "2")
    assert not [r for r in EnhancedStore(store()).for_customer(ADMIN.partner_tenant_id, good[0])]
    assert [d.label for d in at.get("download_button")][-1] == "Download the results (CSV)"

    run(button(at, "Create the links").click())
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["link created"], metrics["invalid"]) == ("2", "2")
    assert "Some rows are not done" in warnings(at)
    table = at.dataframe[-1].value
    assert list(table["Outcome"]) == ["link created", "link created", "invalid", "invalid"]
    for cid in good:
        [record] = rows(cid)
        assert record.state is AttestationState.LINK_SENT and record.language == "zh-CN"
        assert record.acceptance_link in list(table["Acceptance link"])
    labels = [d.label for d in at.get("download_button")]
    assert labels[-2:] == ["Download the results (CSV)", "Download the invitations (.zip)"]
    assert "2 invitations in the zip" in texts(at)
    report = at.session_state["sig_report"]  # what the two downloads carry
    results = list(csv.DictReader(io.StringIO(report.results_csv().decode("utf-8-sig"))))
    assert [r["state"] for r in results] == ["link_created", "link_created", "invalid", "invalid"]
    with zipfile.ZipFile(io.BytesIO(report.invitations_zip())) as archive:
        names = archive.namelist()
    assert len(names) == 2 and all(n.endswith(".eml") for n in names)

    run(button(at, "Dry run").click())  # the same rows again: the links are reused
    run(button(at, "Create the links").click())
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["link reused"] == "2"
    assert all(len(rows(cid)) == 1 for cid in good)  # nothing sent twice


def test_bulk_signers_tab_in_chinese_and_an_unusable_file(synced):
    at = run(chinese(on_tab(app(ATTEST), "批量（CSV）")))
    assert [d.label for d in at.get("download_button")] == ["下载签署人模板（CSV）"]
    assert "一次向多个客户发送接受链接" in texts(at)
    upload(at, b"name,email\nJane,jane@example.com\n")
    unusable = visible(at.error[0].value)  # the file, not a row: named in Chinese
    assert "无法使用此文件" in unusable and "缺少列 customer_id" in unusable
    assert not at.data_editor
    good = [blocked(0)["customer_id"]]
    upload(at, signers_file(good, "nosuch.onmicrosoft.com"), name="again.csv")
    grid = at.data_editor[0].value
    assert grid["state"].str.startswith("✅").tolist() == [True, False, False]
    run(next(b for b in at.button if b.key == "sigb_dry").click())
    assert {m.label for m in at.metric} >= {"将创建链接", "无效"}
