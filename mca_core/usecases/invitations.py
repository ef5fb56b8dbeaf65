"""The emails that get a customer's MCA accepted, ready to hand to a mail program.

Three generators (Partner Center only ever offered a raw template with a copy button):

1. *invite to accept* (`mca_new`, `mca_existing`): the Microsoft 365 admin center URL where the
   customer accepts the MCA itself; for a new customer also the sign-in name and temporary
   password saved when the customer was created;
2. *reseller relationship request* (`reseller`): the partner's personalised link from
   `GET /v1/customers/relationshiprequests` (indirect variants by parameter); accepting the
   relationship also accepts the MCA;
3. *request to my indirect provider* (`provider_request`): an indirect reseller, which can never
   attest, asks its provider to attest for a named customer or to send its relationship link.

Subjects and bodies come from Jinja2 templates in `mca_core/templates/email` (one `.txt` with a
`subject` and a `body` block, and one autoescaped `.html`, per kind and locale), rendered with
`StrictUndefined` so nothing is left unrendered. The locale is the customer's (or the provider's),
never the UI language.

The temporary password goes into the email body only. Rendered emails carry `PASSWORD_MASK` where
the password stands, so a screen can show the body without it; `Email.password` (a SecretStr that
is never printed, stored or audited) puts it back at hand-off (`revealed_text`, `mailto_for`,
`eml_for`). The use cases check access again, validate, render and audit every attempt (action
`invite`: kind, customer, recipient domain and locale; never the password).

Hand-off: `mailto_url` (percent-encoded, CR/LF stripped from recipient and subject, None when too
long for a mailto link) and `build_eml` (RFC 5322 via the standard library's `email` package,
UTF-8, 7-bit clean, `X-Unsent: 1` so Outlook opens it as a draft ready to send).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, Literal
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape
from pydantic import SecretStr

from mca_core.delivery import LOCALES as DESK_LOCALES
from mca_core.domain.access import (
    check_may_invite_to_accept,
    check_may_request_from_provider,
    check_may_request_relationship,
)
from mca_core.domain.errors import ConfigurationError, InvalidInput, McaError, Problem
from mca_core.domain.models import MCA_ACCEPTANCE_URL, Contact, Customer, Identity, PartnerType
from mca_core.domain.validation import (
    check_customer_id,
    check_email,
    check_required_text,
    validate_contact,
)
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.database import Store
from mca_core.store.invitation_log import GENERATED
from mca_core.usecases import audit, invitation_records
from mca_core.usecases.status import resolve_customer

ACTION = "invite"
Kind = Literal["mca_new", "mca_existing", "reseller", "provider_request"]
KINDS: tuple[str, ...] = ("mca_new", "mca_existing", "reseller", "provider_request")
#: The enhanced attestation's acceptance link (generated from the Attest page, `enhanced.py`).
ENHANCED_KIND = "enhanced_acceptance"
RENDERABLE_KINDS: tuple[str, ...] = (*KINDS, ENHANCED_KIND)
LOCALES = DESK_LOCALES  # the languages the desk writes every email in
ProviderAsk = Literal["attest", "link"]
PROVIDER_ASKS: tuple[str, ...] = ("attest", "link")
#: Kinds whose emails may carry a new customer's temporary password (masked in the bodies).
PASSWORD_KINDS: tuple[str, ...] = ("mca_new", "reseller")
#: Stands where the temporary password goes, until the email is handed off.
PASSWORD_MASK = "••••••••"
#: About the shortest limit among common browsers and mail clients (Outlook on Windows stops
#: near 2,083 characters); longer links are cut or refused silently, so the desk says so instead.
MAILTO_MAX_LENGTH = 2000
#: A .eml file that is 7-bit clean (base64 / quoted-printable bodies, RFC 2047 headers), CRLF.
EML_POLICY = policy.SMTP.clone(cte_type="7bit")

_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029\x00]+")
_URL = re.compile(r"https?://[^\s<>\"']+")
_LOCALE_ALIASES = {
    "en": "en",
    "en-us": "en",
    "en-gb": "en",
    "english": "en",
    "zh": "zh-CN",
    "zh-cn": "zh-CN",
    "zh-hans": "zh-CN",
    "zh-hans-cn": "zh-CN",
    "zh_cn": "zh-CN",
    "chinese": "zh-CN",
}


# --- the email ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Email:
    """One generated email. Bodies show `PASSWORD_MASK` where the password goes."""

    kind: str
    locale: str
    subject: str
    text_body: str
    html_body: str | None
    #: The link or URL the email exists to carry; an edited body must keep it.
    required_link: str | None
    to: str = ""
    customer_id: str | None = None
    #: The new customer's temporary password (`mca_new`, or `reseller` with the new customer's
    #: sign-in); never printed or stored.
    password: SecretStr | None = field(default=None, repr=False, compare=False)
    #: The company the email greets (what the invitation log records beside the customer id).
    company_name: str = ""
    #: The enhanced attestation whose acceptance link the email carries (`enhanced_acceptance`).
    attestation_id: str | None = None

    @property
    def needs_password(self) -> bool:
        """True while a body holds the mask but the password is not known (any more)."""
        return self.password is None and PASSWORD_MASK in self.text_body

    def without_password(self) -> Email:
        """The same email, forgetting the password (what a screen may keep between runs)."""
        return replace(self, password=None)

    def with_password(self, password: str | SecretStr | None) -> Email:
        """The same email holding the password again (read back from the screen's field)."""
        if isinstance(password, str):
            password = SecretStr(password) if password else None
        return replace(self, password=password)

    def edited(self, *, subject: str, body: str) -> Email:
        """The email as the partner edited it: the link must stay, the subject stays one line.

        The HTML part is the template's while the body is unchanged, else the edited text
        escaped into the same layout (so the alternative parts never disagree).
        """
        check_body_keeps_link(body, self.required_link)
        body = _normal_newlines(body)
        html = self.html_body
        if body.strip() != self.text_body.strip():
            html = text_to_html(body, subject, self.locale)
        return replace(self, subject=single_line(subject), text_body=body, html_body=html)

    @property
    def revealed_text(self) -> str:
        return reveal_password(self.text_body, self.password)

    @property
    def revealed_html(self) -> str | None:
        if self.html_body is None:
            return None
        return reveal_password(self.html_body, self.password, html=True)


def reveal_password(text: str, password: SecretStr | str | None, *, html: bool = False) -> str:
    """Put the password where the mask stands (escaped for HTML). No password: unchanged."""
    if password is None:
        return text
    secret = password.get_secret_value() if isinstance(password, SecretStr) else password
    if not secret:
        return text
    return text.replace(PASSWORD_MASK, str(escape(secret)) if html else secret)


# --- rendering ---------------------------------------------------------------------------------


@lru_cache(maxsize=1)
def environment() -> Environment:
    """Templates ship inside the package; `.html` is autoescaped, `.txt` is plain text."""
    return Environment(
        loader=PackageLoader("mca_core", "templates/email"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
    )


def check_locale(value: object, field: str = "locale") -> str:
    """The email's language: `en` or `zh-CN` (common spellings like zh, zh-Hans accepted)."""
    text = str(value or "").strip()
    found = _LOCALE_ALIASES.get(text.lower().replace("_", "-")) or _LOCALE_ALIASES.get(text.lower())
    if found is None:
        raise InvalidInput(
            Problem(
                field,
                f"'{text}' is not a language the emails are written in.",
                f"Choose one of: {', '.join(LOCALES)}.",
                code="bad_locale",
                params={"value": text, "choices": ", ".join(LOCALES)},
            )
        )
    return found


def single_line(text: str) -> str:
    """Header-safe: CR, LF (and other line breaks, NUL) become one space; trimmed."""
    return re.sub(r"[ \t]{2,}", " ", _LINE_BREAKS.sub(" ", text or "")).strip()


def _normal_newlines(text: str) -> str:
    body = (text or "").replace("\r\n", "\n").replace("\r", "\n")
    return body.strip("\n") + "\n"


def render(
    kind: str,
    locale: str,
    *,
    to: str = "",
    customer_id: str | None = None,
    required_link: str | None = None,
    password: SecretStr | None = None,
    **context: Any,
) -> Email:
    """Render one kind in one locale. Every template variable must be given (StrictUndefined).

    For `mca_new` (and `reseller` with a new customer's sign-in), pass the real password as
    `password` (kept on the Email, never rendered): the bodies carry `PASSWORD_MASK` instead.
    """
    if kind not in RENDERABLE_KINDS:
        raise ValueError(f"unknown email kind {kind!r}; one of {RENDERABLE_KINDS}")
    locale = check_locale(locale)
    env = environment()
    text_template = env.get_template(f"{kind}.{locale}.txt")
    # The password never reaches a body: the mask stands in its place until the hand-off.
    values = {**context, "password": PASSWORD_MASK} if kind in PASSWORD_KINDS else dict(context)
    ctx = text_template.new_context(values)
    subject = single_line("".join(text_template.blocks["subject"](ctx)))
    ctx = text_template.new_context(values)
    body = _normal_newlines(_collapse_blank_lines("".join(text_template.blocks["body"](ctx))))
    html_template = env.get_template(f"{kind}.{locale}.html")
    html = html_template.render(**values, subject=subject, html_lang=locale)
    return Email(
        kind=kind,
        locale=locale,
        subject=subject,
        text_body=body,
        html_body=html,
        required_link=required_link,
        to=to,
        customer_id=customer_id,
        password=password,
        company_name=str(context.get("company_name") or ""),
    )


def _collapse_blank_lines(text: str) -> str:
    return re.sub(r"\n{3,}", "\n\n", text)


def text_to_html(body: str, subject: str, locale: str) -> str:
    """An edited text body as HTML: escaped, paragraphs kept, links clickable."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", _normal_newlines(body).strip("\n")):
        lines = [_linkify(line) for line in block.split("\n")]
        paragraphs.append(Markup("<br>\n").join(lines))
    template = environment().get_template("_edited.html")
    return template.render(
        paragraphs=paragraphs, subject=single_line(subject), html_lang=check_locale(locale)
    )


def _linkify(line: str) -> Markup:
    out = Markup("")
    last = 0
    for match in _URL.finditer(line):
        url = match.group(0).rstrip(".,;:)")
        end = match.start() + len(url)
        out += escape(line[last : match.start()])
        out += Markup('<a href="{0}" style="color:#0f6cbd;">{0}</a>').format(url)
        last = end
    return out + escape(line[last:])


# --- rules of an edited email ------------------------------------------------------------------


def check_body_keeps_link(body: str, link: str | None) -> None:
    """The personalised link or acceptance URL is why the email exists: it must stay unchanged."""
    if link and link not in (body or ""):
        raise InvalidInput(
            Problem(
                "body",
                f"The body no longer contains the link {link}, which the customer needs.",
                "Put the link back exactly as it was (or regenerate the email), then send it.",
                code="link_removed",
                params={"link": link},
            )
        )


def recipient_domain(address: str) -> str:
    """What the audit log keeps of a recipient: the domain only."""
    return address.rpartition("@")[2].strip().lower() if "@" in (address or "") else ""


def check_recipient(value: object, field: str = "to") -> str:
    """Optional: empty means the partner fills it in the mail program."""
    text = str(value or "").strip()
    if not text:
        return ""
    result = check_email(text, field)
    if isinstance(result, Problem):
        raise InvalidInput(result)
    return result


def _organisation_labels(domain: str) -> set[str]:
    """The labels of a domain that can name an organisation, hyphens folded: the prefix of a
    `*.onmicrosoft.com` domain, else every label but the last (the top-level domain)."""
    labels = domain.strip().strip(".").casefold().split(".")
    if domain.casefold().endswith(".onmicrosoft.com"):
        labels = labels[:1]
    elif len(labels) > 1:
        labels = labels[:-1]
    return {label.replace("-", "") for label in labels if len(label) > 2}


def recipient_outside_customer(to: str, customer_domains: Iterable[str]) -> bool:
    """True when the recipient's domain matches none of the customer's domains: a warning
    before a customer's data is sent to someone else (e.g. a recipient left over from the
    previous customer). A match is the same domain or a subdomain of one, or the same
    organisation name (`contoso.com` for `contoso.onmicrosoft.com`). An empty recipient, or a
    customer with no known domain, is not judged."""
    address = single_line(to).strip()
    if "@" not in address:
        return False
    recipient = address.rsplit("@", 1)[1].casefold().strip(".")
    domains = [d.casefold().strip(".") for d in customer_domains if d and d.strip(".")]
    if not recipient or not domains:
        return False
    for domain in domains:
        if recipient == domain or recipient.endswith("." + domain):
            return False
    names = set().union(*(_organisation_labels(d) for d in domains))
    return not (names & _organisation_labels(recipient))


# --- hand-off ----------------------------------------------------------------------------------


def mailto_url(to: str, subject: str, body: str, max_length: int = MAILTO_MAX_LENGTH) -> str | None:
    """An RFC 6068 mailto: link, or None when longer than `max_length` (use the .eml then).

    Recipient and subject lose every line break (no header injection); everything is
    percent-encoded, so a literal `%0A` typed by someone arrives as the text `%0A`.
    """
    recipient = quote(single_line(to), safe="@")
    crlf_body = "\r\n".join(_normal_newlines(body).rstrip("\n").split("\n"))
    query = f"subject={quote(single_line(subject), safe='')}&body={quote(crlf_body, safe='')}"
    url = f"mailto:{recipient}?{query}"
    return url if len(url) <= max_length else None


def build_eml(
    to: str,
    subject: str,
    text_body: str,
    html_body: str | None = None,
    sender: str | None = None,
    *,
    now: datetime | None = None,
) -> bytes:
    """An RFC 5322 message (UTF-8, 7-bit clean, CRLF) a mail program opens as a draft."""
    return build_message(to, subject, text_body, html_body, sender, now=now).as_bytes()


def build_message(
    to: str,
    subject: str,
    text_body: str,
    html_body: str | None = None,
    sender: str | None = None,
    *,
    now: datetime | None = None,
    draft: bool = True,
) -> EmailMessage:
    """The message of `build_eml` (multipart text + HTML); `draft=False` leaves out
    `X-Unsent` (what the desk sends itself over SMTP)."""
    message = EmailMessage(policy=EML_POLICY)
    if sender and single_line(sender):
        message["From"] = single_line(sender)
    if to and single_line(to):
        message["To"] = single_line(to)
    message["Subject"] = single_line(subject)
    message["Date"] = format_datetime(now or datetime.now(UTC))
    if draft:
        message["X-Unsent"] = "1"
    message.set_content(_normal_newlines(text_body), charset="utf-8")
    if html_body:
        message.add_alternative(html_body, subtype="html", charset="utf-8")
    return message


def mailto_for(email: Email, max_length: int = MAILTO_MAX_LENGTH) -> str | None:
    return mailto_url(email.to, email.subject, email.revealed_text, max_length)


def eml_for(email: Email, sender: str | None = None, *, now: datetime | None = None) -> bytes:
    return build_eml(
        email.to, email.subject, email.revealed_text, email.revealed_html, sender, now=now
    )


def message_for(email: Email, sender: str, *, now: datetime | None = None) -> EmailMessage:
    """The email as the desk sends it: the password revealed in this message only."""
    return build_message(
        email.to, email.subject, email.revealed_text, email.revealed_html, sender, now=now,
        draft=False,
    )  # fmt: skip


def eml_file_name(email: Email) -> str:
    """A safe file name: kind and customer, nothing a file system could trip on."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{email.kind}-{email.customer_id or 'email'}")
    return f"{stem.strip('-')[:80]}.eml"


