"""Frozen migrations: each revision runs SQL fixed when it was written.

- Revisions import only the standard library, alembic, sqlalchemy and `migrations.frozen_sql`, so no later
  edit of the engine changes what an old revision does.
- The newest revision's committed SQL is what the templates render today, byte for byte (a template edit
  must become a new revision, or a deliberate re-render). Older revisions' files are tied to nothing.
- The full-edition files create each continuous aggregate from the text of its source view, and both
  editions build and drop the same relations.
- Upgrading an empty database to head in one go and one revision at a time with data written (and windows
  refreshed) between revisions gives the same schema: `pg_dump --schema-only` and TimescaleDB's own catalog
  (hypertables, continuous aggregates, policies), on the Apache cluster and, when
  DRIFTLINE_FULL_TEST_DATABASE_URL is set, on the full edition.
"""

from __future__ import annotations

import ast
import asyncio
import difflib
import os
import re
import shutil
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import asyncpg
import numpy as np
import pytest
from alembic import command
from alembic.script import ScriptDirectory

from engine.config import Settings, SettingsError
from engine.windows import ddl
from migrations import frozen_sql
from tests.conftest import ROOT, alembic_config, create_database, drop_database, refresh_windows
from tests.windows.streams import T0, copy_predictions, create_model, label_late, prediction_rows

VERSIONS = ROOT / "migrations" / "versions"
SCHEMA = ROOT / "sql" / "schema"
HELPER = "migrations.frozen_sql"
ALLOWED_ROOTS = frozenset(sys.stdlib_module_names) | {"__future__", "alembic", "sqlalchemy"}
FULL_ENV = "DRIFTLINE_FULL_TEST_DATABASE_URL"


