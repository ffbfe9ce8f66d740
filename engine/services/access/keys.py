"""Issuing, listing, revoking and authenticating API keys, on the caller's unit of work."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from engine.errors import ConflictError, RowError, ValidationError
from engine.services.access.secret import ServerSecret
from engine.services.access.tokens import SCOPES, new_token, same_digest, token_hmac, token_prefix
from engine.store import access_repo
from engine.store.access_repo import StoredKey
from engine.store.unit import UnitOfWork

MAX_MODELS = 1000


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling. `admin` holds every scope. `models` None: every model. `rate_bucket` names the
    counter the caller's ingest is limited by (None: not limited, the open mode's anonymous caller)."""

    name: str
    scopes: frozenset[str]
    models: frozenset[str] | None
    key_id: int | None = None
    rate_bucket: str | None = None

    def allows(self, scope: str) -> bool:
        return "admin" in self.scopes or scope in self.scopes

    def allows_model(self, model: str) -> bool:
        return self.models is None or model in self.models


ANONYMOUS = Principal(name="anonymous (open mode)", scopes=frozenset({"admin"}), models=None)
ENV_ADMIN = Principal(name="DRIFTLINE_API_KEY", scopes=frozenset({"admin"}), models=None, rate_bucket="env")


@dataclass(frozen=True, slots=True)
class AuthFailure:
    """Why a presented key was refused. `reason` is for the server log; the client is told less."""

    reason: str
    other_secret: bool = False


@dataclass(frozen=True, slots=True)
class IssuedKey:
    key: StoredKey
    token: str  # shown once: only its HMAC is stored


def _check(name: str, scopes: Sequence[str], models: Sequence[str] | None, comment: str, created_by: str) -> None:
    errors: list[RowError] = []
    if not name.strip() or len(name) > 200:
        errors.append(RowError(None, "name", "1 to 200 characters"))
    if not scopes:
        errors.append(RowError(None, "scopes", f"at least one of {', '.join(SCOPES)}"))
    for scope in scopes:
        if scope not in SCOPES:
            errors.append(RowError(None, "scopes", f"unknown scope {scope!r}; known: {', '.join(SCOPES)}"))
    if models is not None:
        if not models or len(models) > MAX_MODELS:
            errors.append(RowError(None, "models", f"1 to {MAX_MODELS} model names, or null for every model"))
        if any(not m or len(m) > 200 for m in models):
            errors.append(RowError(None, "models", "each model name has 1 to 200 characters"))
    if len(comment) > 1000:
        errors.append(RowError(None, "comment", "at most 1000 characters"))
    if len(created_by) > 200:
        errors.append(RowError(None, "created_by", "at most 200 characters"))
    for field, text in (("name", name), ("comment", comment), ("created_by", created_by),
                        *(("models", m) for m in models or ()), *(("scopes", s) for s in scopes)):
        if "\x00" in text:
            errors.append(RowError(None, field, "NUL character (\\u0000) is not allowed"))
    if errors:
        raise ValidationError(errors)


class KeyService:
    def __init__(self, uow: UnitOfWork) -> None:
        self.conn = uow.conn

    async def create(
        self, secret: ServerSecret, name: str, scopes: Sequence[str], models: Sequence[str] | None = None,
        comment: str = "", created_by: str = "",
    ) -> IssuedKey:
        _check(name, scopes, models, comment, created_by)
        ordered = [s for s in SCOPES if s in set(scopes)]
        unique_models = sorted(set(models)) if models is not None else None
        for _ in range(3):
            token, prefix = new_token()
            try:
                key = await access_repo.insert_key(self.conn, name, prefix, token_hmac(secret.value, token),
                                                   secret.id, ordered, unique_models, comment, created_by)
            except ConflictError:
                continue
            return IssuedKey(key, token)
        raise ConflictError("could not draw an unused key prefix")  # 3 collisions of 48 random bits

    async def list(self, include_revoked: bool = True) -> list[StoredKey]:
        return await access_repo.list_keys(self.conn, include_revoked)

    async def revoke(self, ref: str) -> StoredKey:
        """Revoke by id (digits) or by prefix (12 hex characters, or a whole token)."""
        ref = ref.strip()
        if ref.isdigit() and len(ref) < 19:
            return await access_repo.revoke_key(self.conn, int(ref), None)
        prefix = token_prefix(ref) or ref
        if len(prefix) != 12 or any(c not in "0123456789abcdef" for c in prefix):
            raise ValidationError([RowError(None, "key", "an id, a 12-character prefix or the token itself")])
        return await access_repo.revoke_key(self.conn, None, prefix)

    async def any_exists(self) -> bool:
        return await access_repo.any_key(self.conn)

    async def authenticate(self, token: str, secret: ServerSecret | None) -> Principal | AuthFailure:
        prefix = token_prefix(token)
        if prefix is None:
            return AuthFailure("not a driftline key")
        if secret is None:
            return AuthFailure("no server secret configured (DRIFTLINE_SECRET_KEY or DRIFTLINE_HOME)")
        stored = await access_repo.key_by_prefix(self.conn, prefix)
        # Hash either way, so an unknown prefix costs what a known one does.
        digest = token_hmac(secret.value, token)
        if stored is None:
            return AuthFailure("unknown key")
        if not same_digest(digest, stored.hmac):
            if stored.secret_id != secret.id:
                return AuthFailure(f"key {stored.name!r} was hashed with another server secret", other_secret=True)
            return AuthFailure("wrong key")
        if stored.revoked:
            return AuthFailure(f"key {stored.name!r} is revoked")
        if stored.stale_use:
            await access_repo.touch_key(self.conn, stored.id)
        return Principal(name=stored.name, scopes=frozenset(stored.scopes),
                         models=frozenset(stored.models) if stored.models is not None else None,
                         key_id=stored.id, rate_bucket=f"key:{stored.id}")
