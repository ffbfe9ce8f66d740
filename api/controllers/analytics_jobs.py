"""The analytics-pipeline seed's jobs: `GET/POST /analytics/jobs`, `GET/DELETE /analytics/jobs/{job_id}`,
`GET /analytics/jobs/{job_id}/runs`, `POST /analytics/jobs/{job_id}/run` (runs the batch now and answers
with the finished run; 409 while another run of the job is going). Paths without the /api/v1 prefix, as the
seed has them (like /analytics/model/...)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromQuery

from api.edge import strict_body
from api.schemas import error_responses
from engine.services.analytics_jobs.jobs import (
    AnalyticsJob,
    AnalyticsJobList,
    AnalyticsJobRunResult,
    AnalyticsJobRuns,
    AnalyticsJobService,
    NewAnalyticsJob,
)

EXISTING = {200: ResponseSpec(data_container=AnalyticsJob, generate_examples=False,
                              description="A job with this id and the same body exists already (nothing changed)")}


class AnalyticsJobsController(Controller):
    path = "/analytics/jobs"
    tags = ["analytics"]

    @get("/", responses=error_responses(401, 503))
    async def list_jobs(self, analytics_job_service: AnalyticsJobService) -> AnalyticsJobList:
        return await analytics_job_service.list()

    @post("/", responses={**EXISTING, **error_responses(400, 401, 409, 415, 422, 503)})
    async def create_job(self, request: Request[Any, Any, Any], data: NewAnalyticsJob,
                         analytics_job_service: AnalyticsJobService) -> Response[AnalyticsJob]:
        job, created = await analytics_job_service.create(await strict_body(request, NewAnalyticsJob))
        return Response(job, status_code=201 if created else 200)

    @get("/{job_id:str}", responses=error_responses(401, 404, 503))
    async def get_job(self, job_id: str, analytics_job_service: AnalyticsJobService) -> AnalyticsJob:
        return await analytics_job_service.get(job_id)

    @delete("/{job_id:str}", status_code=200, responses=error_responses(401, 404, 503))
    async def delete_job(self, job_id: str, analytics_job_service: AnalyticsJobService) -> AnalyticsJob:
        return await analytics_job_service.delete(job_id)

    @get("/{job_id:str}/runs", responses=error_responses(400, 401, 404, 422, 503))
    async def list_runs(self, job_id: str, analytics_job_service: AnalyticsJobService,
                        limit: FromQuery[int] = 100) -> AnalyticsJobRuns:
        return await analytics_job_service.runs(job_id, limit)

    @post("/{job_id:str}/run", responses=error_responses(401, 404, 409, 415, 503))
    async def run_job(self, job_id: str, analytics_job_service: AnalyticsJobService) -> AnalyticsJobRunResult:
        return await analytics_job_service.run(job_id)
