"""Bearer tokens of the sandbox: HS256 JWTs signed with the emulator's own key.

They carry the claims a real Microsoft Entra token for Partner Center carries and the desk reads
(`tid`, `oid`, `upn`, `name`, `amr`, `groups`, `scp`, `idtyp`), so the client's claim handling is
exercised for real. They are not Entra tokens: no real signature, issuer discovery or key rollover
is emulated, and only tokens this emulator issued are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import jwt

from mca_core.domain.models import PartnerType, Role, TokenKind

from .directory import PARTNERS, SANDBOX_USERS, Partner, SandboxUser

__all__ = ["AUDIENCE", "TOKEN_LIFETIME_SECONDS", "Caller", "TokenError", "TokenKind"]

AUDIENCE = "https://api.partnercenter.microsoft.com"
TOKEN_LIFETIME_SECONDS = 3600
#: The Partner Center app role an App-only token carries (the emulator's own choice of name).
APP_ROLE = "Partner.ReadWrite.All"


class TokenError(Exception):
    """The bearer token is missing, malformed, not ours, or expired."""


@dataclass(frozen=True)
class Caller:
    """Who a verified token says is calling."""

    kind: TokenKind
    partner: Partner
    role: Role
    user_id: str | None
    upn: str | None
    mfa: bool

    @property
    def tenant_id(self) -> str:
        return self.partner.tenant_id

    @property
    def is_reseller(self) -> bool:
        return self.partner.partner_type is PartnerType.INDIRECT_RESELLER


def sandbox_user(user_key: str) -> SandboxUser:
    """The sandbox user with this key; KeyError names the valid keys."""
    try:
        return SANDBOX_USERS[user_key]
    except KeyError:
        valid = ", ".join(SANDBOX_USERS)
        raise KeyError(f"unknown sandbox user {user_key!r}; valid keys: {valid}") from None


def issue(
    key: bytes,
    user: SandboxUser,
    now: datetime,
    *,
    mfa: bool = True,
    kind: TokenKind = TokenKind.APP_USER,
    lifetime: int = TOKEN_LIFETIME_SECONDS,
) -> str:
    """Sign a token for `user` (App+User) or for the app of the user's partner (App-only)."""
    iat = int(now.timestamp())
    tid = user.partner_tenant_id
    claims: dict[str, object] = {
        "aud": AUDIENCE,
        "iss": f"https://sts.windows.net/{tid}/",
        "tid": tid,
        "iat": iat,
        "nbf": iat,
        "exp": iat + lifetime,
        "ver": "1.0",
    }
    if TokenKind(kind) is TokenKind.APP_ONLY:
        claims.update(
            {"idtyp": "app", "appid": PARTNERS[tid].app_id, "roles": [APP_ROLE]},
        )
    else:
        claims.update(
            {
                "idtyp": "user",
                "appid": PARTNERS[tid].app_id,
                "oid": user.user_id,
                "upn": user.email,
                "name": user.display_name,
                "amr": ["pwd", "mfa"] if mfa else ["pwd"],
                "groups": list(user.groups),
                "scp": "user_impersonation",
            }
        )
    return jwt.encode(claims, key, algorithm="HS256")


def verify(key: bytes, token: str, now: datetime) -> Caller:
    """Check signature, audience and expiry (on the emulator's clock) and name the caller."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            # Expiry is judged on the emulator's (injectable) clock below, not the wall clock.
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError as exc:
        raise TokenError(f"The access token is invalid: {exc}.") from exc
    exp = claims.get("exp")
    if not isinstance(exp, int | float) or now.timestamp() >= exp:
        raise TokenError("The access token has expired.")
    partner = PARTNERS.get(str(claims.get("tid")))
    if partner is None:
        raise TokenError("The access token's tenant is not a partner tenant of this sandbox.")
    if claims.get("idtyp") == "app":
        return Caller(TokenKind.APP_ONLY, partner, Role.NONE, None, None, mfa=False)
    groups = claims.get("groups") or []
    return Caller(
        kind=TokenKind.APP_USER,
        partner=partner,
        role=partner.role_for_groups([str(g) for g in groups]),
        user_id=str(claims.get("oid") or ""),
        upn=str(claims.get("upn") or ""),
        mfa="mfa" in (claims.get("amr") or []),
    )


def peek_tenant(key: bytes, token: str) -> str | None:
    """The verified `tid` of a token, or None (used to pick a throttling bucket)."""
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["HS256"],
            audience=AUDIENCE,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.PyJWTError:
        return None
    tid = claims.get("tid")
    return str(tid) if tid else None
