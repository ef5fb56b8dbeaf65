"""The bad-input corpus: hostile or broken inputs through the desk's four doors.

Doors: the core rules (`mca_core.domain.validation`, `attestation.prepare_attestation`), the
CSV import (`bulk.read_csv` / `check_rows`), the command line (`mca_core.cli.main`) and the pages
(AppTest: the Attest form, the bulk upload, the Verify lookup, the Invitations form).

Every case ends with a clear message (it names the field, says what to do, is short, carries no
traceback) or with a correct result, asserted exactly. On the pages, what the user typed is still
in the widgets after the error: no input is ever lost.
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from mca_core.cli.main import main
from mca_core.config import load_settings
from mca_core.domain.errors import InvalidInput, Problem
from mca_core.domain.models import Contact
from mca_core.domain.validation import classify_customer_ref, utc_today
from mca_core.store.database import Store
from mca_core.usecases import bulk
from mca_core.usecases.attestation import prepare_attestation
from ui.i18n import problem_plain, translated_keys

from .apptest import visible
from .conftest import ROOT

#: The classic channel, against a tenant that still accepts it (retired in production).
pytestmark = pytest.mark.classic_tenant

#: The clock of the pure cases: noon UTC, so "today" is the same date in UTC-11 .. UTC+11.
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TODAY = NOW.date().isoformat()
#: A clear message is a sentence or two: a pasted 10,000-character value is never echoed whole.
MESSAGE_MAX_CHARS = 400
FORM = {
    "first_name": "Jane",
    "last_name": "Doe",
    "email": "jane@contoso.com",
    "phone": None,
    "date_agreed": TODAY,
}
HEADER = "customer,first_name,last_name,email,phone,date_agreed\n"
ROW = "contoso.onmicrosoft.com,Jane,Doe,jane@contoso.com,,2025-11-20\n"
FIFTY_MB = 50 * 1024 * 1024


# --- expectations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Refused:
    """The input is refused with a Problem on `field` of kind `code`; the message says `says`."""

    field: str
    code: str
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Result:
    """The input is accepted and comes out as `value` (compared exactly)."""

    value: Any


Expect = Refused | Result


def assert_clear(problems: list[Problem], expected: Refused) -> None:
    """A problem names the field and the fix, briefly, in English and (by code) in Chinese."""
    found = [p for p in problems if p.field == expected.field]
    assert found, f"no problem on {expected.field}: {[str(p) for p in problems]}"
    problem = found[0]
    assert problem.code == expected.code, str(problem)
    message = str(problem)
    assert message.startswith(f"{expected.field}:") and problem.fix.strip()
    assert len(message) <= MESSAGE_MAX_CHARS, f"{len(message)} characters: {message[:200]}"
    assert "Traceback" not in message
    for text in expected.says:
        assert text in message, message
    assert f"problem.{problem.code}" in translated_keys("zh-CN"), f"no Chinese for {problem.code}"
    chinese = problem_plain(problem, "zh-CN")  # worded by code, with the problem's parameters
    assert chinese != problem_plain(problem, "en") and problem.reason not in chinese


# --- door 1: the core rules ------------------------------------------------------------------


def typed(**fields: Any) -> tuple[Contact, date]:
    """The attest form as a whole, with some fields replaced by what a user typed."""
    return prepare_attestation(**{**FORM, **fields}, now=NOW)


def contact(**fields: Any) -> Callable[[], Contact]:
    return lambda: typed(**fields)[0]


def field_of(name: str, **fields: Any) -> Callable[[], Any]:
    return lambda: getattr(typed(**fields)[0], name)


def day_of(**fields: Any) -> Callable[[], date]:
    return lambda: typed(**fields)[1]


def ref(value: str) -> Callable[[], tuple[str, str]]:
    return lambda: classify_customer_ref(value)


GUID = "1f2e3d4c-5b6a-4789-8abc-def012345678"
LONG = "x" * 10_000

VALIDATION: list[tuple[str, Callable[[], Any], Expect]] = [
    # names: markup, invisible and direction marks, huge, and names that are fine
    (
        "name-script",
        contact(first_name="<script>alert(1)</script>"),
        Refused("first_name", "bad_character", ("(<)",)),
    ),
    (
        "name-img-onerror",
        contact(last_name='<img src=x onerror="alert(1)">'),
        Refused("last_name", "bad_character"),
    ),
    (
        "name-template-injection",
        contact(first_name="{{7*7}}"),
        Refused("first_name", "bad_character"),
    ),
    (
        "name-zero-width-space",
        contact(first_name="Ja\u200bne"),
        Refused("first_name", "bad_character", ("\\u200b",)),
    ),
    (
        "name-zero-width-joiner",
        contact(last_name="Do\u200de"),
        Refused("last_name", "bad_character"),
    ),
    (
        "name-rtl-override",
        contact(first_name="Jane\u202egnp.exe"),
        Refused("first_name", "bad_character", ("\\u202e",)),
    ),
    ("name-rtl-mark-only", contact(last_name="\u200f"), Refused("last_name", "bad_character")),
    ("name-bom", contact(first_name="\ufeffJane"), Refused("first_name", "bad_character")),
    ("name-tab", contact(first_name="Jane\tMary"), Refused("first_name", "bad_character")),
    ("name-newline", contact(last_name="Doe\nBcc: x@y.z"), Refused("last_name", "bad_character")),
    (
        "name-10000-chars",
        contact(last_name=LONG),
        Refused("last_name", "too_long", ("10000 characters", "80")),
    ),
    ("name-empty", contact(first_name="   "), Refused("first_name", "required")),
    ("name-none", contact(last_name=None), Refused("last_name", "required")),
    ("name-digits", contact(first_name="R2D2"), Refused("first_name", "digits_in_name")),
    (
        "name-formula",
        contact(first_name="=cmd|' /C calc'!A0"),
        Refused("first_name", "bad_character"),
    ),
    ("name-chinese", field_of("first_name", first_name="王小明"), Result("王小明")),
    ("name-arabic", field_of("last_name", last_name="مريم"), Result("مريم")),
    ("name-thai", field_of("first_name", first_name="สมชาย"), Result("สมชาย")),
    (
        "name-accents-apostrophe",
        field_of("last_name", last_name="  O'Brien-Núñez "),
        Result("O'Brien-Núñez"),
    ),
    ("name-nfd-normalised", field_of("first_name", first_name="Zoe\u0308"), Result("Zoë")),
    (
        "name-nbsp-and-spaces",
        field_of("first_name", first_name="Mary\u00a0  Ann"),
        Result("Mary Ann"),
    ),
    # emails: malformed, hostile, huge, and internationalised ones that are valid
    ("email-no-at", contact(email="jane.contoso.com"), Refused("email", "bad_email", ("@-sign",))),
    ("email-two-at", contact(email="jane@doe@contoso.com"), Refused("email", "bad_email")),
    ("email-space", contact(email="jane doe@contoso.com"), Refused("email", "bad_email")),
    ("email-trailing-dot", contact(email="jane@contoso.com."), Refused("email", "bad_email")),
    ("email-no-tld", contact(email="jane@localhost"), Refused("email", "bad_email")),
    ("email-ip-literal", contact(email="jane@[127.0.0.1]"), Refused("email", "bad_email")),
    (
        "email-display-name",
        contact(email="Jane Doe <jane@contoso.com>"),
        Refused("email", "bad_email"),
    ),
    ("email-script", contact(email="<script>@contoso.com"), Refused("email", "bad_email")),
    (
        "email-zero-width",
        contact(email="jane\u200b@contoso.com"),
        Refused("email", "bad_email", ("ZERO WIDTH SPACE",)),
    ),
    ("email-rtl-override", contact(email="jane\u202e@contoso.com"), Refused("email", "bad_email")),
    (
        "email-10000-chars",
        contact(email=LONG + "@contoso.com"),
        Refused("email", "too_long", ("254",)),
    ),
    ("email-empty", contact(email=""), Refused("email", "required")),
    ("email-idn-chinese", field_of("email", email="用户@例子.广告"), Result("用户@例子.广告")),
    ("email-idn-accents", field_of("email", email="josé@exämple.com"), Result("josé@exämple.com")),
    (
        "email-idn-greek",
        field_of("email", email="δοκιμή@παράδειγμα.δοκιμή"),
        Result("δοκιμή@παράδειγμα.δοκιμή"),
    ),
    (
        "email-domain-case-folded",
        field_of("email", email=" Jane@CONTOSO.COM "),
        Result("Jane@contoso.com"),
    ),
    # phone numbers of other countries, and ones that are not phone numbers
    ("phone-uk", field_of("phone_number", phone="+44 20 7946 0958"), Result("+44 20 7946 0958")),
    ("phone-china", field_of("phone_number", phone="+86 10 1234 5678"), Result("+86 10 1234 5678")),
    ("phone-japan", field_of("phone_number", phone="+81 3-1234-5678"), Result("+81 3-1234-5678")),
    ("phone-germany", field_of("phone_number", phone="+49 30 123456"), Result("+49 30 123456")),
    ("phone-india", field_of("phone_number", phone="+91 98765 43210"), Result("+91 98765 43210")),
    (
        "phone-brazil",
        field_of("phone_number", phone="+55 11 91234-5678"),
        Result("+55 11 91234-5678"),
    ),
    (
        "phone-nigeria",
        field_of("phone_number", phone="+234 803 123 4567"),
        Result("+234 803 123 4567"),
    ),
    (
        "phone-us-extension",
        field_of("phone_number", phone="+1 425 555 0100 ext 12"),
        Result("+1 425-555-0100 ext. 12"),
    ),
    (
        "phone-fullwidth-digits",
        field_of("phone_number", phone="+１ ４２５ ５５５ ０１００"),
        Result("+1 425-555-0100"),
    ),
    (
        "phone-arabic-indic-digits",
        field_of("phone_number", phone="+44 ٢٠ ٧٩٤٦ ٠٩٥٨"),
        Result("+44 20 7946 0958"),
    ),
    ("phone-optional-empty", field_of("phone_number", phone="  "), Result(None)),
    (
        "phone-national-without-country",
        contact(phone="020 7946 0958"),
        Refused("phone", "bad_phone", ("country code",)),
    ),
    ("phone-too-short", contact(phone="+44 12"), Refused("phone", "bad_phone")),
    ("phone-unknown-country-code", contact(phone="+999 123 456"), Refused("phone", "bad_phone")),
    ("phone-words", contact(phone="call me"), Refused("phone", "bad_phone")),
    ("phone-formula", contact(phone="=1+1"), Refused("phone", "bad_phone")),
    ("phone-10000-digits", contact(phone="0" * 10_000), Refused("phone", "bad_phone", ("…",))),
    # dates: before 2018, malformed, future, and forms that are the same date
    (
        "date-2017-12-31",
        contact(date_agreed="2017-12-31"),
        Refused("date_agreed", "date_too_old", ("before 2018",)),
    ),
    ("date-year-1", contact(date_agreed="0001-01-01"), Refused("date_agreed", "date_too_old")),
    (
        "date-typo-1926",
        contact(date_agreed=date(1926, 11, 20)),
        Refused("date_agreed", "date_too_old"),
    ),
    ("date-2018-01-01-is-fine", day_of(date_agreed="2018-01-01"), Result(date(2018, 1, 1))),
    ("date-february-30", contact(date_agreed="2026-02-30"), Refused("date_agreed", "bad_date")),
    ("date-month-13", contact(date_agreed="2026-13-01"), Refused("date_agreed", "bad_date")),
    (
        "date-day-first",
        contact(date_agreed="20/11/2026"),
        Refused("date_agreed", "bad_date", ("YYYY-MM-DD",)),
    ),
    ("date-month-first", contact(date_agreed="11/20/2026"), Refused("date_agreed", "bad_date")),
    ("date-word", contact(date_agreed="tomorrow"), Refused("date_agreed", "bad_date")),
    ("date-formula", contact(date_agreed="=TODAY()"), Refused("date_agreed", "bad_date")),
    ("date-10000-chars", contact(date_agreed=LONG), Refused("date_agreed", "bad_date", ("…",))),
    (
        "date-year-9999",
        contact(date_agreed="9999-12-31"),
        Refused("date_agreed", "date_in_future", (f"today in UTC ({TODAY})",)),
    ),
    (
        "date-tomorrow",
        contact(date_agreed=NOW.date() + timedelta(days=1)),
        Refused("date_agreed", "date_in_future", (f"Use {TODAY} or an earlier date",)),
    ),
    # the date is the legal content of an attestation: never defaulted, never guessed at
    ("date-empty-is-required", contact(date_agreed=""), Refused("date_agreed", "required")),
    ("date-blank-is-required", contact(date_agreed="   "), Refused("date_agreed", "required")),
    ("date-basic-iso", contact(date_agreed="20261120"), Refused("date_agreed", "bad_date")),
    ("date-week-date", contact(date_agreed="2025-W47-4"), Refused("date_agreed", "bad_date")),
    (
        "date-trailing-garbage",
        contact(date_agreed="2025-11-20 garbage"),
        Refused("date_agreed", "bad_date"),
    ),
    ("date-one-digit-month", contact(date_agreed="2025-1-20"), Refused("date_agreed", "bad_date")),
    ("date-fullwidth-digits", day_of(date_agreed="２０２６－１１－２０"), Result(NOW.date())),
    ("date-zero-width-pasted", day_of(date_agreed="2026-11-20\u200b"), Result(NOW.date())),
    ("date-rtl-mark-pasted", day_of(date_agreed="\u200f2026-11-19"), Result(date(2026, 11, 19))),
    (
        "date-with-time-and-zone",
        contact(date_agreed="2026-11-20T23:59:59-12:00"),
        Refused("date_agreed", "bad_date"),
    ),
    # customers: ids, domains instead of ids, and neither
    ("customer-guid-braces-upper", ref("{" + GUID.upper() + "}"), Result(("id", GUID))),
    ("customer-guid-no-dashes", ref(GUID.replace("-", "")), Result(("id", GUID))),
    (
        "customer-domain-instead-of-id",
        ref(" Contoso.OnMicrosoft.com "),
        Result(("domain", "contoso.onmicrosoft.com")),
    ),
    (
        "customer-domain-zero-width",
        ref("contoso.onmicrosoft.com\u200b"),
        Result(("domain", "contoso.onmicrosoft.com")),
    ),
    (
        "customer-url",
        ref("https://contoso.onmicrosoft.com"),
        Refused("customer", "bad_customer_ref", ("neither a tenant id nor a domain",)),
    ),
    ("customer-bare-name", ref("Contoso"), Refused("customer", "bad_customer_ref")),
    ("customer-script", ref("<script>alert(1)</script>"), Refused("customer", "bad_customer_ref")),
    ("customer-empty", ref("  "), Refused("customer", "required")),
    ("customer-10000-chars", ref(LONG), Refused("customer", "bad_customer_ref", ("…",))),
]


@pytest.mark.parametrize(
    ("call", "expect"), [c[1:] for c in VALIDATION], ids=[c[0] for c in VALIDATION]
)
def test_validation_door(call: Callable[[], Any], expect: Expect) -> None:
    if isinstance(expect, Refused):
        with pytest.raises(InvalidInput) as caught:
            call()
        assert_clear(caught.value.problems, expect)
    else:
        assert call() == expect.value


def test_every_problem_of_a_form_is_reported_at_once() -> None:
    with pytest.raises(InvalidInput) as caught:
        typed(first_name="<b>", last_name="", email="x", phone="1", date_agreed="2017-01-01")
    assert caught.value.fields == ["first_name", "last_name", "email", "phone", "date_agreed"]


# --- future dates in every time zone ---------------------------------------------------------

#: UTC-12 .. UTC+14 by the hour, and the zones with half and three-quarter hours.
OFFSETS = [timedelta(hours=h) for h in range(-12, 15)] + [
    timedelta(hours=-3, minutes=-30),  # Newfoundland
    timedelta(hours=5, minutes=30),  # India
    timedelta(hours=5, minutes=45),  # Nepal
    timedelta(hours=12, minutes=45),  # Chatham Islands
]


def offset_id(offset: timedelta) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@pytest.mark.parametrize("offset", OFFSETS, ids=[offset_id(o) for o in OFFSETS])
def test_local_today_and_tomorrow_in_every_time_zone(offset: timedelta) -> None:
    """A user enters their local date just after local midnight: east of UTC that date is still
    tomorrow in UTC (refused, and the message says why); elsewhere it is today (accepted)."""
    zone = timezone(offset)
    local_today = date(2026, 11, 21)
    now = datetime.combine(local_today, datetime.min.time(), zone) + timedelta(minutes=30)
    utc_day = now.astimezone(UTC).date()

    def attempt(day: date) -> tuple[Contact, date]:
        return prepare_attestation(**{**FORM, "date_agreed": day}, now=now, user_tz=zone)

    if local_today > utc_day:
        with pytest.raises(InvalidInput) as caught:
            attempt(local_today)
        [problem] = caught.value.problems
        assert_clear([problem], Refused("date_agreed", "date_in_future"))
        assert problem.params == {
            "date": local_today.isoformat(),
            "utc_today": utc_day.isoformat(),
            "local_today": local_today.isoformat(),
        }
        assert "Partner Center judges dates in UTC" in problem.reason
        assert f"Use {utc_day.isoformat()} or an earlier date" in problem.fix
    else:
        assert attempt(local_today)[1] == local_today
    with pytest.raises(InvalidInput) as caught:
        attempt(local_today + timedelta(days=1))
    assert caught.value.problems[0].code == "date_in_future"
    assert attempt(utc_day)[1] == utc_day  # today in UTC is always accepted


# --- door 2: the CSV import ------------------------------------------------------------------


@dataclass(frozen=True)
class Unusable:
    """The file as a whole is refused (code), the message says `says`."""

    code: str
    says: tuple[str, ...] = ()


@dataclass(frozen=True)
class Rows:
    """The file is read: `values` are the rows as read; `problems` the fields refused per row."""

    values: list[dict[str, str]] | None = None
    problems: list[list[str]] | None = None
    says: tuple[str, ...] = ()


def csv_text(*lines: str, header: str = HEADER) -> str:
    return header + "".join(line + "\n" for line in lines)


def row_values(customer: str, first: str, last: str, email: str, phone: str, day: str) -> dict:
    return dict(zip(bulk.COLUMNS, (customer, first, last, email, phone, day), strict=True))


JANE = row_values("contoso.onmicrosoft.com", "Jane", "Doe", "jane@contoso.com", "", "2025-11-20")
WEI = row_values("contoso.onmicrosoft.com", "伟", "李", "li.wei@contoso.cn", "", "2025-11-20")
CHINESE_CSV = csv_text("contoso.onmicrosoft.com,伟,李,li.wei@contoso.cn,,2025-11-20")
FORMULA_CSV = csv_text(
    '"=HYPERLINK(""http://evil.example"",""click"")",Jane,Doe,jane@contoso.com,,2025-11-20',
    "fabrikam.onmicrosoft.com,@SUM(A1),Roe,+cmd@x.com,-2+3,=TODAY()",
    "'-northwind.onmicrosoft.com,Ann,Lee,ann@northwind.com,'+44 20 7946 0958,2025-11-20",
)


def big_csv() -> bytes:
    """50 MB of plausible rows: refused by size before anything is parsed."""
    return (HEADER + ROW * (FIFTY_MB // len(ROW) + 1)).encode()


CSV: list[tuple[str, bytes | Callable[[], bytes], Unusable | Rows]] = [
    ("csv-empty", b"", Unusable("file_empty", ("empty",))),
    ("csv-only-blank-lines", b"\r\n \n\t\n", Unusable("file_empty")),
    ("csv-header-only", HEADER.encode(), Unusable("file_no_rows", ("header but no rows",))),
    ("csv-header-only-bom", ("\ufeff" + HEADER).encode(), Unusable("file_no_rows")),
    ("csv-bom", ("\ufeff" + HEADER + ROW).encode(), Rows([JANE], [[]])),
    (
        "csv-bom-semicolon-excel",
        ("\ufeff" + HEADER + ROW).replace(",", ";").encode(),
        Rows([JANE], [[]]),
    ),
    ("csv-sep-line", ("sep=;\n" + (HEADER + ROW).replace(",", ";")).encode(), Rows([JANE])),
    ("csv-tab-delimited", (HEADER + ROW).replace(",", "\t").encode(), Rows([JANE])),
    ("csv-crlf", (HEADER + ROW).replace("\n", "\r\n").encode(), Rows([JANE])),
    ("csv-cr-only", (HEADER + ROW).replace("\n", "\r").encode(), Rows([JANE])),
    # GB18030 only when the user chooses it (issue 11: Korean files read as plausible Chinese)
    (
        "csv-gb18030-unasked",
        CHINESE_CSV.encode("gb18030"),
        Unusable("file_encoding", ("not UTF-8", "GB18030")),
    ),
    (
        "csv-korean-cp949",
        CHINESE_CSV.replace("伟,李", "민준,김").encode("cp949"),
        Unusable("file_encoding"),
    ),
    ("csv-utf8-chinese", CHINESE_CSV.encode("utf-8"), Rows([WEI], [[]])),
    (
        "csv-gb18030-chinese-header",
        "客户,名,姓,邮箱\n".encode("gb18030"),
        Unusable("file_encoding", ("not UTF-8",)),
    ),
    ("csv-utf16-bom", (HEADER + ROW).encode("utf-16"), Rows([JANE], [[]])),
    ("csv-utf16-be", (HEADER + ROW).encode("utf-16-be"), Unusable("file_encoding", ("UTF-16",))),
    (
        "csv-utf16-no-bom",
        (HEADER + ROW).encode("utf-16-le"),
        Unusable("file_encoding", ("CSV UTF-8",)),
    ),
    ("csv-utf32", (HEADER + ROW).encode("utf-32"), Unusable("file_encoding", ("UTF-32",))),
    (
        "csv-windows-1252",
        csv_text("x.onmicrosoft.com,José,Müller,j@x.com,,2025-11-20").encode("cp1252"),
        Unusable("file_encoding", ("Windows-1252",)),
    ),
    (
        "csv-broken-utf8",
        (HEADER + ROW * 20 + "Zoë,Müller\n" * 20).encode() + b"\xff\xfe\xfa",
        Unusable("file_encoding", ("broken",)),
    ),
    (
        "csv-wrong-delimiter-pipe",
        (HEADER + ROW).replace(",", "|").encode(),
        Unusable("file_missing_columns", ("separated by commas",)),
    ),
    (
        "csv-missing-columns",
        b"customer,first_name\nx,y\n",
        Unusable("file_missing_columns", ("last_name", "email", "date_agreed")),
    ),
    (
        "csv-duplicate-columns",
        b"customer,email,first_name,last_name,E-mail,date_agreed\n",
        Unusable("file_duplicate_columns", ("E-mail",)),
    ),
    (
        "csv-header-aliases",
        b"Tenant ID,Given name,Surname,E-mail,Mobile,Date accepted\n"
        b"contoso.onmicrosoft.com,Jane,Doe,jane@contoso.com,,2025-11-20\n",
        Rows([JANE]),
    ),
    (
        "csv-excel-workbook",
        b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 64,
        Unusable("file_workbook", ("Excel workbook",)),
    ),
    (
        "csv-old-excel-workbook",
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 64,
        Unusable("file_workbook"),
    ),
    ("csv-binary", bytes(range(256)) * 8, Unusable("file_binary")),
    ("csv-nul-byte", (HEADER + ROW).encode() + b"\x00", Unusable("file_binary")),
    ("csv-50-mb", big_csv, Unusable("file_too_big", ("50.0 MB", "at most 5.0 MB"))),
    (
        "csv-10001-rows",
        (HEADER + ROW * 10_001).encode(),
        Unusable("file_too_many_rows", ("10,000",)),
    ),
    (
        "csv-cell-over-csv-limit",
        (HEADER + "x," * 5 + "1" * 200_000 + "\n").encode(),
        Unusable("file_line_too_long", ("line 2",)),
    ),
    (
        "csv-formula-cells",
        FORMULA_CSV.encode(),
        Rows(
            [
                row_values(
                    '=HYPERLINK("http://evil.example","click")',
                    "Jane",
                    "Doe",
                    "jane@contoso.com",
                    "",
                    "2025-11-20",
                ),
                row_values(
                    "fabrikam.onmicrosoft.com", "@SUM(A1)", "Roe", "+cmd@x.com", "-2+3", "=TODAY()"
                ),
                # the ' that our own exports put before formula-like values is taken off again
                row_values(
                    "-northwind.onmicrosoft.com",
                    "Ann",
                    "Lee",
                    "ann@northwind.com",
                    "+44 20 7946 0958",
                    "2025-11-20",
                ),
            ],
            [["customer"], ["first_name", "phone", "date_agreed"], ["customer"]],
        ),
    ),
    (
        "csv-10000-char-cells",
        csv_text(f"{LONG},{LONG},Doe,jane@contoso.com,{LONG},{LONG}").encode(),
        Rows(
            None, [["customer", "first_name", "phone", "date_agreed"]], ("10,000 characters long",)
        ),
    ),
    (
        "csv-zero-width-and-rtl",
        csv_text(
            "contoso.onmicrosoft.com\u200b,Jane,Doe,jane@contoso.com,,2025-11-20",
            "fabrikam.onmicrosoft.com,Jane\u202e,Doe,jane@fabrikam.com,,2025-11-20\u200f",
        ).encode(),
        Rows(None, [["customer"], ["first_name", "date_agreed"]], ("U+200B",)),
    ),
    (
        "csv-html-names",
        csv_text(
            "contoso.onmicrosoft.com,<script>alert(1)</script>,<img src=x onerror=alert(1)>,"
            "jane@contoso.com,,2025-11-20"
        ).encode(),
        Rows(None, [["first_name", "last_name"]]),
    ),
    (
        "csv-future-and-old-dates",
        csv_text(
            "a.onmicrosoft.com,Jane,Doe,jane@a.com,,2099-01-01",
            "b.onmicrosoft.com,Jane,Doe,jane@b.com,,2017-12-31",
            "c.onmicrosoft.com,Jane,Doe,jane@c.com,,20/11/2025",
        ).encode(),
        Rows(None, [["date_agreed"], ["date_agreed"], ["date_agreed"]]),
    ),
    (
        "csv-excel-date-forms",
        csv_text(
            "a.onmicrosoft.com,Jane,Doe,jane@a.com,,2025/11/20",
            "b.onmicrosoft.com,Jane,Doe,jane@b.com,,2025年11月20日",
            "c.onmicrosoft.com,Jane,Doe,jane@c.com,,2025-11-20 00:00:00",
        ).encode(),
        Rows(None, [[], [], []]),
    ),
    (
        "csv-duplicated-rows",
        (HEADER + ROW + ROW + ROW.upper().replace("JANE@", "jane@")).encode(),
        Rows(None, [[], ["customer"], ["customer"]], ("already on line 2",)),
    ),
    (
        "csv-unbalanced-quote",
        csv_text(
            'contoso.onmicrosoft.com,"Jane,Doe,jane@contoso.com,,2025-11-20',
            "fabrikam.onmicrosoft.com,Ann,Lee,ann@fabrikam.com,,2025-11-20",
        ).encode(),
        Unusable("file_malformed", ("quote",)),
    ),
    (
        "csv-unquoted-comma",
        csv_text(
            "contoso.onmicrosoft.com,Jane,Doe,jane@contoso.com,,2025-11-20,Contoso, Ltd"
        ).encode(),
        Rows(None, [["row"]], ("more cell(s) than the header",)),
    ),
    (
        "csv-short-row",
        csv_text("contoso.onmicrosoft.com,Jane").encode(),
        Rows(None, [["last_name", "email", "date_agreed"]]),
    ),
    (
        "csv-domain-instead-of-id",
        csv_text(
            f"{GUID.upper()},Jane,Doe,jane@contoso.com,,2025-11-20",
            "Fabrikam.OnMicrosoft.com,Ann,Lee,ann@fabrikam.com,+86 10 1234 5678,2025-11-20",
        ).encode(),
        Rows(None, [[], []]),
    ),
]


@pytest.mark.parametrize(("data", "expect"), [c[1:] for c in CSV], ids=[c[0] for c in CSV])
def test_csv_door(data: bytes | Callable[[], bytes], expect: Unusable | Rows) -> None:
    raw = data() if callable(data) else data
    started = time.perf_counter()
    if isinstance(expect, Unusable):
        with pytest.raises(bulk.CsvUnusable) as caught:
            bulk.read_csv(raw)
        assert time.perf_counter() - started < 2.0  # refused quickly, even at 50 MB
        assert_clear(caught.value.problems, Refused("file", expect.code, expect.says))
        return
    checks = bulk.check_rows(bulk.read_csv(raw), now=NOW)
    if expect.values is not None:
        assert [c.row.values() for c in checks] == expect.values
    if expect.problems is not None:
        assert [[p.field for p in c.problems] for c in checks] == expect.problems
        for check in checks:
            for problem in check.problems:
                assert len(str(problem)) <= MESSAGE_MAX_CHARS, str(problem)[:200]
    joined = " ".join(c.message for c in checks)
    for text in expect.says:
        assert text in joined, joined


def test_domains_and_ids_in_a_csv_resolve_to_the_same_customer() -> None:
    data = next(c[1] for c in CSV if c[0] == "csv-domain-instead-of-id")
    assert isinstance(data, bytes)
    checks = bulk.check_rows(bulk.read_csv(data), now=NOW)
    assert [c.customer_ref for c in checks] == [
        ("id", GUID),
        ("domain", "fabrikam.onmicrosoft.com"),
    ]
    assert checks[1].contact is not None
    assert checks[1].contact.phone_number == "+86 10 1234 5678"


# --- door 3: the command line ----------------------------------------------------------------


@dataclass(frozen=True)
class Exit:
    """The exit code, what stderr names, and (code 0/1) a check of the JSON document."""

    code: int
    says: tuple[str, ...] = ()
    check: Callable[[Any, dict[str, str]], None] | None = None


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def attest(
    *extra: str,
    customer: str = "{id}",
    first: str = "Jane",
    last: str = "Doe",
    email: str = "jane@contoso.com",
) -> list[str]:
    return [
        "attest",
        customer,
        "--first-name",
        first,
        "--last-name",
        last,
        "--email",
        email,
        # the classic channel never defaults the date: today in UTC unless the case sets one
        *(() if "--date" in extra else ("--date", datetime.now(UTC).date().isoformat())),
        *extra,
    ]


def attested_as(customer_key: str, **fields: str) -> Callable[[Any, dict[str, str]], None]:
    def check(doc: Any, ctx: dict[str, str]) -> None:
        assert doc["customer_id"] == ctx[customer_key] and doc["outcome"] == "attested"
        for name, value in fields.items():
            assert doc["attestation"][name] == value, doc["attestation"]

    return check


def bulk_rows(*expected: tuple[str, str]) -> Callable[[Any, dict[str, str]], None]:
    """Each row's (outcome, customer id or a text its message holds), in file order."""

    def check(doc: Any, ctx: dict[str, str]) -> None:
        rows = doc["rows"]
        assert [r["outcome"] for r in rows] == [e[0] for e in expected], rows
        for row, (_, what) in zip(rows, expected, strict=True):
            wanted = ctx.get(what.strip("{}"), what) if what.startswith("{") else what
            assert wanted in (row["customer_id"] or "") + row["message"], row

    return check


