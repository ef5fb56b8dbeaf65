"""One configured installation, wired: settings -> store, token providers, the client.

The dashboard keeps one `Desk` per process (the backend, the rate limiter and the template cache
are shared by every user and action); the CLI builds one per command. Sandbox and live differ
only in their backend (transport and token provider, `mca_core.backends`): the client code is
the same.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx

from mca_core.auth.providers import TokenProvider, read_claims
from mca_core.backends import Backend, LiveBackend, SandboxBackend, backend_for
from mca_core.config import Settings
from mca_core.domain.errors import ConfigurationError
from mca_core.domain.models import Identity, TokenKind
from mca_core.partner_center.client import CallStats, PartnerCenterClient, TemplateCache
from mca_core.partner_center.ratelimit import RateLimiter
from mca_core.partner_center.retry import RetryPolicy
from mca_core.store.database import Store

T = TypeVar("T")


@dataclass(frozen=True)
class Actor:
    """Who acts (the identity the desk resolved) and how its calls are authorised."""

    identity: Identity
    tokens: TokenProvider


class Desk:
    def __init__(self, settings: Settings, *, store: Store | None = None):
        self.settings = settings
        self.backend: Backend = backend_for(settings)
        self.store = store or Store(settings.resolved_store_url)
        self.limiter = RateLimiter(settings.effective_rate_limit)
        self.templates = TemplateCache()

    @property
    def is_sandbox(self) -> bool:
        return self.backend.is_sandbox

    @property
    def standalone_sandbox_url(self) -> str | None:
        """The standalone emulator's base URL when the sandbox talks to one over HTTP."""
        return self.backend.standalone_url

    @property
    def base_url(self) -> str:
        return self.backend.base_url

    @property
    def emulator(self) -> Any:
        """The embedded emulator (sandbox only; tests and the sandbox's own controls)."""
        if not isinstance(self.backend, SandboxBackend):
            raise ConfigurationError("The embedded emulator exists only in sandbox mode.")
        return self.backend.emulator

    # --- who acts ------------------------------------------------------------------------

    def sandbox_actor(
        self, user_key: str | None = None, kind: TokenKind = TokenKind.APP_USER
    ) -> Actor:
        if not isinstance(self.backend, SandboxBackend):
            raise ConfigurationError("Seeded users exist only in sandbox mode.")
        key = user_key or self.settings.sandbox_user
        tokens = self.backend.tokens(key, kind)
        return Actor(self.backend.users()[key].identity, tokens)

    def _live(self) -> LiveBackend:
        if not isinstance(self.backend, LiveBackend):
            raise ConfigurationError("Partner Center tokens from MSAL are for live mode only.")
        return self.backend

    def live_tokens(self, device_code_prompt: Callable[[str], None] | None = None) -> TokenProvider:
        """App+User token for live mode: a pre-acquired token, a refresh token, or device code."""
        return self._live().user_tokens(device_code_prompt)

    def live_app_only_tokens(self) -> TokenProvider:
        return self._live().app_only_tokens()

    def live_identity(self, tokens: TokenProvider, claims: dict[str, Any] | None) -> Identity:
        """Role from the token's groups (mapped by configuration), partner type from settings."""
        return self._live().identity(claims)

    async def live_actor(self, device_code_prompt: Callable[[str], None] | None = None) -> Actor:
        tokens = self.live_tokens(device_code_prompt)
        token = await tokens.get_token()
        return Actor(self.live_identity(tokens, read_claims(token)), tokens)

    # --- the client ----------------------------------------------------------------------

    def transport(self) -> httpx.AsyncBaseTransport | None:
        """The embedded emulator in process; plain HTTP for live and a standalone emulator."""
        return self.backend.transport()

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
                    new_attestation=n, current_since=self.settings.current_mca_since,
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
