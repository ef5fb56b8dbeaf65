"""Settings of one installation: which backend, where data lives, how hard to push Partner Center.

Sources, strongest first: explicit overrides (CLI flags), environment variables (`MCA_*`), the
`[mca]` table of `.streamlit/secrets.toml` (the same file Streamlit reads), then the defaults below.
The sandbox needs none of them.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import tomllib
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from mca_core.domain.errors import (
    CLASSIC_RETIRED_CODE,
    CLASSIC_RETIRED_STATUS,
    ConfigurationError,
)
from mca_core.domain.models import CURRENT_MCA_SINCE, PartnerType, Role

PRODUCTION_BASE_URL = "https://api.partnercenter.microsoft.com"
DEFAULT_SECRETS_FILE = Path(".streamlit") / "secrets.toml"
LIVE_RATE_LIMIT = 500.0
SANDBOX_RATE_LIMIT = 3000.0
#: `[mca.<name>]` tables kept as one mapping-valued setting (the others merge into [mca]).
NESTED_SETTINGS = frozenset({"enhanced_wire"})


class Settings(BaseModel):
    """Everything configurable. Field `x` is read from env `MCA_X` or `[mca] x` in secrets.toml."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    backend: Literal["sandbox", "live"] = "sandbox"
    data_dir: Path = Path("data")
    #: SQLAlchemy URL of the audit/snapshot store; default: a SQLite file in data_dir.
    store_url: str | None = None

    # --- sandbox (embedded emulator) ---
    sandbox_user: str = "admin-agent"
    sandbox_customers: int = Field(1500, ge=1, le=200_000)
    sandbox_seed: int = 42
    #: A standalone emulator (`python -m mca_core emulator`) the sandbox talks to over HTTP
    #: instead of the embedded one, e.g. "http://127.0.0.1:8765" (browser tests, shared demos).
    sandbox_url: str | None = None
    #: The embedded emulator refuses the classic attestation call from this day on its clock, as
    #: production does since Microsoft retired it on 2026-01-05; None ("never") plays a tenant
    #: that still accepts it. Env MCA_SANDBOX_CLASSIC_RETIRED_ON: YYYY-MM-DD or never. It
    #: refuses with classic_retired_status / classic_retired_code below, so desk and sandbox
    #: agree.
    sandbox_classic_retired_on: date | None = date(2026, 1, 5)
    #: The embedded emulator serves the agreement records (GET
    #: /v1/partners/customeragreementrecords); false answers 404, as a partner without them.
    sandbox_agreement_records: bool = True
    #: The sandbox builds its first snapshot by itself at first start (env
    #: MCA_SANDBOX_FIRST_SYNC), so the first page shows data rather than an empty overview.
    sandbox_first_sync: bool = True

    # --- Partner Center client ---
    pc_base_url: str = PRODUCTION_BASE_URL
    #: Client-side limit shared by every call. Default: 500/min live (Partner Center's published
    #: figure), 3,000/min in the sandbox so a demo sync of 1,500 customers takes about a minute.
    rate_limit_per_minute: float | None = Field(None, gt=0)
    max_concurrency: int = Field(16, ge=1, le=256)
    timeout_seconds: float = Field(30, gt=0)
    max_attempts: int = Field(6, ge=1, le=20)
    retry_budget_seconds: float = Field(180, gt=0)
    locale: str = "en-US"

    # --- live: identity of the partner and its app registration ---
    partner_type: PartnerType = PartnerType.DIRECT_BILL
    partner_name: str = ""
    partner_tenant_id: str = ""
    provider_tenant_id: str | None = None
    provider_name: str | None = None
    client_id: str = ""
    client_secret: SecretStr | None = None
    refresh_token: SecretStr | None = None
    access_token: SecretStr | None = None
    authority_host: str = "https://login.microsoftonline.com"
    #: Entra group object ids of the Partner Center agent groups (from secrets.toml [mca.roles]).
    admin_agent_groups: list[str] = Field(default_factory=list)
    sales_agent_groups: list[str] = Field(default_factory=list)
    helpdesk_agent_groups: list[str] = Field(default_factory=list)

    # --- attestation channel (see usecases/channel.py and partner_center/enhanced_wire.py) ---
    #: "enhanced" (attestation -> the customer accepts through a link -> agreement; App-only),
    #: production's only way since 2026-01-05; or "classic" (POST .../agreements with contact
    #: and date), retired by Microsoft on 2026-01-05: an explicit opt-in for a tenant that
    #: still accepts it.
    attestation_channel: Literal["classic", "enhanced"] = "enhanced"
    #: Acceptances dated before this day are of an earlier MCA: the customer must accept the
    #: current one again before new orders (Microsoft's 2023 MCA refresh; env
    #: MCA_CURRENT_MCA_SINCE, YYYY-MM-DD).
    current_mca_since: date = CURRENT_MCA_SINCE
    #: What Partner Center answers the retired classic attestation call with (status and code;
    #: Microsoft's real ones are not public). The classic attest then raises
    #: ClassicAttestationRetired, which names the enhanced flow.
    classic_retired_status: int = Field(CLASSIC_RETIRED_STATUS, ge=400, le=599)
    classic_retired_code: int = CLASSIC_RETIRED_CODE
    #: Finalise every attestation whose customer accepted when the links are refreshed and
    #: before a sync (App.refresh_links, App.sync; env MCA_AUTO_FINALISE), an audit row each.
    auto_finalise: bool = True
    #: Where the sync reads acceptance: "auto" (the agreement records when Partner Center
    #: answers them, else customer by customer), "records" or "per_customer" (env MCA_SYNC_SOURCE).
    sync_source: Literal["auto", "records", "per_customer"] = "auto"
    #: With the records source, also read direct signing (`isSigned`) for every customer whose
    #: record shows no current acceptance: proof beyond an undocumented source, at one call each.
    confirm_with_direct_read: bool = False
    #: How long an acceptance link stays valid when Partner Center's answer does not say.
    enhanced_link_lifetime_hours: float = Field(168, gt=0, le=24 * 90)
    #: Corrections of assumed enhanced-attestation names ({name: value}); names in
    #: enhanced_wire.EnhancedWire. secrets.toml [mca.enhanced_wire], or MCA_ENHANCED_WIRE as JSON.
    enhanced_wire: dict[str, str] = Field(default_factory=dict)

    # --- telling people: alerts, digests, invitations sent from the desk (README "Alerts") ---
    #: The SMTP server alerts, digests and invitations go through (none: no email is sent).
    smtp_host: str | None = None
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    #: Upgrade the connection with STARTTLS (port 587); `smtp_ssl` for implicit TLS (465).
    smtp_starttls: bool = True
    smtp_ssl: bool = False
    smtp_timeout_seconds: float = Field(20, gt=0, le=300)
    #: The From of every email the desk sends (alerts, digests, invitations).
    alert_from: str | None = None
    #: Who receives alerts and digests: addresses, each optionally preceded by its language
    #: ("zh-CN:li.lei@contoso.cn"); env MCA_ALERT_TO as a comma list.
    alert_to: list[str] = Field(default_factory=list)
    #: The language of a recipient who names none (en or zh-CN).
    alert_locale: str = "en"
    #: A Microsoft Teams incoming webhook or Workflows URL (it carries its own signature: secret).
    teams_webhook_url: SecretStr | None = None
    #: Where the dashboard is reached, for the links in alerts and digests.
    dashboard_url: str = "http://localhost:8501"
    #: Alert about acceptance links that expire within this many days.
    alert_link_expiry_days: int = Field(2, ge=0, le=90)
    #: A sync or a link refresh in the dashboard delivers its alerts (when a channel is set).
    alerts_after_sync: bool = True
    #: Delivery tries per alert and run, and the first pause between them (doubling, jittered).
    delivery_attempts: int = Field(4, ge=1, le=20)
    delivery_backoff_seconds: float = Field(2.0, ge=0, le=600)
    #: Invitations sent from the desk: at most this many messages a minute.
    invitation_send_per_minute: float = Field(30, gt=0, le=6000)
    #: The follow-up list: customers invited more than this many days ago, still not accepted.
    follow_up_after_days: int = Field(7, ge=0, le=365)
    #: Entra group object ids of the desk's managers (read-only; secrets.toml [mca.roles]
    #: managers = [...], env MCA_MANAGER_GROUPS).
    manager_groups: list[str] = Field(
        default_factory=list, validation_alias=AliasChoices("manager_groups", "managers")
    )

    @field_validator("enhanced_wire", mode="before")
    @classmethod
    def _wire_from_json(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else {}
            except ValueError as exc:
                raise ValueError(f"not a JSON object of names: {exc}") from exc
        return value

    @field_validator("dashboard_url")
    @classmethod
    def _dashboard_url(cls, value: str) -> str:
        """The links in every alert and digest open it: an http(s) URL, nothing else."""
        text = value.strip()
        if not re.fullmatch(r"https?://[^\s/?#]+[^\s]*", text, flags=re.IGNORECASE):
            raise ValueError("not an http(s) URL of the dashboard, e.g. https://mca.contoso.com")
        return text

    @field_validator("sandbox_classic_retired_on", mode="before")
    @classmethod
    def _retired_day(cls, value: Any) -> Any:
        return optional_day(value) if isinstance(value, str) else value

    @property
    def effective_rate_limit(self) -> float:
        if self.rate_limit_per_minute:
            return self.rate_limit_per_minute
        return SANDBOX_RATE_LIMIT if self.backend == "sandbox" else LIVE_RATE_LIMIT

    @property
    def resolved_store_url(self) -> str:
        return self.store_url or f"sqlite:///{(self.data_dir / 'desk.sqlite3').as_posix()}"

    @property
    def emulator_dir(self) -> Path:
        return self.data_dir / "sandbox"

    @property
    def group_roles(self) -> dict[str, Role]:
        """Group object id -> role; a group named twice takes the stronger role (Admin > Sales >
        Manager > Helpdesk: an agent who may attest stays that agent, a Helpdesk agent who is
        also a manager is a Manager; `identity_from_claims` ranks a user's groups the same)."""
        mapping: dict[str, Role] = {}
        for groups, role in (
            (self.helpdesk_agent_groups, Role.HELPDESK_AGENT),
            (self.manager_groups, Role.MANAGER),
            (self.sales_agent_groups, Role.SALES_AGENT),
            (self.admin_agent_groups, Role.ADMIN_AGENT),
        ):
            for group in groups:
                mapping[group.strip().lower()] = role
        return mapping


#: Words that mean "no day" where a setting or a flag takes an optional date.
NEVER = frozenset({"never", "none", "off", ""})
_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# --- argparse types of the command lines that set these (the CLI and the standalone emulator)


def day_or_never_arg(text: str) -> date | None:
    """`--classic-retired-on`: YYYY-MM-DD, or never."""
    try:
        return optional_day(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def error_status_arg(text: str) -> int:
    if not text.strip().isdigit() or not 400 <= int(text) <= 599:
        raise argparse.ArgumentTypeError(f"'{text[:20]}' is not an HTTP error status 400-599")
    return int(text)


def positive_int_arg(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"'{text[:20]}' is not a whole number of at least 1")
    return int(text)


def optional_day(value: object) -> date | None:
    """A day as YYYY-MM-DD, or None for `never` (also `none`, `off`, empty); else ValueError."""
    if value is None or isinstance(value, date):
        return value
    text = str(value).strip()
    if text.lower() in NEVER:
        return None
    problem = ValueError(f"'{text[:40]}' is not a day: use YYYY-MM-DD or never")
    if not _DAY.fullmatch(text):
        raise problem
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise problem from None


def read_secrets_file(path: Path | None = None) -> dict[str, Any]:
    """The `[mca]` table of secrets.toml, flattened (`[mca.roles]` etc. merge into it)."""
    path = path or Path(os.environ.get("MCA_SECRETS_FILE", DEFAULT_SECRETS_FILE))
    if not path.is_file():
        return {}
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path} is not valid TOML: {exc}. Fix the file.") from exc
    return flatten_mca_table(data.get("mca", {}))


def flatten_mca_table(table: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if key in NESTED_SETTINGS and isinstance(value, Mapping):
            flat[key] = dict(value)  # a setting that is itself a table
        elif isinstance(value, Mapping):
            for inner, inner_value in value.items():
                name = (
                    f"{key}_{inner}"
                    if key == "partner" and inner in ("type", "name", "tenant_id")
                    else inner
                )
                flat[name] = inner_value
        else:
            flat[key] = value
    return flat


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Merge overrides > env > secrets.toml > defaults; a bad value names the setting."""
    file_values = dict(secrets) if secrets is not None else read_secrets_file()
    env_values = _env_values(os.environ if environ is None else environ)
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    try:
        return Settings(**{**file_values, **env_values, **clean})
    except ValidationError as exc:
        first = exc.errors()[0]
        name = ".".join(str(p) for p in first["loc"])
        raise ConfigurationError(
            f"Setting '{name}' (env MCA_{name.upper()}): {first['msg']}. Fix it in the "
            "environment or in .streamlit/secrets.toml [mca]."
        ) from exc


def _env_values(environ: Mapping[str, str]) -> dict[str, Any]:
    """MCA_* variables; list settings take comma-separated values."""
    values: dict[str, Any] = {}
    for name, field in Settings.model_fields.items():
        raw = environ.get(f"MCA_{name.upper()}")
        if raw is None or raw == "":
            continue
        if "list" in str(field.annotation):
            values[name] = [part.strip() for part in raw.split(",") if part.strip()]
        else:
            values[name] = raw
    return values
