"""What the Attest page's tabs share: built once per run by the page, read by every tab."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mca_core import Actor, App, Identity

#: The tabs, in the order they are shown.
TAB_KEYS = ("existing", "new", "bulk", "blocked")


@dataclass(frozen=True)
class AttestContext:
    """The signed-in attester, the app, the latest customer snapshot and the channel."""

    app: App
    actor: Actor
    identity: Identity
    #: The latest snapshot of the customer list, or None before the first sync.
    snapshot: Any
    #: The snapshot's rows by customer id (empty before the first sync).
    synced: dict[str, dict[str, Any]]
    #: The enhanced attestation channel (the customer accepts on Microsoft's page).
    enhanced: bool
    #: The tab labels by key (`TAB_KEYS`), in the user's language.
    tab_labels: dict[str, str]
