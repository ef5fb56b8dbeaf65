"""What the Invitations page's generators share: built once per run by the page, read by every
generator."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from mca_core import Actor, App, Identity

#: Session keys: one prefix per generator; a new customer's password only ever sits in the
#: password field of the generator that takes it (PASSWORD_KEYS, by email kind).
PROVIDER, INVITE, RESELLER = "inv3", "inv1", "inv2"
PASSWORD_KEY = f"{INVITE}_password"
RESELLER_PASSWORD_KEY = f"{RESELLER}_password"
PASSWORD_KEYS = {"mca_new": PASSWORD_KEY, "reseller": RESELLER_PASSWORD_KEY}


@dataclass(frozen=True)
class InvitationsContext:
    """The signed-in user, the app, the synced customers and the generators they may use."""

    app: App
    actor: Actor
    identity: Identity
    #: customer id -> its row in the latest snapshot (empty before the first sync).
    rows: Mapping[str, dict[str, Any]]
    #: customer id -> "company · domain" for the type-ahead.
    labels: Mapping[str, str]
    #: customer id -> its country (for the email language).
    countries: Mapping[str, str]
    #: Customers created on this desk since the last sync: id -> label (kept in the session).
    known: dict[str, str]
    #: Domains of customers created on this desk since the last sync (kept in the session).
    known_domains: dict[str, str]
    #: (prefix, tab title) of each generator the user may use, in the order they are shown.
    generators: tuple[tuple[str, str], ...]

    @property
    def prefixes(self) -> list[str]:
        return [prefix for prefix, _ in self.generators]
