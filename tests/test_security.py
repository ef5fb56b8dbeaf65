"""Security checks: secrets stay out of logs, the audit store, exports and page state; exports
are inert in a spreadsheet; user text is escaped wherever it becomes HTML; the use cases refuse
what the pages hide; the standalone emulator listens on loopback only.

Every test here fails if the property breaks: each one drives a real flow (CLI, use case or
AppTest page) that handles the secret or the hostile text, then searches every place it could
leak to.
"""

from __future__ import annotations

import contextlib
import csv
import email
import email.policy
import inspect
import io
import json
import logging
import os
import pickle
import re
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import msal
import openpyxl
import pytest
from streamlit.testing.v1 import AppTest

from mca_core.auth.providers import SandboxTokenProvider
from mca_core.cli.main import build_parser, main
from mca_core.config import load_settings
from mca_core.desk import Desk
from mca_core.domain.errors import AccessRefused, McaError
from mca_core.domain.models import Address, Contact, Identity, NewCustomer, Role
from mca_core.emulator import SANDBOX_USERS, Emulator, FaultConfig
from mca_core.emulator import __main__ as emulator_main
from mca_core.emulator import server as emulator_server
from mca_core.store.database import Store
from mca_core.usecases import bulk, invitations, reports
from mca_core.usecases.attestation import attest_customer
from mca_core.usecases.customers import create_customer, create_customer_with_attestation
from mca_core.usecases.metrics import customers_frame
from mca_core.usecases.sync import sync_acceptance
from mca_core.usecases.verify import verify_customer

from .apptest import create_named_customers, visible
from .conftest import ROOT, Sleeper

CLIENT_SECRET = "s3cr3t-Client-Value~42-do-not-log"
REFRESH_TOKEN = "0.AAAA-stored-refresh-token-value-do-not-log"
TENANT = "11111111-2222-3333-4444-555555555555"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(1)">'
FORMULAS = (
    '=HYPERLINK("http://evil.example","x")',
    "+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1)",
    "\t=1+1",
    "\r=1+1",
)
PAGES = {
    name: str(ROOT / "pages" / f"{name}.py")
    for name in ("1_Overview", "2_Attest", "3_Verify", "4_Invitations", "5_Audit")
}


# --- where a secret could end up ----------------------------------------------------------------


def store_bytes(data_dir: Path) -> bytes:
    """Every byte the desk's own store holds (the SQLite file and its journals), not the
    emulator's, which is the stand-in for Microsoft."""
    return b"".join(
        p.read_bytes() for p in data_dir.rglob("*") if p.is_file() and "sandbox" not in p.parts
    )


def audit_text(store: Store) -> str:
    return json.dumps([e.model_dump(mode="json") for e in store.audit(limit=100_000)])


def session_bytes(at: AppTest) -> bytes:
    """Everything st.session_state holds now (user keys, keyed and keyless widget values,
    SecretStr included), as it could be kept, inspected or leaked. (The copy of the previous
    run that Streamlit keeps until the next run starts is its double buffer, not the state.)"""
    raw = at.session_state._state._state  # streamlit's SessionState behind AppTest's wrapper
    parts = []
    for key in raw._keys():
        try:
            parts.append(_dump(raw[key]))
        except KeyError:  # widget metadata already cleared: no value
            continue
    parts.append(repr(raw._new_widget_state.states).encode())
    return b"".join(parts)


def _dump(value: Any) -> bytes:
    try:
        return pickle.dumps(value)
    except Exception:  # an unpicklable value (a callable): its repr is what could leak
        return repr(value).encode()


def elements_text(at: AppTest) -> str:
    """Everything the page shows: every string field of every element's protobuf, as sent to
    the browser (raw, not escaped as protobuf's text form would)."""
    parts: list[str] = []

    def strings(message: Any) -> None:
        for field, value in message.ListFields():
            values = value if field.is_repeated else [value]
            for item in values:
                if isinstance(item, str):
                    parts.append(item)
                elif hasattr(item, "ListFields"):
                    strings(item)

    def walk(node: Any) -> None:
        proto = getattr(node, "proto", None)
        if proto is not None and hasattr(proto, "ListFields"):
            strings(proto)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at._tree)
    return "\n".join(parts)