FileContent = str | bytes | Callable[[dict[str, str]], bytes]


def bulk_file(name: str, content: FileContent) -> tuple[str, FileContent]:
    """A file for `{file}`: bytes as they are, text filled in and UTF-8, or built from the
    context (the sandbox's customer ids and domains)."""
    return name, content


def in_gb18030(*lines: str) -> Callable[[dict[str, str]], bytes]:
    return lambda ctx: fill(csv_text(*lines), ctx).encode("gb18030")


def status_of(customer_key: str) -> Callable[[Any, dict[str, str]], None]:
    def check(doc: Any, ctx: dict[str, str]) -> None:
        assert doc["customer_id"] == ctx[customer_key], doc

    return check


CLI: list[tuple[str, list[str], tuple[str, FileContent] | None, Exit]] = [
    (
        "cli-name-script",
        attest(first="<script>alert(1)</script>"),
        None,
        Exit(2, ("first_name", "(<)")),
    ),
    ("cli-name-zero-width", attest(last="Do\u200be"), None, Exit(2, ("last_name",))),
    ("cli-name-rtl", attest(first="\u202eenaJ"), None, Exit(2, ("first_name",))),
    ("cli-name-10000-chars", attest(last=LONG), None, Exit(2, ("last_name", "at most 80"))),
    ("cli-email-malformed", attest(email="jane(at)contoso.com"), None, Exit(2, ("email",))),
    (
        "cli-email-idn",
        attest(email="用户@例子.广告"),
        None,
        Exit(0, check=attested_as("id", email="用户@例子.广告")),
    ),
    (
        "cli-chinese-name",
        attest(first="伟", last="李", email="li.wei@contoso.cn"),
        None,
        Exit(0, check=attested_as("id", first_name="伟", last_name="李")),
    ),
    (
        "cli-phone-uk",
        attest("--phone", "+44 20 7946 0958"),
        None,
        Exit(0, check=attested_as("id", phone_number="+44 20 7946 0958")),
    ),
    ("cli-phone-not-a-number", attest("--phone", "12"), None, Exit(2, ("phone",))),
    (
        "cli-date-future",
        attest("--date", "2099-01-01"),
        None,
        Exit(2, ("date_agreed", "later than today in UTC")),
    ),
    (
        "cli-date-before-2018",
        attest("--date", "2017-06-30"),
        None,
        Exit(2, ("date_agreed", "before 2018")),
    ),
    (
        "cli-date-day-first",
        attest("--date", "30/06/2025"),
        None,
        Exit(2, ("date_agreed", "YYYY-MM-DD")),
    ),
    (
        "cli-unknown-customer-id",
        attest(customer="00000000-0000-4000-8000-000000000001"),
        None,
        Exit(2, ("customer", "No customer with tenant id")),
    ),
    (
        "cli-unknown-domain",
        attest(customer="nosuch.onmicrosoft.com"),
        None,
        Exit(2, ("customer", "No customer with domain")),
    ),
    (
        "cli-domain-instead-of-id",
        attest(customer="{DOMAIN}"),
        None,
        Exit(0, check=attested_as("id")),
    ),
    (
        "cli-neither-id-nor-domain",
        attest(customer="Contoso Ltd"),
        None,
        Exit(2, ("customer", "neither a tenant id nor a domain")),
    ),
    ("cli-empty-customer", attest(customer=""), None, Exit(2, ("customer", "empty"))),
    ("cli-status-10000-chars", ["status", LONG], None, Exit(2, ("CUSTOMER_ID",))),
    ("cli-status-domain", ["status", "{DOMAIN}"], None, Exit(0, check=status_of("id"))),
    (
        "cli-helpdesk-attests",
        ["--as", "helpdesk-agent", *attest()],
        None,
        Exit(3, ("Refused", "Helpdesk agent")),
    ),
    (
        "cli-reseller-attests",
        ["--as", "indirect-reseller", *attest()],
        None,
        Exit(3, ("Refused", "Indirect resellers can never attest")),
    ),
    (
        "cli-bulk-missing-file",
        ["bulk-attest", "{tmp}/nowhere.csv"],
        None,
        Exit(2, ("Cannot read",)),
    ),
    (
        "cli-bulk-empty",
        ["bulk-attest", "{file}"],
        bulk_file("empty.csv", b""),
        Exit(2, ("file", "empty")),
    ),
    (
        "cli-bulk-header-only",
        ["bulk-attest", "{file}"],
        bulk_file("h.csv", HEADER),
        Exit(2, ("file", "no rows")),
    ),
    (
        "cli-bulk-utf16",
        ["bulk-attest", "{file}"],
        bulk_file("u.csv", (HEADER + ROW).encode("utf-16-le")),  # no BOM (with one it is read)
        Exit(2, ("file", "UTF-16")),
    ),
    (
        "cli-bulk-50-mb",
        ["bulk-attest", "--dry-run", "{file}"],
        bulk_file("big.csv", lambda ctx: big_csv()),
        Exit(2, ("file", "50.0 MB", "5.0 MB")),
    ),
    (
        "cli-bulk-wrong-delimiter",
        ["bulk-attest", "{file}"],
        bulk_file("p.csv", (HEADER + ROW).replace(",", "|")),
        Exit(2, ("file", "lacks the column")),
    ),
    (
        "cli-bulk-gb18030",
        ["--json", "bulk-attest", "--dry-run", "--encoding", "gb18030", "{file}"],
        bulk_file("zh.csv", in_gb18030("{DOMAIN},伟,李,li.wei@contoso.cn,,2025-11-20")),
        Exit(0, check=bulk_rows(("would_attest", "{id}"))),
    ),
    (
        "cli-bulk-bom-semicolon",
        ["--json", "bulk-attest", "--dry-run", "{file}"],
        bulk_file(
            "bom.csv",
            ("\ufeff" + csv_text("{ID},Jane,Doe,jane@contoso.com,,2025-11-20")).replace(",", ";"),
        ),
        Exit(0, check=bulk_rows(("would_attest", "{id}"))),
    ),
    (
        "cli-bulk-domains-unknown-duplicates",
        ["--json", "bulk-attest", "--dry-run", "{file}"],
        bulk_file(
            "mixed.csv",
            csv_text(
                "{DOMAIN},Jane,Doe,jane@contoso.com,,2025-11-20",
                "{ID},Jane,Doe,jane@contoso.com,,2025-11-20",
                "nosuch.onmicrosoft.com,Ann,Lee,ann@x.com,,2025-11-20",
                "99999999-9999-4999-8999-999999999999,Ann,Lee,ann@x.com,,2025-11-20",
                "{OTHER},Bo,Roe,bo@x.com,,2099-01-01",
            ),
        ),
        Exit(
            1,
            check=bulk_rows(
                ("would_attest", "{id}"),
                ("invalid", "already on line 2"),
                ("invalid", "No customer with domain nosuch.onmicrosoft.com"),
                ("invalid", "No customer with tenant id"),
                ("invalid", "later than today in UTC"),
            ),
        ),
    ),
    (
        "cli-invite-bad-recipient",
        ["invite", "mca", "--customer", "{id}", "--to", "not-an-email"],
        None,
        Exit(2, ("to", "not valid")),
    ),
    (
        "cli-invite-new-without-password",
        ["invite", "mca", "--customer", "{id}", "--user-name", "admin"],
        None,
        Exit(2, ("MCA_CUSTOMER_TEMP_PASSWORD",)),
    ),
]


