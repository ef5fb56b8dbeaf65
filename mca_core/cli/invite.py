"""`python -m mca_core invite mca|reseller|provider-request`: the invitation emails for scripts.

The email goes to stdout or `--out` as text (To/Subject headers, a blank line, the body) or as
an RFC 5322 `.eml` file a mail program opens as a draft. A new customer's temporary password is
read from the environment variable MCA_CUSTOMER_TEMP_PASSWORD, never from a flag (flags land in
the shell history); it appears in the email body only, never in the audit log or on stderr.
Exit codes are the CLI's (mca_core/cli.py): 0 done, 1 failure, 2 invalid input (an unusable
`--out` included: a folder, a missing folder, the desk's database), 3 refused for the role.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from mca_core.domain.errors import InvalidInput, Problem
from mca_core.domain.requests import (
    ExistingCustomerInvitation,
    Invitation,
    NewCustomerInvitation,
    ProviderRequest,
    RelationshipInvitation,
)
from mca_core.usecases.invitations import LOCALES, PROVIDER_ASKS, Email, eml_for

PASSWORD_ENV = "MCA_CUSTOMER_TEMP_PASSWORD"
FORMATS = ("text", "eml")

HELP = f"""\
kinds:
  mca               invite a customer to accept the MCA in the Microsoft 365 admin
                    center (--customer required). For a NEW customer the email also
                    carries the first admin's sign-in: --user-name NAME, and the
                    temporary password from the environment variable
                    {PASSWORD_ENV} (never a flag: flags land in the
                    shell history). Without --user-name: an existing customer's email.
  reseller          your reseller relationship link (accepting it accepts the MCA);
                    --customer optional; an indirect provider may add --reseller ID.
                    For a customer just created, --user-name NAME adds the first
                    admin's sign-in, with the password from {PASSWORD_ENV}.
  provider-request  indirect resellers: ask your indirect provider to create an
                    enhanced MCA attestation for the customer's signer (--ask attest
                    with --contact-first-name, --contact-last-name, --contact-email,
                    optional --contact-phone) or to send its relationship link
                    (--ask link). The classic attestation was retired on 2026-01-05.

