"""Invitation emails: templates in each locale, the link that cannot be edited away, mailto and
.eml hand-off (header injection included), the use cases over the emulator, and the CLI.
The temporary password must never reach the store or the logs."""

from __future__ import annotations

import email
import io
import json
import logging
from datetime import UTC, datetime
from email import policy
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import jinja2
import pytest
from pydantic import SecretStr

from mca_core.cli.invite import PASSWORD_ENV
from mca_core.cli.main import EXIT_INVALID, EXIT_OK, EXIT_REFUSED, main
from mca_core.domain.errors import AccessRefused, InvalidInput
from mca_core.domain.models import MCA_ACCEPTANCE_URL, Identity, Role
from mca_core.emulator import SANDBOX_USERS
from mca_core.emulator.directory import FABRIKAM_TENANT_ID, NORTHWIND_TENANT_ID
from mca_core.store.database import Store
from mca_core.usecases import invitations
from mca_core.usecases.invitations import (
    KINDS,
    LOCALES,
    PASSWORD_MASK,
    Email,
    build_eml,
    check_body_keeps_link,
    mailto_url,
    render,
)

PASSWORD = "Tmp#Pa55-Qz7!x"
LINK = (
    "https://admin.microsoft.com/Adminportal/Home?invType=ResellerRelationship&partnerId="
    "11111111-2222-3333-4444-555555555555&msppId=0&DAP=false#/BillingAccounts/partner-invitation"
)
SENDER = {
    "sender_name": "Megan Bowen",
    "sender_email": "megan@contosocloud.com",
    "partner_name": "Contoso Cloud Solutions",
}
COMPANY = "Fourth Coffee 第四咖啡"


def context_for(kind: str, company: str = COMPANY) -> dict:
    """Every variable a kind's templates use, with recognisable values."""
    base = {**SENDER, "company_name": company}
    if kind == "mca_new":
        return {
            **base,
            "acceptance_url": MCA_ACCEPTANCE_URL,
            "required_link": MCA_ACCEPTANCE_URL,
            "customer_domain": "fourthcoffee.onmicrosoft.com",
            "sign_in_name": "admin@fourthcoffee.onmicrosoft.com",
            "password": SecretStr(PASSWORD),
        }
    if kind == "mca_existing":
        return {**base, "acceptance_url": MCA_ACCEPTANCE_URL, "required_link": MCA_ACCEPTANCE_URL}
    if kind == "reseller":
        return {
            **base,
            "relationship_url": LINK,
            "required_link": LINK,
            "reseller_name": "Northwind Traders IT",
            "provider_name": "Fabrikam Distribution",
            "sign_in_name": "",
        }
    return {
        **base,
        "ask": "attest",
        "provider_name": "Fabrikam Distribution",
        "partner_tenant_id": NORTHWIND_TENANT_ID,
        "customer_tenant_id": "6b65a6a4-8b81-48f6-b38a-088ca65ed389",
        "customer_domain": "fourthcoffee.onmicrosoft.com",
        "contact_name": "Jane Doe",
        "contact_email": "jane@fourthcoffee.com",
        "contact_phone": "+1 425 555 0100",
        "date_agreed": "2026-11-20",
    }


def unrendered(text: str) -> bool:
    return any(mark in text for mark in ("{{", "}}", "{%", "%}", "{#"))


# --- templates --------------------------------------------------------------------------------


def test_templates_ship_inside_the_package():
    folder = resources.files("mca_core") / "templates" / "email"
    names = {entry.name for entry in folder.iterdir()}
    for kind in KINDS:
        for locale in LOCALES:
            assert f"{kind}.{locale}.txt" in names
            assert f"{kind}.{locale}.html" in names