def assert_absent(secret: str, **places: str | bytes) -> None:
    for name, text in places.items():
        haystack = text if isinstance(text, str) else text.decode("utf-8", "replace")
        assert secret not in haystack, f"the secret is in {name}"


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Everything logged, at DEBUG, by the desk, its libraries and the root logger."""
    caplog.set_level(logging.DEBUG)
    for name in ("mca_core", "httpx", "httpcore", "msal", "streamlit"):
        caplog.set_level(logging.DEBUG, logger=name)
    return caplog


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def ran(target: Any) -> AppTest:
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def open_page(name: str, user: str = "admin-agent", **state: Any) -> AppTest:
    at = AppTest.from_file(PAGES[name], default_timeout=60)
    at.session_state["sandbox_user_key"] = user
    for key, value in state.items():
        at.session_state[key] = value
    return ran(at)


def button(at: AppTest, label: str) -> Any:
    return next(b for b in at.button if b.label == label)


# --- client secret ------------------------------------------------------------------------------


class FailingIdentityProvider:
    """Microsoft Entra ID as MSAL's `http_client`, refusing the app's secret; it even echoes the
    secret back in its error text, the worst case for what may end up in a message or a log."""

    def __init__(self) -> None:
        self.posted: list[dict[str, Any]] = []

    def get(self, url: str, **_: Any) -> Any:
        host = "https://login.microsoftonline.com"
        if "openid-configuration" in url:
            return _Answer(
                200,
                {
                    "issuer": f"{host}/{TENANT}/v2.0",
                    "authorization_endpoint": f"{host}/{TENANT}/oauth2/v2.0/authorize",
                    "token_endpoint": f"{host}/{TENANT}/oauth2/v2.0/token",
                    "device_authorization_endpoint": f"{host}/{TENANT}/oauth2/v2.0/devicecode",
                },
            )
        if "discovery/instance" in url:
            return _Answer(
                200,
                {
                    "tenant_discovery_endpoint": f"{host}/{TENANT}/v2.0/.well-known/"
                    "openid-configuration",
                    "metadata": [
                        {
                            "preferred_network": "login.microsoftonline.com",
                            "aliases": ["login.microsoftonline.com"],
                        }
                    ],
                },
            )
        return _Answer(404, {"error": "not_found"})

    def post(self, url: str, data: Any = None, **_: Any) -> Any:
        self.posted.append(dict(data or {}))
        return _Answer(
            401,
            {
                "error": "invalid_client",
                "error_description": "AADSTS7000215: Invalid client secret provided: "
                f"{CLIENT_SECRET} (refresh token {REFRESH_TOKEN}).\r\nTrace ID: 0\r\n"
                "Correlation ID: corr-1",
                "correlation_id": "corr-1",
            },
        )

    def close(self) -> None:
        pass


class _Answer:
    def __init__(self, status_code: int, payload: dict[str, Any]) -> None:
        self.status_code = status_code
        self.payload = payload
        self.headers = {"Content-Type": "application/json"}
        self.text = json.dumps(payload)

    def json(self) -> dict[str, Any]:
        return self.payload

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise RuntimeError(f"HTTP {self.status_code}")


@pytest.fixture
def failing_idp(monkeypatch: pytest.MonkeyPatch) -> FailingIdentityProvider:
    """Every MSAL application the desk builds talks to the failing fake, never to Microsoft."""
    fake = FailingIdentityProvider()
    for cls in (msal.ConfidentialClientApplication, msal.PublicClientApplication):
        original = cls.__init__

        def init(self: Any, *args: Any, _original: Any = original, **kwargs: Any) -> None:
            kwargs["http_client"] = fake
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", init)
    return fake


@pytest.fixture
def live_env(sandbox_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Live mode configured with the app's client secret and a stored refresh token."""
    secrets = sandbox_env / "secrets.toml"
    secrets.write_text(
        f'[mca]\nbackend = "live"\npartner_tenant_id = "{TENANT}"\nclient_id = "{CLIENT_ID}"\n'
        f'client_secret = "{CLIENT_SECRET}"\nrefresh_token = "{REFRESH_TOKEN}"\n',
        encoding="utf-8",
    )
    monkeypatch.setenv("MCA_SECRETS_FILE", str(secrets))
    return sandbox_env


def test_a_client_secret_refused_by_entra_never_reaches_output_logs_or_store(
    live_env: Path, failing_idp: FailingIdentityProvider, logs: pytest.LogCaptureFixture
) -> None:
    code, out, err = cli("-v", "--json", "customers")
    assert code == 1 and "Sign-in failed" in err and json.loads(out)["error"] == "authentication"
    assert failing_idp.posted and failing_idp.posted[0]["client_secret"] == CLIENT_SECRET
    settings = load_settings()
    assert settings.client_secret is not None  # it was configured, and used
    for secret in (CLIENT_SECRET, REFRESH_TOKEN):
        assert_absent(
            secret,
            stdout=out,
            stderr=err,
            logs=logs.text,
            store=store_bytes(live_env / "data"),
            settings=repr(settings) + settings.model_dump_json(),
        )


async def test_the_desk_reports_entra_s_refusal_without_the_secret(
    live_env: Path, failing_idp: FailingIdentityProvider, logs: pytest.LogCaptureFixture
) -> None:
    desk = Desk(load_settings())
    tokens = desk.live_app_only_tokens()
    with pytest.raises(McaError) as caught:
        await tokens.get_token()
    assert "AADSTS7000215" in str(caught.value)
    error = str(caught.value) + repr(caught.value) + repr(tokens)
    assert_absent(CLIENT_SECRET, error=error, logs=logs.text)  # app-only: the secret is its own


def test_the_home_page_in_live_mode_holds_no_secret_in_session_or_screen(
    sandbox_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "BACKEND": "live",
        "PARTNER_TENANT_ID": TENANT,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "REFRESH_TOKEN": REFRESH_TOKEN,
    }.items():
        monkeypatch.setenv(f"MCA_{name}", value)
    at = ran(AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60))
    for secret in (CLIENT_SECRET, REFRESH_TOKEN):
        assert_absent(secret, session=session_bytes(at), screen=elements_text(at))


# --- bearer tokens ------------------------------------------------------------------------------


