"""Bulk attestation on the enhanced channel (a CSV of signers, one acceptance link per row):
reading the file as the classic bulk does, per-row checks before anything is sent, the run
against the emulator (links, reuse, skips, a cancelled or killed run resumed without duplicates),
the results CSV and the invitations zip, `App.bulk_attest_signers`, and `bulk-attest --channel
enhanced` with its exit codes."""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
import threading
import zipfile
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mca_core import App, BulkSignersReport, BulkSignersRequest, SignerOutcome, load_settings
from mca_core.cli.main import main
from mca_core.domain.models import Customer, TokenKind
from mca_core.emulator import SANDBOX_USERS, Emulator
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.database import Store
from mca_core.store.enhanced_attestations import AttestationState, EnhancedStore
from mca_core.usecases import enhanced
from mca_core.usecases.bulk import CsvUnusable
from mca_core.usecases.bulk_signers import (
    SignerRow,
    check_signer_rows,
    email_locale,
    read_signers_csv,
    run_bulk_signers,
    template_csv,
)
from mca_core.usecases.status import acceptance_status

HEADER = "customer_id,first_name,last_name,email,phone,country,language,company_name"
ADMIN = SANDBOX_USERS["admin-agent"].identity()
UNKNOWN_GUID = "1f2e3d4c-5b6a-4789-8abc-def012345678"
CJK = re.compile(r"[\u4e00-\u9fff]")


def csv_bytes(*lines: str, encoding: str = "utf-8") -> bytes:
    return ("\n".join(lines) + "\n").encode(encoding)


def surname(i: int) -> str:
    """Names hold no digits (the name rule refuses them): Aa, Ab, ... per row."""
    return "Doe" + chr(97 + i // 26) + chr(97 + i % 26)


# --- the file ----------------------------------------------------------------------------------


def test_columns_aliases_optional_columns_and_excel_quirks():
    data = csv_bytes(
        "sep=;",
        "Tenant ID;Given name;Surname;E-mail;Country (ISO);Company",
        "contoso.onmicrosoft.com;Jane;Doe;jane@contoso.com;us;'=Contoso",
        "",
        f"{UNKNOWN_GUID};Wei;Li;li.wei@example.cn;CN;",
        encoding="utf-8-sig",
    )
    rows = read_signers_csv(data)
    assert [r.line for r in rows] == [3, 5]  # the file's line numbers, blank rows left out
    first = rows[0]
    assert (first.customer_id, first.first_name, first.email) == (
        "contoso.onmicrosoft.com",
        "Jane",
        "jane@contoso.com",
    )
    assert first.country == "us" and first.company_name == "=Contoso"  # our own guard undone
    assert first.phone == first.language == ""  # optional columns absent: defaults later
    # a classic file reads too: its date column is ignored, country and language default
    classic = csv_bytes(
        "customer,first_name,last_name,email,phone,date_agreed",
        "contoso.onmicrosoft.com,Jane,Doe,jane@contoso.com,,2025-11-20",
    )
    assert read_signers_csv(classic)[0].customer_id == "contoso.onmicrosoft.com"
    assert read_signers_csv(template_csv())[0].country == "US"  # the template round-trips


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (csv_bytes("customer_id,first_name,last_name", "x.com,A,B"), "file_missing_columns"),
        (csv_bytes(HEADER, "x.com,A,B,a@b.com,,,,", encoding="utf-16-le"), "file_encoding"),
        (b"PK\x03\x04 a workbook", "file_workbook"),
        (csv_bytes(HEADER), "file_no_rows"),
        (csv_bytes("customer_id,email,e-mail,first_name,last_name", "x"), "file_duplicate_columns"),
    ],
)
def test_unusable_files_are_refused_like_the_classic_file(data, code):
    with pytest.raises(CsvUnusable) as info:
        read_signers_csv(data)
    problem = info.value.problems[0]
    assert problem.code == code and problem.field == "file" and problem.fix
    if code == "file_missing_columns":
        assert "email" in problem.reason