def _imports(path: Path) -> list[str]:
    """Every module `path` imports, anywhere in the file; dynamic imports are refused outright."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path.name}: relative import"
            assert node.module is not None
            found.append(node.module)
        elif isinstance(node, ast.Call):
            name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", "")
            assert name not in ("__import__", "import_module", "run_path"), (
                f"{path.name}: dynamic import {name}"
            )
    return found


def test_revisions_import_only_stdlib_alembic_sqlalchemy_and_the_helper() -> None:
    revisions = sorted(VERSIONS.glob("*.py"))
    assert len(revisions) >= 3
    for path in revisions:
        for module in _imports(path):
            assert module == HELPER or module.split(".")[0] in ALLOWED_ROOTS, f"{path.name} imports {module}"
    helper = ROOT / "migrations" / "frozen_sql.py"
    assert all(m.split(".")[0] in ALLOWED_ROOTS for m in _imports(helper)), _imports(helper)


@pytest.mark.parametrize(
    "env",
    [
        {},
        {
            "DRIFTLINE_CHUNK_INTERVAL": "6 hours",
            "DRIFTLINE_COMPRESS_AFTER": "3 days",
            "DRIFTLINE_RETENTION": "90 days",
        },
        {"DRIFTLINE_CHUNK_INTERVAL": "", "DRIFTLINE_COMPRESS_AFTER": "", "DRIFTLINE_RETENTION": ""},
        {
            "DRIFTLINE_CHUNK_INTERVAL": "none",
            "DRIFTLINE_COMPRESS_AFTER": "None",
            "DRIFTLINE_RETENTION": "none",
        },
        {"DRIFTLINE_CHUNK_INTERVAL": " 2 Weeks "},
    ],
)
def test_helper_reads_the_store_settings_like_the_engine(env: dict[str, str]) -> None:
    engine = Settings.from_env(env).store
    layout = frozen_sql.store_layout(env)
    assert (layout.chunk_interval, layout.compress_after, layout.retention) == (
        engine.chunk_interval,
        engine.compress_after,
        engine.retention,
    )


@pytest.mark.parametrize(
    "key", ["DRIFTLINE_CHUNK_INTERVAL", "DRIFTLINE_COMPRESS_AFTER", "DRIFTLINE_RETENTION"]
)
def test_helper_refuses_what_the_engine_refuses(key: str) -> None:
    env = {key: "soon"}
    with pytest.raises(SettingsError):
        Settings.from_env(env)
    with pytest.raises(ValueError, match=key):
        frozen_sql.store_layout(env)


def test_run_file_refuses_an_unknown_placeholder() -> None:
    with pytest.raises(ValueError, match="no placeholder"):
        frozen_sql.run_file(None, "0001_core.up.sql", compress_after="1 day")  # type: ignore[arg-type]


def test_newest_window_revision_sql_is_todays_rendering() -> None:
    """The newest revision rendered from the window templates (`ddl.REVISION`; later revisions that add no
    window DDL need not move it) holds exactly what the templates render today: a template edit fails here
    until it becomes a new revision (or a deliberate re-render)."""
    script = ScriptDirectory.from_config(alembic_config("postgresql://unused/x"))
    chain = [r.revision for r in script.walk_revisions()]
    assert ddl.REVISION in chain, f"engine.windows.ddl renders {ddl.REVISION}, which is not a revision"
    head = ddl.REVISION
    for name, text in ddl.render().items():
        path = SCHEMA / name
        assert path.exists(), f"{name} missing: python -m engine.windows.ddl render {head} --out sql/schema/"
        assert path.read_text() == text, (
            f"{name} differs from what the templates render today. A template changed: make the change a new"
            f" revision, or re-render {head} on purpose (python -m engine.windows.ddl render {head})."
        )


def _rendered_revisions() -> list[str]:
    revs = sorted({p.name.split(".")[0] for p in SCHEMA.glob("*.timescale.up.sql")})
    assert ddl.REVISION in revs
    return revs


@pytest.mark.parametrize("revision", _rendered_revisions())
def test_editions_build_the_same_relations_and_caggs_are_their_source_views(revision: str) -> None:
    def text(edition: str, direction: str) -> str:
        return (SCHEMA / f"{revision}.{edition}.{direction}.sql").read_text()

    full = text("timescale", "up")
    caggs = re.findall(
        r"^CREATE MATERIALIZED VIEW (\w+) WITH \(.*?\) AS\n(.*?)\nWITH NO DATA;$", full, re.M | re.S
    )
    if not caggs:  # a revision of views and functions only (0007): no relation on either edition
        for edition in ("apache", "timescale"):
            assert not re.search(r"^CREATE (TABLE|MATERIALIZED VIEW) ", text(edition, "up"), re.M), revision
        return
    for rel, query in caggs:
        # the same text the source view is created from (before: pg_get_viewdef of that view at migration time)
        source = re.search(rf"^CREATE VIEW {rel}_source AS\n(.*?);$", full, re.M | re.S)
        assert source is not None, f"{revision}: no view {rel}_source"
        assert source.group(1).strip() == query.strip(), f"{revision}: {rel} is not its source view's query"
    tables = re.findall(
        r"^CREATE TABLE (\w+) AS SELECT \* FROM (\w+) WITH NO DATA;$", text("apache", "up"), re.M
    )
    assert all(src == f"{rel}_source" for rel, src in tables)
    assert [rel for rel, _ in tables] == [rel for rel, _ in caggs]
    dropped_tables = re.findall(r"^DROP TABLE IF EXISTS (\w+);$", text("apache", "down"), re.M)
    dropped_caggs = re.findall(r"^DROP MATERIALIZED VIEW IF EXISTS (\w+);$", text("timescale", "down"), re.M)
    assert set(dropped_caggs) == {rel for rel, _ in caggs} <= set(dropped_tables)


# --- the same schema from a fresh upgrade and from a stepwise upgrade of a database holding data ---------


def _pg_dump() -> str:
    for candidate in (
        os.environ.get("DRIFTLINE_PG_DUMP"),
        f"{os.environ.get('PG_BIN', '')}/pg_dump",
        "/usr/lib/postgresql/15/bin/pg_dump",
        shutil.which("pg_dump"),
    ):
        if candidate and Path(candidate).is_file():
            return candidate
    pytest.skip("no pg_dump (set DRIFTLINE_PG_DUMP)")


def schema_dump(url: str) -> list[str]:
    """`pg_dump --schema-only` as its sorted list of entries (one per object: its `-- Name: …` header and
    statements), chunks left out (their number and time ranges follow the data, not the schema).

    Normalised, and only this: pg_dump's `\\restrict` / `\\unrestrict` lines (their key is random per run)
    are dropped, and the entries are compared as a set rather than in pg_dump's order — that order comes
    from a dependency sort over every object in the database, excluded chunks included, so data written
    between revisions moves entries around without changing any."""
    out = subprocess.run(
        [
            _pg_dump(),
            "--schema-only",
            "-T",
            "_timescaledb_internal._hyper_*_chunk",
            "-T",
            "_timescaledb_internal.compress_hyper_*_chunk",
            "-d",
            url,
        ],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    kept = "\n".join(
        line for line in out.splitlines() if not line.startswith(("\\restrict ", "\\unrestrict "))
    )
    return sorted(entry.strip() for entry in re.split(r"^--\n(?=-- Name: )", kept, flags=re.MULTILINE))


async def timescale_catalog(url: str) -> dict[str, list[tuple[object, ...]]]:
    """What pg_dump --schema-only does not show: TimescaleDB's hypertables, compression settings,
    continuous aggregates and jobs (policies) live in its catalog tables."""
    queries = {
        "dimensions": "SELECT hypertable_name, column_name, time_interval FROM timescaledb_information.dimensions",
        "hypertables": "SELECT hypertable_name, compression_enabled FROM timescaledb_information.hypertables",
        "caggs": "SELECT view_name, materialized_only, view_definition FROM timescaledb_information.continuous_aggregates",
        "jobs": "SELECT application_name, proc_name, hypertable_name, schedule_interval, config::text"
        " FROM timescaledb_information.jobs",
    }
    conn = await asyncpg.connect(url)
    try:
        return {key: sorted(tuple(r) for r in await conn.fetch(q)) for key, q in queries.items()}
    finally:
        await conn.close()


async def write_data(url: str, rng: np.random.Generator, step: int, refresh: bool = True) -> None:
    """A model of each task, predictions (some labelled), late labels for earlier ones, custom metrics, a
    feature baseline once the windows exist, then (at the head revision: the refresher is today's code and
    reads today's columns) a refresh of everything pending."""
    conn = await asyncpg.connect(url)
    try:
        windows = await conn.fetchval("SELECT to_regclass('window_invalidations') IS NOT NULL")
        for task, classes in (
            ("binary", ["no", "yes"]),
            ("multiclass", ["a", "b", "c"]),
            ("regression", None),
        ):
            model = await create_model(conn, f"m{step}_{task}", task, classes)
            start = T0 + timedelta(days=step)  # each step writes a later day, and some late rows to the first
            await copy_predictions(
                conn, prediction_rows(rng, model, 300, start=start, minutes=120, labeled=0.4)
            )
            await copy_predictions(
                conn, prediction_rows(rng, model, 50, start=T0, minutes=30, id_prefix="late")
            )
            await label_late(conn, rng, model, 0.5)
            await conn.execute(
                "INSERT INTO metrics (time, model_id, name, value, tags)"
                " SELECT $1::timestamptz + i * interval '1 minute', $2, 'cost', i % 7, '{\"env\": \"prod\"}'"
                " FROM generate_series(0, 99) i",
                start,
                model.id,
            )
            if windows:
                await conn.execute(
                    "INSERT INTO feature_baselines (model_id, feature, kind, edges) VALUES ($1, 'x1', 'numeric', $2)",
                    model.id,
                    [-2.0, 0.0, 2.0],
                )
    finally:
        await conn.close()
    if windows and refresh:
        pool = await asyncpg.create_pool(url, min_size=1, max_size=4)
        try:
            await refresh_windows(pool)
        finally:
            await pool.close()


@pytest.fixture(params=["apache", pytest.param("timescale", marks=pytest.mark.full_edition)])
async def edition_cluster(request: pytest.FixtureRequest, cluster_url: str) -> AsyncIterator[str]:
    if request.param == "apache":
        url = cluster_url
    else:
        url = os.environ.get(FULL_ENV, "")
        if not url:
            pytest.skip(f"{FULL_ENV} is not set: no full-edition TimescaleDB to test against")
    conn = await asyncpg.connect(url)
    try:
        license_ = await conn.fetchval("SELECT current_setting('timescaledb.license', true)") or "apache"
    finally:
        await conn.close()
    if license_ != request.param:
        pytest.skip(f"the test cluster runs the {license_} edition, not {request.param}")
    yield url


async def test_fresh_and_stepwise_upgrades_give_the_same_schema(edition_cluster: str) -> None:
    names = [f"driftline_frozen_{kind}_{uuid.uuid4().hex[:8]}" for kind in ("fresh", "steps")]
    fresh, steps = [await create_database(edition_cluster, name) for name in names]
    try:
        await asyncio.to_thread(command.upgrade, alembic_config(fresh), "head")

        cfg = alembic_config(steps)
        revisions = [s.revision for s in reversed(list(ScriptDirectory.from_config(cfg).walk_revisions()))]
        assert len(revisions) >= 3
        rng = np.random.default_rng(1009)
        for step, revision in enumerate(revisions):
            await asyncio.to_thread(command.upgrade, cfg, revision)
            await write_data(steps, rng, step, refresh=step == len(revisions) - 1)
        conn = await asyncpg.connect(steps)
        try:
            assert await conn.fetchval("SELECT count(*) FROM predictions") == 350 * 3 * len(revisions)
            assert await conn.fetchval("SELECT count(*) FROM predictions_by_model_1h") > 0
        finally:
            await conn.close()

        a, b = schema_dump(fresh), schema_dump(steps)
        assert len(a) > 100
        diff = difflib.unified_diff(
            "\n".join(a).splitlines(), "\n".join(b).splitlines(), "fresh", "stepwise", lineterm=""
        )
        assert a == b, "\n".join(diff)
        assert await timescale_catalog(fresh) == await timescale_catalog(steps)
    finally:
        for name in names:
            await drop_database(edition_cluster, name)