# --- use cases ---------------------------------------------------------------------------------


def _gather(*checks: Callable[[], Any]) -> list[Any]:
    """Run every check and report every problem at once (the form shows them together)."""
    values: list[Any] = []
    problems: list[Problem] = []
    for check in checks:
        try:
            values.append(check())
        except InvalidInput as exc:
            problems.extend(exc.problems)
            values.append(None)
    if problems:
        raise InvalidInput(problems)
    return values


def _sender(identity: Identity) -> dict[str, str]:
    return {
        "sender_name": identity.display_name,
        "sender_email": identity.email,
        "partner_name": identity.partner_name or identity.partner_tenant_id,
    }


def _audit_inputs(
    kind: str, customer_id: str | None, to: object, locale: object, **extra: object
) -> dict[str, Any]:
    """Kind, customer, recipient DOMAIN and locale: never the address, never the password."""
    inputs: dict[str, Any] = {
        "kind": kind,
        "customer_id": customer_id or "",
        "recipient_domain": recipient_domain(str(to or "")),
        "locale": str(locale or "")[:16],
    }
    inputs.update({k: str(v)[:64] for k, v in extra.items() if v not in (None, "")})
    return inputs


def _company(customer: Customer) -> str:
    return customer.company_name or customer.domain or customer.id


