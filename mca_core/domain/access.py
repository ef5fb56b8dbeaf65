"""Who may do what, per action: the page guard calls these, and the use cases call them again.

Partner Center roles are Admin agent, Sales agent and Helpdesk agent; partner types are
direct-bill, indirect provider and indirect reseller. Where the desk cannot know the role (a
pre-acquired token), the action is allowed locally and Partner Center's 403 judges.

The desk adds one role of its own, the read-only *Manager* (`[mca.roles] managers`): the
overview and its reports, Verify, the follow-up list and the alert settings. A Manager never
changes anything: no sync or link refresh, no attestation, customer, finalise, invitation or
request; every such check refuses it naming the role and who to ask (`manager_read_only`, or
the action's own role refusal where one exists).
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
    "check_may_refresh_links",
    "check_may_request_from_provider",
    "check_may_request_relationship",
    "check_may_send_alerts",
    "check_may_send_invitations",
    "check_may_sync",
    "check_may_verify",
    "check_may_view_alerts",
    "check_may_view_audit",
    "check_may_view_follow_up",
    "check_signed_in",
]


def _is_agent(identity: Identity) -> bool:
    return not identity.role_known or identity.role in AGENT_ROLES


def _is_agent_or_manager(identity: Identity) -> bool:
    return _is_agent(identity) or identity.role is Role.MANAGER


def _refuse_manager(identity: Identity, action: str, what: str, fix: str) -> None:
    """A Manager is read-only: refuse `what` it asked for, naming the role and who to ask."""
    if identity.role_known and identity.role is Role.MANAGER:
        raise AccessRefused(
            action,
            f"Your role ({identity.role.label}) is read-only on the desk: it may not {what}.",
            fix,
            code="manager_read_only",
        )


def check_signed_in(identity: Identity) -> None:
    """Any signed-in partner user (the overview, the home page)."""


def check_may_sync(identity: Identity) -> None:
    _refuse_manager(
        identity,
        "sync",
        "refresh the status from Partner Center",
        "Ask an Admin, Sales or Helpdesk agent to refresh.",
    )
    if not _is_agent(identity):
        raise AccessRefused(
            "sync",
            "Only agents may refresh the status from Partner Center.",
            "Ask an Admin, Sales or Helpdesk agent to refresh.",
            code="not_agent",
        )


def check_may_verify(identity: Identity) -> None:
    """Every agent, Helpdesk included, may look a customer up, and so may a Manager (a read; in
    live mode Partner Center still judges the call by the user's own agent role)."""
    if not _is_agent_or_manager(identity):
        raise AccessRefused(
            "verify",
            "Only agents and managers may verify a customer's acceptance.",
            "Ask to be added to the AdminAgents, SalesAgents or HelpdeskAgents group, or the "
            "desk's managers group.",
            code="not_agent",
        )


def check_may_refresh_links(identity: Identity) -> None:
    """Reading the acceptance links' states writes them to the store (and may finalise): every
    agent, as for a sync; never a Manager."""
    _refuse_manager(
        identity,
        "refresh_links",
        "refresh the acceptance links from Partner Center",
        "Ask an Admin, Sales or Helpdesk agent to refresh.",
    )
    check_may_verify(identity)


def check_may_invite_to_accept(identity: Identity) -> None:
    """Generator 1 (invite a customer to accept in the admin center): every signed-in agent."""
    _refuse_manager(
        identity,
        "invite",
        "write invitations or requests",
        "Ask an Admin agent or a Sales agent to send it.",
    )
    check_may_verify(identity)


def check_may_send_invitations(identity: Identity) -> None:
    """The Invitations page: whoever may use one of its generators (each checks again, and the
    page offers only those); a Manager is refused at the door."""
    _refuse_manager(
        identity,
        "invite",
        "write invitations or requests",
        "Ask an Admin agent or a Sales agent to send it.",
    )


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
    _refuse_manager(
        identity,
        "provider_request",
        "write requests to the indirect provider",
        "Ask an Admin agent or a Sales agent to send it.",
    )
    if identity.partner_type is not PartnerType.INDIRECT_RESELLER:
        raise AccessRefused(
            "provider_request",
            "Requests to an indirect provider are for indirect resellers.",
            "You can attest yourself or send the customer an invitation instead.",
            code="not_reseller",
        )


def check_may_view_audit(identity: Identity) -> None:
    """The audit log shows every colleague's attempts (with the contacts they typed): Admin and
    Sales agents only. A Manager's reports are the overview's exports and charts (the
    attestations trend among them), which need no audit log."""
    if identity.role_known and identity.role not in ATTESTING_ROLES:
        raise AccessRefused(
            "audit",
            f"Your role ({identity.role.label}) may not read the audit log.",
            "Ask an Admin agent for the entries you need.",
            code="role_cannot_audit",
        )


PROVIDER_REQUEST_WHERE = PROVIDER_REQUEST_PAGE


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


def check_may_send_alerts(identity: Identity, what: str = "alerts") -> None:
    """Sending the alerts or the digest now (`what`): agents. A Manager reads the alert
    settings, the next alert, the delivery log and the digest, and sends nothing (the agents'
    syncs send the alerts; the digest goes on a schedule or from an agent)."""
    if not _is_agent(identity):
        if what == "digest":
            raise AccessRefused(
                "digest",
                f"Your role ({identity.role.label}) may read the digest but not send it.",
                "Preview or download it (digest --dry-run or --eml FILE, or the Alerts page); "
                "ask an agent to send it, or schedule `digest`.",
                code="role_cannot_send",
            )
        raise AccessRefused(
            "alerts",
            f"Your role ({identity.role.label}) may read the alerts but not send them.",
            "The alerts go out after each agent's sync; ask an agent to send them now.",
            code="role_cannot_send",
        )