def test_gb18030_is_read_only_when_the_user_says_so():
    data = csv_bytes(HEADER, "contoso.cn,伟,李,li.wei@example.cn,,CN,zh-CN,", encoding="gb18030")
    with pytest.raises(CsvUnusable) as info:
        read_signers_csv(data)
    assert info.value.code == "file_encoding" and "gb18030" in info.value.problem.fix
    [row] = read_signers_csv(data, "gb18030")
    assert (row.first_name, row.last_name, row.language) == ("伟", "李", "zh-CN")


def row(line: int, customer: str, **over: str) -> SignerRow:
    values = {
        "first_name": "Jane",
        "last_name": "Doe",
        "email": f"jane{line}@contoso.com",
    }
    values.update(over)
    return SignerRow(line=line, customer_id=customer, **values)


def test_every_row_is_judged_before_anything_is_sent_naming_the_column_and_the_fix():
    checks = check_signer_rows(
        [
            row(2, "contoso.com"),
            row(3, "contoso.com", email="jane@other.com"),  # the same customer again
            row(4, "fabrikam.com", email="not-an-email"),
            row(5, "not a customer!"),
            row(6, "adatum.com", country="Atlantis", language="Klingon language"),
            row(7, "tailspin.com", first_name=""),
            row(8, "wingtip.com", phone="+1 555"),
        ]
    )
    by_line = {c.row.line: c for c in checks}
    assert by_line[2].ok
    [dup] = by_line[3].problems
    assert dup.field == "customer_id" and dup.code == "duplicate_in_file" and "line 2" in dup.reason
    assert [p.field for p in by_line[4].problems] == ["email"]
    assert [p.field for p in by_line[5].problems] == ["customer_id"]
    assert {p.field for p in by_line[6].problems} == {"country", "language"}
    assert [p.field for p in by_line[7].problems] == ["first_name"]
    assert [p.field for p in by_line[8].problems] == ["phone"]
    for check in checks[1:]:
        assert all(p.reason and p.fix for p in check.problems)


def test_the_email_language_follows_the_country_or_a_chinese_agreement_language():
    assert email_locale("CN", "en") == "zh-CN"
    assert email_locale("US", "zh-TW") == "zh-CN"
    assert email_locale("us", "zh_cn") == "zh-CN"
    assert email_locale("DE", "de") == "en"
    assert email_locale(None, None) == "en"


def test_results_csv_is_spreadsheet_safe_utf8_with_bom():
    outcome = SignerOutcome(
        line=2,
        customer='=HYPERLINK("http://x")',
        customer_id=None,
        company_name="@Contoso",
        signer="-Jane +Doe",
        signer_email="jane@contoso.com",
        state="invalid",
        message="customer_id: ...",
        expires_at=datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
    )
    report = BulkSignersReport(
        rows=[], outcomes=[outcome], dry_run=False, run_key="k", run_at=datetime.now(UTC)
    )
    data = report.results_csv()
    assert data.startswith(b"\xef\xbb\xbf")
    [written] = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))
    assert written["customer"].startswith("'=") and written["company_name"] == "'@Contoso"
    assert written["signer"] == "'-Jane +Doe" and written["expires_at"] == "2026-11-27T09:30:00Z"
    assert report.invitations_zip() and zipfile.ZipFile(io.BytesIO(report.invitations_zip()))


# --- the run against the emulator in process -----------------------------------------------------


@pytest.fixture
def store(tmp_path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'desk.sqlite3'}")
    yield s
    s.dispose()


async def not_accepted(reader, count: int) -> list[Customer]:
    found = []
    for c in await reader.list_customers():
        if c.associated_partner_id:
            continue
        if not (await acceptance_status(reader, c.id, mode="first_evidence")).accepted:
            found.append(c)
            if len(found) == count:
                return found
    pytest.fail("the seed has too few customers without a current acceptance")


def emulator_counts(emulator: Emulator, ids) -> dict[str, int]:
    with emulator.store.reading() as conn:
        rows = conn.execute(
            "SELECT customer_id, count(*) FROM enhanced_attestations GROUP BY customer_id"
        ).fetchall()
    counts = {r[0]: r[1] for r in rows}
    return {cid: counts.get(cid, 0) for cid in ids}


