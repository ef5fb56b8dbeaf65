"""The MCA acceptance desk's core: everything that is not a screen (never imports Streamlit).

The public surface is re-exported here; the rest lives in focused modules (see README, Layout).
"""

from mca_core.config import Settings, load_settings
from mca_core.desk import Actor, Desk, run_sync
from mca_core.domain.errors import (
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
from mca_core.domain.models import (
    AcceptanceStatus,
    Attestation,
    Contact,
    Customer,
    Identity,
    PartnerType,
    Role,
)
from mca_core.partner_center.client import PartnerCenterClient

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
