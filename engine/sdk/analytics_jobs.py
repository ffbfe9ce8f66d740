"""SDK calls for the analytics-pipeline jobs (`/analytics/jobs`, no /api/v1 prefix, as the seed has it);
answers decoded to plain dicts by `analyses.parse_json`."""

from __future__ import annotations

from engine.sdk.calls import Call, _json_call, _q

JOBS = "/analytics/jobs"


def list_jobs() -> Call:
    return Call("GET", JOBS)


def create_job(job_id: str, model_name: str, metrics_path: str, predictions_path: str, frequency: str) -> Call:
    body = {"job_id": job_id, "model_name": model_name, "metrics_path": metrics_path,
            "predictions_path": predictions_path, "frequency": frequency}
    # the same body again answers the stored job: safe to resend when an answer was lost
    return _json_call("POST", JOBS, body, repeatable=True)


def get_job(job_id: str) -> Call:
    return Call("GET", f"{JOBS}/{_q(job_id)}")


def run_job(job_id: str) -> Call:
    return Call("POST", f"{JOBS}/{_q(job_id)}/run", repeatable=False)


def job_runs(job_id: str, limit: int) -> Call:
    return Call("GET", f"{JOBS}/{_q(job_id)}/runs", params={"limit": str(limit)})


def delete_job(job_id: str) -> Call:
    return Call("DELETE", f"{JOBS}/{_q(job_id)}", repeatable=False)