def signer_rows(customers: list[Customer]) -> list[SignerRow]:
    return [
        row(i + 2, c.id, last_name=surname(i), email=f"signer{i}@example.com")
        for i, c in enumerate(customers)
    ]


async def test_a_cancelled_run_resumes_and_sends_nothing_twice(make_client, store, emulator):
    reader, pc = make_client(), make_client(kind=TokenKind.APP_ONLY)
    fresh = await not_accepted(reader, 6)
    rows = signer_rows(fresh)
    cancel = threading.Event()

    def progress(done: int, total: int) -> None:
        if done == 2:
            cancel.set()

    first = await run_bulk_signers(
        pc, store, ADMIN, rows, reader=reader, cancel=cancel, progress=progress, concurrency=1
    )
    assert first.cancelled and not first.ok
    assert [o.state for o in first.outcomes] == ["link_created"] * 2 + ["cancelled"] * 4
    assert "run the same file again" in first.outcomes[-1].message.lower()
    second = await run_bulk_signers(pc, store, ADMIN, rows, reader=reader)
    assert [o.state for o in second.outcomes] == ["link_reused"] * 2 + ["link_created"] * 4
    assert second.ok and not second.cancelled
    for before, after in zip(first.outcomes[:2], second.outcomes[:2], strict=True):
        assert after.attestation_id == before.attestation_id  # the same link, not a new one
    assert emulator_counts(emulator, [c.id for c in fresh]) == {c.id: 1 for c in fresh}
    summaries = [e for e in store.audit(action="bulk_attest") if e.customer_id is None and e.inputs]
    assert [e.outcome for e in summaries] == ["done", "cancelled"]  # newest first
    assert [e.outcome for e in store.audit(action="attest_enhanced")].count("link_created") == 6


class Killed(BaseException):
    """The process dying between the create call and storing its answer."""


def killing_transport(emulator: Emulator, after_creates: int) -> httpx.AsyncBaseTransport:
    inner = emulator.transport()
    creates = 0

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            nonlocal creates
            if creates >= after_creates:
                raise Killed()  # a dead process sends nothing more
            response = await inner.handle_async_request(request)
            if request.method == "POST" and request.url.path.endswith("/attestations/enhanced"):
                creates += 1
                if creates == after_creates:
                    raise Killed()  # the attestation exists; nobody hears the answer
            return response

    return Transport()


async def test_a_run_killed_mid_create_replays_the_same_request_id(make_client, store, emulator):
    reader = make_client()
    fresh = await not_accepted(reader, 3)
    rows = signer_rows(fresh)
    dying = make_client(kind=TokenKind.APP_ONLY, transport=killing_transport(emulator, 2))
    with pytest.raises(Killed):
        await run_bulk_signers(dying, store, ADMIN, rows, reader=reader, concurrency=1)
    journal = EnhancedStore(store)
    [lost] = journal.for_customer(ADMIN.partner_tenant_id, fresh[1].id)
    assert lost.state is AttestationState.CREATING  # stored before the call, answer unknown
    request = enhanced.EnhancedRequest(
        signer=lost.signer,
        company_name=lost.company_name,
        country=lost.country,
        language=lost.language,
    )
    expected = enhanced.create_request_id(ADMIN.partner_tenant_id, fresh[1].id, request, 0)
    assert lost.request_id == expected  # deterministic: the rerun sends this very id again
    report = await run_bulk_signers(
        make_client(kind=TokenKind.APP_ONLY), store, ADMIN, rows, reader=reader
    )
    # the lost create is replayed (same MS-RequestId: the emulator answers with the stored
    # attestation) before the rows run, so its row finds the link made by the killed run
    assert [o.state for o in report.outcomes] == ["link_reused", "link_reused", "link_created"]
    assert report.outcomes[1].request_id == expected and report.outcomes[1].acceptance_link
    [refresh] = store.audit(action="enhanced_refresh")
    assert "1 resumed" in refresh.detail
    assert emulator_counts(emulator, [c.id for c in fresh]) == {c.id: 1 for c in fresh}


