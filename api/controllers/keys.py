"""API keys: issue (the token is in this answer only), list, revoke. Admin scope, all three."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.params import Parameter

from api.auth import AccessControl
from api.edge import strict_body
from api.schemas import IssuedKeyOut, KeyIn, KeyOut, error_responses
from engine.errors import ConflictError
from engine.services.access.keys import KeyService, Principal
from engine.services.access.secret import load_secret
from engine.store.access_repo import StoredKey
from engine.store.unit import UnitOfWork

ADMIN = {"scope": "admin"}


def _out(key: StoredKey) -> KeyOut:
    return msgspec.convert(dataclasses.asdict(key), KeyOut)


class KeysController(Controller):
    path = "/api/v1/admin/keys"
    tags = ["access"]

    @post("/", opt=ADMIN, responses=error_responses(400, 401, 409, 415, 422, 503))
    async def create_key(self, request: Request[Any, Any, Any], data: KeyIn, uow: UnitOfWork) -> IssuedKeyOut:
        """Issue a key. The token is in this answer and nowhere else: store it now. 409 when the server has
        no secret key to hash it with (DRIFTLINE_SECRET_KEY, or DRIFTLINE_HOME for a generated one)."""
        data = await strict_body(request, KeyIn)
        access: AccessControl = request.app.state.access
        secret = load_secret(access.settings.access, create=True)
        if secret is None:
            raise ConflictError("this server has no secret key to hash API keys with: set DRIFTLINE_SECRET_KEY "
                                "(or DRIFTLINE_HOME, where one is generated)")
        caller = request.scope.get("user")
        issued = await KeyService(uow).create(secret, data.name, data.scopes, data.models, data.comment,
                                              created_by=f"api:{caller.name}" if isinstance(caller, Principal) else "api")
        access.keys_created()
        return IssuedKeyOut(token=issued.token, key=_out(issued.key))

    @get("/", opt=ADMIN, responses=error_responses(401, 503))
    async def list_keys(
        self, uow: UnitOfWork, include_revoked: Annotated[bool, Parameter(query="include_revoked")] = True,
    ) -> list[KeyOut]:
        """Every key (never a token or its hash), revoked ones too unless `include_revoked=false`."""
        return [_out(k) for k in await KeyService(uow).list(include_revoked)]

    @delete("/{key:str}", opt=ADMIN, status_code=200, responses=error_responses(401, 404, 422, 503))
    async def revoke_key(self, key: str, uow: UnitOfWork) -> KeyOut:
        """Revoke a key by id or prefix; it is refused from the next request on (revoking twice keeps the
        first time)."""
        return _out(await KeyService(uow).revoke(key))
