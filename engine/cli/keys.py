"""`driftline keys create|list|revoke`: API keys, straight on the database (no API needed).

The token is printed once, by `create`; only its keyed hash is stored. The server secret it is hashed with
is DRIFTLINE_SECRET_KEY, else `$DRIFTLINE_HOME/secret_key` (DRIFTLINE_SECRET_KEY_FILE), created here the
first time; the API servers must see the same one."""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import sys

from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.output import emit_json, table
from engine.services.access.keys import KeyService
from engine.services.access.secret import load_secret
from engine.services.access.tokens import SCOPES


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    keys = sub.add_parser("keys", help="create, list or revoke API keys")
    ksub = keys.add_subparsers(dest="action", required=True)
    p = ksub.add_parser("create", help="issue a key and print its token (shown this once)")
    p.add_argument("--name", required=True, help="what the key is for (e.g. the service that uses it)")
    p.add_argument("--scope", action="append", choices=SCOPES, required=True, dest="scopes",
                   help="repeat for several: ingest, read, admin (admin holds all)")
    p.add_argument("--model", action="append", dest="models", default=None,
                   help="limit the key to this model (repeat for several; default: every model)")
    p.add_argument("--comment", default="")
    p.add_argument("--json", action="store_true", help="print the token and the key as JSON")
    p.set_defaults(handler=keys_create)
    p = ksub.add_parser("list", help="list keys (never their tokens)")
    p.add_argument("--active", action="store_true", help="leave revoked keys out")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=keys_list)
    p = ksub.add_parser("revoke", help="revoke a key by id or prefix (refused from the next request on)")
    p.add_argument("key", help="id, 12-character prefix, or the token")
    p.set_defaults(handler=keys_revoke)


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def keys_create(args: argparse.Namespace, ctx: CliContext) -> int:
    secret = load_secret(ctx.settings.access, create=True)
    if secret is None:
        raise UsageError("no secret key to hash API keys with: set DRIFTLINE_SECRET_KEY (the same for every "
                         "API server) or DRIFTLINE_HOME (a secret_key file is generated there)")
    issued = run_in_unit(ctx.settings, lambda uow: KeyService(uow).create(
        secret, args.name, args.scopes, args.models, args.comment, _who()))
    if args.json:
        emit_json({"token": issued.token, "key": dataclasses.asdict(issued.key)})
    else:
        key = issued.key
        sys.stdout.write(f"{issued.token}\n")
        sys.stderr.write(f"key {key.id} ({key.name}, prefix {key.prefix}, scopes {','.join(key.scopes)}, "
                         f"models {','.join(key.models) if key.models else 'all'}): the token above is shown "
                         "this once\n")
    return 0


def keys_list(args: argparse.Namespace, ctx: CliContext) -> int:
    keys = run_in_unit(ctx.settings, lambda uow: KeyService(uow).list(include_revoked=not args.active))
    if args.json:
        emit_json([dataclasses.asdict(k) for k in keys])
        return 0
    stamp = "%Y-%m-%d %H:%M"
    table([(k.id, k.name, k.prefix, ",".join(k.scopes), ",".join(k.models) if k.models else "all",
            k.created_at.strftime(stamp), k.last_used_at.strftime(stamp) if k.last_used_at else "-",
            k.revoked_at.strftime(stamp) if k.revoked_at else "-") for k in keys],
          ("ID", "NAME", "PREFIX", "SCOPES", "MODELS", "CREATED", "LAST USED", "REVOKED"))
    return 0


def keys_revoke(args: argparse.Namespace, ctx: CliContext) -> int:
    key = run_in_unit(ctx.settings, lambda uow: KeyService(uow).revoke(args.key))
    sys.stdout.write(f"revoked key {key.id} ({key.name}, prefix {key.prefix})\n")
    return 0
