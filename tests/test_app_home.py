"""AppTest of the home page for each seeded user: sign-in, who am I, headline, language."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.emulator import SANDBOX_USERS

ROOT = Path(__file__).resolve().parent.parent
HOME = str(ROOT / "dashboard.py")


def text_of(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [m.value for m in at.info]
    parts += [m.value for m in at.success] + [m.value for m in at.warning]
    parts += [m.value for m in at.error] + [t.value for t in at.title]
    parts += [c.value for c in at.caption]
    return "\n".join(str(p) for p in parts)


def sign_in(user: str) -> AppTest:
    at = AppTest.from_file(HOME, default_timeout=60)
    at.run()
    assert not at.exception
    at.radio[0].set_value(user)
    next(b for b in at.button if b.label == "Sign in").click()
    at.run()
    assert not at.exception
    return at


def test_signed_out_home_shows_sandbox_and_the_seeded_users(sandbox_env):
    at = AppTest.from_file(HOME, default_timeout=60)
    at.run()
    assert not at.exception
    assert "Sandbox" in at.info[0].value
    assert list(at.radio[0].options) and len(at.radio[0].options) == len(SANDBOX_USERS)
    assert "Signed in as" not in text_of(at)


@pytest.mark.parametrize("user", list(SANDBOX_USERS))
def test_home_for_each_seeded_user(sandbox_env, user):
    at = sign_in(user)
    seeded = SANDBOX_USERS[user]
    page = text_of(at)
    assert seeded.display_name in page
    assert seeded.role.label in page
    assert seeded.partner_type.label in page
    assert "Sandbox (emulator)" in page
    if user in ("admin-agent", "sales-agent", "provider-admin"):
        assert any("You may attest" in s.value for s in at.success)
    elif user == "manager":  # read-only: what there is to read
        assert any("As a Manager you read" in i.value for i in at.info)
    else:
        assert any("may not attest" in w.value for w in at.warning)
    if user == "indirect-reseller":
        assert any("provider" in w.value.lower() for w in at.warning)
    assert "No acceptance data yet" in page


def test_sync_now_fills_the_headline(sandbox_env):
    at = sign_in("admin-agent")
    next(b for b in at.button if b.label.startswith("Sync now")).click()
    at.run(timeout=120)
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert values["Customers"] == "40"
    accepted = int(values["Accepted"].replace(",", ""))
    reaccept = int(values["Must re-accept"].replace(",", ""))
    not_accepted = int(values["Not accepted (orders refused)"].replace(",", ""))
    assert accepted + reaccept + not_accepted == 40
    assert reaccept > 0  # the seed holds customers whose only attestation predates 2023-04-01
    from ui.i18n import plain_text

    done = plain_text("sync_done", "en", n=40, accepted=accepted, reaccept=reaccept, failed=0,
                      calls=68, seconds=0.1)  # fmt: skip
    assert f"{reaccept:,} must re-accept the current MCA" in done
    assert values["Acceptance rate"] == f"{accepted / 40:.1%}"
    assert "Synced" in text_of(at)


def test_chinese_labels(sandbox_env):
    at = sign_in("admin-agent")
    at.selectbox(key="ui_language").set_value("zh-CN")
    at.run()
    assert not at.exception
    assert at.title[0].value == "MCA 接受情况工作台"
    assert "当前用户" in text_of(at)


def test_chinese_headline_counts_reacceptance(sandbox_env):
    at = sign_in("admin-agent")
    next(b for b in at.button if b.label.startswith("Sync now")).click()
    at.run(timeout=120)
    assert not at.exception
    at.selectbox(key="ui_language").set_value("zh-CN")
    at.run()
    assert not at.exception
    values = {m.label: m.value for m in at.metric}
    assert int(values["需重新接受"]) > 0


def test_sign_out_returns_to_sign_in(sandbox_env):
    at = sign_in("sales-agent")
    next(b for b in at.button if b.label == "Sign out").click()
    at.run()
    assert not at.exception
    assert at.radio and "Signed in as" not in text_of(at)


def test_refusals_are_translated(sandbox_env):
    at = sign_in("indirect-reseller")
    at.selectbox(key="ui_language").set_value("zh-CN")
    at.run()
    assert not at.exception
    assert any("间接经销商永远不能" in w.value for w in at.warning)


def test_roles_and_partner_types_in_chinese(sandbox_env):
    at = sign_in("provider-admin")
    at.selectbox(key="ui_language").set_value("zh-CN")
    at.run()
    assert not at.exception
    page = text_of(at)
    assert "管理员代理" in page and "间接提供商" in page
