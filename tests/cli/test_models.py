"""`driftline models` and `driftline versions`."""

from __future__ import annotations

import json
from pathlib import Path

from tests.cli.helpers import driftline, write_spec

SPEC = {"name": "cli-iris", "task": "multiclass", "class_labels": ["setosa", "versicolor", "virginica"],
        "features": [{"name": "petal_length", "kind": "numeric", "min_value": 0},
                     {"name": "site", "kind": "categorical", "categories": ["a", "b"]}]}


async def test_create_list_show(db_url: str, tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.json", SPEC)
    out = driftline(db_url, "models", "create", "--file", str(spec))
    assert out.returncode == 0, out.stderr

    listed = driftline(db_url, "models", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    (model,) = [m for m in json.loads(listed.stdout) if m["name"] == SPEC["name"]]
    assert model["task"] == "multiclass"
    assert model["class_labels"] == SPEC["class_labels"]
    assert {f["name"]: f["kind"] for f in model["features"]} == {"petal_length": "numeric", "site": "categorical"}

    table = driftline(db_url, "models", "list")
    assert SPEC["name"] in table.stdout and "multiclass" in table.stdout

    again = driftline(db_url, "models", "create", "--file", str(spec))
    assert again.returncode == 4
    assert "already exists" in again.stderr


async def test_versions_lifecycle(db_url: str, tmp_path: Path) -> None:
    assert driftline(db_url, "models", "create", "-f", str(write_spec(tmp_path / "s.json", SPEC))).returncode == 0
    for version in ("1", "2"):
        assert driftline(db_url, "versions", "create", SPEC["name"], version).returncode == 0
    assert driftline(db_url, "versions", "promote", SPEC["name"], "1").returncode == 0
    assert driftline(db_url, "versions", "promote", SPEC["name"], "2").returncode == 0
    assert driftline(db_url, "versions", "archive", SPEC["name"], "1").returncode == 0
    shown = json.loads(driftline(db_url, "models", "show", SPEC["name"]).stdout)
    assert {v["version"]: v["stage"] for v in shown["versions"]} == {"1": "archived", "2": "production"}

    missing = driftline(db_url, "versions", "promote", SPEC["name"], "9")
    assert missing.returncode == 3
    assert "no version '9'" in missing.stderr


async def test_bad_spec_names_the_fields(db_url: str, tmp_path: Path) -> None:
    bad = {**SPEC, "colour": "red", "features": [{"name": "x", "kind": "numeric", "unit": "cm"}]}
    out = driftline(db_url, "models", "create", "--file", str(write_spec(tmp_path / "bad.json", bad)))
    assert out.returncode == 2
    assert "colour: unknown field" in out.stderr
    assert "features[0].unit: unknown field" in out.stderr
    rules = {**SPEC, "class_labels": ["only-one"]}
    out = driftline(db_url, "models", "create", "--file", str(write_spec(tmp_path / "r.json", rules)))
    assert out.returncode == 2
    assert "class_labels" in out.stderr
    listed = json.loads(driftline(db_url, "models", "list", "--json").stdout)
    assert listed == []
