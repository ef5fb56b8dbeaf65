"""One configured installation, wired: settings -> store, token providers, the client.

The dashboard keeps one `Desk` per process (the embedded emulator, the rate limiter and the
template cache are shared by every user and action); the CLI builds one per command. Sandbox and
live differ only in the transport and the token provider: the client code is the same.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from mca_core.auth.providers import (
    MsalAppOnlyProvider,
    MsalAppUserProvider,
    SandboxTokenProvider,
    StaticTokenProvider,
    TokenProvider,
    identity_from_claims,
    read_claims,
)
from mca_core.config import Settings
from mca_core.domain.errors import ConfigurationError
from mca_core.domain.models import Identity, Role, TokenKind
from mca_core.partner_center.client import CallStats, PartnerCenterClient, TemplateCache
from mca_core.partner_center.ratelimit import RateLimiter
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.database import Store

T = TypeVar("T")
SANDBOX_BASE_URL = "https://partnercenter.sandbox.local"


@dataclass(frozen=True)
class Actor:
    """Who acts (the identity the desk resolved) and how its calls are authorised."""

    identity: Identity
    tokens: TokenProvider


class Desk:
    def __init__(self, settings: Settings, *, store: Store | None = None):
        self.settings = settings
        self.store = store or Store(settings.resolved_store_url)
        self.limiter = RateLimiter(settings.effective_rate_limit)
        self.templates = TemplateCache()
        self._emulator: Any = None
        self._lock = threading.Lock()

    @property
    def is_sandbox(self) -> bool:
        return self.settings.backend == "sandbox"

    @property
    def standalone_sandbox_url(self) -> str | None:
        """The standalone emulator's base URL when the sandbox talks to one over HTTP."""
        url = self.settings.sandbox_url if self.is_sandbox else None
        return url.rstrip("/") if url else None

    @property
    def base_url(self) -> str:
        if not self.is_sandbox:
            return self.settings.pc_base_url.rstrip("/")
        return self.standalone_sandbox_url or SANDBOX_BASE_URL

    @property
    def emulator(self) -> Any:
        """The embedded emulator (sandbox only), created once and seeded on first use."""
        if not self.is_sandbox:
            raise ConfigurationError("The embedded emulator exists only in sandbox mode.")
        if self.standalone_sandbox_url:
            raise ConfigurationError(
                f"The sandbox uses the standalone emulator at {self.standalone_sandbox_url} "
                "(sandbox_url): there is no embedded emulator to use."
            )
        with self._lock:
            if self._emulator is None:
                from mca_core.emulator import Emulator

                self._emulator = Emulator(
                    self.settings.emulator_dir,
                    customers=self.settings.sandbox_customers,
                    seed=self.settings.sandbox_seed,
                )
            return self._emulator

    # --- who acts ------------------------------------------------------------------------

    def sandbox_actor(
        self, user_key: str | None = None, kind: TokenKind = TokenKind.APP_USER
    ) -> Actor:
        from mca_core.emulator import SANDBOX_USERS

        key = user_key or self.settings.sandbox_user
        if key not in SANDBOX_USERS:
            raise ConfigurationError(
                f"Unknown sandbox user '{key}'. Choose one of: {', '.join(SANDBOX_USERS)}."
            )
        if self.standalone_sandbox_url:
            tokens = SandboxTokenProvider(key, base_url=self.standalone_sandbox_url, kind=kind)
        else:
            tokens = SandboxTokenProvider(key, issue=self.emulator.issue_token, kind=kind)
        return Actor(SANDBOX_USERS[key].identity(), tokens)

    def live_tokens(self, device_code_prompt: Callable[[str], None] | None = None) -> TokenProvider:
        """App+User token for live mode: a pre-acquired token, a refresh token, or device code."""
        s = self.settings
        if s.access_token is not None:
            return StaticTokenProvider(s.access_token.get_secret_value())
        if not (s.partner_tenant_id and s.client_id):
            raise ConfigurationError(
                "Live mode needs a token: set MCA_ACCESS_TOKEN, or partner_tenant_id and "
                "client_id (plus refresh_token or device-code sign-in) in .streamlit/secrets.toml "
                "[mca]."
            )
        return MsalAppUserProvider(
            s.partner_tenant_id,
            s.client_id,
            client_secret=s.client_secret.get_secret_value() if s.client_secret else None,
            refresh_token=s.refresh_token.get_secret_value() if s.refresh_token else None,
            device_code_prompt=device_code_prompt,
            authority_host=s.authority_host,
        )

    def live_app_only_tokens(self) -> TokenProvider:
        s = self.settings
        if not (s.partner_tenant_id and s.client_id and s.client_secret):
            raise ConfigurationError(
                "App-only calls need partner_tenant_id, client_id and client_secret in "
                ".streamlit/secrets.toml [mca]."
            )
        return MsalAppOnlyProvider(
            s.partner_tenant_id,
            s.client_id,
            s.client_secret.get_secret_value(),
            authority_host=s.authority_host,
        )

    def live_identity(self, tokens: TokenProvider, claims: dict[str, Any] | None) -> Identity:
        """Role from the token's groups (mapped by configuration), partner type from settings."""
        s = self.settings
        if claims is None:
            return Identity(
                user_id="unknown",
                display_name="Pre-acquired token",
                role=Role.NONE,
                partner_type=s.partner_type,
                partner_tenant_id=s.partner_tenant_id,
                partner_name=s.partner_name,
                provider_tenant_id=s.provider_tenant_id,
                provider_name=s.provider_name,
                role_known=False,
            )
        return identity_from_claims(
            claims,
            group_roles=s.group_roles,
            partner_type=s.partner_type,
            partner_tenant_id=s.partner_tenant_id or str(claims.get("tid") or ""),
            partner_name=s.partner_name,
            provider_tenant_id=s.provider_tenant_id,
            provider_name=s.provider_name,
        )

    async def live_actor(self, device_code_prompt: Callable[[str], None] | None = None) -> Actor:
        tokens = self.live_tokens(device_code_prompt)
        token = await tokens.get_token()
        return Actor(self.live_identity(tokens, read_claims(token)), tokens)

    # --- the client ----------------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport | None:
        """The embedded emulator in process; plain HTTP for live and a standalone emulator."""
        if self.is_sandbox and not self.standalone_sandbox_url:
            return self.emulator.transport()
        return None

    @asynccontextmanager
    async def client(
        self,
        tokens: TokenProvider,
        *,
        stats: CallStats | None = None,
        concurrency: int | None = None,
    ) -> AsyncIterator[PartnerCenterClient]:
        s = self.settings
        async with httpx.AsyncClient(
            transport=self.transport(), timeout=s.timeout_seconds, base_url=self.base_url
        ) as http:
            yield PartnerCenterClient(
                http,
                tokens,
                base_url=self.base_url,
                limiter=self.limiter,
                concurrency=concurrency or s.max_concurrency,
                timeout=s.timeout_seconds,
                retry=RetryPolicy(
                    max_attempts=s.max_attempts, budget_seconds=s.retry_budget_seconds
                ),
                templates=self.templates,
                locale=s.locale,
                stats=stats,
            )

    def write_through(
        self,
        identity: Identity,
        customer_id: str,
        changes: Callable[[dict[str, Any] | None], dict[str, Any]],
    ) -> bool:
        """Work done on the desk (an attestation, a finalise, a new customer) updates that
        customer's row in the partner's latest snapshot at once, so every page agrees before
        the next sync. `changes` maps the row as it was (or None) to the new values."""
        from mca_core.usecases.sync import snapshot_scope

        snap = self.store.latest_snapshot(snapshot_scope(identity, self.settings.backend))
        if snap is None:
            return False
        before = self.store.snapshot_row(snap.id, customer_id)
        return self.store.write_through(snap.id, customer_id, changes(before))

    def write_through_bulk(self, identity: Identity, report: Any, rows: Any) -> int:
        """`write_through` for every row a bulk run attested (or found attested)."""
        from mca_core.usecases.bulk import accepted_rows
        from mca_core.usecases.sync import accepted_changes

        written = 0
        for customer_id, contact, day, new in accepted_rows(report, rows):
            written += self.write_through(
                identity,
                customer_id,
                lambda before, c=contact, d=day, n=new: accepted_changes(
                    before, contact=c, date_agreed=d, attested_by=identity.user_id,
                    new_attestation=n,
                ),
            )  # fmt: skip
        return written

    def run(
        self, work: Callable[[PartnerCenterClient], Awaitable[T]], actor: Actor, **kw: Any
    ) -> T:
        """Run one use case synchronously (pages and the CLI are synchronous)."""

        async def main() -> T:
            async with self.client(actor.tokens, **kw) as pc:
                return await work(pc)

        return run_sync(main())


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    """asyncio.run, also from a thread that already runs a loop (e.g. inside a notebook)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["value"] = asyncio.run(coro)
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if "error" in result:
        raise result["error"]
    return result["value"]