def cli_context(tmp: Path) -> dict[str, str]:
    """Two customers of the sandbox that have not accepted yet (ids and domains, in other
    cases than Partner Center's), and the tmp folder."""
    code, out, err = cli("--json", "customers")
    assert code == 0, err
    waiting = []
    for customer in json.loads(out):
        code, status, err = cli("--json", "status", customer["id"])
        assert code == 0, err
        if not json.loads(status)["accepted"]:
            waiting.append(customer)
        if len(waiting) == 2:
            break
    first, other = waiting
    return {
        "id": first["id"],
        "ID": first["id"].upper(),
        "DOMAIN": first["domain"].upper(),
        "OTHER": other["id"],
        "tmp": str(tmp),
    }


def fill(text: str, ctx: dict[str, str]) -> str:
    for name, value in ctx.items():
        text = text.replace("{" + name + "}", value)
    return text


@pytest.mark.parametrize(("argv", "file", "expect"), [c[1:] for c in CLI], ids=[c[0] for c in CLI])
def test_cli_door(
    sandbox_env: Path, argv: list[str], file: tuple[str, FileContent] | None, expect: Exit
) -> None:
    ctx = cli_context(sandbox_env)
    if file is not None:
        name, content = file
        if callable(content):
            data = content(ctx)
        elif isinstance(content, str):
            data = fill(content, ctx).encode()
        else:
            data = content
        path = sandbox_env / name
        path.write_bytes(data)
        ctx["file"] = str(path)
    args = [fill(a, ctx) for a in argv]
    if expect.check is not None and "--json" not in args:
        args.insert(0, "--json")
    started = time.perf_counter()
    code, out, err = cli(*args)
    assert "Traceback" not in out + err
    assert code == expect.code, (code, err[:500])
    assert time.perf_counter() - started < 10
    for text in expect.says:
        assert text in err, err[:500]
    if code in (2, 3):
        assert len(err) <= 2 * MESSAGE_MAX_CHARS, err[:300]
    if expect.check is not None:
        expect.check(json.loads(out), ctx)


