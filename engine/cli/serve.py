"""`driftline serve`: the REST API under uvicorn (factory `api.app:app_from_env`, which reads the same
environment settings as the CLI)."""

from __future__ import annotations

import argparse

from engine.cli.context import CliContext

APP_FACTORY = "api.app:app_from_env"  # named, not imported: the engine does not import the HTTP layer
# With --workers N, uvicorn's parent kills a worker that has not answered its health ping within this many
# seconds; its default (5 s) is shorter than a worker's start on a busy host (importing the engine took
# 12 s of wall time at load 12 on two cores), and every worker was killed and respawned in a loop.
WORKER_HEALTHCHECK_SECONDS = 120


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("serve", help="run the REST API (uvicorn)")
    p.add_argument("--host", default=None, help="bind address (default DRIFTLINE_API_HOST or 127.0.0.1)")
    p.add_argument("--port", type=int, default=None, help="port (default DRIFTLINE_API_PORT or 8000)")
    p.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    p.add_argument("--log-level", default="info", choices=("critical", "error", "warning", "info", "debug"))
    p.set_defaults(handler=run)


def run(args: argparse.Namespace, ctx: CliContext) -> int:
    import uvicorn

    uvicorn.run(
        APP_FACTORY,
        factory=True,
        host=args.host or ctx.settings.api_host,
        port=args.port or ctx.settings.api_port,
        workers=max(1, args.workers),
        log_level=args.log_level,
        proxy_headers=True,
        timeout_worker_healthcheck=WORKER_HEALTHCHECK_SECONDS,
    )
    return 0