def _attempt(
    store: Store | None,
    identity: Identity,
    check: Callable[[Identity], None],
    kind: str,
    customer_id: str | None,
    to: object,
    locale: object,
    **extra: object,
) -> AbstractContextManager[audit.Attempt]:
    """The audited envelope of one generator, with the audit inputs a failure is recorded with
    (the same as a success's, never the password)."""
    return audit.attempt(
        store,
        identity,
        ACTION,
        customer_id=customer_id,
        inputs=_audit_inputs(kind, customer_id, to, locale, **extra),
        check=check,
    )


def _about(
    attempt: audit.Attempt,
    kind: str,
    customer_id: str | None,
    to: object,
    locale: object,
    **extra: object,
) -> None:
    """What a failure from here on is recorded with (the customer once resolved, ...)."""
    attempt.customer_id = customer_id
    attempt.inputs = _audit_inputs(kind, customer_id, to, locale, **extra)


def _generated(
    attempt: audit.Attempt, email: Email, *, logged: bool = True, **extra: object
) -> None:
    """The success row: the email as generated (its recipient's domain and locale), and the
    invitation log's row (who was invited, when, by whom). `logged=False`: the email is
    written to be sent at once, and the send's row (sent / send_failed) is its log row: a
    reminder that could not be sent is no invitation."""
    _about(attempt, email.kind, email.customer_id, email.to, email.locale, **extra)
    attempt.done("generated", detail=f"{email.kind} email generated ({email.locale}).")
    if logged:
        invitation_records.record(attempt.store, attempt.identity, email, GENERATED)


