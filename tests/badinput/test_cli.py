"""Bad input through the `driftline` command (a real subprocess on the suite's database): each file or command
line exits with its documented code (2 invalid, 3 not found, 4 conflict) and names the row, field and reason
on stderr, and the database is unchanged; `--partial` stores exactly the good rows."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from tests.badinput.conftest import Target
from tests.badinput.rest_cases import _frame
from tests.badinput.support import state
from tests.cli.helpers import driftline
from tests.ingest.support import T0

INVALID, NOT_FOUND, CONFLICT = 2, 3, 4


@dataclass(frozen=True)
class CliCase:
    write: Callable[[Path], list[str]]  # writes its input files under the given directory, returns the arguments
    exit: int
    message: str


def _parquet(frame: pl.DataFrame, kind: str = "predictions", *extra: str) -> Callable[[Path], list[str]]:
    def write(tmp: Path) -> list[str]:
        path = tmp / f"{kind}.parquet"
        frame.write_parquet(path)
        return ["ingest", kind, str(path), *extra]
    return write


def _csv(text: str, kind: str = "predictions", *extra: str) -> Callable[[Path], list[str]]:
    def write(tmp: Path) -> list[str]:
        path = tmp / f"{kind}.csv"
        path.write_text(text)
        return ["ingest", kind, str(path), *extra]
    return write


def _args(*args: str) -> Callable[[Path], list[str]]:
    return lambda tmp: list(args)


def _spec(spec: dict[str, object]) -> Callable[[Path], list[str]]:
    def write(tmp: Path) -> list[str]:
        path = tmp / "spec.json"
        path.write_text(json.dumps(spec))
        return ["models", "create", "--file", str(path)]
    return write


M = ("-m", "churn")
HEADER = "prediction_id,time,score,age,plan,income,tenure,channel\n"
GOOD = "c-{k},2026-03-01T00:0{k}:00Z,0.5,30,pro,1000,3,web\n"


def _good_csv(n: int = 3) -> str:
    return HEADER + "".join(GOOD.format(k=k) for k in range(n))


CASES: dict[str, CliCase] = {
    "parquet_score_out_of_range": CliCase(_parquet(_frame(score=[0.1, 0.2, 1.5, 0.3]), "predictions", *M), INVALID,
                                          "row 2, score: must be within [0, 1]"),
    "parquet_string_score": CliCase(_parquet(_frame(score=["a"] * 4), "predictions", *M), INVALID,
                                    "score: expected a numeric column"),
    "parquet_unknown_column": CliCase(_parquet(_frame(colour=["r"] * 4), "predictions", *M), INVALID,
                                      "colour: unknown column"),
    "parquet_naive_time": CliCase(_parquet(_frame().with_columns(pl.col("time").dt.replace_time_zone(None)),
                                           "predictions", *M), INVALID, "datetime column has no timezone"),
    "parquet_negative_latency": CliCase(_parquet(_frame(latency_ms=[1.0, -2.0, 1.0, 1.0]), "predictions", *M),
                                        INVALID, "row 1, latency_ms: must be >= 0"),
    "parquet_missing_tenure": CliCase(_parquet(_frame(tenure=[1.0, 2.0, None, 3.0]), "predictions", *M), INVALID,
                                      "row 2, features.tenure: required (feature declared non-nullable)"),
    "parquet_duplicate_ids": CliCase(_parquet(_frame(prediction_id=["a", "b", "a", "c"]), "predictions", *M),
                                     INVALID, "row 2, prediction_id: duplicate prediction_id within the batch"),
    "parquet_bad_in_second_batch": CliCase(_parquet(_frame(score=[0.1, 0.2, 0.3, 7.0]), "predictions", *M,
                                                    "--batch-size", "2"), INVALID,
                                           "row 3, score: must be within [0, 1]"),
    "parquet_huge_latency": CliCase(_parquet(_frame(latency_ms=[1.0, 1e200, 1.0, 1.0]), "predictions", *M),
                                    INVALID, "row 1, latency_ms: magnitude must be 0 or within [1e-100, 1e100]"),
    "csv_tiny_feature": CliCase(_csv(_good_csv().replace(",1000,", ",1e-170,", 1), "predictions", *M), INVALID,
                                "row 0, features.income: magnitude must be 0 or within [1e-100, 1e100]"),
    "metrics_huge_value": CliCase(_csv("name,value,time\ncost,1e200,2026-03-01T00:00:00Z\n", "metrics"), INVALID,
                                  "row 0, value: magnitude must be 0 or within [1e-100, 1e100]"),
    "csv_naive_time": CliCase(_csv(_good_csv().replace("00:01:00Z", "00:01:00"), "predictions", *M), INVALID,
                              "time: timestamp has no timezone"),
    "csv_text_score": CliCase(_csv(_good_csv().replace(",0.5,", ",high,", 1), "predictions", *M), INVALID, "score"),
    "csv_unknown_class_label": CliCase(_csv(_good_csv().replace("score", "prediction").replace(",0.5,", ",maybe,"),
                                            "predictions", *M), INVALID, "prediction: not a class label"),
    "csv_overlong_id": CliCase(_csv(_good_csv().replace("c-1,", "x" * 201 + ","), "predictions", *M),
                                            INVALID, "row 1, prediction_id: must be 1–200 characters"),
    "labels_unknown_class": CliCase(_csv("prediction_id,label\ng-1,maybe\n", "labels", *M), INVALID,
                                    "row 0, label: not a class label"),
    "labels_unknown_prediction": CliCase(_csv("prediction_id,label\nnever-seen,churn\n", "labels", *M), INVALID,
                                         "prediction_id"),
    "metrics_text_value": CliCase(_csv("name,value,time\ncost,abc,2026-03-01T00:00:00Z\n", "metrics"), INVALID,
                                  "value"),
    "metrics_naive_time": CliCase(_csv("name,value,time\ncost,1.0,2026-03-01T00:00:00\n", "metrics"), INVALID,
                                  "time: timestamp has no timezone"),
    "not_a_parquet_file": CliCase(_csv("PAR1 garbage", "predictions", *M), INVALID, ""),
    "unknown_model": CliCase(_parquet(_frame(), "predictions", "-m", "nope"), NOT_FOUND, "'nope' does not exist"),
    "unknown_version": CliCase(_parquet(_frame(), "predictions", *M, "--version", "v7"), NOT_FOUND, "no version 'v7'"),
    "missing_model_option": CliCase(_parquet(_frame(), "predictions"), INVALID, "--model is required"),
    "batch_size_zero": CliCase(_parquet(_frame(), "predictions", *M, "--batch-size", "0"), INVALID,
                               "--batch-size must be within 1.."),
    "missing_file": CliCase(_args("ingest", "predictions", "/nonexistent/x.parquet", *M), INVALID, "is not a file"),
    "unknown_kind": CliCase(_args("ingest", "forecasts", "x.parquet"), INVALID, "invalid choice: 'forecasts'"),
    "model_spec_bad_task": CliCase(_spec({"name": "cli_bad", "task": "ranking"}), INVALID, "task"),
    "model_spec_duplicate_feature": CliCase(_spec({"name": "cli_bad", "task": "regression", "features": [
        {"name": "x", "kind": "numeric"}, {"name": "x", "kind": "numeric"}]}), INVALID, "declared twice"),
    "model_spec_exists": CliCase(_spec({"name": "churn", "task": "regression"}), CONFLICT, "churn"),
    "version_bad_stage": CliCase(_args("versions", "create", "churn", "v9", "--stage", "live"), INVALID,
                                 "invalid choice: 'live'"),
    "version_exists": CliCase(_args("versions", "create", "churn", "v1"), CONFLICT, "v1"),
    "version_unknown_model": CliCase(_args("versions", "create", "nope", "v1"), NOT_FOUND, "nope"),
}


@pytest.mark.parametrize("name", list(CASES))
async def test_cli_bad_input(name: str, target: Target, tmp_path: Path) -> None:
    case = CASES[name]
    before = await state(target.pool)
    out = driftline(target.db_url, *case.write(tmp_path))
    assert out.returncode == case.exit, (name, out.returncode, out.stderr[-800:])
    assert case.message in out.stderr, (name, out.stderr[-800:])
    assert "Traceback" not in out.stderr, out.stderr
    assert await state(target.pool) == before, name


async def test_cli_partial_stores_exactly_the_good_rows(target: Target, tmp_path: Path) -> None:
    before = await state(target.pool)
    frame = _frame(6, score=[0.1, 3.0, 0.2, 0.3, 0.4, 0.5], latency_ms=[1.0, 1.0, 1.0, 1.0, -5.0, 1.0])
    frame = frame.with_columns(pl.format("cli-partial-{}", pl.int_range(6)).alias("prediction_id"),
                               pl.Series("time", [T0 + timedelta(days=5, minutes=k) for k in range(6)],
                                         dtype=pl.Datetime("us", "UTC")))
    path = tmp_path / "partial.parquet"
    frame.write_parquet(path)
    out = driftline(target.db_url, "ingest", "predictions", str(path), *M, "--partial")
    assert out.returncode == 0, out.stderr
    assert "4 written" in out.stdout and "2 rejected" in out.stdout
    assert "row 1, score: must be within [0, 1]" in out.stderr and "row 4, latency_ms: must be >= 0" in out.stderr
    after = await state(target.pool)
    added = set(after.ingest.predictions) - set(before.ingest.predictions)
    assert sorted(p[1] for p in added) == [f"cli-partial-{k}" for k in (0, 2, 3, 5)]
    assert after.ingest.rejected == before.ingest.rejected + 2 and after.registry == before.registry