@pytest.fixture
def issued_tokens(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every bearer token the sandbox hands out during the test (the ones every call carries)."""
    issued: list[str] = []
    original = Emulator.issue_token

    def issue(self: Emulator, *args: Any, **kwargs: Any) -> str:
        token = original(self, *args, **kwargs)
        issued.append(token)
        return token

    monkeypatch.setattr(Emulator, "issue_token", issue)
    return issued


def customer_rows() -> list[dict[str, Any]]:
    code, out, err = cli("--json", "customers")
    assert code == 0, err
    return json.loads(out)


@pytest.mark.classic_tenant
def test_bearer_tokens_stay_out_of_logs_store_exports_and_output(
    sandbox_env: Path, issued_tokens: list[str], logs: pytest.LogCaptureFixture
) -> None:
    """The CLI's flows, verbose, including refusals and failures whose errors are audited."""
    customers = customer_rows()
    first, second = customers[0]["id"], customers[1]["domain"]
    data = sandbox_env / "data"
    bulk_csv = sandbox_env / "rows.csv"
    bulk_csv.write_text(
        "customer,first_name,last_name,email,phone,date_agreed\n"
        f"{second},Jane,Doe,jane@contoso.com,,2025-11-20\n"
        "nosuch.onmicrosoft.com,Ann,Lee,ann@x.com,,2025-11-20\n",
        encoding="utf-8",
    )
    runs = [
        ("-v", "sync", "--full"),
        ("-v", "status", first),
        (
            "-v",
            "attest",
            first,
            "--first-name",
            "Jane",
            "--last-name",
            "Doe",
            "--email",
            "jane@contoso.com",
            "--date",
            "2025-11-20",
        ),
        (
            "-v",
            "--as",
            "helpdesk-agent",
            "attest",
            first,
            "--first-name",
            "A",
            "--last-name",
            "B",
            "--email",
            "a@b.com",
            "--date",
            "2025-11-20",
        ),
        (
            "-v",
            "attest",
            "00000000-0000-4000-8000-000000000001",
            "--first-name",
            "A",
            "--last-name",
            "B",
            "--email",
            "a@b.com",
            "--date",
            "2025-11-20",
        ),
        ("-v", "bulk-attest", str(bulk_csv), "--out", str(sandbox_env / "results.csv")),
        ("-v", "report", "--format", "csv", "--out", str(sandbox_env / "report.csv")),
        ("-v", "report", "--format", "xlsx", "--out", str(sandbox_env / "report.xlsx")),
        ("-v", "report", "--format", "json", "--out", str(sandbox_env / "report.json")),
        ("-v", "invite", "reseller", "--customer", first),
    ]
    outputs = []
    for argv in runs:
        code, out, err = cli(*argv)
        assert code in (0, 1, 2, 3), (argv, err)
        outputs.append(out + err)
    assert issued_tokens  # every call carried one
    store = Store(load_settings().resolved_store_url)
    assert {e.action for e in store.audit()} >= {"sync", "attest", "bulk_attest", "invite"}
    exports = b"".join(
        (sandbox_env / n).read_bytes()
        for n in ("results.csv", "report.csv", "report.xlsx", "report.json")
    )
    for token in set(issued_tokens):
        for secret in (token, token.rsplit(".", 1)[-1]):  # the whole token, and its signature
            assert_absent(
                secret,
                output="".join(outputs),
                logs=logs.text,
                audit=audit_text(store),
                store=store_bytes(data),
                exports=exports,
            )


def pc_client(emu: Emulator, http: Any, user: str, tokens: list[str], *, mfa: bool = True) -> Any:
    """A client for a seeded user whose every issued bearer token is recorded in `tokens`."""
    from mca_core.domain.models import TokenKind
    from mca_core.partner_center.client import PartnerCenterClient, TemplateCache
    from mca_core.partner_center.ratelimit import RateLimiter
    from mca_core.partner_center.retry import RetryPolicy

    def issue(key: str, kind: TokenKind = TokenKind.APP_USER) -> str:
        tokens.append(emu.issue_token(key, mfa=mfa, kind=kind))
        return tokens[-1]

    sleeper = Sleeper()
    return PartnerCenterClient(
        http,
        SandboxTokenProvider(user, issue=issue, check_mfa=False),
        base_url="https://pc.test",
        limiter=RateLimiter(600_000, sleep=sleeper),
        retry=RetryPolicy(max_attempts=3),
        templates=TemplateCache(),
        sleep=sleeper,
    )


async def test_bearer_tokens_stay_out_of_errors_when_partner_center_fails(
    tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    """5xx answers with retries, a token without MFA (401) and a refusal by Partner Center
    (403), through the use cases: every error is audited, none carries the token."""
    import httpx

    emu = Emulator(
        tmp_path / "emu", customers=8, seed=3, faults=FaultConfig(fault_5xx=0.5, fault_seed=11)
    )
    db = tmp_path / "desk.sqlite3"
    store = Store(f"sqlite:///{db}")
    tokens: list[str] = []
    admin_identity = SANDBOX_USERS["admin-agent"].identity()
    async with httpx.AsyncClient(transport=emu.transport(), base_url="https://pc.test") as http:
        admin = pc_client(emu, http, "admin-agent", tokens)
        await sync_acceptance(admin, store, admin_identity, backend="sandbox")
        customer = store.snapshot_rows(store.latest_snapshot().id)[0]["customer_id"]
        for first in ("Ann", "Bea", "Cy", "Di"):
            with contextlib.suppress(McaError):
                await attest_customer(
                    admin,
                    store,
                    admin_identity,
                    customer=customer,
                    first_name=first,
                    last_name="Lee",
                    email="a@b.com",
                    date_agreed="2025-11-20",
                )
        emu.faults = FaultConfig()
        without_mfa = pc_client(emu, http, "admin-agent", tokens, mfa=False)
        with pytest.raises(McaError):
            await verify_customer(without_mfa, store, admin_identity, customer)
        # a role the desk does not know (a pre-acquired token): Partner Center refuses it
        unknown_role = admin_identity.model_copy(update={"role_known": False})
        helpdesk = pc_client(emu, http, "helpdesk-agent", tokens)
        with pytest.raises(McaError):
            await attest_customer(
                helpdesk,
                store,
                unknown_role,
                customer=customer,
                first_name="Ed",
                last_name="Lee",
                email="e@b.com",
                date_agreed="2025-11-20",
            )
    assert admin.stats.retries >= 1
    outcomes = [e.outcome for e in store.audit()]
    assert "refused" in outcomes and "failed" in outcomes, outcomes
    assert len(set(tokens)) >= 3
    for token in set(tokens):
        assert_absent(token, audit=audit_text(store), logs=logs.text, store=db.read_bytes())


# --- a new customer's temporary password ----------------------------------------------------

NEW_CUSTOMER = {
    "nc_company": "Wingtip Toys",
    "nc_address": "1 Main Street",
    "nc_city": "Redmond",
    "nc_first": "Jane",
    "nc_last": "Doe",
    "nc_email": "jane@wingtip.example",
}


def create_on_the_attest_page(at: AppTest, prefix: str) -> str:
    """Fill the new-customer form, create it, reveal the password; returns the password."""
    at.session_state["attest_tab"] = "New customer"
    ran(at)
    for key, value in {**NEW_CUSTOMER, "nc_domain": prefix}.items():
        at.text_input(key=key).set_value(value)
    at.selectbox(key="nc_country").set_value("US")
    if any(r.key == "nc_agreement" for r in at.radio):  # classic only: no "attest now"
        at.radio(key="nc_agreement").set_value("customer_accepts")
    ran(button(at, "Review").click())
    ran(button(at, "Create customer").click())
    password = at.session_state["ncx_outcome"].credentials.password.get_secret_value()
    assert len(password) >= 8 and password not in elements_text(at)  # masked until revealed
    ran(at.toggle(key="creds_reveal").set_value(True))
    assert password in [c.value for c in at.code]  # shown, once
    return password


def assert_password_gone(at: AppTest, password: str, logs: pytest.LogCaptureFixture) -> None:
    store = Store(load_settings().resolved_store_url)
    assert_absent(
        password,
        session=session_bytes(at),
        screen=elements_text(at),
        audit=audit_text(store),
        store=store_bytes(load_settings().data_dir),
        logs=logs.text,
    )


def test_a_new_customer_password_leaves_the_session_once_dismissed(
    sandbox_env: Path, logs: pytest.LogCaptureFixture
) -> None:
    at = open_page("2_Attest")
    password = create_on_the_attest_page(at, "dismissco")
    ran(button(at, "I have saved them — hide").click())
    assert_password_gone(at, password, logs)


def test_a_new_customer_password_leaves_the_session_when_the_user_navigates_away(
    sandbox_env: Path, logs: pytest.LogCaptureFixture
) -> None:
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.session_state["sandbox_user_key"] = "admin-agent"
    ran(at)
    ran(at.switch_page("pages/2_Attest.py"))
    password = create_on_the_attest_page(at, "leavingco")
    ran(at.switch_page("pages/3_Verify.py"))
    assert_password_gone(at, password, logs)  # gone while the user is elsewhere
    ran(at.switch_page("pages/2_Attest.py"))
    assert_password_gone(at, password, logs)


def test_the_invitations_page_forgets_the_password_after_done_and_on_leaving(
    sandbox_env: Path, logs: pytest.LogCaptureFixture
) -> None:
    password = "Tmp-Pa55!word#" + uuid.uuid4().hex[:8]
    customer = customer_rows()[0]["id"]
    at = AppTest.from_file(str(ROOT / "dashboard.py"), default_timeout=60)
    at.session_state["sandbox_user_key"] = "admin-agent"
    ran(at)
    ran(at.switch_page("pages/4_Invitations.py"))
    for leave in ("done", "navigate"):
        at.radio(key="inv1_mode").set_value("new")
        picker = at.selectbox(key="inv1_customer")
        picker.options.append(customer)  # typed, as the type-ahead accepts (no synced list)
        ran(picker.set_value(customer))
        at.text_input(key="inv1_user").set_value("admin")
        at.text_input(key="inv1_password").set_value(password)
        ran(next(b for b in at.button if b.key == "inv1_generate").click())
        assert at.session_state["inv1_draft"].password is None  # the kept draft never holds it
        ran(at.toggle(key="inv1_reveal").set_value(True))
        assert password in elements_text(at)  # revealed in the preview for the copy
        if leave == "done":
            ran(next(b for b in at.button if b.key == "inv1_done").click())
        else:
            ran(at.switch_page("pages/3_Verify.py"))
        assert_password_gone(at, password, logs)
        if leave == "navigate":
            ran(at.switch_page("pages/4_Invitations.py"))
            assert_password_gone(at, password, logs)


async def test_the_invitation_use_case_never_audits_or_logs_the_password(
    make_client: Any, tmp_path: Path, logs: pytest.LogCaptureFixture
) -> None:
    password = "Zq7#Tmp-" + uuid.uuid4().hex
    db = tmp_path / "desk.sqlite3"
    store = Store(f"sqlite:///{db}")
    pc = make_client("admin-agent")
    customer = (await pc.list_customers())[0]
    identity = SANDBOX_USERS["admin-agent"].identity()
    mail = await invitations.invitation_for_new_customer(
        pc,
        store,
        identity,
        customer=customer.id,
        user_name="admin",
        password=password,
        to="jane@contoso.com",
    )
    assert password in mail.revealed_text and password not in mail.text_body + repr(mail)
    with pytest.raises(McaError):  # a refused attempt is audited too, still without it
        await invitations.invitation_for_new_customer(
            pc,
            store,
            identity,
            customer=customer.id,
            user_name="ad min",
            password=password,
            to="jane(at)contoso.com",
        )
    assert sorted(e.outcome for e in store.audit(action="invite")) == ["generated", "invalid"]
    assert_absent(password, audit=audit_text(store), store=db.read_bytes(), logs=logs.text)


def test_the_invite_command_puts_the_password_in_the_email_only(
    sandbox_env: Path, monkeypatch: pytest.MonkeyPatch, logs: pytest.LogCaptureFixture
) -> None:
    password = "Cli-Tmp-" + uuid.uuid4().hex
    monkeypatch.setenv("MCA_CUSTOMER_TEMP_PASSWORD", password)
    customer = customer_rows()[0]["id"]
    code, out, err = cli("-v", "invite", "mca", "--customer", customer, "--user-name", "admin")
    assert code == 0 and password in out  # the email body is the hand-off
    eml = sandbox_env / "invite.eml"
    code, _, err2 = cli(
        "invite",
        "mca",
        "--customer",
        customer,
        "--user-name",
        "admin",
        "--format",
        "eml",
        "--out",
        str(eml),
    )
    assert code == 0 and eml.is_file()
    store = Store(load_settings().resolved_store_url)
    assert len(store.audit(action="invite")) == 2
    assert_absent(
        password,
        stderr=err + err2,
        audit=audit_text(store),
        store=store_bytes(sandbox_env / "data"),
        logs=logs.text,
    )


# --- spreadsheet exports ----------------------------------------------------------------------

FORMULA_START = reports.FORMULA_PREFIXES
NUMBER = re.compile(r"[+-]?\d+(\.\d+)?")


def csv_cells(data: bytes) -> list[str]:
    text = data.decode("utf-8-sig")
    return [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]


def assert_inert_csv(data: bytes, hostile: tuple[str, ...]) -> None:
    """No cell starts like a formula (a plain number such as -1 is a number), and each hostile
    text is there, neutralised with '. Rows are split as a spreadsheet splits them."""
    cells = csv_cells(data)
    live = [c for c in cells if c.startswith(FORMULA_START) and not NUMBER.fullmatch(c)]
    assert not live, live
    for text in hostile:
        assert any(c == "'" + text or c.startswith("'" + text) for c in cells), text


def assert_inert_xlsx(data: bytes, hostile: tuple[str, ...]) -> None:
    book = openpyxl.load_workbook(io.BytesIO(data))
    values = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert not cell.value.startswith(FORMULA_START), cell.value
                    values.append(cell.value)
    for text in hostile:  # XML reads a CR back as LF
        assert any(v.startswith("'" + text.replace("\r", "\n")) for v in values), text


def test_export_table_neutralises_formulas_in_headers_and_every_text_cell() -> None:
    rows = [{"name": text, "note": f"ok {text}", "count": 3} for text in FORMULAS]
    rows.append({"name": "plain", "note": "-", "count": -1})
    columns = ["name", "note", "count", "=bad header"]
    csv_data = reports.export_table(rows, "csv", columns=columns)
    assert_inert_csv(csv_data, (*FORMULAS, "=bad header", "-"))
    assert_inert_xlsx(
        reports.export_table(rows, "xlsx", columns=columns), (*FORMULAS, "=bad header")
    )
    assert csv_cells(csv_data).count("-1") == 1  # numbers stay numbers


HOSTILE_COMPANIES = {
    "scriptco": f"{SCRIPT} Ltd",
    "imgco": f"{IMG} & Co",
    "formulaco": FORMULAS[0],
    "atco": "@SUM(1+1)|cmd",
}


@pytest.fixture
def hostile(sandbox_env: Path) -> dict[str, str]:
    """Customers whose company names are markup or formulas (as Partner Center may hold them),
    created through the desk and synced: domain prefix -> customer id."""
    return create_named_customers(HOSTILE_COMPANIES)


def test_overview_downloads_and_the_report_command_are_inert(
    hostile: dict[str, str], sandbox_env: Path
) -> None:
    from ui import overview_blocks

    store = Store(load_settings().resolved_store_url)
    frame = customers_frame(store.snapshot_rows(store.latest_snapshot().id))
    table = overview_blocks.export_frame(frame)
    names = (HOSTILE_COMPANIES["formulaco"], HOSTILE_COMPANIES["atco"])
    assert_inert_csv(reports.export_table(table, "csv"), names)
    assert_inert_xlsx(reports.export_table(table, "xlsx"), names)
    for fmt in ("csv", "xlsx"):
        out = sandbox_env / f"report.{fmt}"
        assert cli("report", "--format", fmt, "--out", str(out))[0] == 0
        (assert_inert_csv if fmt == "csv" else assert_inert_xlsx)(out.read_bytes(), names)
    at = open_page("1_Overview")  # the page itself shows them as text
    table = next(df.value for df in at.dataframe if "company" in df.value.columns)
    assert HOSTILE_COMPANIES["formulaco"] in str(table["company"].tolist())


def test_bulk_results_are_inert(sandbox_env: Path) -> None:
    rows = sandbox_env / "rows.csv"
    rows.write_text(
        "customer,first_name,last_name,email,phone,date_agreed\n"
        f'"{FORMULAS[0].replace(chr(34), chr(34) * 2)}",Jane,Doe,jane@x.com,,2025-11-20\n'
        "@SUM(1),=cmd,+x,-y@x.com,-2,=TODAY()\n",
        encoding="utf-8",
    )
    results = sandbox_env / "results.csv"
    code, _, err = cli("bulk-attest", "--dry-run", str(rows), "--out", str(results))
    assert code == 1, err
    assert_inert_csv(results.read_bytes(), (FORMULAS[0], "@SUM(1)"))


def test_the_audit_page_export_is_inert(sandbox_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    customer = customer_rows()[0]["id"]
    cli(
        "attest",
        customer,
        "--first-name",
        "=cmd|' /C calc'!A0",
        "--last-name",
        "@SUM(1)",
        "--email",
        "+x@y.com",
        "--date",
        "2025-11-20",
    )
    hostile_ref = '=HYPERLINK("http://evil.example")'
    cli(
        "attest",
        hostile_ref,
        "--first-name",
        "Jane",
        "--last-name",
        "Doe",
        "--email",
        "j@x.com",
        "--date",
        "2025-11-20",
    )
    exported: list[bytes] = []
    real = reports.export_table

    def recording(*args: Any, **kwargs: Any) -> bytes:
        exported.append(real(*args, **kwargs))
        return exported[-1]

    monkeypatch.setattr(reports, "export_table", recording)
    at = open_page("5_Audit")
    assert len(at.dataframe[0].value) == 2
    [data] = exported
    assert_inert_csv(data, (hostile_ref,))


# --- HTML escaping --------------------------------------------------------------------------

RAW_HTML_SITES = {("ui/invitations/shared.py", "st.html(")}


def test_raw_html_is_rendered_in_one_known_place_only() -> None:
    """`unsafe_allow_html`, `st.html` and components are where user text could become markup:
    each site must be listed here and covered by a test below."""
    pattern = re.compile(
        r"unsafe_allow_html\s*=\s*True|st\.html\(|components\.v1|"
        r"components\.html\("
    )
    found = set()
    for path in [
        ROOT / "dashboard.py",
        *(ROOT / "pages").glob("*.py"),
        *(ROOT / "ui").rglob("*.py"),
    ]:
        for match in pattern.finditer(path.read_text(encoding="utf-8")):
            found.add((path.relative_to(ROOT).as_posix(), match.group(0)))
    assert found == RAW_HTML_SITES


def raw_html(at: AppTest) -> list[str]:
    """What the browser would take as HTML: st.html bodies and markdown allowed HTML."""
    return [h.proto.body for h in at.get("html")] + [
        m.value for m in at.markdown if m.proto.allow_html
    ]


def assert_no_live_markup(at: AppTest) -> None:
    for html in raw_html(at):
        for hostile in (SCRIPT, IMG, "<script", "<img"):
            assert hostile not in html, html[:300]


def test_hostile_company_names_stay_text_on_every_page(hostile: dict[str, str]) -> None:
    script_id, img_id = hostile["scriptco"], hostile["imgco"]
    verify = open_page("3_Verify", vf_customer=script_id)
    assert visible(verify.subheader[0].value) == HOSTILE_COMPANIES["scriptco"]  # shown as text
    assert_no_live_markup(verify)
    attest = open_page("2_Attest", ex_customer=img_id)
    assert any(HOSTILE_COMPANIES["imgco"] in visible(m.value) for m in attest.markdown)
    assert_no_live_markup(attest)
    overview = open_page("1_Overview")
    assert_no_live_markup(overview)
    for customer in (script_id, img_id):
        invite = open_page("4_Invitations", inv1_customer=customer)
        ran(next(b for b in invite.button if b.key == "inv1_generate").click())
        [preview] = [h.proto.body for h in invite.get("html")]
        assert "&lt;script&gt;" in preview or "&lt;img" in preview  # the name, escaped
        assert_no_live_markup(invite)


def test_an_edited_email_body_is_escaped_in_the_preview(hostile: dict[str, str]) -> None:
    at = open_page("4_Invitations", inv1_customer=hostile["scriptco"])
    ran(next(b for b in at.button if b.key == "inv1_generate").click())
    body = at.text_area(key="inv1_body").value
    ran(at.text_area(key="inv1_body").set_value(f"{IMG}\n{SCRIPT}\n\n{body}"))  # link kept
    assert_no_live_markup(at)
    assert "&lt;img src=x onerror=" in at.get("html")[0].proto.body
    ran(at.text_area(key="inv1_body").set_value(f"{IMG} and no link at all"))  # invalid
    assert at.error and "&lt;img" in at.get("html")[0].proto.body
    assert_no_live_markup(at)


async def test_html_emails_escape_customer_and_typed_names(make_client: Any) -> None:
    pc = make_client("provider-admin")
    identity = SANDBOX_USERS["provider-admin"].identity()
    mail = await invitations.relationship_request(
        pc,
        None,
        identity,
        company_name=f"{IMG}\r\nBcc: victim@x.com",
        reseller_name=SCRIPT,
        to="jane@contoso.com",
        indirect_reseller_id=None,
    )
    assert mail.html_body is not None
    for html in (
        mail.html_body,
        mail.edited(subject=mail.subject, body=mail.text_body + SCRIPT).html_body or "",
    ):
        assert "<img" not in html and "<script" not in html
        assert "&lt;img src=x onerror=" in html
    message = email.message_from_bytes(invitations.eml_for(mail), policy=email.policy.default)
    assert message["Bcc"] is None and "\n" not in str(message["Subject"])  # no injection
    html_part = message.get_body(("html",))
    assert html_part is not None and "<img" not in html_part.get_content()


# --- the guards hold when a use case is called directly -------------------------------------

HELPDESK = SANDBOX_USERS["helpdesk-agent"].identity()
RESELLER = SANDBOX_USERS["indirect-reseller"].identity()
NO_ROLE = HELPDESK.model_copy(update={"role": Role.NONE, "display_name": "No role"})
CLIENT_OF = {
    id(HELPDESK): "helpdesk-agent",
    id(RESELLER): "indirect-reseller",
    id(NO_ROLE): "helpdesk-agent",
}
ROW = bulk.BulkRow(
    line=2,
    customer="contoso.onmicrosoft.com",
    first_name="Jane",
    last_name="Doe",
    email="jane@contoso.com",
    phone="",
    date_agreed="2025-11-20",
)
NEW = NewCustomer(
    company_name="Guarded Ltd",
    domain_prefix="guarded",
    email="it@guarded.example",
    address=Address(
        first_name="Jane", last_name="Doe", address_line1="1 Main St", city="Redmond", country="US"
    ),
)
CONTACT = (
    Contact(first_name="Jane", last_name="Doe", email="jane@contoso.com"),
    date(2025, 11, 20),
)
CUSTOMER = "contoso.onmicrosoft.com"


def _use_cases() -> dict[str, Any]:
    inv = invitations
    return {
        "attest_customer": lambda pc, s, i: attest_customer(
            pc,
            s,
            i,
            customer=CUSTOMER,
            first_name="Jane",
            last_name="Doe",
            email="jane@contoso.com",
        ),
        "run_bulk": lambda pc, s, i: bulk.run_bulk(pc, s, i, [ROW]),
        "run_bulk_dry_run": lambda pc, s, i: bulk.run_bulk(pc, s, i, [ROW], dry_run=True),
        "create_customer": lambda pc, s, i: create_customer(pc, s, i, NEW, request_id="r-1"),
        "create_customer_with_attestation": lambda pc, s, i: create_customer_with_attestation(
            pc, s, i, NEW, CONTACT, create_request_id="r-2", attest_request_id="r-3"
        ),
        "sync_acceptance": lambda pc, s, i: sync_acceptance(pc, s, i, backend="sandbox"),
        "verify_customer": lambda pc, s, i: verify_customer(pc, s, i, CUSTOMER),
        "invitation_for_existing_customer": lambda pc, s, i: inv.invitation_for_existing_customer(
            pc, s, i, customer=CUSTOMER
        ),
        "invitation_for_new_customer": lambda pc, s, i: inv.invitation_for_new_customer(
            pc, s, i, customer=CUSTOMER, user_name="admin", password="Tmp-Pa55!"
        ),
        "relationship_request": lambda pc, s, i: inv.relationship_request(pc, s, i),
        "provider_request": lambda pc, s, i: inv.provider_request(
            pc, s, i, customer=CUSTOMER, ask="link"
        ),
        **_enhanced_use_cases(),
    }


def _enhanced_use_cases() -> dict[str, Any]:
    """The enhanced attestation channel's use cases, where this checkout has them."""
    try:
        from mca_core.usecases import enhanced
    except ImportError:
        return {}
    found: dict[str, Any] = {}
    if hasattr(enhanced, "create_attestation"):
        found["enhanced_create_attestation"] = lambda pc, s, i: enhanced.create_attestation(
            pc,
            s,
            i,
            customer=CUSTOMER,
            first_name="Jane",
            last_name="Doe",
            email="jane@contoso.com",
            company_name="Contoso",
            country="US",
            language="en",
        )
    if hasattr(enhanced, "finalise_attestation"):
        found["enhanced_finalise_attestation"] = lambda pc, s, i: enhanced.finalise_attestation(
            pc, s, i, customer=CUSTOMER
        )
    if hasattr(enhanced, "refresh_attestations"):
        found["enhanced_refresh_attestations"] = lambda pc, s, i: enhanced.refresh_attestations(
            pc, s, i
        )
    return found


ENHANCED_REFUSED = {
    "enhanced_create_attestation": ("helpdesk", "reseller"),
    "enhanced_finalise_attestation": ("helpdesk", "reseller"),
    "enhanced_refresh_attestations": ("no-role",),
}
WHO = {"helpdesk": HELPDESK, "reseller": RESELLER, "no-role": NO_ROLE}

REFUSED = [
    ("attest_customer", "helpdesk", HELPDESK),
    ("attest_customer", "reseller", RESELLER),
    ("attest_customer", "no-role", NO_ROLE),
    ("run_bulk", "helpdesk", HELPDESK),
    ("run_bulk", "reseller", RESELLER),
    ("run_bulk_dry_run", "reseller", RESELLER),
    ("create_customer", "helpdesk", HELPDESK),
    ("create_customer", "no-role", NO_ROLE),
    ("create_customer_with_attestation", "helpdesk", HELPDESK),
    ("create_customer_with_attestation", "reseller", RESELLER),
    ("sync_acceptance", "no-role", NO_ROLE),
    ("verify_customer", "no-role", NO_ROLE),
    ("invitation_for_existing_customer", "no-role", NO_ROLE),
    ("invitation_for_new_customer", "no-role", NO_ROLE),
    ("relationship_request", "helpdesk", HELPDESK),
    ("relationship_request", "no-role", NO_ROLE),
    ("provider_request", "helpdesk", HELPDESK),
] + [
    (name, who, WHO[who])
    for name, people in ENHANCED_REFUSED.items()
    if name in _enhanced_use_cases()
    for who in people
]


@pytest.mark.parametrize(
    ("use_case", "identity"),
    [(u, i) for u, _, i in REFUSED],
    ids=[f"{u}-{who}" for u, who, _ in REFUSED],
)
async def test_a_use_case_refuses_who_the_page_refuses(
    use_case: str, identity: Identity, make_client: Any, tmp_path: Path
) -> None:
    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    pc = make_client(CLIENT_OF[id(identity)])
    with pytest.raises(AccessRefused):
        await _use_cases()[use_case](pc, store, identity)
    assert pc.stats.calls == 0  # refused before any Partner Center call
    [event] = store.audit()
    assert event.outcome == "refused" and event.user_id == identity.user_id


def test_every_use_case_of_the_matrix_exists_and_the_matrix_covers_it() -> None:
    assert {u for u, _, _ in REFUSED} == set(_use_cases())
    for name in ("attest_customer", "run_bulk", "create_customer", "sync_acceptance"):
        assert {who for u, who, _ in REFUSED if u == name} & {"helpdesk", "reseller", "no-role"}


async def test_the_emulator_refuses_too_when_the_desk_cannot_know_the_role(
    make_client: Any, tmp_path: Path
) -> None:
    """A pre-acquired token (role unknown locally) of a helpdesk agent or an indirect reseller:
    the call is made, and Partner Center's 403 is reported and audited as refused."""
    store = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    for user in ("helpdesk-agent", "indirect-reseller"):
        pc = make_client(user)
        customer = (await pc.list_customers())[0]
        identity = (
            SANDBOX_USERS[user]
            .identity()
            .model_copy(update={"role_known": False, "partner_type": HELPDESK.partner_type})
        )
        with pytest.raises(McaError) as caught:
            await attest_customer(
                pc,
                store,
                identity,
                customer=customer.id,
                first_name="Jane",
                last_name="Doe",
                email="jane@contoso.com",
                date_agreed="2025-11-20",
            )
        assert getattr(caught.value, "status", None) == 403
    assert [e.outcome for e in store.audit()] == ["refused", "refused"]


# --- the standalone emulator binds loopback only -------------------------------------------


def test_every_way_to_start_the_emulator_defaults_to_loopback() -> None:
    args = build_parser().parse_args(["emulator"])
    assert args.host == "127.0.0.1"
    assert inspect.signature(emulator_server.serve).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(emulator_server.run_in_thread).parameters["host"].default == (
        "127.0.0.1"
    )
    source = inspect.getsource(emulator_main.build_parser)
    assert "default=DEFAULT_HOST" in source and emulator_server.DEFAULT_HOST == "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def outward_address() -> str | None:
    """This machine's address on its first non-loopback interface, if it has one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # no packet is sent: this only picks a route
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") or address == "0.0.0.0" else address


@pytest.fixture
def standalone_emulator(tmp_path: Path) -> Iterator[int]:
    """`python -m mca_core emulator` without --host, as a user starts it; stopped after."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("MCA_")}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "mca_core",
            "--data-dir",
            str(tmp_path / "data"),
            "emulator",
            "--port",
            str(port),
            "--customers",
            "3",
            "--data-dir",
            str(tmp_path / "emu"),
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the emulator did not start"
                time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_the_standalone_emulator_listens_on_loopback_only(standalone_emulator: int) -> None:
    port = standalone_emulator
    listening = subprocess.run(
        ["ss", "-ltnH", f"sport = :{port}"], capture_output=True, text=True, check=False
    )
    if listening.returncode == 0 and listening.stdout.strip():
        locals_ = {line.split()[3] for line in listening.stdout.strip().splitlines()}
        assert locals_ == {f"127.0.0.1:{port}"}, locals_
    outward = outward_address()
    if outward is not None:
        with pytest.raises(OSError):
            socket.create_connection((outward, port), timeout=1).close()
    import httpx

    health = httpx.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=5)
    assert health.status_code == 200 and health.json()["status"] == "ok"
