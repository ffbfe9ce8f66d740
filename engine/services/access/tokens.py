"""API key tokens: `dl_<prefix>_<secret>`, random, shown once, stored only as HMAC-SHA256(server secret, token).

A keyed hash, not a password hash: the token carries 256 random bits, so nothing can be guessed offline even
from a stolen table, and argon2/bcrypt would cost ~0.5 s of CPU on every request. The server secret adds that
a stolen table alone cannot even confirm a token. Comparisons use `hmac.compare_digest`."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets

TOKEN_PREFIX = "dl_"
_TOKEN = re.compile(r"^dl_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
SCOPES = ("ingest", "read", "admin")


def new_token() -> tuple[str, str]:
    """A fresh token and its prefix (48 random bits that name the key, then 256 secret bits)."""
    prefix = secrets.token_hex(6)
    return f"{TOKEN_PREFIX}{prefix}_{secrets.token_urlsafe(32)}", prefix


def token_prefix(token: str) -> str | None:
    """The prefix of a well-formed token, else None (nothing to look up)."""
    match = _TOKEN.match(token)
    return match.group(1) if match else None


def token_hmac(secret: bytes, token: str) -> bytes:
    return hmac.new(secret, token.encode(), hashlib.sha256).digest()


def secret_id(secret: bytes) -> str:
    """A short name for a server secret, stored with each key: which secret hashed it, without revealing it."""
    return hmac.new(secret, b"driftline api key secret id", hashlib.sha256).hexdigest()[:16]


def same_digest(a: bytes, b: bytes) -> bool:
    """Constant-time equality (the time taken does not depend on where two digests first differ)."""
    return hmac.compare_digest(a, b)


def same_text(a: str, b: str) -> bool:
    """Constant-time equality of two strings (the shared DRIFTLINE_API_KEY)."""
    return hmac.compare_digest(a.encode(), b.encode())