@pytest.mark.parametrize("locale", LOCALES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_template_renders_filled_in_each_locale(kind, locale):
    mail = render(kind, locale, **context_for(kind))
    assert mail.kind == kind and mail.locale == locale
    assert mail.subject and "\n" not in mail.subject
    assert COMPANY in mail.subject or kind == "reseller"
    for part in (mail.subject, mail.text_body, mail.html_body):
        assert not unrendered(part), part
    assert COMPANY in mail.text_body
    assert SENDER["sender_name"] in mail.text_body and SENDER["partner_name"] in mail.text_body
    assert f'lang="{locale}"' in mail.html_body
    link = mail.required_link
    if kind == "provider_request":
        assert link is None
        assert "Jane Doe" in mail.text_body and "2026-01-05" in mail.text_body
        assert "Fabrikam Distribution" in mail.text_body
    else:
        assert link in mail.text_body
        assert f'href="{link.replace("&", "&amp;")}"' in mail.html_body
    chinese = any("\u4e00" <= ch <= "\u9fff" for ch in mail.text_body.replace(COMPANY, ""))
    assert chinese is (locale == "zh-CN")


@pytest.mark.parametrize("locale", LOCALES)
def test_new_customer_password_is_masked_until_revealed(locale):
    mail = render("mca_new", locale, **context_for("mca_new"))
    assert PASSWORD not in mail.text_body and PASSWORD not in mail.html_body
    assert PASSWORD_MASK in mail.text_body and PASSWORD_MASK in mail.html_body
    assert "admin@fourthcoffee.onmicrosoft.com" in mail.text_body
    assert PASSWORD in mail.revealed_text and PASSWORD_MASK not in mail.revealed_text
    assert "Tmp#Pa55-Qz7!x" in mail.revealed_html  # nothing in it needs escaping
    assert PASSWORD not in repr(mail) and PASSWORD not in str(mail)
    assert mail.without_password().revealed_text == mail.text_body
    assert mail.without_password().needs_password


def test_password_is_escaped_in_html():
    mail = render("mca_new", "en", **{**context_for("mca_new"), "password": SecretStr("a<b>&c")})
    assert "a&lt;b&gt;&amp;c" in mail.revealed_html and "a<b>&c" in mail.revealed_text


def test_existing_customer_email_carries_the_partner_attests_note():
    mail = render("mca_existing", "en", **context_for("mca_existing"))
    assert "contact your partner" in mail.text_body and "confirm the acceptance" in mail.text_body
    assert "Temporary password" not in mail.text_body


def test_provider_request_asking_for_the_link():
    ctx = {**context_for("provider_request"), "ask": "link", "contact_name": ""}
    mail = render("provider_request", "en", **ctx)
    assert "relationship link" in mail.subject
    assert "Accepted by" not in mail.text_body


def test_html_escapes_a_script_in_the_company_name():
    hostile = 'Evil <script>alert("x")</script> & Co'
    mail = render("mca_existing", "en", **context_for("mca_existing", company=hostile))
    assert "<script>" not in mail.html_body
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; Co" in mail.html_body
    assert hostile in mail.text_body  # plain text is not HTML: kept as typed


def test_nothing_is_left_unrendered_strict_undefined():
    ctx = context_for("mca_existing")
    del ctx["company_name"]
    with pytest.raises(jinja2.UndefinedError):
        render("mca_existing", "en", **ctx)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("en", "en"),
        ("en-US", "en"),
        ("zh", "zh-CN"),
        ("zh_CN", "zh-CN"),
        ("zh-Hans", "zh-CN"),
        ("ZH-CN", "zh-CN"),
    ],
)
def test_locale_spellings(given, expected):
    assert invitations.check_locale(given) == expected


def test_unknown_locale_is_refused_with_the_choices():
    with pytest.raises(InvalidInput) as info:
        invitations.check_locale("fr")
    problem = info.value.problems[0]
    assert problem.field == "locale" and problem.code == "bad_locale"
    assert "zh-CN" in problem.fix


# --- editing ----------------------------------------------------------------------------------


def test_a_body_without_the_link_is_refused_and_says_which():
    mail = render("reseller", "en", **context_for("reseller"))
    body = mail.text_body.replace(LINK, "https://example.com/other")
    with pytest.raises(InvalidInput) as info:
        mail.edited(subject=mail.subject, body=body)
    problem = info.value.problems[0]
    assert problem.field == "body" and problem.code == "link_removed"
    assert LINK in problem.reason and problem.params["link"] == LINK
    with pytest.raises(InvalidInput):
        check_body_keeps_link(body.replace("partnerId=1", "partnerId=2"), LINK)
    truncated = mail.text_body.replace(LINK, LINK[:-10])
    with pytest.raises(InvalidInput):
        mail.edited(subject=mail.subject, body=truncated)