def test_a_usage_error_is_a_message_and_exit_code_2(sandbox_env: Path, capsys) -> None:
    """argparse's own refusals (a required flag missing) end with usage, never a traceback."""
    with pytest.raises(SystemExit) as caught:
        cli("attest", "x.onmicrosoft.com", "--first-name", "Jane")
    assert caught.value.code == 2
    err = capsys.readouterr().err
    assert "--last-name" in err and "--email" in err and "Traceback" not in err


# --- door 4: the pages -----------------------------------------------------------------------

ATTEST = str(ROOT / "pages" / "2_Attest.py")
VERIFY = str(ROOT / "pages" / "3_Verify.py")
INVITATIONS = str(ROOT / "pages" / "4_Invitations.py")


def open_page(path: str, **state: Any) -> AppTest:
    at = AppTest.from_file(path, default_timeout=60)
    at.session_state["sandbox_user_key"] = "admin-agent"
    for key, value in state.items():
        at.session_state[key] = value
    return ran(at)


def ran(target: Any) -> AppTest:
    at = target.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def errors(at: AppTest) -> str:
    return "\n".join(visible(e.value) for e in at.error)


def first_customer() -> dict[str, str]:
    code, out, err = cli("--json", "customers")
    assert code == 0, err
    return json.loads(out)[0]