def check_customer_given(value: object, field: str = "customer") -> str:
    """A customer must be chosen before Partner Center is asked who it is."""
    text = str(value or "").strip()
    if not text:
        raise InvalidInput(
            Problem(
                field,
                "No customer is chosen.",
                "Choose the customer, or type its tenant id or domain.",
                code="required",
            )
        )
    return text


def check_user_name(value: object) -> str:
    """The first admin's sign-in name as saved at creation (`admin` or `admin@domain`)."""
    text = check_required_text(value, "user_name", "Sign-in name", max_length=254)
    if isinstance(text, Problem):
        raise InvalidInput(text)
    if any(ch.isspace() for ch in text):
        raise InvalidInput(
            Problem(
                "user_name",
                "The sign-in name contains spaces.",
                "Copy the sign-in name saved when the customer was created, e.g. "
                "admin@contoso.onmicrosoft.com.",
                code="bad_user_name",
            )
        )
    return text


def sign_in_name(user: str, domain: str | None) -> str:
    """A first admin's sign-in as Partner Center gives it: a name without `@` gets the
    customer's domain."""
    return user if "@" in user or not domain else f"{user}@{domain}"


def check_password(password: object) -> SecretStr:
    """Present, one line; never echoed in the problem (it is a secret)."""
    secret = password.get_secret_value() if isinstance(password, SecretStr) else password
    text = str(secret or "")
    if not text.strip():
        raise InvalidInput(
            Problem(
                "password",
                "The temporary password is empty.",
                "Enter the temporary password saved when the customer was created.",
                code="required",
            )
        )
    if _LINE_BREAKS.search(text) or len(text) > 256:
        raise InvalidInput(
            Problem(
                "password",
                "The temporary password contains line breaks or is too long.",
                "Paste the password again, without anything around it.",
                code="bad_password",
            )
        )
    return SecretStr(text)


