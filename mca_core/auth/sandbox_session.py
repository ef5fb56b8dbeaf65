"""The sandbox's sign-in across a browser reload: a signed, short-lived token naming a seeded user.

The token (`?as=` in the dashboard's URL) carries no credential: it names a seeded sandbox user,
proves this installation issued it (HMAC-SHA256 with a per-installation key) and says until
when. The user's Partner Center token is still issued by the emulator for each session. Live
mode never reads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import tempfile
import time
from collections.abc import Collection
from pathlib import Path

from mca_core.domain.errors import ConfigurationError

#: How long a sandbox sign-in survives reloads: a working day, counted from the sign-in.
TOKEN_LIFETIME_S = 8 * 3600
#: The per-installation HMAC key, in the sandbox data dir (never a Partner Center token).
SECRET_FILE = "session-secret"
_TOKEN_CONTEXT = b"mca-desk sandbox sign-in v1"
_secrets_by_path: dict[Path, bytes] = {}


def sandbox_secret(directory: Path) -> bytes:
    """The installation's HMAC key for sandbox sign-in tokens: 32 random bytes in
    `<data>/sandbox/session-secret` (mode 0600), made on first use. Several processes may race
    to make it: the first link wins and everyone reads the winner's file."""
    path = Path(directory) / SECRET_FILE
    known = _secrets_by_path.get(path)
    if known is not None:
        return known
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".session-secret-", dir=path.parent)
        try:  # mkstemp creates the file 0600
            with os.fdopen(handle, "w", encoding="ascii") as out:
                out.write(secrets.token_hex(32) + "\n")
            os.link(temporary, path)
        except FileExistsError:
            pass
        finally:
            os.unlink(temporary)
    key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    if len(key) < 32:
        raise ConfigurationError(f"{path} is not a session secret: delete it to make a new one.")
    _secrets_by_path[path] = key
    return key


def _mac(secret: bytes, user_key: str, expires: int) -> str:
    message = b"|".join((_TOKEN_CONTEXT, user_key.encode(), str(expires).encode()))
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def issue_sandbox_token(
    user_key: str, secret: bytes, *, now: float | None = None, lifetime: int = TOKEN_LIFETIME_S
) -> str:
    """`<user key>.<expiry, unix seconds>.<HMAC-SHA256>`: names a seeded sandbox user, proves
    this installation issued it, and says until when. It carries no credential: the sandbox
    user's Partner Center token is still issued by the emulator for each session."""
    expires = int(time.time() if now is None else now) + lifetime
    return f"{user_key}.{expires}.{_mac(secret, user_key, expires)}"


def read_sandbox_token(
    token: str | None,
    secret: bytes,
    *,
    known: Collection[str],
    now: float | None = None,
    lifetime: int = TOKEN_LIFETIME_S,
) -> str | None:
    """The seeded user (one of `known`) a valid, unexpired token names; None for anything else
    (tampered, expired, from another installation, or naming no seeded user)."""
    if not isinstance(token, str) or len(token) > 256 or token.count(".") != 2:
        return None
    user_key, expires_text, mac = token.split(".")
    if not expires_text.isdigit() or len(expires_text) > 12:
        return None
    expires = int(expires_text)
    if not hmac.compare_digest(mac.encode(), _mac(secret, user_key, expires).encode()):
        return None
    current = time.time() if now is None else now
    if not current < expires <= current + lifetime + 60:  # a minute of clock skew
        return None
    return user_key if user_key in known else None
