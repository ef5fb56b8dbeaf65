"""A reload keeps the sandbox user signed in (issue 10, item 7).

A reload opens a new Streamlit session, so the sandbox sign-in also rides in the URL as a
signed, short-lived token (`?as=`): unit tests of the token, then AppTests of pages opened with
it (as a reload opens them: a new session whose only state is the URL).
"""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.auth import sandbox_session
from mca_core.config import Settings, load_settings
from mca_core.emulator import SANDBOX_USERS
from ui.session import (
    SECRET_FILE,
    TOKEN_LIFETIME_S,
    TOKEN_PARAM,
    issue_sandbox_token,
    read_sandbox_token,
    sandbox_secret,
    user_from_token,
)

from .apptest import run, texts
from .conftest import ROOT

HOME = str(ROOT / "dashboard.py")
VERIFY = str(ROOT / "pages" / "3_Verify.py")
SECRET = b"k" * 32
NOW = 1_800_000_000.0


# --- the token -------------------------------------------------------------------------------


def test_a_token_names_its_user_until_it_expires():
    token = issue_sandbox_token("admin-agent", SECRET, now=NOW)
    assert read_sandbox_token(token, SECRET, now=NOW) == "admin-agent"
    assert read_sandbox_token(token, SECRET, now=NOW + TOKEN_LIFETIME_S - 1) == "admin-agent"
    assert read_sandbox_token(token, SECRET, now=NOW + TOKEN_LIFETIME_S) is None
    assert read_sandbox_token(token, SECRET, now=NOW + 30 * 24 * 3600) is None


def test_the_token_carries_no_secret():
    token = issue_sandbox_token("sales-agent", SECRET, now=NOW)
    user, expires, mac = token.split(".")
    assert (user, int(expires)) == ("sales-agent", int(NOW) + TOKEN_LIFETIME_S)
    assert SECRET.decode() not in token and len(mac) == 43  # an HMAC-SHA256, base64url


@pytest.mark.parametrize(
    "tamper",
    [
        lambda t: t.replace("helpdesk-agent", "admin-agent", 1),  # another user, same MAC
        lambda t: t.replace(f".{int(NOW) + TOKEN_LIFETIME_S}.", f".{int(NOW) + 2 * 3600}.", 1),
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the MAC changed
        lambda t: t + ".x",
        lambda t: t.rsplit(".", 1)[0],
        lambda t: "",
        lambda t: "a" * 5000,
        lambda t: "admin-agent.-5.abc",
    ],
    ids=["user", "expiry", "mac", "extra-part", "no-mac", "empty", "huge", "negative"],
)
def test_a_tampered_token_is_refused(tamper):
    token = issue_sandbox_token("helpdesk-agent", SECRET, now=NOW)
    assert read_sandbox_token(tamper(token), SECRET, now=NOW) is None


def test_another_installations_token_is_refused():
    token = issue_sandbox_token("admin-agent", b"o" * 32, now=NOW)
    assert read_sandbox_token(token, SECRET, now=NOW) is None


def test_a_token_living_longer_than_the_lifetime_is_refused():
    token = issue_sandbox_token("admin-agent", SECRET, now=NOW, lifetime=30 * 24 * 3600)
    assert read_sandbox_token(token, SECRET, now=NOW) is None


def test_a_signed_token_for_no_seeded_user_is_refused():
    assert read_sandbox_token(issue_sandbox_token("nobody", SECRET, now=NOW), SECRET) is None


def test_the_secret_is_made_once_private_and_kept(tmp_path):
    directory = tmp_path / "sandbox"
    first = sandbox_secret(directory)
    path = directory / SECRET_FILE
    assert len(first) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    sandbox_session._secrets_by_path.clear()  # as another process would read it
    assert sandbox_secret(directory) == first
    assert [p.name for p in directory.iterdir()] == [SECRET_FILE]  # no temporary file left


def test_live_mode_never_accepts_a_token(tmp_path):
    sandbox = Settings(backend="sandbox", data_dir=tmp_path)
    token = issue_sandbox_token("admin-agent", sandbox_secret(sandbox.emulator_dir))
    assert user_from_token(token, sandbox) == "admin-agent"
    live = Settings(backend="live", data_dir=tmp_path)
    assert user_from_token(token, live) is None


