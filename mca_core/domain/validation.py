"""Every rule of the domain in one place, as pure functions.

Each rule returns a clean value or raises `InvalidInput` / `AccessRefused` whose message names the
field, says why, and says what to do. The UI translates by `Problem.code`; the CLI prints
the English.
Nothing here calls Partner Center or reads a clock it was not given.
"""

from __future__ import annotations

import re
import unicodedata
import uuid
from collections.abc import Iterable
from datetime import UTC, date, datetime, tzinfo

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from mca_core.domain.errors import AccessRefused, InvalidInput, Problem
from mca_core.domain.models import Contact, Identity, PartnerType, Role

#: Partner Center's MCA did not exist before 2019; before 2018 is surely a typo.
EARLIEST_AGREEMENT_DATE = date(2018, 1, 1)
NAME_MAX_LENGTH = 80
EMAIL_MAX_LENGTH = 254
ATTESTING_ROLES = frozenset({Role.ADMIN_AGENT, Role.SALES_AGENT})
#: Where an indirect reseller writes to its provider instead of attesting.
PROVIDER_REQUEST_PAGE = "Invitations → Request to my indirect provider"

_FORBIDDEN_NAME_CHARS = set('<>"{}[]\\|;=@#$%^*_~`')


# --- who may do what -------------------------------------------------------------------------


def may_attest(identity: Identity) -> bool:
    """True when the user may confirm a customer's acceptance (locally; the service judges too)."""
    if identity.partner_type is PartnerType.INDIRECT_RESELLER:
        return False
    if not identity.role_known:
        return True  # a pre-acquired token: Partner Center's 403 decides
    return identity.role in ATTESTING_ROLES


def check_may_attest(identity: Identity) -> None:
    """Raise AccessRefused, with where to go instead, unless the user may attest. (A reseller's
    Manager is told its role: it may not write to the provider either.)"""
    if identity.partner_type is PartnerType.INDIRECT_RESELLER and identity.role is not Role.MANAGER:
        provider = identity.provider_name or "your indirect provider"
        raise AccessRefused(
            "attest",
            "Indirect resellers can never attest that a customer accepted the MCA.",
            f"Ask {provider} to attest: write the request on {PROVIDER_REQUEST_PAGE}.",
            code="reseller_cannot_attest",
        )
    if identity.role_known and identity.role not in ATTESTING_ROLES:
        raise AccessRefused(
            "attest",
            f"Your role ({identity.role.label}) may not attest; only Admin agents and Sales "
            "agents may.",
            "Ask an Admin agent or a Sales agent of your organisation, or verify the customer's "
            "status instead.",
            code="role_cannot_attest",
        )


def may_create_customer(identity: Identity) -> bool:
    return not identity.role_known or identity.role in ATTESTING_ROLES


def check_may_create_customer(identity: Identity) -> None:
    if not may_create_customer(identity):
        raise AccessRefused(
            "create_customer",
            f"Your role ({identity.role.label}) may not create customers.",
            "Ask an Admin agent or a Sales agent.",
            code="role_cannot_create",
        )


def may_request_relationship_link(identity: Identity) -> bool:
    return not identity.role_known or identity.role in ATTESTING_ROLES


# --- people ----------------------------------------------------------------------------------


def _clean_text(value: object) -> str:
    text = "" if value is None else str(value)
    return unicodedata.normalize("NFC", text).strip()


#: Longest piece of the user's own input repeated in a message (a pasted page stays readable).
SHOWN_MAX_CHARS = 60


