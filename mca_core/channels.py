"""The attestation channel an installation uses: classic or enhanced, chosen by configuration.

* **classic**: the seed's flow: ``POST /v1/customers/{id}/agreements`` with the contact and the
  date (App+User). Microsoft deprecated it from 2026-01-05; it stays for partners whose tenant
  still accepts it, and for the sandbox.
* **enhanced**: Microsoft's current flow (`enhanced`): an attestation with a link the customer
  accepts, then the agreement (App-only).

Both run the same guard (`check_may_attest`), validation, audit and idempotency rules. The pages
and the CLI call :func:`attest` and :func:`channel_actor` and do not care which channel runs.
The identity (who acts, role checks, audit) is always the signed-in user; only the tokens
differ: the enhanced channel calls Partner Center with the partner app's App-only token
(sandbox: the same partner's app token from the emulator; live: MSAL client credentials).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any, Literal

import httpx

from mca_core.config import Settings
from mca_core.desk import Actor, Desk
from mca_core.domain.errors import ConfigurationError
from mca_core.domain.models import AttestationResult, Identity, TokenKind
from mca_core.partner_center.client import PartnerCenterClient, check_id, path_segment
from mca_core.partner_center.enhanced_wire import EnhancedWire
from mca_core.store.database import Store
from mca_core.usecases import enhanced
from mca_core.usecases.attestation import attest_customer

ChannelName = Literal["classic", "enhanced"]
CHANNELS: tuple[ChannelName, ...] = ("classic", "enhanced")
CLASSIC: ChannelName = "classic"
ENHANCED: ChannelName = "enhanced"

#: The token kind each channel calls Partner Center with.
TOKEN_KINDS: dict[str, TokenKind] = {CLASSIC: TokenKind.APP_USER, ENHANCED: TokenKind.APP_ONLY}

_app_only_providers: weakref.WeakKeyDictionary[Desk, Any] = weakref.WeakKeyDictionary()


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


def channel_actor(desk: Desk, actor: Actor, channel: ChannelName) -> Actor:
    """The actor whose tokens the channel needs; the identity stays the signed-in user's."""
    wanted = TOKEN_KINDS[channel]
    # By value: a dashboard that reloaded a module holds providers of the older enum class.
    if str(getattr(actor.tokens, "kind", TokenKind.APP_USER)) == wanted.value:
        return actor
    if wanted is TokenKind.APP_USER:
        raise ConfigurationError(
            "The classic channel needs a signed-in user's App+User token; this actor holds an "
            "App-only token."
        )
    if desk.is_sandbox:
        key = getattr(actor.tokens, "user_key", None) or desk.settings.sandbox_user
        return Actor(actor.identity, desk.sandbox_actor(key, kind=TokenKind.APP_ONLY).tokens)
    tokens = _app_only_providers.get(desk)
    if tokens is None:
        try:
            tokens = desk.live_app_only_tokens()
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"The enhanced attestation channel calls Partner Center with the partner app's "
                f"App-only token (client credentials). {exc} Or set attestation_channel = "
                '"classic".'
            ) from exc
        _app_only_providers[desk] = tokens
    return Actor(actor.identity, tokens)


def run(desk: Desk, actor: Actor, channel: ChannelName, work: Any) -> Any:
    """`desk.run` with the channel's tokens."""
    return desk.run(work, channel_actor(desk, actor, channel))


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


async def attest(
    pc: PartnerCenterClient,
    store: Store | None,
    identity: Identity,
    *,
    channel: ChannelName,
    customer: str,
    first_name: object,
    last_name: object,
    email: object,
    phone: object = None,
    date_agreed: object = None,
    company_name: object = None,
    country: object = None,
    language: object = None,
    options: EnhancedOptions | None = None,
    now: datetime | None = None,
    user_tz: tzinfo | None = None,
    request_id: str | None = None,
) -> AttestOutcome:
    """Attest through the configured channel. Classic uses the contact and the date; enhanced
    the contact as the signer plus company name, country and agreement language."""
    if channel == CLASSIC:
        result = await attest_customer(
            pc,
            store,
            identity,
            customer=customer,
            first_name=first_name,
            last_name=last_name,
            email=email,
            phone=phone,
            date_agreed=date_agreed,
            now=now,
            user_tz=user_tz,
            request_id=request_id,
        )
        return AttestOutcome(
            channel=CLASSIC,
            customer_id=result.customer_id,
            outcome=result.outcome,
            done=True,
            message=result.message or "Attested.",
            request_id=result.request_id,
            classic=result,
        )
    opts = options or EnhancedOptions(EnhancedWire(), enhanced.DEFAULT_LINK_LIFETIME)
    created = await enhanced.create_attestation(
        pc,
        store,
        identity,
        customer=customer,
        first_name=first_name,
        last_name=last_name,
        email=email,
        phone=phone,
        company_name=company_name,
        country=country,
        language=language,
        wire=opts.wire,
        link_lifetime=opts.link_lifetime,
        now=now,
    )
    return AttestOutcome(
        channel=ENHANCED,
        customer_id=created.customer_id,
        outcome=created.outcome,
        done=created.outcome == "already_attested",
        message=created.message,
        request_id=created.request_id,
        enhanced=created,
    )


# --- the sandbox's customer ----------------------------------------------------------------------


def link_reachable(desk: Desk) -> bool:
    """Whether a browser can open the acceptance link: not for the embedded sandbox (no HTTP
    server); yes for live and for a standalone emulator (`sandbox_url`)."""
    return not desk.is_sandbox or bool(getattr(desk, "standalone_sandbox_url", None))


def sandbox_accept(desk: Desk, attestation_id: str) -> str:
    """Sandbox only: play the customer who clicks Accept on the acceptance page. Returns
    'accepted', 'already', 'expired' or 'unknown'."""
    if not desk.is_sandbox:
        raise ConfigurationError(
            "Only the sandbox can play the customer; in live mode the "
            "customer accepts on Microsoft's page."
        )
    # Checked before any request, then one encoded path segment: '../reset?x=' must never
    # reach another endpoint of the emulator.
    attestation_id = check_id(attestation_id, "attestation_id")
    url = getattr(desk, "standalone_sandbox_url", None)
    if url:
        segment = path_segment(attestation_id, "attestation_id")
        try:
            response = httpx.post(f"{url}/sandbox/attestations/{segment}/accept", timeout=10)
        except httpx.HTTPError as exc:
            raise ConfigurationError(
                f"The standalone emulator at {url} did not answer: {exc}"
            ) from exc
        if response.status_code == 404:
            return "unknown"
        if response.is_error:
            raise ConfigurationError(f"The emulator refused: HTTP {response.status_code}.")
        return str(response.json().get("outcome") or "unknown")
    from mca_core.emulator.enhanced import accept

    return accept(desk.emulator, attestation_id)


__all__ = [
    "CHANNELS",
    "CLASSIC",
    "ENHANCED",
    "TOKEN_KINDS",
    "AttestOutcome",
    "ChannelName",
    "EnhancedOptions",
    "attest",
    "channel_actor",
    "channel_of",
    "check_channel",
    "link_reachable",
    "run",
    "sandbox_accept",
]
