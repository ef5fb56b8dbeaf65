"""Who may do what, per action: the page guard calls these, and the use cases call them again.

Partner Center roles are Admin agent, Sales agent and Helpdesk agent; partner types are
direct-bill, indirect provider and indirect reseller. Where the desk cannot know the role (a
pre-acquired token), the action is allowed locally and Partner Center's 403 judges.
"""

from __future__ import annotations

from mca_core.domain.errors import AccessRefused
from mca_core.domain.models import Identity, PartnerType, Role
from mca_core.domain.validation import (
    ATTESTING_ROLES,
    PROVIDER_REQUEST_PAGE,
    check_may_attest,
    check_may_create_customer,
)

AGENT_ROLES = frozenset({Role.ADMIN_AGENT, Role.SALES_AGENT, Role.HELPDESK_AGENT})

__all__ = [
    "check_may_attest",
    "check_may_create_customer",
    "check_may_invite_to_accept",
    "check_may_request_from_provider",
    "check_may_request_relationship",
    "check_may_sync",
    "check_may_verify",
    "check_may_view_alerts",
    "check_may_view_audit",
    "check_may_view_follow_up",
    "check_signed_in",
]


def _is_agent(identity: Identity) -> bool:
    return not identity.role_known or identity.role in AGENT_ROLES


def check_signed_in(identity: Identity) -> None:
    """Any signed-in partner user (the overview, the home page)."""


def check_may_sync(identity: Identity) -> None:
    if not _is_agent(identity):
        raise AccessRefused(
            "sync",
            "Only agents may refresh the status from Partner Center.",
            "Ask an Admin, Sales or Helpdesk agent to refresh.",
            code="not_agent",
        )


def check_may_verify(identity: Identity) -> None:
    """Every agent, Helpdesk included, may look a customer up."""
    if not _is_agent(identity):
        raise AccessRefused(
            "verify",
            "Only agents may verify a customer's acceptance.",
            "Ask to be added to the AdminAgents, SalesAgents or HelpdeskAgents group.",
            code="not_agent",
        )


def check_may_invite_to_accept(identity: Identity) -> None:
    """Generator 1 (invite a customer to accept in the admin center): every signed-in agent."""
    check_may_verify(identity)


def check_may_request_relationship(identity: Identity) -> None:
    """Generator 2 (reseller relationship link): roles that may ask Partner Center for the link."""
    if identity.role_known and identity.role not in ATTESTING_ROLES:
        raise AccessRefused(
            "relationship_request",
            f"Your role ({identity.role.label}) may not request the reseller relationship link.",
            "Ask an Admin agent or a Sales agent.",
            code="role_cannot_request_link",
        )


def check_may_request_from_provider(identity: Identity) -> None:
    """Generator 3 is the indirect reseller's own: its way to get an attestation."""
    if identity.partner_type is not PartnerType.INDIRECT_RESELLER:
        raise AccessRefused(
            "provider_request",
            "Requests to an indirect provider are for indirect resellers.",
            "You can attest yourself or send the customer an invitation instead.",
            code="not_reseller",
        )


def check_may_view_audit(identity: Identity) -> None:
    """The audit log shows every colleague's attempts: Admin and Sales agents only."""
    if identity.role_known and identity.role not in ATTESTING_ROLES:
        raise AccessRefused(
            "audit",
            f"Your role ({identity.role.label}) may not read the audit log.",
            "Ask an Admin agent for the entries you need.",
            code="role_cannot_audit",
        )


PROVIDER_REQUEST_WHERE = PROVIDER_REQUEST_PAGE


def _is_agent_or_manager(identity: Identity) -> bool:
    return _is_agent(identity) or identity.role is Role.MANAGER


def check_may_view_follow_up(identity: Identity) -> None:
    """The follow-up list (who was invited and has not accepted): agents and managers; only
    agents send the reminders (the invitation checks)."""
    if not _is_agent_or_manager(identity):
        raise AccessRefused(
            "follow_up",
            "Only agents and managers may see the follow-up list.",
            "Ask to be added to an agent group or the desk's managers group.",
            code="not_agent",
        )


def check_may_view_alerts(identity: Identity) -> None:
    """The alert settings and the delivery log: agents and managers (they hold no secret)."""
    if not _is_agent_or_manager(identity):
        raise AccessRefused(
            "alerts",
            "Only agents and managers may see the alert settings.",
            "Ask to be added to an agent group or the desk's managers group.",
            code="not_agent",
        )