def failing_creates(emulator: Emulator) -> httpx.AsyncBaseTransport:
    inner = emulator.transport()

    class Transport(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            if request.method == "POST" and request.url.path.endswith("/attestations/enhanced"):
                body = {"code": 500, "description": "Internal error", "isRetryable": False}
                headers = {"MS-RequestId": request.headers.get("MS-RequestId", "")}
                return httpx.Response(500, json=body, headers=headers, request=request)
            return await inner.handle_async_request(request)

    return Transport()


async def test_a_failed_row_carries_its_request_id_and_a_rerun_completes_it(
    make_client, store, emulator
):
    reader = make_client()
    fresh = await not_accepted(reader, 2)
    rows = signer_rows(fresh)
    failing = make_client(
        kind=TokenKind.APP_ONLY, transport=failing_creates(emulator), retry=RetryPolicy(1)
    )
    first = await run_bulk_signers(failing, store, ADMIN, rows, reader=reader)
    assert [o.state for o in first.outcomes] == ["failed", "failed"] and not first.ok
    assert first.refusal is None
    stored = EnhancedStore(store).for_customer(ADMIN.partner_tenant_id, fresh[0].id)
    assert first.outcomes[0].request_id == stored[0].request_id  # the create's MS-RequestId
    assert [e.outcome for e in store.audit(action="attest_enhanced")] == ["failed", "failed"]
    second = await run_bulk_signers(
        make_client(kind=TokenKind.APP_ONLY), store, ADMIN, rows, reader=reader
    )
    assert [o.state for o in second.outcomes] == ["link_created", "link_created"]
    assert emulator_counts(emulator, [c.id for c in fresh]) == {c.id: 1 for c in fresh}


async def test_an_app_user_token_is_refused_before_any_row(make_client, store):
    with pytest.raises(enhanced.AppOnlyRequired):
        await run_bulk_signers(make_client(), store, ADMIN, [row(2, UNKNOWN_GUID)])


# --- App and command line (the sandbox) -----------------------------------------------------------


def run(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def sandbox(sandbox_env, monkeypatch):
    """The sandbox with 60 customers: 40 hold too few without a current acceptance for 20."""
    monkeypatch.setenv("MCA_SANDBOX_CUSTOMERS", "60")
    app = App.from_settings(load_settings())
    return app, app.sandbox_actor("admin-agent")


def states(app: App, actor) -> dict[str, list[Customer]]:
    """Visible direct customers by acceptance state, CN customers first within each."""
    found: dict[str, list[Customer]] = {}
    for c in app.list_customers(actor):
        if not c.associated_partner_id:
            found.setdefault(app.status(actor, c.id).state, []).append(c)
    for customers in found.values():
        customers.sort(key=lambda c: c.country != "CN")
    return found


def counts_in_emulator(app: App) -> dict[str, int]:
    with app.desk.emulator.store.reading() as conn:
        rows = conn.execute(
            "SELECT customer_id, count(*) FROM enhanced_attestations GROUP BY customer_id"
        ).fetchall()
    return {r[0]: r[1] for r in rows}


def write_signers(path: Path, customers: list[Customer], *extra: str, **kw) -> Path:
    lines = [HEADER]
    for i, c in enumerate(customers):
        lines.append(f"{c.id},Jane,{surname(i)},signer{i}@example.com,,,,")
    path.write_bytes(csv_bytes(*lines, *extra, **kw))
    return path


def test_twenty_signers_get_twenty_links_and_invitations_and_a_rerun_creates_nothing(
    sandbox, tmp_path
):
    app, actor = sandbox
    by_state = states(app, actor)
    fresh = (by_state["not_accepted"] + by_state["reacceptance_required"])[:20]
    assert len(fresh) == 20 and any(c.country == "CN" for c in fresh)
    assert any(c in by_state["reacceptance_required"] for c in fresh)  # pre-2023 only: a link
    signers = write_signers(tmp_path / "signers.csv", fresh, encoding="utf-8-sig")
    results, invites = tmp_path / "results.csv", tmp_path / "invites.zip"
    code, out, err = run(
        "bulk-attest", "--channel", "enhanced", str(signers),
        "--out", str(results), "--invitations", str(invites),
    )  # fmt: skip
    assert code == 0, out + err
    assert "20 links created" in out and "creating links: 20/20" in err
    written = list(csv.DictReader(io.StringIO(results.read_text("utf-8-sig"))))
    assert [r["state"] for r in written] == ["link_created"] * 20
    assert [r["line"] for r in written] == [str(n) for n in range(2, 22)]
    assert all(r["acceptance_link"] and r["attestation_id"] and r["request_id"] for r in written)
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["expires_at"]) for r in written)
    assert {r["customer_id"] for r in written} == {c.id for c in fresh}
    assert all(r["company_name"] for r in written)  # defaulted from Partner Center's record

    archive = zipfile.ZipFile(invites)
    names = archive.namelist()
    assert len(names) == 20 and all(re.fullmatch(r"\d{5}-[\w.-]+\.eml", n) for n in names)
    country = {c.id: c.country for c in fresh}
    for name, result in zip(sorted(names), written, strict=True):
        message = email.message_from_bytes(archive.read(name), policy=email.policy.default)
        assert message["To"] == result["signer_email"]
        body = message.get_body(("plain",)).get_content()
        assert result["acceptance_link"] in body
        subject = str(message["Subject"]).strip()
        if country[result["customer_id"]] == "CN":
            assert "接受 Microsoft 客户协议" in subject and CJK.search(body), name
        else:  # a Japanese company name may be in kanji: the email is English all the same
            assert subject.startswith("Please accept the Microsoft Customer Agreement"), name
    assert counts_in_emulator(app) == {c.id: 1 for c in fresh}

    again = tmp_path / "again.csv"
    code, out, err = run(
        "--json", "bulk-attest", "--channel", "enhanced", str(signers), "--out", str(again)
    )
    assert code == 0, err
    doc = json.loads(out)
    assert doc["counts"]["link_reused"] == 20 and doc["counts"]["link_created"] == 0
    rerun = list(csv.DictReader(io.StringIO(again.read_text("utf-8-sig"))))
    assert [r["attestation_id"] for r in rerun] == [r["attestation_id"] for r in written]
    assert counts_in_emulator(app) == {c.id: 1 for c in fresh}  # nothing new in Partner Center
    audit = app.audit_events(actor.identity, action="invite")
    assert len(audit) == 20  # the invitations of the first run (the rerun wrote none)


