"""Who may call what: API keys (scoped, optionally limited to models) checked by an authentication
middleware, the scope each route needs checked by one app-wide guard, rate limits answered 429.

The scope a route needs is derived, so that routes added later are covered without anyone remembering to:
an explicit `opt={"scope": ...}` on the handler wins (`"ingest"`, `"read"`, `"admin"`, or None for a public
route); otherwise GET and HEAD need `read`, and every other method needs `admin`. /health and /schema are
public. A key limited to models may only call routes for one of them: the `name` path parameter, or the
`model` query parameter where the route has no `name` (custom metrics, the rejected-row log)."""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException, TooManyRequestsException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from engine.config import Settings
from engine.services.access.keys import ANONYMOUS, ENV_ADMIN, AuthFailure, KeyService, Principal
from engine.services.access.ratelimit import RateLimiter
from engine.services.access.secret import ServerSecret, load_secret
from engine.services.access.tokens import same_text
from engine.store.unit import unit_from_pool

log = logging.getLogger("driftline.auth")
PUBLIC_PATHS = re.compile(r"^/(health|schema)(/|$)")
SCOPE_OPT = "scope"
_READ_METHODS = frozenset({"GET", "HEAD"})
_UNSET = object()
WWW_AUTHENTICATE = 'Bearer realm="driftline", ApiKey realm="driftline" header="X-API-Key"'
_PRUNE_EVERY_SECONDS = 60.0
# Keep a day of windows: nothing reads older ones, and the table stays a few rows per active bucket.
_KEEP_WINDOWS_SECONDS = 86_400


def required_scope(method: str, handler: BaseRouteHandler) -> str | None:
    """The scope `method` on `handler` needs; None: public."""
    explicit = handler.opt.get(SCOPE_OPT, _UNSET)
    if explicit is not _UNSET:
        return explicit
    if method == "OPTIONS":
        return None  # CORS preflights carry no credentials
    return "read" if method in _READ_METHODS else "admin"


