"""The fixed cast of the sandbox: partner tenants, their security groups, the sandbox users and
the agreement templates.

Everything here is derived from fixed names with uuid5, never from the portfolio seed, so a
tenant id, a user's object id or a group id stays the same across seeds, resets and machines:
configuration (group id -> role mappings), bookmarks and browser tests can rely on them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from mca_core.domain.models import Identity, PartnerType, Role

#: Namespace of every stable id in the sandbox (uuid5 of a fixed name).
SANDBOX_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "sandbox.mca-desk.invalid")


def stable_id(name: str) -> str:
    """A GUID that depends only on `name`: stable across seeds, resets and processes."""
    return str(uuid.uuid5(SANDBOX_NAMESPACE, name))


# --- Agreement templates -------------------------------------------------------------------
#: The current Microsoft Customer Agreement template (as published by Partner Center).
MCA_TEMPLATE_ID = "117a77b0-9360-443b-8795-c6dedc750cf9"
#: An old MCA template id that Partner Center rejects as "no longer supported".
OLD_MCA_TEMPLATE_ID = "998b88de-aa99-4388-a42c-1b3517d49490"
#: The Microsoft Cloud Agreement template (the emulator's own stand-in id).
CLOUD_AGREEMENT_TEMPLATE_ID = stable_id("template:MicrosoftCloudAgreement")
MCA_AGREEMENT_LINK = "https://aka.ms/customeragreement"
#: Stand-in link for the old Cloud Agreement (not taken from Microsoft's documentation).
CLOUD_AGREEMENT_LINK = "https://aka.ms/cloudagreement"

# --- Security groups --------------------------------------------------------------------------
ADMIN_AGENTS = "AdminAgents"
SALES_AGENTS = "SalesAgents"
HELPDESK_AGENTS = "HelpdeskAgents"
#: Partner Center role groups, strongest first (a member of several gets the first one).
GROUP_ROLES: dict[str, Role] = {
    ADMIN_AGENTS: Role.ADMIN_AGENT,
    SALES_AGENTS: Role.SALES_AGENT,
    HELPDESK_AGENTS: Role.HELPDESK_AGENT,
}


def group_id(tenant_id: str, group_name: str) -> str:
    """Object id of a Partner Center security group in one partner tenant."""
    return stable_id(f"group:{tenant_id}:{group_name}")


# --- Partner tenants --------------------------------------------------------------------------
@dataclass(frozen=True)
class Partner:
    """A partner tenant of the sandbox."""

    tenant_id: str
    name: str
    partner_type: PartnerType
    #: The sign-in domain of its users.
    domain: str
    #: For an indirect reseller: its indirect provider's tenant id.
    provider_tenant_id: str | None = None

    @property
    def provider_name(self) -> str | None:
        if self.provider_tenant_id is None:
            return None
        return PARTNERS[self.provider_tenant_id].name

    @property
    def app_id(self) -> str:
        """The client id of this partner's Partner Center app (App-only tokens)."""
        return stable_id(f"app:{self.tenant_id}")

    def group_ids(self) -> dict[str, str]:
        """Group name -> object id in this tenant."""
        return {name: group_id(self.tenant_id, name) for name in GROUP_ROLES}

    def role_for_groups(self, groups: list[str] | tuple[str, ...]) -> Role:
        """The strongest Partner Center role among `groups` (object ids) in this tenant."""
        held = set(groups)
        for name, role in GROUP_ROLES.items():
            if group_id(self.tenant_id, name) in held:
                return role
        return Role.NONE


def _tenant(name: str) -> str:
    return stable_id(f"tenant:{name}")


CONTOSO_TENANT_ID = _tenant("Contoso Cloud Solutions")
FABRIKAM_TENANT_ID = _tenant("Fabrikam Distribution")
NORTHWIND_TENANT_ID = _tenant("Northwind Traders IT")
TAILSPIN_TENANT_ID = _tenant("Tailspin Services")
WIDE_WORLD_TENANT_ID = _tenant("Wide World Tech")

#: Every partner tenant of the sandbox: tenant id -> Partner (name, type, provider).
PARTNERS: dict[str, Partner] = {
    p.tenant_id: p
    for p in (
        Partner(
            CONTOSO_TENANT_ID,
            "Contoso Cloud Solutions",
            PartnerType.DIRECT_BILL,
            "contosocloud.com",
        ),
        Partner(
            FABRIKAM_TENANT_ID,
            "Fabrikam Distribution",
            PartnerType.INDIRECT_PROVIDER,
            "fabrikamdistribution.com",
        ),
        Partner(
            NORTHWIND_TENANT_ID,
            "Northwind Traders IT",
            PartnerType.INDIRECT_RESELLER,
            "northwindtraders.com",
            FABRIKAM_TENANT_ID,
        ),
        Partner(
            TAILSPIN_TENANT_ID,
            "Tailspin Services",
            PartnerType.INDIRECT_RESELLER,
            "tailspinservices.com",
            FABRIKAM_TENANT_ID,
        ),
        Partner(
            WIDE_WORLD_TENANT_ID,
            "Wide World Tech",
            PartnerType.INDIRECT_RESELLER,
            "wideworldtech.com",
            FABRIKAM_TENANT_ID,
        ),
    )
}