def attest_form(customer: str, **fields: str) -> AppTest:
    """The existing-customer form with a customer chosen (typed), the contact and today's UTC
    date filled in, and *Review attestation* pressed."""
    at = open_page(ATTEST, ex_customer=customer)
    values = {"ex_first": "Jane", "ex_last": "Doe", "ex_email": "jane@contoso.com", **fields}
    for key, value in values.items():
        at.text_input(key=key).set_value(value)
    at.date_input(key="ex_date").set_value(utc_today())
    return ran(next(b for b in at.button if b.label == "Review attestation").click())


def type_new_option(at: AppTest, key: str, text: str) -> AppTest:
    """What the browser sends when a user types a value that is not among a type-ahead's
    options (`accept_new_options`): AppTest only selects listed options, so list it first."""
    box = at.selectbox(key=key)
    if text not in box.options:
        box.options.append(text)
    box.set_value(text)
    return at


def kept(at: AppTest, values: dict[str, str]) -> None:
    for key, value in values.items():
        assert at.text_input(key=key).value == value, key


def page_attest_hostile_name_and_bad_email(tmp: Path) -> None:
    customer = first_customer()["id"]
    typed_in = {
        "ex_first": "<script>alert(1)</script>",
        "ex_last": "Do\u200be",
        "ex_email": "jane(at)contoso.com",
        "ex_phone": "+44 12",
    }
    at = attest_form(customer, **typed_in)
    message = errors(at)
    for label in ("First name", "Last name", "Email", "Phone"):
        assert label in message, message
    kept(at, typed_in)
    assert not Store(load_settings().resolved_store_url).audit(action="attest", outcome="attested")