The password goes into the email body only: never into the audit log or onto stderr.
`--out FILE` is written atomically; `--out -` is stdout.
Exit codes: 0 done, 1 failure, 2 invalid input (an unusable --out included),
3 refused for your role, 130 interrupted, 141 stdout closed by its reader.
"""


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "invite",
        help="write an invitation email (MCA, reseller relationship, request to your provider)",
        description="Write one invitation email, as text or as a .eml file.",
        epilog=HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("kind", choices=("mca", "reseller", "provider-request"))
    parser.add_argument("--customer", metavar="ID", default=None, help="tenant id or domain")
    parser.add_argument("--to", metavar="ADDRESS", default="", help="recipient (optional)")
    parser.add_argument(
        "--locale", default="en", choices=LOCALES, help="the email's language (the customer's)"
    )
    parser.add_argument(
        "--format",
        dest="output_format",
        default="text",
        choices=FORMATS,
        help="text (To/Subject/body) or eml (a draft for a mail program)",
    )
    parser.add_argument(
        "--out", metavar="FILE", default=None, help="write to FILE (atomically), not stdout"
    )
    parser.add_argument(
        "--user-name",
        metavar="NAME",
        default=None,
        help=(
            f"mca or reseller, new customer: the first admin's sign-in name "
            f"(password: ${PASSWORD_ENV})"
        ),
    )
    parser.add_argument(
        "--reseller",
        metavar="TENANT_ID",
        default=None,
        help="reseller, indirect provider: the reseller's tenant id",
    )
    parser.add_argument(
        "--company", metavar="NAME", default="", help="reseller: the company name to greet"
    )
    parser.add_argument(
        "--ask", default="attest", choices=PROVIDER_ASKS, help="provider-request: what to ask"
    )
    for flag in ("first-name", "last-name", "email", "phone"):
        parser.add_argument(
            f"--contact-{flag}",
            metavar=flag.split("-")[-1].upper(),
            default=None,
            help=f"provider-request: the signer's {flag.replace('-', ' ')} (who will accept)",
        )
    parser.add_argument(
        "--date",
        default=None,
        help="not used: the enhanced flow dates the agreement when the signer accepts",
    )
    parser.set_defaults(func=cmd_invite)


def _require_customer(value: str | None) -> str:
    if not value:
        raise InvalidInput(
            Problem(
                "--customer",
                "The customer is missing.",
                "Give --customer with the customer's tenant id or domain.",
                code="required",
            )
        )
    return value


def _temporary_password(kind: str) -> str:
    """A new customer's temporary password, from the environment only (flags land in the
    shell history)."""
    password = os.environ.get(PASSWORD_ENV, "")
    if not password:
        without = (
            "leave out --user-name for an existing customer's invitation"
            if kind == "mca"
            else "leave out --user-name to send the link without the sign-in"
        )
        raise InvalidInput(
            Problem(
                PASSWORD_ENV,
                f"A new customer's sign-in needs the temporary password, and {PASSWORD_ENV} "
                "is not set.",
                f"Set {PASSWORD_ENV} in the environment (not on the command line), or {without}.",
                code="required",
            )
        )
    return password


def cmd_invite(cli: Any) -> int:
    from mca_core.cli._context import EXIT_OK, out_target, write_out

    a = cli.args
    # checked before the email is made (and audited): an unusable --out is exit 2 naming it
    target = out_target(cli, a.out) if a.out else None
    app, actor = cli.app, cli.actor()
    identity = actor.identity
    password = _temporary_password(a.kind) if a.user_name else None
    if a.kind == "mca" and a.user_name:
        customer = _require_customer(a.customer)
        request: Invitation = NewCustomerInvitation(
            customer=customer,
            user_name=a.user_name,
            password=password,
            to=a.to,
            locale=a.locale,
        )
    elif a.kind == "mca":
        customer = _require_customer(a.customer)
        request = ExistingCustomerInvitation(customer=customer, to=a.to, locale=a.locale)
    elif a.kind == "reseller":
        request = RelationshipInvitation(
            to=a.to,
            locale=a.locale,
            customer=a.customer,
            company_name=a.company,
            indirect_reseller_id=a.reseller,
            user_name=a.user_name,
            password=password,
        )
    else:
        customer = _require_customer(a.customer)
        if a.date:
            print(
                "Note: --date is not used: on the enhanced flow the agreement is dated when the "
                "signer accepts.",
                file=cli.err,
            )
        request = ProviderRequest(
            customer=customer,
            ask=a.ask,
            to=a.to,
            locale=a.locale,
            contact_first_name=a.contact_first_name,
            contact_last_name=a.contact_last_name,
            contact_email=a.contact_email,
            contact_phone=a.contact_phone,
            date_agreed=a.date,
        )
    email: Email = app.invite(actor, request)
    if a.output_format == "eml":
        data = eml_for(email, sender=identity.email or None)
    else:
        data = as_text(email).encode("utf-8")
    if target is not None:
        write_out(cli, target, data)  # atomically
        cli.emit(
            {**email_document(email), "written_to": a.out, "format": a.output_format},
            f"Wrote the {email.kind} email ({email.locale}, {a.output_format}) to {a.out}: "
            f"{email.subject}",
        )
    elif cli.json:
        content = (
            {"body": email.revealed_text}
            if a.output_format == "text"
            else {"eml": data.decode("utf-8")}
        )
        cli.emit({**email_document(email), "format": a.output_format, **content}, "")
    else:  # no --out, or `--out -`
        cli.write_bytes(data)
    return EXIT_OK


def as_text(email: Email) -> str:
    """The email as a person reads it: To and Subject, a blank line, the body."""
    head = f"To: {email.to}\n" if email.to else ""
    return f"{head}Subject: {email.subject}\n\n{email.revealed_text}"


def email_document(email: Email) -> dict[str, Any]:
    """The JSON fields of a generated email (the body only where the caller asked for it)."""
    return {
        "kind": email.kind,
        "locale": email.locale,
        "customer_id": email.customer_id,
        "to": email.to,
        "subject": email.subject,
        "required_link": email.required_link,
    }
