"""`driftline models list|show|create` and `driftline versions list|create|promote|archive`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import msgspec

from engine.cli.context import CliContext, run_in_unit
from engine.cli.output import emit_json, table
from engine.cli.spec import load_spec
from engine.services.models import ModelService
from engine.store.unit import UnitOfWork


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = sub.add_parser("models", help="list, show or register models")
    msub = models.add_subparsers(dest="action", required=True)
    p = msub.add_parser("list", help="list registered models")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=models_list)
    p = msub.add_parser("show", help="show one model with its features and versions (JSON)")
    p.add_argument("name")
    p.set_defaults(handler=models_show)
    p = msub.add_parser("create", help="register a model from a JSON spec (same shape as the REST body)")
    p.add_argument("--file", "-f", type=Path, required=True, help="JSON spec file")
    p.set_defaults(handler=models_create)
    p = msub.add_parser("add-dimension", help="declare a segment key a window dimension (windows backfilled in the "
                        "background; reads grouped by it are exact at once)")
    p.add_argument("name", help="the model")
    p.add_argument("key", help="the segment key")
    p.set_defaults(handler=models_add_dimension)

    versions = sub.add_parser("versions", help="list, create, promote or archive model versions")
    vsub = versions.add_subparsers(dest="action", required=True)
    p = vsub.add_parser("list", help="list the versions of a model")
    p.add_argument("model")
    p.set_defaults(handler=versions_list)
    p = vsub.add_parser("create", help="add a version to a model")
    p.add_argument("model")
    p.add_argument("version")
    p.add_argument("--stage", default="development", choices=("development", "staging", "production"))
    p.add_argument("--description", default="")
    p.set_defaults(handler=versions_create)
    p = vsub.add_parser("promote", help="promote a version (production demotes the current one to staging)")
    p.add_argument("model")
    p.add_argument("version")
    p.add_argument("--stage", default="production", choices=("staging", "production"))
    p.set_defaults(handler=versions_promote)
    p = vsub.add_parser("archive", help="archive a version")
    p.add_argument("model")
    p.add_argument("version")
    p.set_defaults(handler=versions_archive)


def models_list(args: argparse.Namespace, ctx: CliContext) -> int:
    models = run_in_unit(ctx.settings, lambda uow: ModelService(uow).list_models())
    if args.json:
        emit_json(msgspec.to_builtins(models))
    else:
        table([(m.name, m.task, len(m.features), ",".join(m.class_labels or ()), m.created_at.strftime("%Y-%m-%d %H:%M"))
               for m in models], ("NAME", "TASK", "FEATURES", "CLASSES", "CREATED"))
    return 0


def models_show(args: argparse.Namespace, ctx: CliContext) -> int:
    async def work(uow: UnitOfWork) -> dict[str, Any]:
        svc = ModelService(uow)
        data: dict[str, Any] = msgspec.to_builtins(await svc.get_model(args.name))
        data["versions"] = msgspec.to_builtins(await svc.list_versions(args.name))
        return data

    emit_json(run_in_unit(ctx.settings, work))
    return 0


def models_create(args: argparse.Namespace, ctx: CliContext) -> int:
    new = load_spec(args.file)
    model = run_in_unit(ctx.settings, lambda uow: ModelService(uow).create_model(new))
    print(f"created model {model.name!r} ({model.task}, {len(model.features)} features)")
    return 0


def models_add_dimension(args: argparse.Namespace, ctx: CliContext) -> int:
    d = run_in_unit(ctx.settings, lambda uow: ModelService(uow).declare_dimension(args.name, args.key))
    where = (f"; windows over {d.backfill_start:%Y-%m-%d %H:%M}–{d.backfill_end:%Y-%m-%d %H:%M} are backfilled "
             "by the refresher (reads are exact meanwhile)") if d.backfill_start and d.backfill_end else ""
    print(f"{args.name}: dimensions {', '.join(d.model.dimensions)}{where}")
    return 0


def versions_list(args: argparse.Namespace, ctx: CliContext) -> int:
    versions = run_in_unit(ctx.settings, lambda uow: ModelService(uow).list_versions(args.model))
    table([(v.version, v.stage, v.created_at.strftime("%Y-%m-%d %H:%M"),
            v.promoted_at.strftime("%Y-%m-%d %H:%M") if v.promoted_at else None) for v in versions],
          ("VERSION", "STAGE", "CREATED", "PROMOTED"))
    return 0


def versions_create(args: argparse.Namespace, ctx: CliContext) -> int:
    v = run_in_unit(ctx.settings, lambda uow: ModelService(uow).create_version(
        args.model, args.version, args.stage, args.description))
    print(f"created {args.model} version {v.version} ({v.stage})")
    return 0


def versions_promote(args: argparse.Namespace, ctx: CliContext) -> int:
    v = run_in_unit(ctx.settings, lambda uow: ModelService(uow).promote(args.model, args.version, args.stage))
    print(f"{args.model} version {v.version} is now {v.stage}")
    return 0


def versions_archive(args: argparse.Namespace, ctx: CliContext) -> int:
    v = run_in_unit(ctx.settings, lambda uow: ModelService(uow).archive(args.model, args.version))
    print(f"{args.model} version {v.version} is now {v.stage}")
    return 0