def test_live_mode_makes_no_secret(tmp_path):
    assert user_from_token("admin-agent.1.x", Settings(backend="live", data_dir=tmp_path)) is None
    assert not (tmp_path / "sandbox").exists()


# --- pages opened with the token, as a reload opens them ----------------------------------


def valid_token(user: str = "admin-agent") -> str:
    return issue_sandbox_token(user, sandbox_secret(load_settings().emulator_dir))


def reload(path: str, token: str | None) -> AppTest:
    """A new session on `path` whose only state is the URL."""
    at = AppTest.from_file(path, default_timeout=90)
    if token is not None:
        at.query_params[TOKEN_PARAM] = token
    return run(at)


def signed_in_as(at: AppTest) -> str | None:
    try:
        return at.session_state["sandbox_user_key"]
    except KeyError:
        return None


def test_signing_in_puts_the_token_in_the_url(sandbox_env):
    at = run(AppTest.from_file(HOME, default_timeout=90))
    assert TOKEN_PARAM not in at.query_params
    at.radio[0].set_value("sales-agent")
    run(next(b for b in at.button if b.label == "Sign in").click())
    token = at.query_params[TOKEN_PARAM]
    assert user_from_token(token, load_settings()) == "sales-agent"
    secret_path = Path(load_settings().emulator_dir) / SECRET_FILE
    assert stat.S_IMODE(secret_path.stat().st_mode) == 0o600


@pytest.mark.parametrize("user", list(SANDBOX_USERS))
def test_the_home_page_signs_the_user_in_again(sandbox_env, user):
    token = valid_token(user)
    at = reload(HOME, token)
    assert signed_in_as(at) == user
    assert SANDBOX_USERS[user].display_name in texts(at)
    assert at.query_params[TOKEN_PARAM] == token
    assert not at.radio  # no sign-in form


def test_a_page_signs_the_user_in_again(sandbox_env):
    at = reload(VERIFY, valid_token("helpdesk-agent"))
    assert signed_in_as(at) == "helpdesk-agent"
    assert not any("sign in" in w.value.lower() for w in at.warning)
    assert at.selectbox(key="vf_customer") is not None


@pytest.mark.parametrize("kind", ["tampered", "expired", "unknown-user"])
def test_a_bad_token_shows_the_sign_in_and_is_removed(sandbox_env, kind):
    secret = sandbox_secret(load_settings().emulator_dir)
    token = {
        "tampered": valid_token("helpdesk-agent").replace("helpdesk-agent", "admin-agent"),
        "expired": issue_sandbox_token("admin-agent", secret, now=NOW - 10 * TOKEN_LIFETIME_S),
        "unknown-user": issue_sandbox_token("root", secret),
    }[kind]
    home = reload(HOME, token)
    assert signed_in_as(home) is None and home.radio  # the sign-in form
    assert TOKEN_PARAM not in home.query_params
    page = reload(VERIFY, token)
    assert signed_in_as(page) is None
    assert "sign in" in page.warning[0].value.lower()
    assert TOKEN_PARAM not in page.query_params


def test_a_link_that_dropped_the_token_gets_it_back(sandbox_env):
    """Sidebar links and st.switch_page replace the query string: the page puts it back."""
    token = valid_token()
    at = reload(VERIFY, token)
    del at.query_params[TOKEN_PARAM]
    at.query_params["customer"] = "someone"
    run(at)
    assert at.query_params[TOKEN_PARAM] == token
    assert at.query_params["customer"] == "someone"


def test_sign_out_removes_the_token(sandbox_env):
    at = reload(HOME, valid_token())
    run(next(b for b in at.sidebar.button if b.label == "Sign out").click())
    assert TOKEN_PARAM not in at.query_params
    assert signed_in_as(at) is None and at.radio


def test_live_mode_ignores_and_removes_the_token(sandbox_env, monkeypatch):
    token = valid_token()  # a token this installation really issued, in sandbox mode
    monkeypatch.setenv("MCA_BACKEND", "live")
    at = reload(HOME, token)
    assert signed_in_as(at) is None
    assert "Signed in as" not in texts(at)
    assert TOKEN_PARAM not in at.query_params
