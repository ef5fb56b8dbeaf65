"""Sandbox or live: the one place that knows the Partner Center emulator exists.

Everything above (the desk, the App, the CLI, the pages) asks its backend for the transport, the
base URL, who may sign in and how tokens are made; the client code is the same for both. The
emulator is imported here only, lazily, so a live installation never loads it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx

from mca_core.auth.providers import (
    MsalAppOnlyProvider,
    MsalAppUserProvider,
    SandboxTokenProvider,
    StaticTokenProvider,
    TokenProvider,
    identity_from_claims,
)
from mca_core.config import Settings
from mca_core.domain.errors import ConfigurationError
from mca_core.domain.models import Identity, Role, TokenKind
from mca_core.partner_center.client import check_id, path_segment

if TYPE_CHECKING:
    from mca_core.emulator import Emulator

SANDBOX_BASE_URL = "https://partnercenter.sandbox.local"
#: The emulator's database file inside its data directory (an export must never replace it).
EMULATOR_DB_FILE = "emulator.sqlite3"

AcceptOutcome = Literal["accepted", "already", "expired", "unknown"]


@dataclass(frozen=True)
class SandboxUser:
    """A seeded partner user the sandbox offers at sign-in (the desk's view of it)."""

    key: str
    identity: Identity


@dataclass(frozen=True)
class PartnerName:
    """A partner of the sandbox directory: its tenant, name and indirect provider."""

    tenant_id: str
    name: str
    provider_tenant_id: str | None = None


def sandbox_user_keys() -> tuple[str, ...]:
    """The keys of the seeded users the sandbox signs in as."""
    from mca_core.emulator import SANDBOX_USERS

    return tuple(SANDBOX_USERS)


def embedded_emulator_options(settings: Settings) -> dict[str, Any]:
    """What the embedded emulator takes from the desk's settings, so desk and sandbox agree:
    when the classic call is retired and how it refuses, and whether the enhanced create body
    names the customer (`enhanced_wire.customer_tenant_id = ""` leaves it out)."""
    wire = settings.enhanced_wire or {}
    customer_field = str(wire.get("customer_tenant_id", "customerTenantId") or "").strip()
    return {
        "classic_retired_on": settings.sandbox_classic_retired_on,
        "classic_refusal_status": settings.classic_retired_status,
        "classic_refusal_code": settings.classic_retired_code,
        "enhanced_customer_required": bool(customer_field),
        "agreement_records": settings.sandbox_agreement_records,
    }


class SandboxBackend:
    """The emulator: embedded in process (default) or standalone over HTTP (`sandbox_url`)."""

    name = "sandbox"
    is_sandbox = True

    def __init__(self, settings: Settings):
        self.settings = settings
        self._emulator: Emulator | None = None
        self._lock = threading.Lock()

    @property
    def standalone_url(self) -> str | None:
        """The standalone emulator's base URL when the sandbox talks to one over HTTP."""
        url = self.settings.sandbox_url
        return url.rstrip("/") if url else None

    @property
    def base_url(self) -> str:
        return self.standalone_url or SANDBOX_BASE_URL

    @property
    def link_reachable(self) -> bool:
        """A browser can open the acceptance link only from a standalone emulator."""
        return bool(self.standalone_url)

    @property
    def emulator(self) -> Emulator:
        """The embedded emulator, created once and seeded on first use."""
        if self.standalone_url:
            raise ConfigurationError(
                f"The sandbox uses the standalone emulator at {self.standalone_url} "
                "(sandbox_url): there is no embedded emulator to use."
            )
        with self._lock:
            if self._emulator is None:
                from mca_core.emulator import Emulator

                s = self.settings
                self._emulator = Emulator(
                    s.emulator_dir,
                    customers=s.sandbox_customers,
                    seed=s.sandbox_seed,
                    **embedded_emulator_options(s),
                )
            return self._emulator

    def transport(self) -> httpx.AsyncBaseTransport | None:
        """The embedded emulator in process; plain HTTP to a standalone one."""
        return None if self.standalone_url else self.emulator.transport()

    # --- who may sign in -----------------------------------------------------------------

    @staticmethod
    @cache
    def users() -> dict[str, SandboxUser]:
        """The seeded users, by key, in the directory's order (fixed: built once, not on every
        page run's sign-in)."""
        from mca_core.emulator import SANDBOX_USERS

        return {key: SandboxUser(key, user.identity()) for key, user in SANDBOX_USERS.items()}

    @staticmethod
    def partners() -> list[PartnerName]:
        from mca_core.emulator import PARTNERS

        return [PartnerName(p.tenant_id, p.name, p.provider_tenant_id) for p in PARTNERS.values()]

    def tokens(self, user_key: str, kind: TokenKind = TokenKind.APP_USER) -> TokenProvider:
        """The seeded user's tokens, issued by the emulator for each session."""
        if user_key not in self.users():
            raise ConfigurationError(
                f"Unknown sandbox user '{user_key}'. Choose one of: {', '.join(self.users())}."
            )
        if self.standalone_url:
            return SandboxTokenProvider(user_key, base_url=self.standalone_url, kind=kind)
        return SandboxTokenProvider(user_key, issue=self.emulator.issue_token, kind=kind)

    # --- playing the customer --------------------------------------------------------------

    def accept(self, attestation_id: str) -> AcceptOutcome:
        """Play the customer who clicks Accept on the acceptance page."""
        # Checked before any request, then one encoded path segment: '../reset?x=' must never
        # reach another endpoint of the emulator.
        attestation_id = check_id(attestation_id, "attestation_id")
        url = self.standalone_url
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
            return str(response.json().get("outcome") or "unknown")  # type: ignore[return-value]
        from mca_core.emulator.enhanced import accept

        return accept(self.emulator, attestation_id)  # type: ignore[return-value]

    def reset(self) -> Path:
        """Reseed the sandbox's own data directory (the CLI's `reset-sandbox`)."""
        from mca_core.emulator import Emulator

        s = self.settings
        Emulator(s.emulator_dir, customers=s.sandbox_customers, seed=s.sandbox_seed).reset()
        return Path(s.emulator_dir)


class LiveBackend:
    """The real Partner Center, with MSAL tokens from `.streamlit/secrets.toml` [mca]."""

    name = "live"
    is_sandbox = False
    standalone_url: str | None = None
    link_reachable = True

    def __init__(self, settings: Settings):
        self.settings = settings
        self._app_only: TokenProvider | None = None

    @property
    def base_url(self) -> str:
        return self.settings.pc_base_url.rstrip("/")

    def transport(self) -> httpx.AsyncBaseTransport | None:
        return None

    def user_tokens(self, device_code_prompt: Callable[[str], None] | None = None) -> TokenProvider:
        """App+User: a pre-acquired token, a refresh token, or device code."""
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

    def app_only_tokens(self) -> TokenProvider:
        """The partner app's client-credentials tokens, made once per backend (MSAL caches)."""
        if self._app_only is None:
            s = self.settings
            if not (s.partner_tenant_id and s.client_id and s.client_secret):
                raise ConfigurationError(
                    "App-only calls need partner_tenant_id, client_id and client_secret in "
                    ".streamlit/secrets.toml [mca]."
                )
            self._app_only = MsalAppOnlyProvider(
                s.partner_tenant_id,
                s.client_id,
                s.client_secret.get_secret_value(),
                authority_host=s.authority_host,
            )
        return self._app_only

    def identity(self, claims: dict[str, Any] | None) -> Identity:
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


Backend = SandboxBackend | LiveBackend


def backend_for(settings: Settings) -> Backend:
    return SandboxBackend(settings) if settings.backend == "sandbox" else LiveBackend(settings)


def serve_emulator(
    data_dir: str | Path,
    *,
    host: str,
    port: int,
    customers: int,
    seed: int,
    reset: bool = False,
    faults: dict[str, Any] | None = None,
    announce: Callable[[str], None] = print,
    options: dict[str, Any] | None = None,
) -> None:
    """Run the emulator as a standalone server (the CLI's `emulator` command) until Ctrl+C.
    `options`: further keyword arguments of `Emulator` (e.g. `classic_retired_on`)."""
    from mca_core.emulator import Emulator, FaultConfig, exposure_warning, serve

    emulator = Emulator(
        data_dir,
        customers=customers,
        seed=seed,
        faults=FaultConfig(**(faults or {})),
        **(options or {}),
    )
    if reset:
        emulator.reset()
    announce(
        f"Partner Center emulator on http://{host}:{port} (data: {data_dir}); "
        "tokens at POST /sandbox/token; Ctrl+C stops it."
    )
    if emulator.classic_retired_on is not None:
        announce(
            f"The classic attestation call is refused from {emulator.classic_retired_on} "
            f"(HTTP {emulator.classic_refusal_status} / {emulator.classic_refusal_code})."
        )
    warning = exposure_warning(host)  # /sandbox/* needs no token: loopback is the guard
    if warning:
        announce(warning)
    serve(emulator, host=host, port=port)


__all__ = [
    "EMULATOR_DB_FILE",
    "SANDBOX_BASE_URL",
    "Backend",
    "LiveBackend",
    "PartnerName",
    "SandboxBackend",
    "SandboxUser",
    "backend_for",
    "embedded_emulator_options",
    "sandbox_user_keys",
    "serve_emulator",
]
