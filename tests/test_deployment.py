"""docker-compose.yml can't be run here (no Docker engine): check that it parses, uses the official
TimescaleDB image, and that every command it runs is a command this project's CLI accepts."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from engine.cli.main import build_parser

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def compose() -> dict[str, object]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def test_compose_uses_the_official_timescaledb_image_and_waits_for_migrations(compose: dict) -> None:
    services = compose["services"]
    assert set(services) >= {"db", "migrate", "api", "worker"}
    assert services["db"]["image"].startswith("timescale/timescaledb:")
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    for name in ("api", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    url = services["api"]["environment"]["DRIFTLINE_DATABASE_URL"]
    assert url.startswith("postgresql://") and "@db:5432/" in url


@pytest.mark.parametrize("service", ["migrate", "api", "worker"])
def test_compose_commands_exist_in_the_cli(compose: dict, service: str) -> None:
    command = compose["services"][service]["command"]
    assert command[0] == "driftline"
    args = build_parser().parse_args(command[1:])  # argparse exits (SystemExit) on an unknown command
    assert args is not None


def test_dockerfile_copies_what_the_engine_reads_at_run_time() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    for path in ("engine", "api", "sql", "migrations", "alembic.ini", "pyproject.toml"):
        assert f"COPY {path}" in dockerfile or f" {path} " in dockerfile
