"""The attestation channel an installation uses: classic or enhanced, chosen by configuration.

* **enhanced** (the default): Microsoft's current flow: an attestation with a link the customer
  accepts, then the agreement (App-only).
* **classic**: the seed's flow: ``POST /v1/customers/{id}/agreements`` with the contact and the
  date (App+User). Microsoft retired it on 2026-01-05; it stays an explicit opt-in for a tenant
  that still accepts it.

Both run the same guard (`check_may_attest`), validation, audit and idempotency rules. The App
(`App.attest`) decides the channel and its token kind once per action and runs the channel's use
case; pages and the CLI do not care which channel runs.
The identity (who acts, role checks, audit) is always the signed-in user; only the tokens
differ: the enhanced channel calls Partner Center with the partner app's App-only token
(sandbox: the same partner's app token from the emulator; live: MSAL client credentials).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Literal

from mca_core.config import Settings
from mca_core.domain.errors import ConfigurationError
from mca_core.domain.models import AttestationResult, TokenKind
from mca_core.partner_center.enhanced_wire import EnhancedWire
from mca_core.usecases import enhanced

ChannelName = Literal["classic", "enhanced"]
CHANNELS: tuple[ChannelName, ...] = ("classic", "enhanced")
CLASSIC: ChannelName = "classic"
ENHANCED: ChannelName = "enhanced"

#: The token kind each channel calls Partner Center with.
TOKEN_KINDS: dict[str, TokenKind] = {CLASSIC: TokenKind.APP_USER, ENHANCED: TokenKind.APP_ONLY}


def check_channel(value: object) -> ChannelName:
    text = str(value or "").strip().lower()
    if text not in CHANNELS:
        raise ConfigurationError(
            f"attestation_channel '{value}' is not a channel: use classic or enhanced."
        )
    return text  # type: ignore[return-value]


def channel_of(settings: Settings, override: object = None) -> ChannelName:
    """The installation's channel, or the one a command line asked for."""
    return check_channel(override or settings.attestation_channel)


@dataclass(frozen=True)
class EnhancedOptions:
    """The enhanced channel's configuration: wire names (corrected where a partner had to) and
    the link lifetime assumed when Partner Center does not say."""

    wire: EnhancedWire
    link_lifetime: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> EnhancedOptions:
        return cls(
            wire=EnhancedWire.with_overrides(settings.enhanced_wire),
            link_lifetime=timedelta(hours=settings.enhanced_link_lifetime_hours),
        )


@dataclass(frozen=True)
class AttestOutcome:
    """What one attest action did, whichever channel ran it."""

    channel: ChannelName
    customer_id: str
    #: classic: attested | already_attested; enhanced: link_created | link_reused |
    #: already_accepted | already_attested.
    outcome: str
    #: True when the customer's acceptance is recorded now (classic, or an agreement exists).
    done: bool
    message: str
    request_id: str | None = None
    classic: AttestationResult | None = None
    enhanced: enhanced.CreateOutcome | None = None

    @property
    def acceptance_link(self) -> str | None:
        return self.enhanced.attestation.acceptance_link if self.enhanced else None

    @classmethod
    def of_classic(cls, result: AttestationResult) -> AttestOutcome:
        """Classic: the agreement is stored now (or was already, with these details)."""
        return cls(
            channel=CLASSIC,
            customer_id=result.customer_id,
            outcome=result.outcome,
            done=True,
            message=result.message or "Attested.",
            request_id=result.request_id,
            classic=result,
        )

    @classmethod
    def of_enhanced(cls, created: enhanced.CreateOutcome) -> AttestOutcome:
        """Enhanced: a link the customer accepts; done only if the agreement already exists."""
        return cls(
            channel=ENHANCED,
            customer_id=created.customer_id,
            outcome=created.outcome,
            done=created.outcome == "already_attested",
            message=created.message,
            request_id=created.request_id,
            enhanced=created,
        )


__all__ = [
    "CHANNELS",
    "CLASSIC",
    "ENHANCED",
    "TOKEN_KINDS",
    "AttestOutcome",
    "ChannelName",
    "EnhancedOptions",
    "channel_of",
    "check_channel",
]
