"""`driftline monitors list|show|apply|delete|run|runs`.

`apply monitors.yaml` is declarative and idempotent: each entry (a monitor of one model, the REST body plus
`model`) is created, updated to exactly what the file says (fields left out take their defaults) or left
alone, all in one transaction; `--dry-run` prints the diff and writes nothing; `--prune` also deletes the
monitors of the file's models that the file does not list.

    monitors:
      - model: churn
        name: hourly
        window: 1h
        granularity: 1m
        every: 1h
        min_samples: 50
        analyses:
          - kind: drift
            params: {rule: classic}
          - kind: quality
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec
import yaml

from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.output import emit_json, table
from engine.errors import RowError, ValidationError
from engine.services.monitors.service import ApplyOut, MonitorService
from engine.services.monitors.spec import MonitorBody
from engine.store.unit import UnitOfWork


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    mon = sub.add_parser("monitors", help="list, show, apply (YAML), delete or run monitors; their run history",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    msub = mon.add_subparsers(dest="action", required=True)
    p = msub.add_parser("list", help="list monitors (of one model with --model)")
    p.add_argument("--model")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=monitors_list)
    p = msub.add_parser("show", help="show one monitor (JSON)")
    p.add_argument("model")
    p.add_argument("name")
    p.set_defaults(handler=monitors_show)
    p = msub.add_parser("apply", help="create / update monitors from a YAML file (declarative, idempotent)")
    p.add_argument("file", type=Path)
    p.add_argument("--dry-run", action="store_true", help="print the diff, write nothing")
    p.add_argument("--prune", action="store_true", help="delete the listed models' monitors the file leaves out")
    p.set_defaults(handler=monitors_apply)
    p = msub.add_parser("delete", help="delete a monitor and its run history")
    p.add_argument("model")
    p.add_argument("name")
    p.set_defaults(handler=monitors_delete)
    p = msub.add_parser("run", help="queue a run now (a worker runs it); a window queued already is a no-op")
    p.add_argument("model")
    p.add_argument("name")
    p.add_argument("--end", type=datetime.fromisoformat, help="window end (ISO 8601 with offset; default: latest)")
    p.set_defaults(handler=monitors_run)
    p = msub.add_parser("runs", help="a monitor's run history, newest first (or one run with --id)")
    p.add_argument("model")
    p.add_argument("name")
    p.add_argument("--id", type=int, help="show one run in full (error and traceback included)")
    p.add_argument("--status", choices=("queued", "running", "succeeded", "failed", "no_data"))
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=monitors_runs)


def _json(value: Any) -> None:
    emit_json(msgspec.to_builtins(value), sys.stdout)  # the current stdout, not the one bound at import


def monitors_list(args: argparse.Namespace, ctx: CliContext) -> int:
    monitors = run_in_unit(ctx.settings, lambda uow: MonitorService(uow).list(args.model))
    if args.json:
        _json(monitors)
    else:
        table([(m.model, m.name, ",".join(a.kind for a in m.analyses), m.window, m.granularity, m.every or m.cron,
                m.min_samples, "yes" if m.enabled else "no") for m in monitors],
              ("MODEL", "NAME", "ANALYSES", "WINDOW", "GRAIN", "SCHEDULE", "MIN_SAMPLES", "ENABLED"), sys.stdout)
    return 0


def monitors_show(args: argparse.Namespace, ctx: CliContext) -> int:
    _json(run_in_unit(ctx.settings, lambda uow: MonitorService(uow).get(args.model, args.name)))
    return 0


def load_monitors(path: Path) -> list[tuple[str, MonitorBody]]:
    """The file's entries, each checked for shape (types, unknown keys) with its index in the errors."""
    try:
        doc = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ValidationError([RowError(None, "file", f"not YAML: {exc}")]) from exc
    entries = doc.get("monitors") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ValidationError([RowError(None, "monitors", "the file needs a top-level `monitors:` list")])
    out, errs = [], []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or not isinstance(entry.get("model"), str):
            errs.append(RowError(i, "model", "each entry is a mapping with `model` and `name`"))
            continue
        body = {k: v for k, v in entry.items() if k != "model"}
        try:
            out.append((entry["model"], msgspec.convert(body, MonitorBody, str_keys=True)))
        except msgspec.ValidationError as exc:
            errs.append(RowError(i, None, str(exc)))
    if errs:
        raise ValidationError(errs)
    return out


