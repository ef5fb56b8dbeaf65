"""What a person asks the desk to do: one typed request per user action (the App's inputs).

Fields hold what was typed, as typed: the use cases validate them and report every problem at
once, naming the field (a request is not validated on construction, so a bad value becomes a
clear message, never a traceback).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, tzinfo
from typing import TYPE_CHECKING, Literal

from mca_core.domain.models import Contact, NewCustomer

if TYPE_CHECKING:
    from mca_core.usecases.bulk import BulkRow
    from mca_core.usecases.bulk_signers import SignerRow

#: A date as a form or a command line gives it: a date, or the text typed (YYYY-MM-DD).
DateInput = date | str | None


@dataclass(frozen=True, kw_only=True)
class AttestRequest:
    """Attest that an existing customer accepted the MCA (classic or enhanced channel)."""

    customer: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None = None
    #: Classic channel: the day the customer accepted (never defaulted).
    date_agreed: DateInput = None
    #: Enhanced channel: the signer's company, country and agreement language.
    company_name: str | None = None
    country: str | None = None
    language: str | None = None
    #: Enhanced channel: the link lifetime to request (5 minutes to 7 days); None: the service's.
    link_lifetime_hours: float | None = None
    request_id: str | None = None
    #: The browser's time zone, for "not later than today" in the user's words.
    user_tz: tzinfo | None = None
    #: None: the installation's channel; the CLI's --channel may choose.
    channel: str | None = None


@dataclass(frozen=True, kw_only=True)
class SyncRequest:
    """Read every customer's acceptance into a new snapshot."""

    mode: Literal["default", "full"] = "default"
    incremental: bool = False
    progress: Callable[[int, int, str], None] | None = None
    cancel: threading.Event | None = None
    #: "auto", "records" or "per_customer"; None: the installation's `sync_source`.
    source: Literal["auto", "records", "per_customer"] | None = None
    #: Then tell managers what changed (alerts over the configured channels; `sync --notify`,
    #: and the dashboard's syncs with `alerts_after_sync`). A delivery never fails the sync.
    notify: bool = False


@dataclass(frozen=True, kw_only=True)
class NewCustomerInvitation:
    """The MCA acceptance link with a new customer's sign-in details."""

    customer: str
    user_name: str | None
    password: object = None
    to: str | None = ""
    locale: str = "en"


@dataclass(frozen=True, kw_only=True)
class ExistingCustomerInvitation:
    """The MCA acceptance link for a customer that already signs in."""

    customer: str
    to: str | None = ""
    locale: str = "en"


@dataclass(frozen=True, kw_only=True)
class RelationshipInvitation:
    """A reseller relationship request with the partner's link."""

    to: str | None = ""
    locale: str = "en"
    customer: str | None = None
    company_name: str | None = ""
    indirect_reseller_id: str | None = None
    reseller_name: str | None = ""
    #: A customer just created: its first admin's sign-in name and temporary password.
    user_name: str | None = None
    password: object = None


@dataclass(frozen=True, kw_only=True)
class ProviderRequest:
    """An indirect reseller asks its indirect provider to attest (or to create the customer)."""

    customer: str
    ask: str = "attest"
    to: str | None = ""
    locale: str = "en"
    contact_first_name: str | None = None
    contact_last_name: str | None = None
    contact_email: str | None = None
    contact_phone: str | None = None
    date_agreed: DateInput = None


@dataclass(frozen=True, kw_only=True)
class NewCustomerRequest:
    """Create a customer, and attest for it in the same action when the agent knows it accepted."""

    customer: NewCustomer
    #: The validated contact and date, or None to create the customer only.
    attestation: tuple[Contact, date] | None
    create_request_id: str
    attest_request_id: str
    user_tz: tzinfo | None = None


@dataclass(frozen=True, kw_only=True)
class BulkAttestRequest:
    """Attest for many customers from a file's rows (a dry run checks without sending)."""

    rows: list[BulkRow]
    dry_run: bool = False
    progress: Callable[[int, int], None] | None = None
    cancel: threading.Event | None = None


@dataclass(frozen=True)
class BulkSignersRequest:
    """Enhanced channel: an acceptance link for every row of a signers file (a dry run checks
    without creating anything). `invitations`: also write each link's email (audited as an
    invitation) for the report's zip."""

    rows: list[SignerRow]
    dry_run: bool = False
    progress: Callable[[int, int], None] | None = None
    cancel: threading.Event | None = None
    invitations: bool = True


Invitation = (
    NewCustomerInvitation | ExistingCustomerInvitation | RelationshipInvitation | ProviderRequest
)

__all__ = [
    "AttestRequest",
    "BulkAttestRequest",
    "BulkSignersRequest",
    "DateInput",
    "ExistingCustomerInvitation",
    "Invitation",
    "NewCustomerInvitation",
    "NewCustomerRequest",
    "ProviderRequest",
    "RelationshipInvitation",
    "SyncRequest",
]
