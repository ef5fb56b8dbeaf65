"""The App: one method per user action, the one way pages, the CLI and scripts reach the core.

Each method takes the signed-in `Actor` and a typed request, decides the channel and the token
kind once, opens one Partner Center client for the action, runs one use case (which checks
access, validates, calls and audits), and makes the desk's snapshot agree with what was done
(write-through) so every page agrees before the next sync.

    app = App.from_settings(load_settings())
    actor = app.sandbox_actor("admin-agent")
    found = app.verify(actor, "contoso.onmicrosoft.com")
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import threading
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, TypeVar

from mca_core import delivery
from mca_core.auth.providers import StaticTokenProvider, read_claims
from mca_core.backends import Backend, PartnerName, SandboxBackend, SandboxUser
from mca_core.config import Settings
from mca_core.desk import Actor, Desk, run_sync
from mca_core.domain import access
from mca_core.domain.errors import AccessRefused, ConfigurationError, McaError
from mca_core.domain.models import (
    AcceptanceStatus,
    AttestationResult,
    AuditEvent,
    Customer,
    Identity,
    TokenKind,
)
from mca_core.domain.requests import (
    AttestRequest,
    BulkAttestRequest,
    BulkSignersRequest,
    ExistingCustomerInvitation,
    Invitation,
    NewCustomerInvitation,
    NewCustomerRequest,
    ProviderRequest,
    RelationshipInvitation,
    SyncRequest,
)
from mca_core.jobs import JOBS, Job, JobStart, Work
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store import locks
from mca_core.store.database import SnapshotInfo
from mca_core.store.invitation_log import InvitationEntry
from mca_core.usecases import (
    alerts,
    bulk,
    bulk_signers,
    enhanced,
    invitation_records,
    invitations,
    sending,
)
from mca_core.usecases import digest as digests
from mca_core.usecases import follow_up as follow_ups
from mca_core.usecases.attestation import attest_customer
from mca_core.usecases.channel import (
    CLASSIC,
    ENHANCED,
    TOKEN_KINDS,
    AttestOutcome,
    ChannelName,
    EnhancedOptions,
    channel_of,
)
from mca_core.usecases.customers import NewCustomerOutcome, create_customer_with_attestation
from mca_core.usecases.status import acceptance_status, resolve_customer
from mca_core.usecases.sync import (
    SyncSummary,
    accepted_changes,
    finalised_changes,
    new_customer_changes,
    snapshot_scope,
    sync_acceptance,
)
from mca_core.usecases.verify import Verification, after_attestation, verify_customer

T = TypeVar("T")
log = logging.getLogger(__name__)


class App:
    """One configured installation's user actions (see the module docstring)."""

    def __init__(self, desk: Desk):
        self.desk = desk

    @classmethod
    def from_settings(cls, settings: Settings) -> App:
        return cls(Desk(settings))

    # --- the installation -------------------------------------------------------------------

    @property
    def settings(self) -> Settings:
        return self.desk.settings

    @property
    def backend(self) -> Backend:
        return self.desk.backend

    @property
    def is_sandbox(self) -> bool:
        return self.desk.is_sandbox

    @property
    def base_url(self) -> str:
        return self.desk.base_url

    @property
    def channel(self) -> ChannelName:
        """The attestation channel this installation uses (configuration decides)."""
        return channel_of(self.settings)

    @property
    def current_since(self) -> date:
        """The current MCA's cutoff: older acceptances must be renewed (`current_mca_since`)."""
        return self.settings.current_mca_since

    @property
    def enhanced_options(self) -> EnhancedOptions:
        return EnhancedOptions.from_settings(self.settings)

    @property
    def link_reachable(self) -> bool:
        """Whether a browser can open an acceptance link (not from the embedded sandbox)."""
        return self.backend.link_reachable

    # --- who acts ---------------------------------------------------------------------------

    def sandbox_users(self) -> dict[str, SandboxUser]:
        """The seeded users the sandbox offers at sign-in (none in live mode)."""
        return self.backend.users() if isinstance(self.backend, SandboxBackend) else {}

    def sandbox_actor(self, user_key: str | None = None) -> Actor:
        return self.desk.sandbox_actor(user_key)

    def live_actor(self, device_code_prompt: Callable[[str], None] | None = None) -> Actor:
        """Live mode from configuration: a token, a refresh token or device-code sign-in."""
        return run_sync(self.desk.live_actor(device_code_prompt=device_code_prompt))

    def actor_from_login(self, access_token: str | None, claims: dict[str, Any]) -> Actor:
        """Live mode behind the dashboard's sign-in: the user's own token when the identity
        provider gave one, else the app's refresh token (the secure application model)."""
        if access_token:
            tokens = StaticTokenProvider(access_token)
            claims = read_claims(access_token) or claims
        else:
            tokens = self.desk.live_tokens()
        return Actor(self.desk.live_identity(tokens, claims), tokens)

    def actor_for(self, actor: Actor, kind: TokenKind) -> Actor:
        """The same person with the tokens a call needs: the enhanced channel calls Partner
        Center with the partner app's App-only token; the identity (role checks, audit) stays
        the signed-in user's."""
        # By value: a dashboard that reloaded a module holds providers of the older enum class.
        if str(getattr(actor.tokens, "kind", TokenKind.APP_USER)) == kind.value:
            return actor
        if kind is TokenKind.APP_USER:
            raise ConfigurationError(
                "The classic channel needs a signed-in user's App+User token; this actor holds "
                "an App-only token."
            )
        if isinstance(self.backend, SandboxBackend):
            key = getattr(actor.tokens, "user_key", None) or self.settings.sandbox_user
            return Actor(actor.identity, self.backend.tokens(key, TokenKind.APP_ONLY))
        try:
            tokens = self.desk.live_app_only_tokens()
        except ConfigurationError as exc:
            raise ConfigurationError(
                f"The enhanced attestation channel calls Partner Center with the partner app's "
                f"App-only token (client credentials). {exc} Or set attestation_channel = "
                '"classic".'
            ) from exc
        return Actor(actor.identity, tokens)

    def _run(
        self,
        actor: Actor,
        work: Callable[[PartnerCenterClient], Awaitable[T]],
        kind: TokenKind = TokenKind.APP_USER,
    ) -> T:
        """One client for one action, with the tokens the action needs."""
        return self.desk.run(work, self.actor_for(actor, kind))

    # --- reading Partner Center ---------------------------------------------------------------

    def list_customers(self, actor: Actor) -> list[Customer]:
        return self._run(actor, lambda pc: pc.list_customers())

    def status(self, actor: Actor, reference: str, *, field: str = "customer") -> AcceptanceStatus:
        """Attestations and direct acceptance of one customer (tenant id or domain)."""

        async def work(pc: PartnerCenterClient) -> AcceptanceStatus:
            customer = await resolve_customer(pc, reference, field=field)
            return await acceptance_status(
                pc, customer.id, mode="full", current_since=self.current_since
            )

        return self._run(actor, work)

    def verify(self, actor: Actor, reference: str) -> Verification:
        """A customer's attestations and direct acceptance, the verdict and the next step."""
        return self._run(
            actor,
            lambda pc: verify_customer(
                pc, self.desk.store, actor.identity, reference, current_since=self.current_since
            ),
        )

    def sync(self, actor: Actor, request: SyncRequest | None = None) -> SyncSummary:
        """Every customer's acceptance into a new snapshot (progress, cancel, incremental);
        with `auto_finalise`, the accepted enhanced attestations are finalised first. One sync
        per partner at a time, across sessions, instances and the CLI: a second one raises
        WorkBusy naming who runs the first and since when."""
        r = request or SyncRequest()
        with locks.exclusive(
            self.desk.store,
            self.sync_lock_key(actor.identity),
            holder=actor.identity.display_name,
            work="sync",
            fix="Wait for it to finish (its progress is on the Overview), then sync again.",
        ):
            return self._sync(actor, r)

    def start_sync(self, actor: Actor, request: SyncRequest | None = None) -> JobStart:
        """The sync as a background job of this process: it outlives the page that started it,
        and every session of the partner sees it (`sync_job`). Starting while one runs joins
        it (`JobStart.started` False). Refused at once (not in the job) for a user who may not
        sync, e.g. the read-only Manager."""
        access.check_may_sync(actor.identity)
        r = request or SyncRequest()

        def work(progress: Callable[[int, int, str], None], cancel: threading.Event) -> Any:
            return self.sync(actor, dataclasses.replace(r, progress=progress, cancel=cancel))

        return self.start_job(actor, "sync", work)

    def open_sandbox_on_data(self, actor: Actor | None = None) -> JobStart | None:
        """A sandbox's first start builds its first snapshot in the background (the embedded
        emulator has no rate limit), so the first page a user opens shows data, not an empty
        overview: for `actor`'s partner (default: the default sandbox user's). Nothing in live
        mode, with `sandbox_first_sync` off, or once a snapshot exists."""
        if not self.is_sandbox or not self.settings.sandbox_first_sync:
            return None
        actor = actor or self.sandbox_actor()
        try:
            access.check_may_sync(actor.identity)
        except AccessRefused:
            return None
        if self.latest_snapshot(actor.identity) is not None:
            return None
        return self.start_sync(actor, SyncRequest(notify=self.should_notify()))

    def sync_job(self, identity: Identity) -> Job | None:
        """The partner's running sync job in this process, else its last finished one."""
        return self.job(identity, "sync")

    def start_finalise_ready(self, actor: Actor) -> JobStart:
        """`finalise_ready` as a background job of this process (see `start_job`); refused at
        once for a user who may not finalise (the use case checks again)."""
        access.check_may_attest(actor.identity)
        return self.start_job(actor, "finalise_ready", lambda _p, _c: self.finalise_ready(actor))

    def start_job(self, actor: Actor, kind: str, work: Work) -> JobStart:
        """Long work (`work(progress, cancel)` calling one of the App's actions) as a job of
        this process, one per partner and kind: it outlives the page that started it, every
        session of the partner sees it (`job`), and a second start joins the running one."""
        key = self._job_key(actor.identity, kind)
        return JOBS.start(key, kind, actor.identity.display_name, work)

    def job(self, identity: Identity, kind: str) -> Job | None:
        """The partner's running job of `kind` in this process, else its last finished one."""
        return JOBS.current(self._job_key(identity, kind))

    def sync_lock_key(self, identity: Identity) -> str:
        """The store lock one partner's syncs take (the same in every process)."""
        return f"sync:{self.snapshot_scope(identity)}"

    def _job_key(self, identity: Identity, kind: str) -> str:
        """Jobs are per store (never its URL: it may hold a password) and partner scope."""
        store = hashlib.sha256(self.store_url.encode()).hexdigest()[:12]
        return f"{store}:{self.snapshot_scope(identity)}:{kind}"

    def _sync(self, actor: Actor, r: SyncRequest) -> SyncSummary:
        finalised = self._auto_finalise_before_sync(actor)
        summary = self._run(
            actor,
            lambda pc: sync_acceptance(
                pc,
                self.desk.store,
                actor.identity,
                backend=self.settings.backend,
                mode=r.mode,
                incremental=r.incremental,
                progress=r.progress,
                cancel=r.cancel,
                current_since=self.current_since,
                source=r.source or self.settings.sync_source,
                confirm_with_direct_read=self.settings.confirm_with_direct_read,
            ),
        )
        summary.finalised = finalised.finalised if finalised is not None else 0
        if r.notify and summary.complete:
            told = self._notify_quietly(actor)
            summary.alerts = told.as_dict() if told is not None else None
        return summary

    # --- attesting ----------------------------------------------------------------------------

    def attest(self, actor: Actor, request: AttestRequest) -> AttestOutcome:
        """Attest through the installation's channel (or the one the request names): classic
        stores the agreement now (App+User); enhanced sends the customer an acceptance link
        (App-only). The identity, role checks and audit stay the signed-in user's."""
        name, r, store = channel_of(self.settings, request.channel), request, self.desk.store
        if name == CLASSIC:
            result = self._run(
                actor,
                lambda pc: attest_customer(
                    pc, store, actor.identity, customer=r.customer, first_name=r.first_name,
                    last_name=r.last_name, email=r.email, phone=r.phone,
                    date_agreed=r.date_agreed, user_tz=r.user_tz, request_id=r.request_id,
                    **self._classic_refusal(),
                ),
                TOKEN_KINDS[CLASSIC],
            )  # fmt: skip
            self._attested(actor.identity, result.customer_id, result, r)
            return AttestOutcome.of_classic(result)
        o = self.enhanced_options
        created = self._run(
            actor,
            lambda pc: enhanced.create_attestation(
                pc, store, actor.identity, customer=r.customer, first_name=r.first_name,
                last_name=r.last_name, email=r.email, phone=r.phone,
                company_name=r.company_name, country=r.country, language=r.language,
                requested_lifetime_minutes=enhanced.minutes_of_hours(r.link_lifetime_hours),
                wire=o.wire, link_lifetime=o.link_lifetime,
            ),
            TOKEN_KINDS[ENHANCED],
        )  # fmt: skip
        return AttestOutcome.of_enhanced(created)

    def _attested(
        self, identity: Identity, customer_id: str, result: AttestationResult, r: AttestRequest
    ) -> None:
        """Write the attestation through to the snapshot: the statement the use case validated
        and sent (on the result)."""
        contact, day = result.contact, result.agreed_on
        assert contact is not None and day is not None
        self.desk.write_through(
            identity,
            customer_id,
            lambda before: accepted_changes(
                before,
                contact=contact,
                date_agreed=day,
                attested_by=identity.user_id,
                new_attestation=result.outcome == "attested",
                current_since=self.current_since,
            ),
        )

    def verified_after(
        self, found: Verification, actor: Actor, outcome: AttestOutcome
    ) -> Verification:
        """The customer's verification after this attestation, without reading it again."""
        if outcome.classic is None:
            return found
        return after_attestation(found, outcome.classic, actor.identity)

    def create_customer(self, actor: Actor, request: NewCustomerRequest) -> NewCustomerOutcome:
        """Create a customer (and attest for it, classic, when the agent says it accepted)."""
        r = request
        outcome = self._run(
            actor,
            lambda pc: create_customer_with_attestation(
                pc,
                self.desk.store,
                actor.identity,
                r.customer,
                r.attestation,
                create_request_id=r.create_request_id,
                attest_request_id=r.attest_request_id,
                user_tz=r.user_tz,
            ),
        )
        identity, customer = actor.identity, outcome.customer
        self.desk.write_through(identity, customer.id, lambda _: new_customer_changes(customer))
        attested = outcome.attestation
        if attested is not None and r.attestation is not None:
            contact, day = r.attestation
            self.desk.write_through(
                identity,
                customer.id,
                lambda before: accepted_changes(
                    before,
                    contact=contact,
                    date_agreed=day,
                    attested_by=identity.user_id,
                    new_attestation=attested.outcome == "attested",
                    current_since=self.current_since,
                ),
            )
        return outcome

    def bulk_attest(self, actor: Actor, request: BulkAttestRequest) -> bulk.BulkReport:
        """Attest for every row of a file (classic), journaled so a rerun never attests twice."""
        r = request
        report = self._run(
            actor,
            lambda pc: bulk.run_bulk(
                pc,
                self.desk.store,
                actor.identity,
                r.rows,
                dry_run=r.dry_run,
                progress=r.progress,
                cancel=r.cancel,
            ),
        )
        self.desk.write_through_bulk(actor.identity, report, r.rows)
        return report

    def bulk_attest_signers(
        self, actor: Actor, request: BulkSignersRequest
    ) -> bulk_signers.BulkSignersReport:
        """Enhanced channel: an acceptance link for every row of a signers file
        (`BulkSignersRequest` in, `bulk_signers.BulkSignersReport` out). Links are created with
        the partner app's App-only token; each customer's current acceptance is read with the
        signed-in user's own (App+User) token; the latest sync completes company names and
        countries. Resumable: the same file again sends nothing twice."""
        r, o, store, identity = request, self.enhanced_options, self.desk.store, actor.identity
        app_only = self.actor_for(actor, TokenKind.APP_ONLY)
        kind = str(getattr(actor.tokens, "kind", TokenKind.APP_USER))
        snapshot = self.latest_snapshot(identity)
        rows = self.snapshot_rows(snapshot) if snapshot is not None else []
        synced = {row["customer_id"]: row for row in rows}

        async def work() -> bulk_signers.BulkSignersReport:
            async with (
                self.desk.client(app_only.tokens) as pc,
                self.desk.client(actor.tokens) as reader,
            ):
                return await bulk_signers.run_bulk_signers(
                    pc, store, identity, r.rows, dry_run=r.dry_run, progress=r.progress,
                    cancel=r.cancel, wire=o.wire, link_lifetime=o.link_lifetime,
                    current_since=self.current_since, snapshot=synced, invitations=r.invitations,
                    reader=reader if kind == TokenKind.APP_USER.value else None,
                )  # fmt: skip

        return run_sync(work())

    # --- the enhanced channel -----------------------------------------------------------------

    def finalise(
        self, actor: Actor, customer: str, attestation_id: str | None = None
    ) -> enhanced.FinaliseOutcome:
        """Create the agreement once the customer accepted through the link (App-only)."""
        o = self.enhanced_options
        outcome = self._run(
            actor,
            lambda pc: enhanced.finalise_attestation(
                pc,
                self.desk.store,
                actor.identity,
                customer=customer,
                attestation_id=attestation_id,
                wire=o.wire,
                link_lifetime=o.link_lifetime,
            ),
            TokenKind.APP_ONLY,
        )
        user = actor.identity.user_id
        self.desk.write_through(
            actor.identity,
            outcome.customer_id,
            lambda before: finalised_changes(before, outcome, user),
        )
        return outcome

    def refresh_links(
        self, actor: Actor, customer_ids: list[str] | None = None, *, notify: bool = False
    ) -> enhanced.RefreshSummary:
        """Read the acceptance links' states from Partner Center (all, or these customers);
        with `auto_finalise`, then create the agreement of each one the customer accepted;
        with `notify`, then deliver the alerts of what changed (never fails the refresh)."""
        o = self.enhanced_options
        summary = self._run(
            actor,
            lambda pc: enhanced.refresh_attestations(
                pc,
                self.desk.store,
                actor.identity,
                customer_ids=customer_ids,
                wire=o.wire,
                link_lifetime=o.link_lifetime,
            ),
            TokenKind.APP_ONLY,
        )
        summary = self._finalised_after_refresh(actor, summary, customer_ids)
        if notify:
            self._notify_quietly(actor)
        return summary

    def _notify_quietly(self, actor: Actor) -> alerts.NotifyOutcome | None:
        """`notify` after work that must not fail for it (a refused role, a store error)."""
        try:
            return self.notify(actor)
        except McaError as exc:
            log.warning("alerts after the sync or refresh: %s", exc)
            return None

    def pipeline(self, identity: Identity, *, started_only: bool = False) -> enhanced.Pipeline:
        """Where every customer stands on the enhanced path (from the store; no call), shared
        by every session until the snapshot or an attestation changes. `started_only`: empty,
        without reading the snapshot, when no enhanced attestation was ever started."""
        return enhanced.load_pipeline(
            self.desk.store, identity, self.settings.backend, started_only=started_only
        )

    def customer_attestations(self, identity: Identity, customer_id: str) -> list[Any]:
        return enhanced.customer_attestations(self.desk.store, identity, customer_id)

    def acceptance_invitation(
        self,
        actor: Actor,
        record: Any,
        *,
        to: str | None = "",
        locale: str = "en",
        logged: bool = True,
    ) -> invitations.Email:
        """The email carrying an acceptance link to the signer (audited; no call)."""
        return enhanced.acceptance_invitation(
            self.desk.store, actor.identity, record, to=to, locale=locale, logged=logged
        )

    def play_customer_accepts(self, attestation_id: str) -> str:
        """Sandbox only: the customer clicks Accept on the acceptance page. Returns 'accepted',
        'already', 'expired' or 'unknown'."""
        if not isinstance(self.backend, SandboxBackend):
            raise ConfigurationError(
                "Only the sandbox can play the customer; in live mode the "
                "customer accepts on Microsoft's page."
            )
        return self.backend.accept(attestation_id)

    def finalise_ready(self, actor: Actor) -> enhanced.ReadySummary:
        """Finalise every enhanced attestation whose customer accepted, after reading the open
        links' states (App-only, like `finalise`); one audit row per finalise, and each new
        agreement written through to the snapshot."""
        o = self.enhanced_options
        summary = self._run(
            actor,
            lambda pc: enhanced.finalise_ready(
                pc, self.desk.store, actor.identity, wire=o.wire, link_lifetime=o.link_lifetime
            ),
            TokenKind.APP_ONLY,
        )
        self._write_through_finalised(actor.identity, summary)
        return summary

    def _write_through_finalised(self, identity: Identity, summary: enhanced.ReadySummary) -> None:
        user = identity.user_id
        for item in summary.items:
            if item.result is not None:
                self.desk.write_through(
                    identity,
                    item.customer_id,
                    lambda before, done=item.result: finalised_changes(before, done, user),
                )

    def _may_auto_finalise(self, actor: Actor, customer_ids: list[str] | None = None) -> bool:
        """`auto_finalise` is on, the user may finalise, and the store holds attestations that
        could be ready (no token is asked for, no call made, otherwise)."""
        return (
            self.settings.auto_finalise
            and enhanced.may_attest(actor.identity)
            and bool(
                enhanced.ready_attestations(
                    self.desk.store, actor.identity, customer_ids=customer_ids, waiting_too=True
                )
            )
        )

    def _finalised_after_refresh(
        self, actor: Actor, summary: enhanced.RefreshSummary, customer_ids: list[str] | None
    ) -> enhanced.RefreshSummary:
        """`auto_finalise` after `refresh_links`: finalise the accepted ones just read."""
        if not self.settings.auto_finalise or not enhanced.may_attest(actor.identity):
            return summary
        store = self.desk.store
        if not enhanced.ready_attestations(store, actor.identity, customer_ids=customer_ids):
            return summary
        o = self.enhanced_options
        done = self._run(
            actor,
            lambda pc: enhanced.finalise_ready(
                pc, self.desk.store, actor.identity, wire=o.wire, link_lifetime=o.link_lifetime,
                customer_ids=customer_ids, refresh=False, probe_without_status_read=False,
            ),
            TokenKind.APP_ONLY,
        )  # fmt: skip
        self._write_through_finalised(actor.identity, done)
        return summary.with_finalised(done.finalised)

    def _auto_finalise_before_sync(self, actor: Actor) -> enhanced.ReadySummary | None:
        """`auto_finalise` before a sync: read the open links' states and finalise the accepted
        ones, so the snapshot shows their agreements. Never fails the sync: what went wrong is
        in the audit log (each finalise, the refresh) and the log."""
        if not self._may_auto_finalise(actor):
            return None
        o = self.enhanced_options
        try:
            done = self._run(
                actor,
                lambda pc: enhanced.finalise_ready(
                    pc, self.desk.store, actor.identity, wire=o.wire,
                    link_lifetime=o.link_lifetime, probe_without_status_read=False,
                ),
                TokenKind.APP_ONLY,
            )  # fmt: skip
        except McaError as exc:
            log.warning("auto_finalise before the sync failed: %s", exc)
            return None
        self._write_through_finalised(actor.identity, done)
        return done

    def _classic_refusal(self) -> dict[str, Any]:
        """How Partner Center refuses the retired classic call (settings; not public)."""
        s = self.settings
        return {"retired_status": s.classic_retired_status, "retired_code": s.classic_retired_code}

    # --- alerts -------------------------------------------------------------------------------

    def alert_channels(self) -> alerts.Channels:
        """Which alert channels are configured (nothing secret: no password, no URL)."""
        return alerts.channels_of(self.settings)

    def alerts_preview(self, actor: Actor) -> dict[str, Any] | None:
        """The alert a run would send now, written nowhere (`alerts --dry-run`); None when
        nothing changed since the managers were last told."""
        access.check_may_view_alerts(actor.identity)
        return alerts.preview(self.desk.store, actor.identity, self.settings)

    def notify(self, actor: Actor) -> alerts.NotifyOutcome:
        """Queue what changed since the last alert and deliver every queued alert of the
        partner (email, Teams). Delivery failures stay queued, logged with their reason; this
        never raises for one. Agents only (a Manager reads, and sends nothing)."""
        access.check_may_send_alerts(actor.identity)
        return alerts.notify(self.desk.store, actor.identity, self.settings)

    def render_alert(self, notice: dict[str, Any], locale: str) -> alerts.RenderedAlert:
        """A notice as its email (subject, text, HTML) in `locale` (en or zh-CN)."""
        return alerts.render_email(notice, locale)

    def alert_outbox(self, identity: Identity, limit: int = 50) -> list[Any]:
        """The partner's newest alerts and their delivery state, newest first."""
        return alerts.outbox(self.desk.store, identity, self.settings, limit)

    def should_notify(self) -> bool:
        """Whether the dashboard's syncs and refreshes deliver alerts (`alerts_after_sync` and a
        channel configured)."""
        return self.settings.alerts_after_sync and self.alert_channels().any

    # --- the managers' digest ----------------------------------------------------------------

    def digest(
        self, actor: Actor, period: str = "week", *, now: datetime | None = None
    ) -> digests.Digest:
        """The digest of the partner for the last day or week (from the store; no call, nothing
        sent): the acceptance rate and its change, re-acceptance required, links pending and
        expired, the five customers blocked the longest. NothingToReport before a first sync.
        Agents and managers."""
        access.check_may_view_alerts(actor.identity)
        return digests.build_digest(
            self.desk.store, actor.identity, self.settings.backend, period, now,
            self.current_since,
        )  # fmt: skip

    def digest_email(
        self, digest: digests.Digest, locale: str | None = None
    ) -> digests.DigestEmail:
        """The digest's email in one language (default `alert_locale`), not sent."""
        return digests.digest_email(
            digest, locale or self.settings.alert_locale, self.settings.dashboard_url
        )

    def send_digest(
        self, actor: Actor, period: str = "week", *, now: datetime | None = None
    ) -> digests.DigestOutcome:
        """Build the digest and send it over every configured channel: one email per language
        of `alert_to` (To: that language's recipients), one Teams card. ConfigurationError
        before anything is sent when no channel (or no recipient, no From) is set; a delivery
        that fails is in the outcome with its masked reason. Audited (action `digest`)."""
        from mca_core.usecases.audit import record

        access.check_may_send_alerts(actor.identity, "digest")  # a Manager reads it
        digest = self.digest(actor, period, now=now)
        outcome = digests.deliver_digest(self.settings, digest)
        record(
            self.desk.store,
            actor.identity,
            "digest",
            "sent" if outcome.ok else ("failed" if not outcome.sent else "partial"),
            inputs={
                "period": digest.period,
                "snapshot_id": digest.snapshot_id,
                "deliveries": [
                    {
                        "channel": d.channel,
                        "locale": d.locale,
                        "recipient_domains": sorted({a.rpartition("@")[2] for a in d.to}),
                        "sent": d.sent,
                    }
                    for d in outcome.deliveries
                ],
            },
            detail="; ".join(f"{d.channel}: {d.reason}" for d in outcome.failed),
        )
        return outcome

    # --- invitations --------------------------------------------------------------------------

    def invite(
        self, actor: Actor, request: Invitation, *, logged: bool = True
    ) -> invitations.Email:
        """One email, ready for a mail program (nothing is sent). `logged=False`: it is to be
        sent at once, and the send's row (sent / send_failed) is its invitation log row (an
        email that never left is no invitation)."""
        store, identity, r = self.desk.store, actor.identity, request
        if isinstance(r, NewCustomerInvitation):
            work = lambda pc: invitations.invitation_for_new_customer(  # noqa: E731
                pc, store, identity, customer=r.customer, user_name=r.user_name,
                password=r.password, to=r.to, locale=r.locale, logged=logged,
            )  # fmt: skip
        elif isinstance(r, ExistingCustomerInvitation):
            work = lambda pc: invitations.invitation_for_existing_customer(  # noqa: E731
                pc, store, identity, customer=r.customer, to=r.to, locale=r.locale, logged=logged
            )
        elif isinstance(r, RelationshipInvitation):
            work = lambda pc: invitations.relationship_request(  # noqa: E731
                pc, store, identity, to=r.to, locale=r.locale, customer=r.customer,
                company_name=r.company_name, indirect_reseller_id=r.indirect_reseller_id,
                reseller_name=r.reseller_name, user_name=r.user_name, password=r.password,
                logged=logged,
            )  # fmt: skip
        else:
            assert isinstance(r, ProviderRequest)
            work = lambda pc: invitations.provider_request(  # noqa: E731
                pc, store, identity, customer=r.customer, ask=r.ask, to=r.to, locale=r.locale,
                contact_first_name=r.contact_first_name, contact_last_name=r.contact_last_name,
                contact_email=r.contact_email, contact_phone=r.contact_phone,
                date_agreed=r.date_agreed, logged=logged,
            )  # fmt: skip
        return self._run(actor, work)

    # --- sending invitations and following up ------------------------------------------------

    @property
    def email_configured(self) -> bool:
        """Whether the desk can send email itself (an SMTP server is configured)."""
        return delivery.email_configured(self.settings)

    def invitation_pacer(self, identity: Identity) -> sending.Pacer:
        """The process's send pacer of the partner (`invitation_send_per_minute`), shared by
        every session, so two agents sending at once still respect the rate."""
        return sending.shared_pacer(
            self._job_key(identity, "invitations"),
            identity.partner_tenant_id,
            self.settings.invitation_send_per_minute,
        )

    def send_invitations(
        self,
        actor: Actor,
        emails: list[invitations.Email],
        *,
        progress: Callable[[int, int, str], None] | None = None,
        pacer: sending.Pacer | None = None,
    ) -> list[sending.SendResult]:
        """Send each email as its own message over the configured SMTP server (checked like
        its generation, rate limited, audited and recorded in the invitation log); one result
        per email, in order. A failed send keeps its email (without the password) and does not
        stop the others. ConfigurationError when no SMTP server or From address is set."""
        return sending.send_invitations(
            self.desk.store,
            actor.identity,
            self.settings,
            emails,
            pacer=pacer or self.invitation_pacer(actor.identity),
            progress=progress,
        )

    def send_invitation(
        self, actor: Actor, email: invitations.Email, *, pacer: sending.Pacer | None = None
    ) -> sending.SendResult:
        """`send_invitations` of one email."""
        return self.send_invitations(actor, [email], pacer=pacer)[0]

    def latest_invitations(self, identity: Identity) -> invitation_records.LatestInvitations:
        """customer id -> its newest invitation (generated or sent): one version lookup, and
        one query when the log changed; shared by every session (read-only; its `version`
        is a cache key for what a page derives from it)."""
        return invitation_records.latest_invitations(self.desk.store, identity)

    def invitation_log_version(self, identity: Identity) -> int:
        """The partner's newest invitation row id (a cache key for what pages derive)."""
        return invitation_records.log_version(self.desk.store, identity)

    def customer_invitations(self, identity: Identity, customer_id: str) -> list[InvitationEntry]:
        """One customer's invitation events (generated, sent, failed), newest first."""
        return invitation_records.customer_invitations(self.desk.store, identity, customer_id)

    def follow_up(
        self,
        identity: Identity,
        older_than_days: int | None = None,
        *,
        now: datetime | None = None,
    ) -> list[follow_ups.FollowUpItem]:
        """Customers invited more than `older_than_days` (default `follow_up_after_days`) days
        ago and still blocked in the latest snapshot, oldest invitation first (no call)."""
        days = self.settings.follow_up_after_days if older_than_days is None else older_than_days
        return follow_ups.follow_up_list(
            self.desk.store,
            identity,
            backend=self.settings.backend,
            current_since=self.current_since,
            older_than_days=int(days),
            now=now,
        )

    def reminder(self, actor: Actor, customer_id: str, *, logged: bool = True) -> invitations.Email:
        """The reminder of a customer's newest invitation, generated (audited and recorded):
        the acceptance invitation of its open attestation (enhanced), else the existing-customer
        invitation to accept; to the same recipient, in the same language. `logged=False`:
        not in the invitation log yet (it is sent at once, and the send's row is its row)."""
        store, identity = self.desk.store, actor.identity
        access.check_may_view_follow_up(identity)
        entry = follow_ups.latest_invitation(store, identity, customer_id)
        locale = entry.locale or "en"
        if entry.kind == invitations.ENHANCED_KIND:
            record = follow_ups.open_attestation(store, identity, entry)
            return self.acceptance_invitation(
                actor, record, to=entry.recipient, locale=locale, logged=logged
            )
        return self._run(
            actor,
            lambda pc: invitations.invitation_for_existing_customer(
                pc, store, identity, customer=customer_id, to=entry.recipient, locale=locale,
                logged=logged,
            ),
        )  # fmt: skip

    def send_reminder(
        self, actor: Actor, customer_id: str, *, pacer: sending.Pacer | None = None
    ) -> tuple[invitations.Email, sending.SendResult | None]:
        """The one-click reminder: generated, then sent when SMTP is configured and the
        invitation had a recipient (else the result is None: offer the .eml). The invitation
        log gets the send's row (sent or send_failed), or `generated` for an .eml: a reminder
        that could not be sent leaves the customer on the follow-up list."""
        sending_it = self.email_configured
        email = self.reminder(actor, customer_id, logged=not sending_it)
        if sending_it and not email.to:  # nobody to send it to: it is the .eml's after all
            invitation_records.record(self.desk.store, actor.identity, email, "generated")
        if not sending_it or not email.to:
            return email, None
        return email, self.send_invitation(actor, email, pacer=pacer)

    def send_reminders(
        self,
        actor: Actor,
        customer_ids: list[str],
        *,
        progress: Callable[[int, int, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> list[follow_ups.ReminderOutcome]:
        """ "Remind all": each customer's one-click reminder in turn (paced like every send);
        one failing does not stop the others; `cancel` stops between two reminders."""
        access.check_may_invite_to_accept(actor.identity)
        done: list[follow_ups.ReminderOutcome] = []
        for number, customer_id in enumerate(customer_ids, start=1):
            if cancel is not None and cancel.is_set():
                break
            try:
                email, result = self.send_reminder(actor, customer_id)
            except McaError as exc:
                outcome = follow_ups.ReminderOutcome(customer_id, "", "failed", reason=str(exc))
            else:
                company = email.company_name or customer_id
                if result is None:
                    outcome = follow_ups.ReminderOutcome(customer_id, company, "written", email.to)
                elif result.sent:
                    outcome = follow_ups.ReminderOutcome(customer_id, company, "sent", email.to)
                else:
                    outcome = follow_ups.ReminderOutcome(
                        customer_id, company, "failed", email.to, result.reason
                    )
            done.append(outcome)
            if progress is not None:
                progress(number, len(customer_ids), "reminders")
        return done

    def start_reminders(self, actor: Actor, customer_ids: list[str]) -> JobStart:
        """`send_reminders` as a job of this process (it outlives the page; every session of
        the partner sees it; a second start joins it)."""
        access.check_may_invite_to_accept(actor.identity)
        ids = list(customer_ids)
        return self.start_job(
            actor,
            "reminders",
            lambda progress, cancel: self.send_reminders(
                actor, ids, progress=progress, cancel=cancel
            ),
        )

    # --- what the desk keeps --------------------------------------------------------------------

    @property
    def store_url(self) -> str:
        """The store's URL: a cache key for what pages read from the store."""
        return self.desk.store.url

    def snapshot_scope(self, identity: Identity) -> str:
        return snapshot_scope(identity, self.settings.backend)

    def latest_snapshot(self, identity: Identity) -> SnapshotInfo | None:
        """The partner's newest snapshot on this backend (complete or not)."""
        return self.desk.store.latest_snapshot(self.snapshot_scope(identity))

    def snapshots(self, identity: Identity, limit: int | None = None) -> list[SnapshotInfo]:
        return self.desk.store.snapshots(self.snapshot_scope(identity), limit=limit)

    def snapshot_rows(self, snapshot: SnapshotInfo) -> list[dict[str, Any]]:
        return self.desk.store.snapshot_rows(snapshot.id)

    def audit_events(self, identity: Identity, **filters: Any) -> list[AuditEvent]:
        """The partner's audit events, newest first (filters: see `Store.audit`; pass
        `viewer_id` to include the viewer's own events from before partners were recorded)."""
        filters.setdefault("partner_tenant_id", identity.partner_tenant_id)
        return self.desk.store.audit(**filters)

    def partner_names(self) -> list[PartnerName]:
        """Partners whose names the desk knows: the sandbox directory (none in live mode)."""
        return self.backend.partners() if isinstance(self.backend, SandboxBackend) else []


__all__ = ["App"]
