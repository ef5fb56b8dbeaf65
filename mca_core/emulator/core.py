"""`Emulator`: one sandbox Partner Center over one data dir (see the package docstring)."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
from starlette.types import Receive, Scope, Send

from mca_core.domain import errors
from mca_core.domain.models import TokenKind

from . import tokens
from .app import Gateway, build_app
from .directory import PARTNERS
from .faults import FaultConfig, FaultInjector
from .state import Store
from .transport import EmulatorTransport

DEFAULT_CUSTOMERS = 1500
DEFAULT_SEED = 42
#: Records a page of the agreement records (Microsoft's figure is not public).
DEFAULT_RECORDS_PAGE_SIZE = 500
#: The day Microsoft retired the classic attestation call (partner and news sources).
CLASSIC_RETIRED_ON = date.fromisoformat(errors.CLASSIC_RETIRED_ON)
#: What the emulator answers a classic attestation with once it is retired. Microsoft's real
#: status and code are NOT public: these are the emulator's choice and configurable
#: (`classic_refusal_status`, `classic_refusal_code`; `--classic-refusal-*` on the command
#: lines). The same defaults as the desk's settings `classic_retired_status` / `_code`.
DEFAULT_CLASSIC_REFUSAL_STATUS = errors.CLASSIC_RETIRED_STATUS
DEFAULT_CLASSIC_REFUSAL_CODE = errors.CLASSIC_RETIRED_CODE


def _utc_now() -> datetime:
    return datetime.now(UTC)


class Emulator:
    """A stateful Partner Center stand-in persisted in `{data_dir}/emulator.sqlite3`.

    The first open of an empty data dir seeds `customers` customers for each portfolio partner
    from `seed`; later opens keep what is there (whatever `customers`/`seed` say) until `reset()`.
    `clock` (UTC now) judges `dateAgreed` and token expiry; `monotonic` drives throttling.

    `classic_retired_on`: from that day on the emulator's clock, a classic attestation
    (``POST /v1/customers/{id}/agreements`` without an attestation id) is refused with
    `classic_refusal_status` / `classic_refusal_code` (Microsoft retired the call on 2026-01-05;
    what it answers now is not public, so both are configurable); None accepts it as before.
    The enhanced finalise on the same path is never refused by this.
    `agreement_records`: serve `GET /v1/partners/customeragreementrecords`,
    `records_page_size` records a page; False answers it 404 (a partner without the source).
    `enhanced_customer_required`: the enhanced create body must name the customer
    (`customerTenantId`); False accepts a body without it, and the attestation is bound to the
    customer of its finalise path (for a desk configured with `enhanced_wire.customer_tenant_id
    = ""`).
    """

    def __init__(
        self,
        data_dir: str | Path,
        customers: int = DEFAULT_CUSTOMERS,
        seed: int = DEFAULT_SEED,
        *,
        faults: FaultConfig | None = None,
        clock: Callable[[], datetime] | None = None,
        monotonic: Callable[[], float] | None = None,
        classic_retired_on: date | None = None,
        classic_refusal_status: int = DEFAULT_CLASSIC_REFUSAL_STATUS,
        classic_refusal_code: int = DEFAULT_CLASSIC_REFUSAL_CODE,
        enhanced_customer_required: bool = True,
        agreement_records: bool = True,
        records_page_size: int = DEFAULT_RECORDS_PAGE_SIZE,
    ):
        if customers < 0:
            raise ValueError("customers may not be negative")
        if not 400 <= classic_refusal_status <= 599:
            raise ValueError("classic_refusal_status must be an HTTP error status (400-599)")
        self.classic_retired_on: date | None = classic_retired_on
        self.classic_refusal_status = classic_refusal_status
        self.classic_refusal_code = classic_refusal_code
        self.enhanced_customer_required = enhanced_customer_required
        if records_page_size < 1:
            raise ValueError("records_page_size must be at least 1")
        self.agreement_records = agreement_records
        self.records_page_size = records_page_size
        self.clock: Callable[[], datetime] = clock or _utc_now
        self.monotonic: Callable[[], float] = monotonic or time.monotonic
        self.store = Store(data_dir, customers, seed)
        self._injector = FaultInjector(faults or FaultConfig(), self._monotonic_now)
        self.app: Gateway = build_app(self)

    # ASGI ----------------------------------------------------------------------------------
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)

    def transport(self) -> httpx.AsyncBaseTransport:
        """An in-process httpx transport to this emulator (no socket; resets/timeouts as TCP)."""
        return EmulatorTransport(app=self.app)

    # state ---------------------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.store.data_dir

    def now(self) -> datetime:
        """The emulator clock's now, as an aware UTC datetime (naive values are taken as UTC)."""
        moment = self.clock()
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def classic_retired(self) -> bool:
        """Whether the classic attestation call is retired on the emulator clock's today."""
        retired = self.classic_retired_on
        return retired is not None and self.now().date() >= retired

    def _monotonic_now(self) -> float:
        return self.monotonic()

    @property
    def faults(self) -> FaultConfig:
        return self._injector.config

    @faults.setter
    def faults(self, config: FaultConfig) -> None:
        """Swap the fault settings; the fault RNG and throttling buckets start afresh."""
        self._injector = FaultInjector(config, self._monotonic_now)

    @property
    def fault_injector(self) -> FaultInjector:
        return self._injector

    def reset(self, *, rotate_key: bool = False) -> None:
        """Wipe and reseed the portfolio; faults restart their RNG and buckets. Tokens stay valid
        unless `rotate_key`."""
        self.store.reset(rotate_key=rotate_key)
        self.faults = self.faults

    def set_direct_signing(self, customer_id: str, signed: bool = True) -> bool:
        """Play a customer who accepted (or not) in the admin center; False if unknown."""
        return self.store.set_direct_signed(customer_id, signed)

    def issue_token(
        self, user_key: str, *, mfa: bool = True, kind: TokenKind = TokenKind.APP_USER
    ) -> str:
        """A bearer token for a sandbox user (or, App-only, for its partner's app)."""
        user = tokens.sandbox_user(user_key)
        return tokens.issue(self.store.signing_key(), user, self.now(), mfa=mfa, kind=kind)

    def health(self) -> dict[str, Any]:
        counts = self.store.counts()
        meta = self.store.meta()
        names = {tid: p.name for tid, p in PARTNERS.items()}
        return {
            "status": "ok",
            "seed": int(meta.get("seed", "0")),
            "customersPerPartner": int(meta.get("customers_per_partner", "0")),
            "seededAt": meta.get("seeded"),
            "customers": counts["customers"],
            "agreements": counts["agreements"],
            "directSigned": counts["directSigned"],
            "customersByPartner": {
                names.get(k, k): v for k, v in counts["customersByPartner"].items()
            },
            "customersByReseller": {
                names.get(k, k): v for k, v in counts["customersByReseller"].items()
            },
            "now": self.now().isoformat(),
            "classicRetiredOn": (
                self.classic_retired_on.isoformat() if self.classic_retired_on else None
            ),
            "faults": self.faults.to_dict(),
        }

    # lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Emulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