def test_accepted_customers_are_skipped_and_the_app_returns_a_typed_report(sandbox, tmp_path):
    app, actor = sandbox
    by_state = states(app, actor)
    accepted, old, new = (
        by_state["accepted"][0],
        by_state["reacceptance_required"][0],
        by_state["not_accepted"][0],
    )
    rows = read_signers_csv(
        csv_bytes(
            HEADER,
            f"{accepted.id},Jane,Doe,jane@example.com,,,,",
            f"{old.id},Jane,Doe,jane@example.com,,,,",
            f"{new.domain},Jane,Doe,jane@example.com,,US,zh-CN,New Name Ltd",
        )
    )
    report = app.bulk_attest_signers(actor, BulkSignersRequest(rows=rows))
    assert isinstance(report, BulkSignersReport)
    assert [o.state for o in report.outcomes] == [
        "skipped_already_accepted",
        "link_created",
        "link_created",
    ]
    assert "already accepted the current MCA" in report.outcomes[0].message
    assert report.outcomes[0].attestation_id is None
    third = report.outcomes[2]
    assert third.customer_id == new.id and third.company_name == "New Name Ltd"
    assert [i.locale for i in report.invitations] == [email_locale(old.country, "en"), "zh-CN"]
    assert report.invitations_zip() == report.invitations_zip()  # the same bytes every time
    counts = counts_in_emulator(app)
    assert accepted.id not in counts and counts[old.id] == counts[new.id] == 1
    events = app.audit_events(actor.identity, action="bulk_attest")
    assert [e.outcome for e in events if e.customer_id == accepted.id] == [
        "skipped_already_accepted"
    ]

    # the customer accepts the link: "already accepted" (finalise next); then finalised: skipped
    assert run("sandbox-accept", report.outcomes[1].attestation_id or "")[0] == 0
    again = app.bulk_attest_signers(actor, BulkSignersRequest(rows=rows))
    assert [o.state for o in again.outcomes][1] == "already_accepted"
    assert run("finalise", old.id)[0] == 0
    last = app.bulk_attest_signers(actor, BulkSignersRequest(rows=rows))
    assert [o.state for o in last.outcomes] == [
        "skipped_already_accepted",
        "skipped_already_accepted",
        "link_reused",
    ]
    assert counts_in_emulator(app)[old.id] == 1