def model_of(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> str | None:
    """The one model a request is for: the `name` path parameter, else the `model` query parameter of a
    handler that takes one; None when the route is not for one model (listing every model, say)."""
    name = connection.path_params.get("name")
    if isinstance(name, str):
        return name
    if "model" in handler.parsed_fn_signature.parameters:
        model = connection.query_params.get("model")
        return model if model else None
    return None


def presented_key(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The key from `X-API-Key`, else from `Authorization: Bearer …`; an Authorization of another kind
    counts as a wrong key (a client that sends one means to authenticate)."""
    key = connection.headers.get("x-api-key")
    if key:
        return key.strip()
    authorization = connection.headers.get("authorization")
    if not authorization:
        return None
    scheme, _, value = authorization.strip().partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else authorization


def unauthorized(detail: str) -> NotAuthorizedException:
    return NotAuthorizedException(detail, headers={"WWW-Authenticate": WWW_AUTHENTICATE})


def too_many(detail: str, retry_after: int) -> TooManyRequestsException:
    return TooManyRequestsException(detail, headers={"Retry-After": str(retry_after)})


@dataclass
class AccessControl:
    """Per-process state of access control: the settings, the server secret (read lazily: the CLI may
    create it after the server started), whether keys were ever created (once true, true for good), and
    the client addresses this process saw pass the failed-authentication limit (until their window ends)."""

    settings: Settings
    _secret: ServerSecret | None = None
    _keys_seen: bool = False
    _blocked: dict[str, float] = field(default_factory=dict)
    _last_prune: float = 0.0
    _warned_secret: bool = False

    def secret(self) -> ServerSecret | None:
        if self._secret is None:
            self._secret = load_secret(self.settings.access)
        return self._secret

    async def enforced(self, pool: asyncpg.Pool) -> bool:
        mode = self.settings.access.mode
        if mode == "required" or self.settings.api_key:
            return True
        if mode == "open":
            return False
        if not self._keys_seen:
            async with unit_from_pool(pool, share=False) as uow:
                self._keys_seen = await KeyService(uow).any_exists()
        return self._keys_seen

    def keys_created(self) -> None:
        self._keys_seen = True

    def blocked_for(self, client: str) -> int | None:
        until = self._blocked.get(client)
        if until is None:
            return None
        left = until - time.monotonic()
        if left <= 0:
            del self._blocked[client]
            return None
        return max(1, int(left + 0.999))

    def block(self, client: str, seconds: int) -> None:
        if len(self._blocked) > 10_000:  # many addresses: forget the expired ones
            now = time.monotonic()
            self._blocked = {c: t for c, t in self._blocked.items() if t > now}
        self._blocked[client] = time.monotonic() + seconds

    def prune_due(self) -> bool:
        now = time.monotonic()
        if now - self._last_prune < _PRUNE_EVERY_SECONDS:
            return False
        self._last_prune = now
        return True

    def warn_secret(self, failure: AuthFailure) -> None:
        if failure.other_secret and not self._warned_secret:
            self._warned_secret = True
            log.warning("%s: this server's DRIFTLINE_SECRET_KEY (or secret key file) differs from the one the "
                        "keys were created with; every such key is refused", failure.reason)


def _client(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "unknown"


class ApiKeyMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection[Any, Any, Any, Any]) -> AuthenticationResult:
        handler = connection.scope.get("route_handler")
        if handler is not None and required_scope(connection.scope["method"], handler) is None:  # type: ignore[typeddict-item]
            return AuthenticationResult(user=None, auth=None)  # a public route: nothing to check
        access: AccessControl = connection.app.state.access
        pool: asyncpg.Pool = connection.app.state.pool
        key = presented_key(connection)
        if key is None:
            if await access.enforced(pool):
                raise unauthorized("API key required: send X-API-Key or Authorization: Bearer")
            return AuthenticationResult(user=ANONYMOUS, auth=None)
        client = _client(connection)
        blocked = access.blocked_for(client)
        if blocked is not None:
            raise too_many("too many failed authentications from this address", blocked)
        env_key = access.settings.api_key
        if env_key and same_text(key, env_key):
            return AuthenticationResult(user=ENV_ADMIN, auth=None)
        rate = access.settings.access.failed_auth_rate
        async with unit_from_pool(pool, share=False) as uow:
            result = await KeyService(uow).authenticate(key, access.secret())
            if isinstance(result, Principal):
                return AuthenticationResult(user=result, auth=result.key_id)
            access.warn_secret(result)
            log.info("refused API key from %s: %s", client, result.reason)
            if rate.enabled:
                limiter = RateLimiter(uow)
                decision = await limiter.hit(f"auth:{client}", rate)
                if access.prune_due():
                    await limiter.prune(_KEEP_WINDOWS_SECONDS)
                if not decision.allowed:
                    access.block(client, decision.retry_after)
                    raise too_many("too many failed authentications from this address", decision.retry_after)
        raise unauthorized("invalid or revoked API key")


async def scope_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """403 unless the caller's key holds the route's scope (and its model); 429 past the ingest rate."""
    if PUBLIC_PATHS.match(connection.scope["path"]):
        return
    scope = required_scope(connection.scope["method"], handler)  # type: ignore[typeddict-item]
    if scope is None:
        return
    principal = connection.scope.get("user")
    if not isinstance(principal, Principal):  # the middleware did not run: refuse rather than guess
        raise unauthorized("API key required")
    if not principal.allows(scope):
        raise PermissionDeniedException(f"this API key lacks the {scope!r} scope this operation needs "
                                        f"(it holds: {', '.join(sorted(principal.scopes))})")
    if principal.models is not None:
        model = model_of(connection, handler)
        if model is None:
            raise PermissionDeniedException("this API key is limited to some models; this operation is not "
                                            "for one model (give ?model= where the route takes it)")
        if not principal.allows_model(model):
            raise PermissionDeniedException(f"this API key is not allowed model {model!r}")
    access: AccessControl = connection.app.state.access
    rate = access.settings.access.ingest_rate
    if scope == "ingest" and principal.rate_bucket is not None and rate.enabled:
        async with unit_from_pool(connection.app.state.pool, share=False) as uow:
            limiter = RateLimiter(uow)
            decision = await limiter.hit(f"ingest:{principal.rate_bucket}", rate)
            if access.prune_due():
                await limiter.prune(_KEEP_WINDOWS_SECONDS)
        if not decision.allowed:
            raise too_many(f"ingest rate limit of this key reached ({rate.limit} requests per "
                           f"{rate.window_seconds} s)", decision.retry_after)


def auth_middleware() -> DefineMiddleware:
    return DefineMiddleware(ApiKeyMiddleware, exclude=[PUBLIC_PATHS.pattern])
