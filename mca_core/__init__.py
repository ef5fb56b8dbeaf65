"""The MCA acceptance desk's core: everything that is not a screen (never imports Streamlit).

The public surface is re-exported here; the rest lives in focused modules (see README, Layout).
"""

from .config import Settings, load_settings
from .desk import Actor, Desk, run_sync
from .errors import (
    AccessRefused,
    AlreadyAttested,
    ConfigurationError,
    FutureAgreementDate,
    InvalidInput,
    McaError,
    MfaRequired,
    PartnerCenterError,
    PermissionDenied,
    Problem,
)
from .models import (
    AcceptanceStatus,
    Attestation,
    Contact,
    Customer,
    Identity,
    PartnerType,
    Role,
)
from .partner_center import PartnerCenterClient

__all__ = [
    "AcceptanceStatus",
    "AccessRefused",
    "Actor",
    "AlreadyAttested",
    "Attestation",
    "ConfigurationError",
    "Contact",
    "Customer",
    "Desk",
    "FutureAgreementDate",
    "Identity",
    "InvalidInput",
    "McaError",
    "MfaRequired",
    "PartnerCenterClient",
    "PartnerCenterError",
    "PartnerType",
    "PermissionDenied",
    "Problem",
    "Role",
    "Settings",
    "load_settings",
    "run_sync",
]
