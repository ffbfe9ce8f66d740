"""`driftline analytics-jobs list|create|show|run|runs|delete`: the analytics-pipeline seed's batch jobs,
straight on the database (no HTTP), with the same service and checks as `/analytics/jobs`.

Paths are server-side Parquet files under DRIFTLINE_ANALYTICS_INPUT_ROOT (relative to it, or absolute inside
it); the outputs go to DRIFTLINE_ANALYTICS_OUTPUT_PATH (default data/analytics). `run` runs the batch now
and exits 0 when it succeeded, 1 when it failed (the error is in `runs`), 4 when the job is already running.
"""

from __future__ import annotations

import argparse
import sys

import msgspec

from engine.cli.context import CliContext, UsageError, run_in_unit
from engine.cli.output import emit_json, table
from engine.services.analytics_jobs.jobs import AnalyticsJobService, NewAnalyticsJob
from engine.store.unit import UnitOfWork


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    top = sub.add_parser("analytics-jobs", help="analytics-pipeline batch jobs (create, run, history)",
                         description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    jsub = top.add_subparsers(dest="action", required=True)
    p = jsub.add_parser("list", help="list the jobs")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(handler=jobs_list)
    p = jsub.add_parser("create", help="create a job (the same body again is a no-op; a different one a conflict)")
    p.add_argument("job_id")
    p.add_argument("--model", "-m", required=True)
    p.add_argument("--metrics", required=True, help="metrics Parquet file (name, value, time[, tags])")
    p.add_argument("--predictions", required=True, help="predictions Parquet file (as `driftline ingest predictions`)")
    p.add_argument("--frequency", default="daily", choices=("hourly", "daily", "weekly"))
    p.set_defaults(handler=jobs_create)
    p = jsub.add_parser("show", help="one job (JSON)")
    p.add_argument("job_id")
    p.set_defaults(handler=jobs_show)
    p = jsub.add_parser("run", help="run a job's batch now and print the run (JSON)")
    p.add_argument("job_id")
    p.set_defaults(handler=jobs_run)
    p = jsub.add_parser("runs", help="a job's run history, newest first")
    p.add_argument("job_id")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--json", action="store_true", help="print JSON (with errors and tracebacks)")
    p.set_defaults(handler=jobs_runs)
    p = jsub.add_parser("delete", help="delete a job and its run history")
    p.add_argument("job_id")
    p.set_defaults(handler=jobs_delete)


def _svc(uow: UnitOfWork, ctx: CliContext) -> AnalyticsJobService:
    return AnalyticsJobService(uow, ctx.settings)


def jobs_list(args: argparse.Namespace, ctx: CliContext) -> int:
    jobs = run_in_unit(ctx.settings, lambda uow: _svc(uow, ctx).list()).jobs
    if args.json:
        emit_json(msgspec.to_builtins(jobs))
    else:
        table([(j.job_id, j.model_name, j.frequency, j.last_status, j.last_run_at, j.predictions_path, j.metrics_path)
               for j in jobs], ("JOB", "MODEL", "FREQUENCY", "LAST STATUS", "LAST RUN", "PREDICTIONS", "METRICS"))
    return 0


def jobs_create(args: argparse.Namespace, ctx: CliContext) -> int:
    new = NewAnalyticsJob(args.job_id, args.model, args.metrics, args.predictions, args.frequency)
    try:  # the REST body's own checks (job id pattern, path lengths)
        msgspec.convert(msgspec.to_builtins(new), NewAnalyticsJob)
    except msgspec.ValidationError as exc:
        raise UsageError(f"analytics-jobs create: {exc}") from None
    job, created = run_in_unit(ctx.settings, lambda uow: _svc(uow, ctx).create(new))
    print(f"{'created' if created else 'unchanged (same body)'}: {job.job_id} ({job.model_name}, {job.frequency})")
    return 0


def jobs_show(args: argparse.Namespace, ctx: CliContext) -> int:
    emit_json(msgspec.to_builtins(run_in_unit(ctx.settings, lambda uow: _svc(uow, ctx).get(args.job_id))))
    return 0


def jobs_run(args: argparse.Namespace, ctx: CliContext) -> int:
    done = run_in_unit(ctx.settings, lambda uow: _svc(uow, ctx).run(args.job_id))
    emit_json(msgspec.to_builtins(done.run))
    if done.run.status != "succeeded":
        sys.stderr.write(f"driftline: run {done.run.id} of {args.job_id} failed: {done.run.error}\n")
        return 1
    return 0


def jobs_runs(args: argparse.Namespace, ctx: CliContext) -> int:
    runs = run_in_unit(ctx.settings, lambda uow: _svc(uow, ctx).runs(args.job_id, args.limit)).runs
    if args.json:
        emit_json(msgspec.to_builtins(runs))
    else:
        table([(r.id, r.status, r.trigger, r.started_at.strftime("%Y-%m-%d %H:%M:%S"),
                None if r.duration_s is None else f"{r.duration_s:.2f}", r.rows_ingested, r.batch_id, r.error)
               for r in runs], ("RUN", "STATUS", "TRIGGER", "STARTED", "SECONDS", "ROWS", "BATCH", "ERROR"))
    return 0


def jobs_delete(args: argparse.Namespace, ctx: CliContext) -> int:
    job = run_in_unit(ctx.settings, lambda uow: _svc(uow, ctx).delete(args.job_id))
    print(f"deleted: {job.job_id}")
    return 0