def test_invalid_rows_are_named_and_nothing_is_sent_for_them(sandbox, tmp_path):
    app, actor = sandbox
    by_state = states(app, actor)
    good, twice, bad_email, no_name, bad_country = by_state["not_accepted"][:5]
    path = tmp_path / "bad.csv"
    path.write_bytes(
        csv_bytes(
            HEADER,
            f"{good.id},Jane,Doe,jane@example.com,,,,",
            f"{twice.id},Jane,Doe,jane@example.com,,,,",
            f"{twice.domain},John,Roe,john@example.com,,,,",  # the same customer by domain
            f"{good.id},Jane,Doe,other@example.com,,,,",  # the same customer by id
            f"{bad_email.id},Jane,Doe,not-an-email,,,,",
            f"{no_name.id},,Doe,jane@example.com,,,,",
            f"{UNKNOWN_GUID},Jane,Doe,jane@example.com,,,,",
            "no-such-customer.example.com,Jane,Doe,jane@example.com,,,,",
            f"{bad_country.id},Jane,Doe,jane@example.com,,XX,,",
        )
    )
    code, out, err = run("--json", "bulk-attest", "--channel", "enhanced", str(path))
    assert code == 1, err
    doc = json.loads(out)
    by_line = {r["line"]: r for r in doc["rows"]}
    assert by_line[2]["state"] == by_line[3]["state"] == "link_created"
    invalid = {line: by_line[line]["message"] for line in range(4, 11)}
    assert all(by_line[line]["state"] == "invalid" for line in invalid)
    assert invalid[4].startswith("customer_id:") and "line 3" in invalid[4]
    assert invalid[5].startswith("customer_id:") and "line 2" in invalid[5]
    assert invalid[6].startswith("email:") and invalid[7].startswith("first_name:")
    assert invalid[8].startswith("customer_id:") and UNKNOWN_GUID in invalid[8]
    assert invalid[9].startswith("customer_id:") and "no-such-customer" in invalid[9]
    assert invalid[10].startswith("country:")
    assert doc["counts"]["invalid"] == 7 and not doc["ok"]
    assert counts_in_emulator(app) == {good.id: 1, twice.id: 1}  # nothing for the bad rows
    audited = [e for e in app.audit_events(actor.identity, action="bulk_attest") if e.inputs]
    assert sorted(e.inputs.get("line") for e in audited if e.outcome == "invalid") == list(
        range(4, 11)
    )

    code, out, err = run("bulk-attest", "--channel", "enhanced", str(path))
    assert code == 1 and "line 6" in out and "email:" in out and "run the same file" in out