def check_reseller_id(value: object) -> str | None:
    """Optional indirect reseller tenant id (a GUID), lower-case."""
    text = str(value or "").strip()
    if not text:
        return None
    checked = check_customer_id(text, "indirect_reseller_id")
    if isinstance(checked, Problem):
        raise InvalidInput(
            Problem(
                "indirect_reseller_id",
                f"'{text}' is not an indirect reseller's tenant id (a GUID).",
                "Choose the indirect reseller from the list, or paste its tenant id.",
                code="bad_reseller_id",
                params={"value": text},
            )
        )
    return checked


async def invitation_for_new_customer(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    customer: str,
    user_name: object,
    password: str | SecretStr | None,
    to: object = "",
    locale: object = "en",
    logged: bool = True,
) -> Email:
    """Generator 1, new customer: the admin center URL with the first admin's credentials.

    The password is checked and kept on the returned Email only: the audit never sees it.
    A sign-in name without `@` gets the customer's domain, as Partner Center gives it.
    """
    customer_id = str(customer or "")
    with _attempt(
        store, identity, check_may_invite_to_accept, "mca_new", customer_id, to, locale
    ) as attempt:
        _, checked_locale, recipient, user, secret = _gather(
            lambda: check_customer_given(customer),
            lambda: check_locale(locale),
            lambda: check_recipient(to),
            lambda: check_user_name(user_name),
            lambda: check_password(password),
        )
        found = await resolve_customer(pc, customer)
        _about(attempt, "mca_new", found.id, to, locale)
        sign_in = sign_in_name(user, found.domain)
        email = render(
            "mca_new",
            checked_locale,
            to=recipient,
            customer_id=found.id,
            required_link=MCA_ACCEPTANCE_URL,
            password=secret,
            acceptance_url=MCA_ACCEPTANCE_URL,
            company_name=_company(found),
            customer_domain=found.domain or found.id,
            sign_in_name=sign_in,
            **_sender(identity),
        )
        _generated(attempt, email, logged=logged)
    return email


