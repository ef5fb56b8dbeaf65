"""The MCA acceptance desk's core: everything that is not a screen (never imports Streamlit).

This is the public face: pages, the CLI's users and scripts import from here only (an
import-linter contract keeps `ui/` to it). `App` has one method per user action; the typed
requests, results, errors and models it speaks are re-exported below, with a few pure helper
modules (metrics, bulk files, email rendering, the enhanced pipeline) as namespaces.
The layout is in the README ("How the code is laid out").
"""

from mca_core.app import App
from mca_core.auth.sandbox_session import SECRET_FILE as SANDBOX_SECRET_FILE
from mca_core.auth.sandbox_session import TOKEN_LIFETIME_S as SANDBOX_TOKEN_LIFETIME_S
from mca_core.auth.sandbox_session import (
    issue_sandbox_token,
    read_sandbox_token,
    sandbox_secret,
)
from mca_core.backends import PartnerName, SandboxUser, sandbox_user_keys
from mca_core.config import Settings, flatten_mca_table, load_settings
from mca_core.desk import Actor, Desk, run_sync
from mca_core.domain import access
from mca_core.domain.access import check_may_attest, check_may_verify
from mca_core.domain.errors import (
    AccessRefused,
    AlreadyAttested,
    ClassicAttestationRetired,
    ConfigurationError,
    FutureAgreementDate,
    InvalidInput,
    McaError,
    MfaRequired,
    PartnerCenterError,
    PermissionDenied,
    Problem,
    WorkBusy,
)
from mca_core.domain.models import (
    AcceptanceStatus,
    Address,
    Attestation,
    AuditEvent,
    Contact,
    Customer,
    Identity,
    NewCustomer,
    PartnerType,
    Role,
    TokenKind,
)
from mca_core.domain.names import format_person_name
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
from mca_core.domain.validation import classify_customer_ref, may_attest, utc_today
from mca_core.jobs import Job, JobStart, Progress
from mca_core.partner_center.client import PartnerCenterClient
from mca_core.store.database import SnapshotInfo
from mca_core.store.enhanced_attestations import AttestationState, EnhancedAttestation
from mca_core.store.invitation_log import InvitationEntry
from mca_core.usecases import bulk, bulk_signers, enhanced, invitations, metrics, reports
from mca_core.usecases import digest as digests
from mca_core.usecases.attestation import prepare_attestation
from mca_core.usecases.bulk import COLUMNS as BULK_COLUMNS
from mca_core.usecases.bulk import BulkRow
from mca_core.usecases.bulk_signers import BulkSignersReport, SignerOutcome, SignerRow
from mca_core.usecases.channel import CHANNELS, CLASSIC, ENHANCED, AttestOutcome, ChannelName
from mca_core.usecases.customers import (
    CULTURES,
    NewCustomerOutcome,
    check_new_customer_request,
    new_request_id,
    request_id_after,
)
from mca_core.usecases.digest import Digest, DigestOutcome, NothingToReport
from mca_core.usecases.follow_up import FollowUpItem, ReminderOutcome
from mca_core.usecases.invitations import LOCALES, MAILTO_MAX_LENGTH, PASSWORD_MASK, Email
from mca_core.usecases.sending import Pacer, SendResult
from mca_core.usecases.sync import SyncSummary
from mca_core.usecases.verify import Verification, VerifiedAttestation

__all__ = [
    "BULK_COLUMNS",
    "CHANNELS",
    "CLASSIC",
    "CULTURES",
    "ENHANCED",
    "LOCALES",
    "MAILTO_MAX_LENGTH",
    "PASSWORD_MASK",
    "SANDBOX_SECRET_FILE",
    "SANDBOX_TOKEN_LIFETIME_S",
    "AcceptanceStatus",
    "AccessRefused",
    "Actor",
    "Address",
    "AlreadyAttested",
    "App",
    "AttestOutcome",
    "AttestRequest",
    "Attestation",
    "AttestationState",
    "AuditEvent",
    "BulkAttestRequest",
    "BulkRow",
    "BulkSignersReport",
    "BulkSignersRequest",
    "ChannelName",
    "ClassicAttestationRetired",
    "ConfigurationError",
    "Contact",
    "Customer",
    "Desk",
    "Digest",
    "DigestOutcome",
    "Email",
    "EnhancedAttestation",
    "ExistingCustomerInvitation",
    "FollowUpItem",
    "FutureAgreementDate",
    "Identity",
    "InvalidInput",
    "Invitation",
    "InvitationEntry",
    "Job",
    "JobStart",
    "McaError",
    "MfaRequired",
    "NewCustomer",
    "NewCustomerInvitation",
    "NewCustomerOutcome",
    "NewCustomerRequest",
    "NothingToReport",
    "Pacer",
    "PartnerCenterClient",
    "PartnerCenterError",
    "PartnerName",
    "PartnerType",
    "PermissionDenied",
    "Problem",
    "Progress",
    "ProviderRequest",
    "RelationshipInvitation",
    "ReminderOutcome",
    "Role",
    "SandboxUser",
    "SendResult",
    "Settings",
    "SignerOutcome",
    "SignerRow",
    "SnapshotInfo",
    "SyncRequest",
    "SyncSummary",
    "TokenKind",
    "Verification",
    "VerifiedAttestation",
    "WorkBusy",
    "access",
    "bulk",
    "bulk_signers",
    "check_may_attest",
    "check_may_verify",
    "check_new_customer_request",
    "classify_customer_ref",
    "digests",
    "enhanced",
    "flatten_mca_table",
    "format_person_name",
    "invitations",
    "issue_sandbox_token",
    "load_settings",
    "may_attest",
    "metrics",
    "new_request_id",
    "prepare_attestation",
    "read_sandbox_token",
    "reports",
    "request_id_after",
    "run_sync",
    "sandbox_secret",
    "sandbox_user_keys",
    "utc_today",
]
