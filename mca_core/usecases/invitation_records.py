"""Recording invitations in the invitation log, and reading who was invited when.

One place writes the log: `record`, called by the generators (`invitations._generated`,
`enhanced.acceptance_invitation`, so the bulk signers' zip too) when an email is written, and
by `sending.send_invitations` for each send and each failed send. It records the customer, the
company, the kind, the recipient, the locale, who, when, the attestation id (enhanced), the
Message-ID or the (masked) failure: never the body or a password.

`latest_invitations` is each customer's newest invitation, read in one query and kept per
store, partner and log version (the newest row id, one index lookup), shared by every session
of the process: the Overview table, the Blocked list and the follow-up read it on every run.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from mca_core.domain.models import Identity
from mca_core.store.database import Store
from mca_core.store.invitation_log import InvitationEntry, InvitationLog

#: Partners whose latest invitations a process keeps (each a dict of up to every customer).
_CACHE_ENTRIES = 8
_lock = threading.Lock()


class LatestInvitations(Mapping[str, InvitationEntry]):
    """customer id -> its newest invitation, read-only, with the log `version` it was read at
    (what a page keys what it derives from it on)."""

    def __init__(self, entries: dict[str, InvitationEntry], version: int) -> None:
        self._entries = entries
        self.version = version

    def __getitem__(self, key: str) -> InvitationEntry:
        return self._entries[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"LatestInvitations({len(self)} customers, version {self.version})"


_cache: OrderedDict[tuple[str, str], LatestInvitations] = OrderedDict()


def record(
    store: Store | None,
    identity: Identity,
    email: Any,
    how: str,
    *,
    message_id: str | None = None,
    failure: str = "",
    now: datetime | None = None,
) -> InvitationEntry | None:
    """One row for `email` (an `invitations.Email`); a no-op without a store."""
    if store is None:
        return None
    entry = InvitationEntry(
        partner_tenant_id=identity.partner_tenant_id,
        customer_id=email.customer_id or None,
        kind=email.kind,
        how=how,
        at=now or datetime.now(UTC),
        company_name=getattr(email, "company_name", "") or "",
        recipient=email.to or "",
        locale=email.locale or "",
        user_id=identity.user_id,
        user_name=identity.display_name,
        attestation_id=getattr(email, "attestation_id", None),
        message_id=message_id,
        failure=failure,
    )
    return InvitationLog(store).add(entry)


def log_version(store: Store, identity: Identity) -> int:
    """The partner's newest invitation row id: changes with every invitation recorded."""
    return InvitationLog(store).version(identity.partner_tenant_id)


def latest_invitations(store: Store, identity: Identity) -> LatestInvitations:
    """customer id -> its newest invitation (generated or sent), read-only and shared: one
    version lookup per call, one query per new version."""
    log = InvitationLog(store)
    partner = identity.partner_tenant_id
    key = (store.url, partner)
    version = log.version(partner)
    with _lock:
        found = _cache.get(key)
        if found is not None and found.version == version:
            _cache.move_to_end(key)
            return found
    latest = LatestInvitations(log.latest_by_customer(partner) if version else {}, version)
    with _lock:
        _cache[key] = latest
        _cache.move_to_end(key)
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return latest


def customer_invitations(
    store: Store, identity: Identity, customer_id: str, limit: int | None = 50
) -> list[InvitationEntry]:
    """One customer's invitation events (generated, sent, failed), newest first."""
    return InvitationLog(store).entries(
        identity.partner_tenant_id, customer_id=customer_id, limit=limit
    )


__all__ = [
    "LatestInvitations",
    "customer_invitations",
    "latest_invitations",
    "log_version",
    "record",
]