async def invitation_for_existing_customer(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    customer: str,
    to: object = "",
    locale: object = "en",
    logged: bool = True,
) -> Email:
    """Generator 1, existing customer: the admin center URL only, with the note that customers
    who already bought through a partner may be unable to accept directly (the partner attests).
    `logged=False`: see `_generated`.
    """
    customer_id = str(customer or "")
    with _attempt(
        store, identity, check_may_invite_to_accept, "mca_existing", customer_id, to, locale
    ) as attempt:
        _, checked_locale, recipient = _gather(
            lambda: check_customer_given(customer),
            lambda: check_locale(locale),
            lambda: check_recipient(to),
        )
        found = await resolve_customer(pc, customer)
        _about(attempt, "mca_existing", found.id, to, locale)
        email = render(
            "mca_existing",
            checked_locale,
            to=recipient,
            customer_id=found.id,
            required_link=MCA_ACCEPTANCE_URL,
            acceptance_url=MCA_ACCEPTANCE_URL,
            company_name=_company(found),
            **_sender(identity),
        )
        _generated(attempt, email, logged=logged)
    return email


async def _relationship_link(
    pc: PartnerCenterClient, identity: Identity, reseller_id: str | None, reseller_name: str
) -> tuple[str, str, str]:
    """(link, reseller shown, provider shown) for who the partner is."""
    me = identity.partner_name or identity.partner_tenant_id
    if identity.partner_type is PartnerType.INDIRECT_RESELLER:
        if not identity.provider_tenant_id:
            raise ConfigurationError(
                "Your indirect provider's tenant id is not configured (provider_tenant_id in "
                ".streamlit/secrets.toml [mca.partner]): an indirect reseller's relationship "
                "link must name it."
            )
        if reseller_id:
            raise InvalidInput(
                Problem(
                    "indirect_reseller_id",
                    "An indirect reseller's link always names itself as the reseller.",
                    "Leave the indirect reseller empty.",
                    code="reseller_not_allowed",
                )
            )
        link = await pc.get_relationship_request_link(
            indirect_provider_id=identity.provider_tenant_id
        )
        return link, me, identity.provider_name or identity.provider_tenant_id
    if reseller_id:
        if identity.partner_type is not PartnerType.INDIRECT_PROVIDER:
            raise InvalidInput(
                Problem(
                    "indirect_reseller_id",
                    "A direct-bill partner has no indirect resellers.",
                    "Leave the indirect reseller empty.",
                    code="reseller_not_allowed",
                )
            )
        link = await pc.get_relationship_request_link(indirect_reseller_id=reseller_id)
        return link, reseller_name or reseller_id, me
    return await pc.get_relationship_request_link(), "", ""