def page_attest_10000_characters(tmp: Path) -> None:
    at = attest_form(first_customer()["id"], ex_last=LONG)
    assert "Last name" in errors(at) and "at most 80" in errors(at)
    assert LONG not in errors(at)  # reported by length, not echoed
    kept(at, {"ex_last": LONG})


def page_attest_future_date_in_utc(tmp: Path) -> None:
    at = open_page(ATTEST, ex_customer=first_customer()["id"])
    at.text_input(key="ex_first").set_value("Jane")
    at.text_input(key="ex_last").set_value("Doe")
    at.text_input(key="ex_email").set_value("jane@contoso.com")
    at.date_input(key="ex_date").set_value(utc_today() + timedelta(days=1))
    ran(next(b for b in at.button if b.label == "Review attestation").click())
    assert "Acceptance date" in errors(at) and "later than today in UTC" in errors(at)
    assert at.date_input(key="ex_date").value == utc_today() + timedelta(days=1)
    kept(at, {"ex_first": "Jane", "ex_email": "jane@contoso.com"})


def page_attest_customer_typo_keeps_the_contact(tmp: Path) -> None:
    """The form refused a bad email; the user then changes the customer, with a typo: the form
    waits for a real customer, and what was typed is still there once it is corrected."""
    customer = first_customer()["id"]
    typed_in = {"ex_first": "Jane", "ex_last": "Doe", "ex_email": "jane(at)contoso.com"}
    at = attest_form(customer, **typed_in)
    assert "Email" in errors(at)
    ran(type_new_option(at, "ex_customer", "nosuch.onmicrosoft.com"))
    assert "Customer" in errors(at) and "No customer with domain nosuch" in errors(at)
    assert at.selectbox(key="ex_customer").value == "nosuch.onmicrosoft.com"
    assert not [t for t in at.text_input if t.key == "ex_first"]  # no form without a customer
    ran(type_new_option(at, "ex_customer", customer))
    kept(at, typed_in)