def test_an_edited_body_keeping_the_link_is_accepted_and_its_html_follows():
    mail = render("mca_existing", "en", **context_for("mca_existing"))
    body = "Dear <Jane>,\n\nPlease accept here:\n" + MCA_ACCEPTANCE_URL + "\n\nThanks"
    edited = mail.edited(subject="Please accept\r\nBcc: evil@example.com", body=body)
    assert edited.subject == "Please accept Bcc: evil@example.com"
    assert edited.text_body == body + "\n"
    assert "Dear &lt;Jane&gt;," in edited.html_body
    assert f'<a href="{MCA_ACCEPTANCE_URL}"' in edited.html_body
    unchanged = mail.edited(subject=mail.subject, body=mail.text_body)
    assert unchanged.html_body == mail.html_body  # the template's HTML while the body is as made


def test_provider_request_has_no_link_to_keep():
    mail = render("provider_request", "en", **context_for("provider_request"))
    assert mail.edited(subject="x", body="anything").text_body == "anything\n"


# --- mailto -----------------------------------------------------------------------------------


def parse_mailto(url: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(url)
    assert parts.scheme == "mailto"
    return unquote(parts.path), parse_qs(parts.query, keep_blank_values=True)


def test_mailto_round_trips_recipient_subject_and_body():
    body = "Hello 你好,\nline two & more?\n\nhttps://x.test/?a=1&b=2#frag\n"
    url = mailto_url("jane@contoso.com", "Subject: ü & 中文 #1", body)
    assert url is not None
    to, query = parse_mailto(url)
    assert to == "jane@contoso.com"
    assert set(query) == {"subject", "body"}
    assert query["subject"] == ["Subject: ü & 中文 #1"]
    assert query["body"][0] == body.rstrip("\n").replace("\n", "\r\n")  # RFC 6068: CRLF
    assert " " not in url and "\n" not in url


@pytest.mark.parametrize(
    "hostile",
    [
        "jane@contoso.com\r\nBcc: evil@example.com",
        "jane@contoso.com\nbcc=evil@example.com",
        "jane@contoso.com%0ABcc:evil@example.com",
        "jane@contoso.com?bcc=evil@example.com",
    ],
)
def test_mailto_recipient_cannot_inject_headers(hostile):
    url = mailto_url(hostile, "Hi", "Body")
    assert url is not None
    to, query = parse_mailto(url)
    assert set(query) == {"subject", "body"}  # no bcc/cc parameter smuggled in
    assert "\r" not in to and "\n" not in to
    assert "%0A" not in url.split("?")[0].upper() and "%0D" not in url.split("?")[0].upper()


def test_mailto_subject_loses_line_breaks_and_keeps_literal_percent_sequences():
    url = mailto_url("", "Hi\r\nBcc: evil@example.com %0A%0D", "Body")
    to, query = parse_mailto(url)
    assert to == ""
    assert query["subject"] == ["Hi Bcc: evil@example.com %0A%0D"]
    assert "%250A%250D" in url  # the typed text, encoded, never a line break


def test_mailto_too_long_is_none_and_the_limit_is_inclusive():
    assert mailto_url("a@b.co", "s", "x" * 5000) is None
    url = mailto_url("a@b.co", "s", "x" * 10)
    assert mailto_url("a@b.co", "s", "x" * 10, max_length=len(url)) == url
    assert mailto_url("a@b.co", "s", "x" * 10, max_length=len(url) - 1) is None
    chinese = mailto_url("a@b.co", "s", "中" * 200)  # 9 characters each once encoded
    assert chinese is not None and len(chinese) > 1800
    assert mailto_url("a@b.co", "s", "中" * 230) is None


# --- .eml -------------------------------------------------------------------------------------


def parse_eml(data: bytes) -> email.message.EmailMessage:
    return email.message_from_bytes(data, policy=policy.default)


def test_eml_parses_back_to_the_same_subject_recipient_and_bodies():
    mail = render("mca_new", "zh-CN", to="li.lei@fourthcoffee.com", **context_for("mca_new"))
    data = invitations.eml_for(
        mail, sender="megan@contosocloud.com", now=datetime(2026, 11, 20, tzinfo=UTC)
    )
    data.decode("ascii")  # 7-bit clean: safe anywhere
    assert b"\r\n" in data and b"\n\n" not in data.replace(b"\r\n", b"")
    parsed = parse_eml(data)
    assert parsed["Subject"] == mail.subject
    assert parsed["To"] == "li.lei@fourthcoffee.com"
    assert parsed["From"] == "megan@contosocloud.com"
    assert parsed["X-Unsent"] == "1"
    assert parsed["Date"].datetime == datetime(2026, 11, 20, tzinfo=UTC)
    plain = parsed.get_body(("plain",))
    assert plain.get_content_charset() == "utf-8"
    assert plain.get_content().replace("\r\n", "\n") == mail.revealed_text
    assert PASSWORD in plain.get_content()
    html = parsed.get_body(("html",)).get_content()
    assert MCA_ACCEPTANCE_URL in html and PASSWORD in html


@pytest.mark.parametrize("field", ["to", "subject"])
def test_eml_headers_cannot_be_injected(field):
    hostile = "x@example.com\r\nBcc: evil@example.com\nX-Evil: 1"
    args = {"to": "jane@contoso.com", "subject": "Hello"} | {field: hostile}
    data = build_eml(args["to"], args["subject"], "Body\n")
    head = data.split(b"\r\n\r\n", 1)[0].decode("ascii")
    names = [line.split(":", 1)[0] for line in head.split("\r\n") if not line[:1].isspace()]
    assert names == [
        "To",
        "Subject",
        "Date",
        "X-Unsent",
        "Content-Type",
        "Content-Transfer-Encoding",
        "MIME-Version",
    ]
    parsed = parse_eml(data)
    assert parsed["Bcc"] is None and parsed["X-Evil"] is None
    assert "\n" not in str(parsed[field])


def test_eml_without_html_or_recipient_is_a_plain_draft():
    parsed = parse_eml(build_eml("", "Hi", "Only text"))
    assert parsed["To"] is None and parsed.get_content_type() == "text/plain"
    assert parsed.get_content().replace("\r\n", "\n") == "Only text\n"


def test_eml_file_name_is_safe():
    mail = Email("mca_new", "en", "s", "b", None, None, customer_id="../../etc/passwd x")
    name = invitations.eml_file_name(mail)
    assert name.endswith(".eml") and "/" not in name and " " not in name


# --- use cases over the emulator ---------------------------------------------------------------


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")


def identity(key: str) -> Identity:
    return SANDBOX_USERS[key].identity()


def everything_stored(store: Store) -> str:
    events = store.audit()
    return json.dumps([e.model_dump(mode="json") for e in events], ensure_ascii=False)


async def first_customer(pc):
    customers = await pc.list_customers()
    return customers[0]


async def test_new_customer_invitation_keeps_the_password_out_of_store_and_logs(
    make_client, store, caplog
):
    caplog.set_level(logging.DEBUG)
    pc = make_client("admin-agent")
    customer = await first_customer(pc)
    mail = await invitations.invitation_for_new_customer(
        pc,
        store,
        identity("admin-agent"),
        customer=customer.domain,
        user_name="admin",
        password=PASSWORD,
        to="Jane.Doe@FourthCoffee.com",
        locale="zh_CN",
    )
    assert mail.kind == "mca_new" and mail.locale == "zh-CN"
    assert mail.customer_id == customer.id and mail.required_link == MCA_ACCEPTANCE_URL
    assert f"admin@{customer.domain}" in mail.text_body  # Partner Center's sign-in form
    assert PASSWORD in mail.revealed_text and PASSWORD not in mail.text_body
    [event] = store.audit(action="invite")
    assert event.outcome == "generated" and event.customer_id == customer.id
    assert event.inputs == {
        "kind": "mca_new",
        "customer_id": customer.id,
        "recipient_domain": "fourthcoffee.com",
        "locale": "zh-CN",
    }
    assert PASSWORD not in everything_stored(store)
    assert "Jane.Doe" not in everything_stored(store)  # the domain only
    assert PASSWORD not in caplog.text


async def test_new_customer_invitation_reports_every_problem_and_audits_without_password(
    make_client, store
):
    pc = make_client("admin-agent")
    with pytest.raises(InvalidInput) as info:
        await invitations.invitation_for_new_customer(
            pc,
            store,
            identity("admin-agent"),
            customer="",
            user_name="ad min",
            password="",
            to="not-an-address",
            locale="fr",
        )
    assert set(info.value.fields) == {"customer", "locale", "to", "user_name", "password"}
    [event] = store.audit(action="invite")
    assert event.outcome == "invalid"
    with pytest.raises(InvalidInput) as info:
        await invitations.invitation_for_new_customer(
            pc,
            store,
            identity("admin-agent"),
            customer="x.onmicrosoft.com",
            user_name="a",
            password=PASSWORD + "\nBcc: x",
            locale="en",
        )
    assert info.value.fields == ["password"] and PASSWORD not in str(info.value)
    assert PASSWORD not in everything_stored(store)


async def test_existing_customer_invitation_for_every_agent_but_not_without_a_role(
    make_client, store
):
    pc = make_client("helpdesk-agent")
    customer = await first_customer(pc)
    mail = await invitations.invitation_for_existing_customer(
        pc, store, identity("helpdesk-agent"), customer=customer.id, to="", locale="en"
    )
    assert customer.company_name in mail.subject and mail.to == ""
    nobody = identity("helpdesk-agent").model_copy(update={"role": Role.NONE})
    with pytest.raises(AccessRefused):
        await invitations.invitation_for_existing_customer(pc, store, nobody, customer=customer.id)
    assert [e.outcome for e in store.audit(action="invite")] == ["refused", "generated"]


async def test_unknown_customer_is_invalid_input(make_client, store):
    pc = make_client("admin-agent")
    with pytest.raises(InvalidInput) as info:
        await invitations.invitation_for_existing_customer(
            pc, store, identity("admin-agent"), customer="nobody.onmicrosoft.com"
        )
    assert info.value.problems[0].code == "unknown_customer"


async def test_direct_bill_relationship_link(make_client, store):
    pc = make_client("sales-agent")
    me = identity("sales-agent")
    mail = await invitations.relationship_request(pc, store, me, company_name="Prospect Ltd")
    assert "invType=ResellerRelationship" in mail.required_link
    assert f"partnerId={me.partner_tenant_id}" in mail.required_link
    assert mail.required_link in mail.text_body and "Prospect Ltd" in mail.text_body
    with pytest.raises(InvalidInput) as info:
        await invitations.relationship_request(
            pc, store, me, indirect_reseller_id=NORTHWIND_TENANT_ID
        )
    assert info.value.problems[0].code == "reseller_not_allowed"


async def test_helpdesk_may_not_request_the_link(make_client, store):
    with pytest.raises(AccessRefused):
        await invitations.relationship_request(
            make_client("helpdesk-agent"), store, identity("helpdesk-agent")
        )
    [event] = store.audit(action="invite")
    assert event.outcome == "refused" and event.inputs["kind"] == "reseller"


async def test_provider_link_on_behalf_of_a_reseller(make_client, store):
    pc = make_client("provider-admin")
    mail = await invitations.relationship_request(
        pc,
        store,
        identity("provider-admin"),
        indirect_reseller_id=NORTHWIND_TENANT_ID.upper(),
        reseller_name="Northwind Traders IT",
        locale="en",
    )
    assert "invType=IndirectResellerRelationship" in mail.required_link
    assert f"partnerId={NORTHWIND_TENANT_ID}" in mail.required_link
    assert f"indirectCSPId={FABRIKAM_TENANT_ID}" in mail.required_link
    assert "Northwind Traders IT invites you" in mail.text_body
    assert mail.subject.startswith("Northwind Traders IT invites")  # the reseller is the face
    [event] = store.audit(action="invite")
    assert event.inputs["indirect_reseller_id"] == NORTHWIND_TENANT_ID
    with pytest.raises(InvalidInput) as info:
        await invitations.relationship_request(
            pc, store, identity("provider-admin"), indirect_reseller_id="northwind"
        )
    assert info.value.problems[0].field == "indirect_reseller_id"


async def test_a_new_customers_relationship_invitation_carries_its_sign_in(make_client, store):
    """The seed asks for it: the reseller-relationship email of a customer just created carries
    the first admin's sign-in; the password is masked in the bodies, kept on the Email only,
    revealed at the hand-off and never audited."""
    pc = make_client("admin-agent")
    customer = await first_customer(pc)
    mail = await invitations.relationship_request(
        pc,
        store,
        identity("admin-agent"),
        customer=customer.id,
        user_name="admin",
        password=SecretStr(PASSWORD),
        locale="zh-CN",
    )
    assert PASSWORD not in mail.text_body and PASSWORD_MASK in mail.text_body
    assert f"admin@{customer.domain}" in mail.text_body
    assert PASSWORD in mail.revealed_text and PASSWORD in (mail.revealed_html or "")
    assert mail.without_password().needs_password
    assert PASSWORD not in json.dumps([e.model_dump(mode="json") for e in store.audit()])
    with pytest.raises(InvalidInput) as info:
        await invitations.relationship_request(
            pc, store, identity("admin-agent"), customer=customer.id, user_name="admin"
        )
    assert info.value.fields == ["password"]
    plain = await invitations.relationship_request(pc, store, identity("admin-agent"))
    assert PASSWORD_MASK not in plain.text_body and "Sign-in name" not in plain.text_body


def test_cli_reseller_invitation_takes_the_password_from_the_environment(sandbox_env, monkeypatch):
    monkeypatch.delenv("MCA_CUSTOMER_TEMP_PASSWORD", raising=False)
    code, _, err = run("invite", "reseller", "--user-name", "admin")
    assert code == 2 and "MCA_CUSTOMER_TEMP_PASSWORD" in err
    monkeypatch.setenv("MCA_CUSTOMER_TEMP_PASSWORD", PASSWORD)
    code, out, err = run("invite", "reseller", "--user-name", "admin@contoso.com")
    assert code == EXIT_OK, err
    assert "Sign-in name: admin@contoso.com" in out and PASSWORD in out and PASSWORD not in err


async def test_reseller_link_names_its_provider(make_client, store):
    pc = make_client("indirect-reseller")
    mail = await invitations.relationship_request(pc, store, identity("indirect-reseller"))
    assert f"partnerId={NORTHWIND_TENANT_ID}" in mail.required_link
    assert f"indirectCSPId={FABRIKAM_TENANT_ID}" in mail.required_link
    assert "together with Fabrikam Distribution" in mail.text_body


async def test_reseller_asks_its_provider_for_an_enhanced_attestation(make_client, store):
    """The classic attestation and its screen were retired on 2026-01-05: the provider is asked
    to create an enhanced attestation for the named signer, never to use the old screen."""
    pc = make_client("indirect-reseller")
    customer = await first_customer(pc)
    mail = await invitations.provider_request(
        pc,
        store,
        identity("indirect-reseller"),
        customer=customer.id,
        ask="attest",
        to="mca@fabrikamdistribution.com",
        contact_first_name="Jane",
        contact_last_name="Doe",
        contact_email="jane@customer.com",
        contact_phone="+44 20 7946 0958",
        date_agreed="2026-11-20",
        now=datetime(2026, 11, 21, tzinfo=UTC),
    )
    assert mail.to == "mca@fabrikamdistribution.com" and mail.required_link is None
    for fact in (
        customer.company_name,
        customer.id,
        customer.domain,
        "Jane Doe",
        "jane@customer.com",
        "+44 20 7946 0958",
        "Fabrikam Distribution",
        "enhanced MCA attestation",
        "acceptance link",
    ):
        assert fact in mail.text_body
    assert "Customer agreement" not in mail.text_body and "2026-11-20" not in mail.text_body
    [event] = store.audit(action="invite")
    assert event.inputs["ask"] == "attest"
    assert event.inputs["recipient_domain"] == "fabrikamdistribution.com"


async def test_provider_request_checks_the_signer_only_when_asking_to_attest(make_client, store):
    pc = make_client("indirect-reseller")
    customer = await first_customer(pc)
    me = identity("indirect-reseller")
    with pytest.raises(InvalidInput) as info:
        await invitations.provider_request(
            pc,
            store,
            me,
            customer=customer.id,
            ask="attest",
            contact_first_name="J4ne",
            contact_last_name="",
            contact_email="nope",
            date_agreed="2099-01-01",  # not used on the enhanced flow: never a problem
        )
    assert set(info.value.fields) == {"first_name", "last_name", "email"}
    mail = await invitations.provider_request(pc, store, me, customer=customer.id, ask="link")
    assert "relationship link" in mail.subject
    with pytest.raises(InvalidInput):
        await invitations.provider_request(pc, store, me, customer=customer.id, ask="both")


async def test_only_resellers_write_to_a_provider(make_client, store):
    with pytest.raises(AccessRefused):
        await invitations.provider_request(
            make_client("admin-agent"), store, identity("admin-agent"), customer="x", ask="link"
        )


# --- the CLI ----------------------------------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def a_customer(sandbox_env) -> dict:
    code, out, _ = run("--json", "customers")
    assert code == EXIT_OK
    return json.loads(out)[0]


def all_files_text(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_cli_existing_customer_text(a_customer):
    code, out, err = run(
        "invite", "mca", "--customer", a_customer["domain"], "--to", "it@customer.com"
    )
    assert code == EXIT_OK, err
    head, _, body = out.partition("\n\n")
    assert head.splitlines() == [
        "To: it@customer.com",
        f"Subject: Action needed: accept the Microsoft Customer Agreement for "
        f"{a_customer['company_name']}",
    ]
    assert MCA_ACCEPTANCE_URL in body


def test_cli_new_customer_eml_takes_the_password_from_the_environment(
    a_customer, sandbox_env, monkeypatch, tmp_path
):
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    target = tmp_path / "invite.eml"
    code, out, err = run(
        "invite",
        "mca",
        "--customer",
        a_customer["id"],
        "--user-name",
        "admin",
        "--locale",
        "zh-CN",
        "--format",
        "eml",
        "--out",
        str(target),
    )
    assert code == EXIT_OK, err
    assert str(target) in out and PASSWORD not in out and PASSWORD not in err
    parsed = parse_eml(target.read_bytes())
    assert "Microsoft 客户协议" in parsed["Subject"]
    assert PASSWORD in parsed.get_body(("plain",)).get_content()
    assert PASSWORD.encode() not in all_files_text(sandbox_env / "data")


def test_cli_new_customer_without_the_password_variable_is_invalid(a_customer, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    code, _, err = run("invite", "mca", "--customer", a_customer["id"], "--user-name", "admin")
    assert code == EXIT_INVALID and PASSWORD_ENV in err


def test_cli_help_says_where_the_password_comes_from(capsys):
    with pytest.raises(SystemExit):
        main(["invite", "--help"])
    text = capsys.readouterr().out
    assert PASSWORD_ENV in text and "never a flag" in text


def test_cli_eml_to_stdout_and_json(a_customer):
    code, out, _ = run("invite", "reseller", "--format", "eml", "--to", "x@y.com")
    assert code == EXIT_OK
    assert "partnerId=" in parse_eml(out.encode()).get_body(("plain",)).get_content()
    code, out, _ = run("--json", "invite", "mca", "--customer", a_customer["id"])
    doc = json.loads(out)
    assert doc["kind"] == "mca_existing" and doc["required_link"] == MCA_ACCEPTANCE_URL
    assert MCA_ACCEPTANCE_URL in doc["body"] and doc["customer_id"] == a_customer["id"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (("--as", "helpdesk-agent", "invite", "reseller"), EXIT_REFUSED),
        (("invite", "provider-request", "--customer", "x.onmicrosoft.com"), EXIT_REFUSED),
        (("invite", "mca"), EXIT_INVALID),
        (("invite", "mca", "--customer", "not a customer"), EXIT_INVALID),
        (("invite", "reseller", "--to", "bad address"), EXIT_INVALID),
    ],
)
def test_cli_exit_codes(sandbox_env, argv, expected):
    code, _, err = run(*argv)
    assert code == expected, err
    assert "Traceback" not in err


def test_cli_reseller_provider_request(sandbox_env):
    code, out, _ = run("--as", "indirect-reseller", "--json", "customers")
    customer = json.loads(out)[0]
    code, out, err = run(
        "--as",
        "indirect-reseller",
        "invite",
        "provider-request",
        "--customer",
        customer["id"],
        "--contact-first-name",
        "Jane",
        "--contact-last-name",
        "Doe",
        "--contact-email",
        "jane@customer.com",
        "--date",
        "2025-01-15",
    )
    assert code == EXIT_OK, err
    assert "Fabrikam Distribution" in out and customer["id"] in out
    assert "enhanced MCA attestation" in out and "2025-01-15" not in out
    assert "--date is not used" in err