async def relationship_request(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    to: object = "",
    locale: object = "en",
    customer: str | None = None,
    company_name: object = "",
    indirect_reseller_id: object = None,
    reseller_name: object = "",
    user_name: object = None,
    password: str | SecretStr | None = None,
    logged: bool = True,
) -> Email:
    """Generator 2: the partner's personalised reseller-relationship link (accepting it also
    accepts the MCA), explained to the customer's Global admin.

    Direct-bill partner: its own link. Indirect provider: with `indirect_reseller_id` when
    writing on behalf of one of its resellers. Indirect reseller: always with its provider's id.
    The link works for any customer, so `customer` is optional (a prospect has none yet).
    For a customer just created, `user_name` and `password` add the first admin's sign-in (the
    password is kept on the Email only, masked in the bodies, never audited).
    """
    customer_id = str(customer or "").strip() or None
    with_sign_in = bool(str(user_name or "").strip()) or bool(
        password.get_secret_value() if isinstance(password, SecretStr) else password
    )
    with _attempt(
        store, identity, check_may_request_relationship, "reseller", customer_id, to, locale
    ) as attempt:
        checked_locale, recipient, reseller_id, user, secret = _gather(
            lambda: check_locale(locale),
            lambda: check_recipient(to),
            lambda: check_reseller_id(indirect_reseller_id),
            lambda: check_user_name(user_name) if with_sign_in else "",
            lambda: check_password(password) if with_sign_in else None,
        )
        _about(attempt, "reseller", customer_id, to, locale, indirect_reseller_id=reseller_id)
        company = str(company_name or "").strip()[:200]
        domain = ""
        if customer_id:
            found = await resolve_customer(pc, customer_id)
            customer_id = found.id
            _about(attempt, "reseller", customer_id, to, locale, indirect_reseller_id=reseller_id)
            company = company or _company(found)
            domain = found.domain or ""
        link, shown_reseller, shown_provider = await _relationship_link(
            pc, identity, reseller_id, str(reseller_name or "").strip()
        )
        if not link:
            raise McaError("Partner Center answered without a relationship link; try again.")
        sign_in = sign_in_name(user, domain) if user else ""
        email = render(
            "reseller",
            checked_locale,
            to=recipient,
            customer_id=customer_id,
            required_link=link,
            password=secret,
            relationship_url=link,
            company_name=company,
            reseller_name=shown_reseller,
            provider_name=shown_provider,
            sign_in_name=sign_in,
            **_sender(identity),
        )
        _generated(attempt, email, logged=logged, indirect_reseller_id=reseller_id)
    return email


