"""Every rule of `mca_core.domain.validation` with its boundaries."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from mca_core.domain.errors import AccessRefused, InvalidInput, Problem
from mca_core.domain.models import Identity, PartnerType, Role
from mca_core.domain.validation import (
    NAME_MAX_LENGTH,
    check_customer_id,
    check_date_agreed,
    check_domain_prefix,
    check_may_attest,
    classify_customer_ref,
    may_attest,
    validate_contact,
    validate_date_agreed,
)

UTC_PLUS_14 = timezone(timedelta(hours=14))
UTC_MINUS_12 = timezone(timedelta(hours=-12))


def ident(role: Role, ptype: PartnerType = PartnerType.DIRECT_BILL, known: bool = True):
    return Identity(
        user_id="u",
        display_name="U",
        role=role,
        partner_type=ptype,
        role_known=known,
        provider_name="Fabrikam Distribution",
    )


# --- who may attest --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "ptype", "allowed"),
    [
        (Role.ADMIN_AGENT, PartnerType.DIRECT_BILL, True),
        (Role.SALES_AGENT, PartnerType.DIRECT_BILL, True),
        (Role.ADMIN_AGENT, PartnerType.INDIRECT_PROVIDER, True),
        (Role.SALES_AGENT, PartnerType.INDIRECT_PROVIDER, True),
        (Role.HELPDESK_AGENT, PartnerType.DIRECT_BILL, False),
        (Role.NONE, PartnerType.DIRECT_BILL, False),
        (Role.ADMIN_AGENT, PartnerType.INDIRECT_RESELLER, False),
        (Role.SALES_AGENT, PartnerType.INDIRECT_RESELLER, False),
    ],
)
def test_who_may_attest(role, ptype, allowed):
    identity = ident(role, ptype)
    assert may_attest(identity) is allowed
    if allowed:
        check_may_attest(identity)
    else:
        with pytest.raises(AccessRefused):
            check_may_attest(identity)


def test_indirect_reseller_is_pointed_to_its_provider():
    with pytest.raises(AccessRefused) as err:
        check_may_attest(ident(Role.ADMIN_AGENT, PartnerType.INDIRECT_RESELLER))
    assert err.value.code == "reseller_cannot_attest"
    assert "Fabrikam Distribution" in err.value.fix
    assert "Request to my indirect provider" in err.value.fix


def test_helpdesk_message_names_the_roles_that_may():
    with pytest.raises(AccessRefused) as err:
        check_may_attest(ident(Role.HELPDESK_AGENT))
    assert "Admin agent" in str(err.value) and "Sales agent" in str(err.value)


def test_unknown_role_is_left_to_the_service_but_resellers_never_pass():
    assert may_attest(ident(Role.NONE, known=False))
    assert not may_attest(ident(Role.NONE, PartnerType.INDIRECT_RESELLER, known=False))


# --- contact -------------------------------------------------------------------------------


def test_valid_contact_is_cleaned():
    c = validate_contact("  Jane ", "Doe", "Jane@Contoso.com", "+1 425 555 0100")
    assert (c.first_name, c.last_name) == ("Jane", "Doe")
    assert c.email == "Jane@contoso.com"  # domain normalised, local part kept
    assert c.phone_number == "+1 425-555-0100"


def test_chinese_names_and_phone():
    c = validate_contact("伟", "王", "wang.wei@example.cn", "+86 10 6552 9988")
    assert c.first_name == "伟" and c.last_name == "王"
    assert c.phone_number.startswith("+86")


def test_phone_is_optional():
    assert validate_contact("Jane", "Doe", "jane@contoso.com", "").phone_number is None
    assert validate_contact("Jane", "Doe", "jane@contoso.com", None).phone_number is None


def test_all_problems_are_reported_at_once():
    with pytest.raises(InvalidInput) as err:
        validate_contact("", "  ", "not-an-email", "12")
    assert err.value.fields == ["first_name", "last_name", "email", "phone"]
    for problem in err.value.problems:
        assert problem.reason and problem.fix


@pytest.mark.parametrize(
    "name",
    ["<script>alert(1)</script>", "Jane\u200b", "Jane\u202eeoD", "Ja\x00ne", "R2D2", "a=b"],
)
def test_names_refuse_markup_invisible_and_control_characters(name):
    with pytest.raises(InvalidInput) as err:
        validate_contact(name, "Doe", "jane@contoso.com")
    assert err.value.fields == ["first_name"]


def test_name_length_bound():
    validate_contact("J" * NAME_MAX_LENGTH, "Doe", "jane@contoso.com")
    with pytest.raises(InvalidInput) as err:
        validate_contact("J" * (NAME_MAX_LENGTH + 1), "Doe", "jane@contoso.com")
    assert err.value.problems[0].code == "too_long"


@pytest.mark.parametrize(
    "email",
    [
        "jane",
        "jane@",
        "@contoso.com",
        "jane@@contoso.com",
        "jane doe@contoso.com",
        "a" * 250 + "@x.com",
    ],
)
def test_bad_emails(email):
    with pytest.raises(InvalidInput) as err:
        validate_contact("Jane", "Doe", email)
    assert err.value.fields == ["email"]


def test_internationalised_email_is_accepted():
    assert validate_contact("Li", "Na", "李娜@例子.中国").email.startswith("李娜@")


@pytest.mark.parametrize("phone", ["+1 425 555", "abc", "+44 20 7946 0958 12345"])
def test_bad_phones(phone):
    with pytest.raises(InvalidInput) as err:
        validate_contact("Jane", "Doe", "jane@contoso.com", phone)
    assert err.value.problems[0].code == "bad_phone"


# --- acceptance date ------------------------------------------------------------------------


def test_today_in_utc_is_fine():
    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    assert validate_date_agreed("2026-11-20", now=now) == date(2026, 11, 20)


def test_tomorrow_in_utc_is_refused_with_the_utc_date():
    now = datetime(2026, 11, 20, 23, 59, 59, tzinfo=UTC)
    result = check_date_agreed("2026-11-21", now=now)
    assert isinstance(result, Problem)
    assert result.code == "date_in_future"
    assert "2026-11-20" in result.reason and "UTC" in result.reason


def test_midnight_boundary():
    just_after = datetime(2026, 11, 21, 0, 0, 0, tzinfo=UTC)
    assert validate_date_agreed("2026-11-21", now=just_after) == date(2026, 11, 21)
    just_before = just_after - timedelta(microseconds=1)
    with pytest.raises(InvalidInput):
        validate_date_agreed("2026-11-21", now=just_before)


def test_user_east_of_utc_early_morning_is_told_both_dates():
    # 08:00 on the 21st in UTC+14 is 18:00 on the 20th in UTC.
    now = datetime(2026, 11, 21, 8, 0, tzinfo=UTC_PLUS_14)
    result = check_date_agreed("2026-11-21", now=now, user_tz=UTC_PLUS_14)
    assert isinstance(result, Problem)
    assert "2026-11-21" in result.reason and "2026-11-20" in result.reason
    assert "local date" in result.reason
    assert result.params == {
        "date": "2026-11-21",
        "utc_today": "2026-11-20",
        "local_today": "2026-11-21",
    }


def test_user_west_of_utc_late_evening_may_use_the_utc_date():
    # 20:00 on the 20th in UTC-12 is 08:00 on the 21st in UTC: the 21st is allowed.
    now = datetime(2026, 11, 20, 20, 0, tzinfo=UTC_MINUS_12)
    assert validate_date_agreed("2026-11-21", now=now, user_tz=UTC_MINUS_12) == date(2026, 11, 21)
    assert validate_date_agreed("2026-11-20", now=now, user_tz=UTC_MINUS_12) == date(2026, 11, 20)


def test_dates_before_2018_are_typos():
    now = datetime(2026, 11, 20, tzinfo=UTC)
    assert validate_date_agreed("2018-01-01", now=now) == date(2018, 1, 1)
    result = check_date_agreed("2017-12-31", now=now)
    assert isinstance(result, Problem) and result.code == "date_too_old"


@pytest.mark.parametrize("text", ["", "   ", None])
def test_date_is_required(text):
    result = check_date_agreed(text, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert isinstance(result, Problem) and result.code == "required"


@pytest.mark.parametrize("text", ["20/11/2026", "2026-13-01", "yesterday", "2026-02-30"])
def test_bad_dates(text):
    result = check_date_agreed(text, now=datetime(2026, 11, 20, tzinfo=UTC))
    assert isinstance(result, Problem) and result.code == "bad_date"


def test_date_objects_and_aware_datetimes():
    now = datetime(2026, 11, 20, 12, tzinfo=UTC)
    assert validate_date_agreed(date(2026, 11, 1), now=now) == date(2026, 11, 1)
    east = datetime(2026, 11, 21, 1, tzinfo=UTC_PLUS_14)  # = 2026-11-20 11:00 UTC
    assert validate_date_agreed(east, now=now) == date(2026, 11, 20)


# --- customers --------------------------------------------------------------------------------


def test_customer_id_is_a_guid():
    guid = "1F2E3D4C-5B6A-4789-8ABC-DEF012345678"
    assert check_customer_id(guid) == guid.lower()
    assert check_customer_id("{" + guid + "}") == guid.lower()
    problem = check_customer_id("contoso")
    assert isinstance(problem, Problem) and "domain" in problem.fix


def test_customer_reference_is_id_or_domain():
    assert classify_customer_ref("contoso.onmicrosoft.com") == ("domain", "contoso.onmicrosoft.com")
    assert classify_customer_ref(" Contoso.OnMicrosoft.com ")[0] == "domain"
    assert classify_customer_ref("1F2E3D4C-5b6a-4789-8abc-def012345678") == (
        "id",
        "1f2e3d4c-5b6a-4789-8abc-def012345678",
    )
    with pytest.raises(InvalidInput):
        classify_customer_ref("not a customer!")


def test_domain_prefix():
    assert check_domain_prefix("Contoso2026") == "contoso2026"
    assert check_domain_prefix("contoso.onmicrosoft.com") == "contoso"
    for bad in ("", "con-toso", "con toso", "x" * 28, "contoso.com"):
        assert isinstance(check_domain_prefix(bad), Problem)