def _line(model: str, r: ApplyOut, name: str) -> str:
    mark = {"created": "+", "updated": "~", "unchanged": "="}[r.change]
    head = f"{mark} {model}/{name} ({r.change})"
    if r.change != "updated":
        return head
    return "\n".join([head, *(f"    {d.field}: {_short(d.old)} -> {_short(d.new)}" for d in r.diff)])


def _short(v: Any) -> str:
    text = msgspec.json.encode(v).decode()
    return text if len(text) <= 200 else text[:197] + "..."


def monitors_apply(args: argparse.Namespace, ctx: CliContext) -> int:
    entries = load_monitors(args.file)

    async def work(uow: UnitOfWork) -> list[str]:
        svc, lines = MonitorService(uow), []
        async with uow.transaction():
            for i, (model, body) in enumerate(entries):
                try:
                    r = await svc.apply(model, body, args.dry_run)
                except ValidationError as exc:
                    raise ValidationError([RowError(i, e.field, e.reason) for e in exc.errors]) from exc
                lines.append(_line(model, r, body.name))
            if args.prune:
                keep = {(m, b.name) for m, b in entries}
                for model in sorted({m for m, _ in entries}):
                    for m in await svc.list(model):
                        if (model, m.name) not in keep:
                            if not args.dry_run:
                                await svc.delete(model, m.name)
                            lines.append(f"- {model}/{m.name} (deleted)")
        return lines

    for line in run_in_unit(ctx.settings, work):
        sys.stdout.write(line + "\n")
    if args.dry_run:
        sys.stdout.write("dry run: nothing written\n")
    return 0


def monitors_delete(args: argparse.Namespace, ctx: CliContext) -> int:
    m = run_in_unit(ctx.settings, lambda uow: MonitorService(uow).delete(args.model, args.name))
    sys.stdout.write(f"deleted {m.model}/{m.name}\n")
    return 0


def monitors_run(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.end is not None and args.end.tzinfo is None:
        raise UsageError("--end needs a timezone (Z or +HH:MM)")

    async def work(uow: UnitOfWork) -> Any:
        from engine.jobs.queue import JobQueue
        from engine.jobs.scheduler import MonitorQueue

        queue = await JobQueue(ctx.settings.database_url, pool_max=1).open()
        try:
            return await MonitorService(uow).run_now(args.model, args.name, MonitorQueue(queue), args.end)
        finally:
            await queue.close()

    out = run_in_unit(ctx.settings, work)
    _json(out)
    return 0


def monitors_runs(args: argparse.Namespace, ctx: CliContext) -> int:
    if args.id is not None:
        _json(run_in_unit(ctx.settings, lambda uow: MonitorService(uow).run(args.model, args.name, args.id)))
        return 0
    runs = run_in_unit(ctx.settings, lambda uow: MonitorService(uow).runs(args.model, args.name, args.status, args.limit))
    if args.json:
        _json(runs)
    else:
        table([(r.id, r.window_start.isoformat(), r.window_end.isoformat(), r.trigger, r.status, r.attempt,
                None if r.duration_s is None else f"{r.duration_s:.2f}", r.rows_read, (r.error or "")[:60])
               for r in runs], ("ID", "WINDOW_START", "WINDOW_END", "TRIGGER", "STATUS", "ATTEMPT", "SECONDS", "ROWS",
                                "ERROR"), sys.stdout)
    return 0