def _check_ask(ask: object) -> str:
    if ask not in PROVIDER_ASKS:
        raise InvalidInput(
            Problem(
                "ask",
                f"'{ask}' is not something to ask the provider.",
                "Ask it to attest, or to send its relationship link.",
                code="bad_ask",
            )
        )
    return str(ask)


async def provider_request(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    customer: str,
    ask: object = "attest",
    to: object = "",
    locale: object = "en",
    contact_first_name: object = None,
    contact_last_name: object = None,
    contact_email: object = None,
    contact_phone: object = None,
    date_agreed: object = None,
    now: datetime | None = None,
    logged: bool = True,
) -> Email:
    """Generator 3, the indirect reseller's own (it can never attest): ask its indirect
    provider to create an enhanced MCA attestation for a named customer and signer (the
    customer's person who will accept through Microsoft's link; the classic attestation and its
    screen were retired on 2026-01-05), or to send its relationship link. Addressed to the
    provider. `date_agreed` is accepted and not used: the enhanced flow dates the agreement when
    the signer accepts.
    """
    customer_id = str(customer or "")
    with _attempt(
        store,
        identity,
        check_may_request_from_provider,
        "provider_request",
        customer_id,
        to,
        locale,
        ask=ask,
    ) as attempt:

        def signer() -> Contact | None:
            if ask != "attest":
                return None
            return validate_contact(
                contact_first_name, contact_last_name, contact_email, contact_phone
            )

        _, checked_ask, checked_locale, recipient, contact = _gather(
            lambda: check_customer_given(customer),
            lambda: _check_ask(ask),
            lambda: check_locale(locale),
            lambda: check_recipient(to),
            signer,
        )
        found = await resolve_customer(pc, customer)
        _about(attempt, "provider_request", found.id, to, locale, ask=ask)
        email = render(
            "provider_request",
            checked_locale,
            to=recipient,
            customer_id=found.id,
            required_link=None,
            ask=checked_ask,
            provider_name=identity.provider_name or identity.provider_tenant_id or "",
            partner_tenant_id=identity.partner_tenant_id,
            company_name=_company(found),
            customer_tenant_id=found.tenant_id or found.id,
            customer_domain=found.domain,
            contact_name=contact.full_name if contact else "",
            contact_email=contact.email if contact else "",
            contact_phone=(contact.phone_number or "") if contact else "",
            **_sender(identity),
        )
        _generated(attempt, email, logged=logged, ask=checked_ask)
    return email


__all__ = [
    "ACTION",
    "KINDS",
    "LOCALES",
    "MAILTO_MAX_LENGTH",
    "PASSWORD_MASK",
    "PROVIDER_ASKS",
    "Email",
    "build_eml",
    "build_message",
    "check_body_keeps_link",
    "check_customer_given",
    "check_locale",
    "check_password",
    "check_recipient",
    "check_reseller_id",
    "check_user_name",
    "eml_file_name",
    "eml_for",
    "environment",
    "invitation_for_existing_customer",
    "invitation_for_new_customer",
    "mailto_for",
    "mailto_url",
    "message_for",
    "provider_request",
    "recipient_domain",
    "relationship_request",
    "render",
    "reveal_password",
    "single_line",
    "text_to_html",
]