def page_attest_domain_instead_of_id(tmp: Path) -> None:
    customer = first_customer()
    at = attest_form(
        customer["domain"].upper(), ex_first="伟", ex_last="李", ex_email="用户@例子.广告"
    )
    ran(next(b for b in at.button if b.label == "Confirm and attest").click())
    assert any("Attested." in s.value for s in at.success), errors(at)
    [event] = Store(load_settings().resolved_store_url).audit(action="attest")
    assert event.customer_id == customer["id"] and event.outcome == "attested"
    assert (event.inputs["first_name"], event.inputs["email"]) == ("伟", "用户@例子.广告")


def bulk_upload(data: bytes) -> AppTest:
    at = open_page(ATTEST, attest_tab="Bulk (CSV)")
    at.file_uploader[0].set_value(("rows.csv", data, "text/csv"))
    return ran(at)


def page_bulk_utf16(tmp: Path) -> None:
    data = (HEADER + ROW).encode("utf-16-le")  # no BOM (with one it is read)
    at = bulk_upload(data)
    assert "File" in errors(at) and "UTF-16" in errors(at) and "CSV UTF-8" in errors(at)
    assert at.session_state["bulk_bytes"] == data  # the file is kept


def page_bulk_header_only(tmp: Path) -> None:
    at = bulk_upload(("\ufeff" + HEADER).encode())
    assert "File" in errors(at) and "header but no rows" in errors(at)