def shown(text: str, limit: int = SHOWN_MAX_CHARS) -> str:
    """The user's value as a message repeats it: cut to `limit` characters with an ellipsis."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plain_token(value: object) -> str:
    """An id, domain or date as typed: compatibility forms folded (full-width digits, as a
    Chinese IME types them) and invisible marks (zero-width, direction marks) dropped."""
    text = unicodedata.normalize("NFKC", "" if value is None else str(value))
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").strip()


def check_person_name(value: object, field: str, label: str) -> str | Problem:
    """A name in any script (Chinese included), trimmed; no markup, controls or invisible marks."""
    text = _clean_text(value)
    if not text:
        return Problem(field, f"{label} is empty.", f"Enter the {label.lower()}.", code="required")
    if len(text) > NAME_MAX_LENGTH:
        return Problem(
            field,
            f"{label} is {len(text)} characters long; at most {NAME_MAX_LENGTH} are allowed.",
            "Shorten it to the name as the person writes it.",
            code="too_long",
            params={"length": str(len(text)), "max": str(NAME_MAX_LENGTH)},
        )
    for ch in text:
        category = unicodedata.category(ch)
        if category in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp") or ch in _FORBIDDEN_NAME_CHARS:
            shown = repr(ch) if category.startswith("C") or category.startswith("Z") else ch
            return Problem(
                field,
                f"{label} contains a character a name cannot hold ({shown}).",
                "Type the name again using letters, spaces, apostrophes, dots or hyphens.",
                code="bad_character",
            )
        if category == "Nd":
            return Problem(
                field,
                f"{label} contains digits.",
                "Enter the person's name, not an id or a phone number.",
                code="digits_in_name",
            )
    return re.sub(r"\s+", " ", text)


def check_email(value: object, field: str = "email") -> str | Problem:
    """Syntax only (deliverability off: a customer's mail domain may not resolve from here)."""
    text = _clean_text(value)
    if not text:
        return Problem(
            field,
            "Email is empty.",
            "Enter the email address of the person who accepted.",
            code="required",
        )
    if len(text) > EMAIL_MAX_LENGTH:
        return Problem(
            field,
            f"Email is longer than {EMAIL_MAX_LENGTH} characters.",
            "Check the address.",
            code="too_long",
        )
    try:
        info = validate_email(text, check_deliverability=False)
    except EmailNotValidError as exc:
        return Problem(
            field,
            f"Email '{text}' is not valid: {exc}",
            "Correct the address, for example jane@contoso.com.",
            code="bad_email",
            params={"value": text},
        )
    return info.normalized


def check_phone(
    value: object, field: str = "phone", default_region: str | None = None
) -> str | Problem | None:
    """Optional; when given it must be a possible number. International form (+CC ...) is kept."""
    text = _clean_text(value)
    if not text:
        return None
    region = None if text.startswith("+") else (default_region or None)
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return Problem(
            field,
            f"Phone '{shown(text)}' is not a phone number.",
            "Write it in international form with the country code, e.g. +1 425 555 0100, or "
            "leave it empty (it is optional).",
            code="bad_phone",
            params={"value": shown(text)},
        )
    if not phonenumbers.is_possible_number(number):
        return Problem(
            field,
            f"Phone '{shown(text)}' has the wrong number of digits for its country.",
            "Check the number and its country code (e.g. +86 for China, +44 for the UK).",
            code="bad_phone",
            params={"value": shown(text)},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def validate_contact(
    first_name: object,
    last_name: object,
    email: object,
    phone: object = None,
    *,
    default_region: str | None = None,
    prefix: str = "",
) -> Contact:
    """The person at the customer who accepted the MCA. Reports every problem at once."""
    results = {
        "first_name": check_person_name(first_name, f"{prefix}first_name", "First name"),
        "last_name": check_person_name(last_name, f"{prefix}last_name", "Last name"),
        "email": check_email(email, f"{prefix}email"),
        "phone": check_phone(phone, f"{prefix}phone", default_region),
    }
    problems = [v for v in results.values() if isinstance(v, Problem)]
    if problems:
        raise InvalidInput(problems)
    return Contact(
        first_name=str(results["first_name"]),
        last_name=str(results["last_name"]),
        email=str(results["email"]),
        phone_number=results["phone"] if isinstance(results["phone"], str) else None,
    )


# --- dates -----------------------------------------------------------------------------------


def utc_today(now: datetime | None = None) -> date:
    """Partner Center judges `dateAgreed` against its own clock, in UTC."""
    return (now or datetime.now(UTC)).astimezone(UTC).date()


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}", re.ASCII)


def check_date_agreed(
    value: object,
    *,
    now: datetime | None = None,
    user_tz: tzinfo | None = None,
    field: str = "date_agreed",
) -> date | Problem:
    """Required (an empty value is an error, never today); exactly YYYY-MM-DD; a calendar date
    not later than today in UTC and not before 2018."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return Problem(
            field,
            "The acceptance date is empty.",
            "Enter the date the customer accepted, as YYYY-MM-DD.",
            code="required",
        )
    if isinstance(value, datetime):
        day = value.astimezone(UTC).date() if value.tzinfo else value.date()
    elif isinstance(value, date):
        day = value
    else:
        # Exactly YYYY-MM-DD: the date is the legal content of an attestation, so a value
        # with a time, a week date or digits run together is refused, never guessed at.
        text = _plain_token(value)
        try:
            if not _ISO_DAY.fullmatch(text):
                raise ValueError(text)
            day = date.fromisoformat(text)
        except ValueError:
            return Problem(
                field,
                f"'{shown(text)}' is not a date.",
                "Write the date as YYYY-MM-DD, e.g. 2026-11-20.",
                code="bad_date",
                params={"value": shown(text)},
            )
    now_utc = (now or datetime.now(UTC)).astimezone(UTC)
    today_utc = now_utc.date()
    if day > today_utc:
        params = {"date": day.isoformat(), "utc_today": today_utc.isoformat()}
        reason = f"{day.isoformat()} is later than today in UTC ({today_utc.isoformat()})."
        if user_tz is not None:
            local_today = now_utc.astimezone(user_tz).date()
            params["local_today"] = local_today.isoformat()
            if local_today != today_utc:
                reason += (
                    f" Your local date is already {local_today.isoformat()}, but Partner Center "
                    "judges dates in UTC."
                )
        return Problem(
            field,
            reason,
            f"Use {today_utc.isoformat()} or an earlier date.",
            code="date_in_future",
            params=params,
        )
    if day < EARLIEST_AGREEMENT_DATE:
        return Problem(
            field,
            f"{day.isoformat()} is before 2018; the Microsoft Customer Agreement did not exist "
            "then.",
            "Check the year: it is likely a typo.",
            code="date_too_old",
            params={"date": day.isoformat()},
        )
    return day


def validate_date_agreed(
    value: object, *, now: datetime | None = None, user_tz: tzinfo | None = None
) -> date:
    result = check_date_agreed(value, now=now, user_tz=user_tz)
    if isinstance(result, Problem):
        raise InvalidInput(result)
    return result


# --- customers -------------------------------------------------------------------------------

_DOMAIN_RE = re.compile(r"^(?=.{4,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")
_DOMAIN_PREFIX_RE = re.compile(r"^[a-z0-9]{1,27}$")


def check_customer_id(value: object, field: str = "customer_id") -> str | Problem:
    """A customer's id is its tenant GUID; returned lower-case without braces."""
    text = _plain_token(value).strip("{}")
    if not text:
        return Problem(
            field,
            "The customer is empty.",
            "Enter the customer's tenant id (a GUID) or its domain.",
            code="required",
        )
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return Problem(
            field,
            f"'{shown(text)}' is not a tenant id (a GUID like "
            "1f2e3d4c-5b6a-4789-8abc-def012345678).",
            "Paste the customer's tenant id, or give its domain (e.g. contoso.onmicrosoft.com) "
            "and the desk looks the id up.",
            code="bad_customer_id",
            params={"value": shown(text)},
        )


def classify_customer_ref(value: object, field: str = "customer") -> tuple[str, str]:
    """('id', guid) or ('domain', domain): a domain is resolved through the customer list filter."""
    text = _plain_token(value).strip("{}").lower()
    checked = check_customer_id(text, field)
    if isinstance(checked, str):
        return "id", checked
    if checked.code == "required":
        raise InvalidInput(checked)
    if _DOMAIN_RE.match(text):
        return "domain", text
    raise InvalidInput(
        Problem(
            field,
            f"'{shown(_clean_text(value))}' is neither a tenant id nor a domain.",
            "Give the customer's tenant id (a GUID) or its domain, e.g. contoso.onmicrosoft.com.",
            code="bad_customer_ref",
            params={"value": shown(_clean_text(value))},
        )
    )


def check_domain_prefix(value: object, field: str = "domain_prefix") -> str | Problem:
    """The part before `.onmicrosoft.com`: lower-case letters and digits, 1 to 27 of them."""
    text = _clean_text(value).lower().removesuffix(".onmicrosoft.com")
    if not text:
        return Problem(
            field,
            "The domain prefix is empty.",
            "Choose the prefix of the customer's .onmicrosoft.com domain, e.g. contoso.",
            code="required",
        )
    if not _DOMAIN_PREFIX_RE.match(text):
        return Problem(
            field,
            f"'{shown(text)}' cannot be an .onmicrosoft.com prefix.",
            "Use 1 to 27 lower-case letters or digits, with no spaces, dots or hyphens.",
            code="bad_domain_prefix",
            params={"value": shown(text)},
        )
    return text


def check_required_text(
    value: object, field: str, label: str, max_length: int = 200
) -> str | Problem:
    text = _clean_text(value)
    if not text:
        return Problem(field, f"{label} is empty.", f"Enter the {label.lower()}.", code="required")
    if len(text) > max_length:
        return Problem(
            field,
            f"{label} is longer than {max_length} characters.",
            "Shorten it.",
            code="too_long",
        )
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in text):
        return Problem(
            field,
            f"{label} contains invisible or control characters.",
            "Type it again.",
            code="bad_character",
        )
    return text


def check_country(value: object, field: str = "country") -> str | Problem:
    text = _clean_text(value).upper()
    if text not in phonenumbers.SUPPORTED_REGIONS:
        return Problem(
            field,
            f"'{shown(text)}' is not a country code.",
            "Use the two-letter ISO code, e.g. US, GB, CN.",
            code="bad_country",
            params={"value": shown(text)},
        )
    return text


def raise_problems(results: Iterable[object]) -> None:
    """Raise one InvalidInput carrying every Problem among `results`."""
    problems = [r for r in results if isinstance(r, Problem)]
    if problems:
        raise InvalidInput(problems)