#: The partners that own customer portfolios (the others see customers through a provider).
PORTFOLIO_PARTNERS = (CONTOSO_TENANT_ID, FABRIKAM_TENANT_ID)


def resellers_of(provider_tenant_id: str) -> list[Partner]:
    """The indirect resellers that work through one indirect provider."""
    return [p for p in PARTNERS.values() if p.provider_tenant_id == provider_tenant_id]


# --- Sandbox users ----------------------------------------------------------------------------
@dataclass(frozen=True)
class SandboxUser:
    """A partner user the sandbox can sign in as (see `Emulator.issue_token`)."""

    key: str
    display_name: str
    email: str
    user_id: str
    role: Role
    partner_type: PartnerType
    partner_tenant_id: str
    partner_name: str
    provider_tenant_id: str | None = None
    provider_name: str | None = None
    #: Object ids of the Partner Center security groups the user belongs to.
    groups: tuple[str, ...] = field(default_factory=tuple)

    def identity(self) -> Identity:
        """The desk's view of this user, as a signed-in App+User session would resolve it."""
        return Identity(
            user_id=self.user_id,
            display_name=self.display_name,
            email=self.email,
            role=self.role,
            partner_type=self.partner_type,
            partner_tenant_id=self.partner_tenant_id,
            partner_name=self.partner_name,
            provider_tenant_id=self.provider_tenant_id,
            provider_name=self.provider_name,
            role_known=True,
        )


_ROLE_GROUP = {role: name for name, role in GROUP_ROLES.items()}


def _user(
    key: str, display_name: str, tenant_id: str, role: Role, group_role: Role | None = None
) -> SandboxUser:
    """A seeded user; `group_role` is the Partner Center group its token carries when the desk's
    role is not a Partner Center one (a Manager reads as a Helpdesk agent)."""
    partner = PARTNERS[tenant_id]
    first, _, last = display_name.partition(" ")
    return SandboxUser(
        key=key,
        display_name=display_name,
        email=f"{first.lower()}.{last.lower()}@{partner.domain}",
        user_id=stable_id(f"user:{tenant_id}:{key}"),
        role=role,
        partner_type=partner.partner_type,
        partner_tenant_id=tenant_id,
        partner_name=partner.name,
        provider_tenant_id=partner.provider_tenant_id,
        provider_name=partner.provider_name,
        groups=(group_id(tenant_id, _ROLE_GROUP[group_role or role]),),
    )


#: The users a sandbox session can act as, by key.
SANDBOX_USERS: dict[str, SandboxUser] = {
    u.key: u
    for u in (
        _user("admin-agent", "Megan Bowen", CONTOSO_TENANT_ID, Role.ADMIN_AGENT),
        _user("sales-agent", "Adele Vance", CONTOSO_TENANT_ID, Role.SALES_AGENT),
        _user("helpdesk-agent", "Lee Gu", CONTOSO_TENANT_ID, Role.HELPDESK_AGENT),
        _user("provider-admin", "Diego Siciliani", FABRIKAM_TENANT_ID, Role.ADMIN_AGENT),
        _user("indirect-reseller", "Isaiah Langer", NORTHWIND_TENANT_ID, Role.ADMIN_AGENT),
        # The desk's read-only Manager. In Partner Center a manager is typically a Helpdesk agent
        # (read-only there), so its token carries the HelpdeskAgents group and the emulator lets
        # it read (Verify); the desk's role is Manager, as `[mca.roles] managers` maps it live.
        _user("manager", "Nestor Wilke", CONTOSO_TENANT_ID, Role.MANAGER, Role.HELPDESK_AGENT),
    )
}


def attesting_agents(tenant_id: str) -> list[str]:
    """Object ids of agents who attest for a portfolio partner (seeded `userId` values).

    The sandbox users who may attest come first, then colleagues who exist only in the data.
    """
    users = [
        u.user_id
        for u in SANDBOX_USERS.values()
        if u.partner_tenant_id == tenant_id and u.role in (Role.ADMIN_AGENT, Role.SALES_AGENT)
    ]
    return [*users, stable_id(f"user:{tenant_id}:colleague-1"), stable_id(f"user:{tenant_id}:c2")]