def page_bulk_50_mb(tmp: Path) -> None:
    path = tmp / "big.csv"
    path.write_bytes(big_csv())
    started = time.perf_counter()
    at = bulk_upload(path.read_bytes())
    assert time.perf_counter() - started < 15
    assert "50.0 MB" in errors(at) and "5.0 MB" in errors(at)
    assert not at.data_editor


def page_bulk_formula_cells(tmp: Path) -> None:
    at = bulk_upload(FORMULA_CSV.encode())
    grid = at.data_editor[0].value
    assert grid.loc[0, "customer"] == '=HYPERLINK("http://evil.example","click")'  # as typed
    assert all("invalid" in s for s in grid["state"])
    assert "Customer" in grid.loc[0, "problems"] and "First name" in grid.loc[1, "problems"]


def page_bulk_gb18030_semicolons(tmp: Path) -> None:
    customer = first_customer()
    text = csv_text(
        f"{customer['domain']};王;小明;wang@contoso.cn;+86 10 1234 5678;2025-11-20",
        header=HEADER.replace(",", ";"),
    )
    at = open_page(ATTEST, attest_tab="Bulk (CSV)")
    at.selectbox(key="bulk_encoding").set_value("gb18030")  # never read as GB18030 unasked
    at.file_uploader[0].set_value(("rows.csv", text.encode("gb18030"), "text/csv"))
    at = ran(at)
    grid = at.data_editor[0].value
    assert list(grid[["first_name", "last_name", "phone"]].iloc[0]) == [
        "王",
        "小明",
        "+86 10 1234 5678",
    ]
    assert "ready" in grid.loc[0, "state"], grid.loc[0, "problems"]


def page_verify_script_reference(tmp: Path) -> None:
    hostile = '<img src=x onerror="alert(1)">'
    at = open_page(VERIFY, vf_customer=hostile)
    assert "Customer" in errors(at) and "neither a tenant id nor a domain" in errors(at)
    assert at.selectbox(key="vf_customer").value == hostile


def page_verify_unknown_id(tmp: Path) -> None:
    unknown = "00000000-0000-4000-8000-000000000001"
    at = open_page(VERIFY, vf_customer=unknown)
    assert "Customer" in errors(at) and "No customer with tenant id" in errors(at)
    assert at.selectbox(key="vf_customer").value == unknown


def page_verify_domain_with_zero_width(tmp: Path) -> None:
    customer = first_customer()
    at = open_page(VERIFY, vf_customer=customer["domain"].upper() + "\u200b")
    assert not at.error
    assert at.subheader[0].value == customer["company_name"]
    assert customer["id"] in " ".join(c.value for c in at.caption)


def page_invitations_bad_recipient(tmp: Path) -> None:
    customer = first_customer()["id"]
    at = open_page(INVITATIONS, inv1_customer=customer)
    at.text_input(key="inv1_to").set_value("jane(at)contoso.com")
    ran(next(b for b in at.button if b.key == "inv1_generate").click())
    assert "Recipient" in errors(at) and "not valid" in errors(at)
    assert at.text_input(key="inv1_to").value == "jane(at)contoso.com"
    assert at.selectbox(key="inv1_customer").value == customer


def page_invitations_new_customer_without_password(tmp: Path) -> None:
    customer = first_customer()["id"]
    at = open_page(INVITATIONS, inv1_customer=customer, inv1_mode="new")
    at.text_input(key="inv1_user").set_value("admin with spaces")
    at.text_input(key="inv1_to").set_value("用户@例子.广告")
    ran(next(b for b in at.button if b.key == "inv1_generate").click())
    message = errors(at)
    assert "Temporary password" in message and "Sign-in name" in message, message
    kept(at, {"inv1_user": "admin with spaces", "inv1_to": "用户@例子.广告"})


PAGES: list[tuple[str, Callable[[Path], None]]] = [
    ("page-attest-hostile-name-and-bad-email", page_attest_hostile_name_and_bad_email),
    ("page-attest-10000-characters", page_attest_10000_characters),
    ("page-attest-future-date-in-utc", page_attest_future_date_in_utc),
    ("page-attest-customer-typo-keeps-the-contact", page_attest_customer_typo_keeps_the_contact),
    ("page-attest-domain-instead-of-id", page_attest_domain_instead_of_id),
    ("page-bulk-utf16", page_bulk_utf16),
    ("page-bulk-header-only", page_bulk_header_only),
    ("page-bulk-50-mb", page_bulk_50_mb),
    ("page-bulk-formula-cells", page_bulk_formula_cells),
    ("page-bulk-gb18030-semicolons", page_bulk_gb18030_semicolons),
    ("page-verify-script-reference", page_verify_script_reference),
    ("page-verify-unknown-id", page_verify_unknown_id),
    ("page-verify-domain-with-zero-width", page_verify_domain_with_zero_width),
    ("page-invitations-bad-recipient", page_invitations_bad_recipient),
    (
        "page-invitations-new-customer-without-password",
        page_invitations_new_customer_without_password,
    ),
]


@pytest.mark.parametrize("case", [c[1] for c in PAGES], ids=[c[0] for c in PAGES])
def test_page_door(sandbox_env: Path, case: Callable[[Path], None]) -> None:
    case(sandbox_env)


# --- the corpus as a whole -------------------------------------------------------------------


def test_the_corpus_holds_at_least_100_distinct_cases_through_every_door() -> None:
    doors = {
        "validation": [c[0] for c in VALIDATION] + [offset_id(o) for o in OFFSETS],
        "csv": [c[0] for c in CSV],
        "cli": [c[0] for c in CLI],
        "pages": [c[0] for c in PAGES],
    }
    ids = [case for cases in doors.values() for case in cases]
    assert len(ids) == len(set(ids)), "case ids must be unique"
    assert len(ids) >= 100, len(ids)
    assert {door: len(cases) >= 10 for door, cases in doors.items()} == dict.fromkeys(doors, True)
    assert len(OFFSETS) == 31 and offset_id(OFFSETS[0]) == "UTC-12:00"
    assert offset_id(OFFSETS[26]) == "UTC+14:00"