def test_gb18030_needs_the_flag_and_dry_run_sends_nothing(sandbox, tmp_path):
    app, actor = sandbox
    [fresh] = states(app, actor)["not_accepted"][:1]
    path = tmp_path / "gbk.csv"
    path.write_bytes(
        csv_bytes(HEADER, f"{fresh.id},伟,李,li.wei@example.cn,,CN,zh-CN,", encoding="gb18030")
    )
    code, out, err = run("bulk-attest", "--channel", "enhanced", str(path))
    assert code == 2 and "--encoding gb18030" in err and out == ""
    code, out, err = run(
        "--json", "bulk-attest", "--channel", "enhanced", str(path), "--encoding", "gb18030",
        "--dry-run",
    )  # fmt: skip
    assert code == 0, err
    assert "Read as GB18030" in err and "李" in err
    doc = json.loads(out)
    assert doc["dry_run"] and doc["counts"]["would_create"] == 1 and doc["ok"]
    assert "李" in doc["rows"][0]["signer"]
    assert counts_in_emulator(app) == {}  # the dry run sent nothing
    assert EnhancedStore(app.desk.store).for_partner(actor.identity.partner_tenant_id) == []
    events = app.audit_events(actor.identity, action="bulk_attest")
    assert [e.outcome for e in events] == ["dry_run"]

    code, out, err = run(
        "--json", "bulk-attest", "--channel", "enhanced", str(path), "--encoding", "gb18030"
    )
    assert code == 0 and json.loads(out)["counts"]["link_created"] == 1
    [record] = EnhancedStore(app.desk.store).for_customer(
        actor.identity.partner_tenant_id, fresh.id
    )
    assert (record.signer.first_name, record.signer.last_name) == ("伟", "李")
    assert record.language == "zh-CN" and record.country == "CN"


def test_json_is_one_document_and_the_flags_are_checked_before_anything_is_sent(
    sandbox, tmp_path, monkeypatch
):
    app, actor = sandbox
    fresh = states(app, actor)["not_accepted"][:2]
    path = write_signers(tmp_path / "s.csv", fresh)
    # the installation's channel decides when --channel is not given
    monkeypatch.setenv("MCA_ATTESTATION_CHANNEL", "enhanced")
    code, out, err = run("--json", "bulk-attest", str(path), "--dry-run")
    assert code == 0, err
    doc = json.loads(out)  # exactly one document
    assert doc["channel"] == "enhanced" and doc["counts"]["would_create"] == 2
    assert set(doc["rows"][0]) >= {
        "line", "customer", "customer_id", "company_name", "signer", "signer_email", "state",
        "acceptance_link", "expires_at", "attestation_id", "request_id", "message",
    }  # fmt: skip
    code, out, _ = run("--json", "bulk-attest", str(path), "--invitations", "-")
    assert code == 2 and json.loads(out)["problems"][0]["field"] == "--invitations"
    code, out, _ = run("--json", "bulk-attest", str(path), "--invitations", str(path))
    assert code == 2 and json.loads(out)["problems"][0]["code"] == "same_as_input"
    same = str(tmp_path / "same.out")
    code, out, _ = run("--json", "bulk-attest", str(path), "--out", same, "--invitations", same)
    assert code == 2 and json.loads(out)["problems"][0]["code"] == "conflict"
    code, out, _ = run("--json", "bulk-attest", str(tmp_path / "missing.csv"))
    assert code == 2 and json.loads(out)["error"] == "unreadable_file"
    assert counts_in_emulator(app) == {}
    # the classic channel has no invitations
    code, out, err = run("bulk-attest", "--channel", "classic", str(path), "--invitations", "x")
    assert code == 2 and "--invitations" in err


def test_refused_roles_exit_3_and_ctrl_c_exits_130(sandbox, tmp_path, monkeypatch):
    app, actor = sandbox
    path = write_signers(tmp_path / "s.csv", states(app, actor)["not_accepted"][:1])
    code, out, err = run(
        "--as", "helpdesk-agent", "bulk-attest", "--channel", "enhanced", str(path)
    )
    assert code == 3 and "Refused" in err

    def interrupted(self, actor, request):
        raise KeyboardInterrupt

    monkeypatch.setattr(App, "bulk_attest_signers", interrupted)
    code, out, err = run("--json", "bulk-attest", "--channel", "enhanced", str(path))
    assert code == 130
    assert "run it again to continue; nothing is sent twice" in err.lower()
    assert json.loads(out)["error"] == "interrupted"
