"""DDL of the window relations per TimescaleDB edition, run by the `0002_windows` migration (`upgrade`)
and the `0003_merged_windows` one (`upgrade_merged`: the segment- and version-merged prediction relations).

Both editions get the same relation names and columns. Each level's definition is a view
`<family>_<level>_source` (sql/schema/0002_windows*.up.sql); the level itself is
- Apache edition: a rollup hypertable `CREATE TABLE … AS SELECT * FROM <source> WITH NO DATA`, filled by
  the engine's refresher (`engine.windows.refresher`);
- full edition: a continuous aggregate created from that same view definition (`pg_get_viewdef`), `WITH NO
  DATA`, real-time (`materialized_only = false`), with a refresh policy; late data older than a policy's
  window is refreshed by the engine's refresher from the invalidation record.
So the SQL of every window exists once, in `sql/`.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from engine.store.sqlfiles import execute_script, schema_sql
from engine.windows.spec import (
    LEVEL_ORDER,
    LEVELS,
    METRICS,
    PREDICTIONS,
    PREDICTIONS_BY_MODEL,
    PREDICTIONS_BY_VERSION,
    Family,
    LevelName,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

CAGG_FAMILIES: tuple[Family, ...] = (PREDICTIONS, METRICS)

# Full edition refresh policies: (start_offset, end_offset, schedule_interval) per level. The 1m policy
# keeps the last hours current; the coarser ones follow. Anything older is refreshed on demand by the
# engine refresher from window_invalidations (late data, backfills).
POLICIES: dict[LevelName, tuple[str, str, str]] = {
    "1m": ("3 hours", "1 minute", "1 minute"),
    "1h": ("2 days", "1 hour", "10 minutes"),
    "1d": ("7 days", "1 day", "1 hour"),
}


def _sections(text: str) -> dict[str, str]:
    """Sections of a file split at `-- level: <name>` lines; the text before the first is under ""."""
    parts = re.split(r"^-- level: (\w+)\s*$", text, flags=re.MULTILINE)
    return {"": parts[0], **{name: body for name, body in zip(parts[1::2], parts[2::2], strict=True)}}


def _unique_index(family: Family, level: LevelName) -> str:
    rel = family.relation(level)
    cols = ", ".join((*family.keys, "bucket"))
    return f"CREATE UNIQUE INDEX {rel}_key ON {rel} ({cols}) NULLS NOT DISTINCT"


def _materialize_table(bind: Connection, family: Family, level: LevelName) -> None:
    rel, lv = family.relation(level), LEVELS[level]
    execute_script(
        bind,
        f"CREATE TABLE {rel} AS SELECT * FROM {family.source(level)} WITH NO DATA;\n"
        f"ALTER TABLE {rel} ALTER COLUMN bucket SET NOT NULL;\n"
        f"SELECT create_hypertable('{rel}', 'bucket', chunk_time_interval => INTERVAL '{lv.chunk_interval}',"
        f" create_default_indexes => false);\n"
        f"{_unique_index(family, level)};",
    )


def _materialize_cagg(bind: Connection, family: Family, level: LevelName) -> None:
    rel, src = family.relation(level), family.source(level)
    definition = bind.exec_driver_sql(f"SELECT pg_get_viewdef('{src}'::regclass, true)").scalar()
    assert isinstance(definition, str)
    start, end, every = POLICIES[level]
    execute_script(
        bind,
        f"CREATE MATERIALIZED VIEW {rel} WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS\n"
        f"{definition.strip().rstrip(';')}\nWITH NO DATA;\n"
        f"SELECT add_continuous_aggregate_policy('{rel}', start_offset => INTERVAL '{start}',"
        f" end_offset => INTERVAL '{end}', schedule_interval => INTERVAL '{every}');",
    )


def _materialize_features(bind: Connection) -> None:
    # feature_hist_* are created by 0002_windows.up.sql on both editions (engine-maintained).
    del bind


def upgrade(bind: Connection, license_: str) -> None:
    execute_script(bind, schema_sql("0002_windows.up.sql"))
    materialize = _materialize_cagg if license_ == "timescale" else _materialize_table
    for below, level in zip((None, *LEVEL_ORDER), LEVEL_ORDER, strict=False):
        if below is not None:
            _merge_view(bind, PREDICTIONS, level, PREDICTIONS.relation(below))
            execute_script(bind, _merge_templates(level, below=below)["metrics"])
        for family in CAGG_FAMILIES:
            materialize(bind, family, level)
    _materialize_features(bind)
    views = _sections(schema_sql("0002_windows_views.up.sql"))
    execute_script(bind, views[""])
    for level in LEVEL_ORDER:
        execute_script(bind, _model_view(views["model"], PREDICTIONS, "model_windows", level))
        execute_script(bind, views["all"].replace("{level}", level))


def _merge_templates(level: LevelName, **params: str) -> dict[str, str]:
    text = schema_sql("0002_windows_levels.up.sql", level=level, width=LEVELS[level].sql_interval, **params)
    return _sections(text)


def _merge_view(bind: Connection, family: Family, level: LevelName, below: str) -> None:
    """`<family>_<level>_source`: prediction state of `below` merged to the level's width and the family's
    keys (sql/schema/0002_windows_levels.up.sql, section `predictions`)."""
    sql = _merge_templates(level, name=family.name, keys=", ".join(family.keys), below=below)["predictions"]
    execute_script(bind, sql)


# Columns migration 0003 adds at the end of the derived views (functions from 0003_merged_windows.up.sql).
ROC_AUC_COLUMNS = (
    ",\n    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,"
    "\n    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound"
)


def _model_view(
    template: str, family: Family, view: str, level: LevelName, extra: str = "", replace: bool = False
) -> str:
    segment = "\n    w.segment," if "segment" in family.keys else ""
    sql = (
        template.replace("{view}", f"{view}_{level}")
        .replace("{relation}", family.relation(level))
        .replace("{segment}", segment)
        .replace("{extra}", extra)
        .replace("{level}", level)
    )
    return sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1) if replace else sql


# What migration 0003 creates, in build order (fixed here, not read from spec.ROLLUPS, so that a later
# rollup comes with its own migration).
MERGED_FAMILIES: tuple[Family, ...] = (PREDICTIONS_BY_VERSION, PREDICTIONS_BY_MODEL)


def upgrade_merged(bind: Connection, license_: str) -> None:
    """Migration 0003: `predictions_by_version_<level>` (segments merged), `predictions_by_model_<level>`
    (versions merged too), the view `model_version_windows_<level>`, and ROC AUC with its bound in the
    derived views (`dl_roc_auc`, `dl_roc_auc_bound`).

    Apache edition: rollup tables filled here from the materialised relation below (ranges still pending
    there stay pending, and the refresher recomputes all of them). Full edition: continuous aggregates
    created WITH NO DATA (a refresh cannot run inside the migration's transaction); the data already stored
    is recorded as pending, so reads are exact at once (from raw rows) and the refresher materialises it."""
    views = _sections(schema_sql("0002_windows_views.up.sql"))
    execute_script(bind, schema_sql("0003_merged_windows.up.sql"))
    for level in LEVEL_ORDER:
        # ROC AUC and its bound appended to the per-segment view (columns can only be added at the end)
        execute_script(
            bind, _model_view(views["model"], PREDICTIONS, "model_windows", level, ROC_AUC_COLUMNS, replace=True)
        )
        for family in MERGED_FAMILIES:
            assert family.rollup_of is not None
            _merge_view(bind, family, level, f"{family.rollup_of}_{level}")
            if license_ == "timescale":
                _materialize_cagg(bind, family, level)
            else:
                _materialize_table(bind, family, level)
                execute_script(bind, f"INSERT INTO {family.relation(level)} SELECT * FROM {family.source(level)};")
        execute_script(
            bind, _model_view(views["model"], PREDICTIONS_BY_VERSION, "model_version_windows", level, ROC_AUC_COLUMNS)
        )
    if license_ == "timescale":
        execute_script(
            bind,
            "INSERT INTO window_invalidations (kind, model_id, lo, hi)\n"
            "SELECT 'predictions', model_id, min(bucket), max(bucket) + interval '1 minute'\n"
            "FROM predictions_1m GROUP BY model_id, time_bucket('1 hour', bucket);",
        )


def downgrade_merged(bind: Connection) -> None:
    views = _sections(schema_sql("0002_windows_views.up.sql"))
    statements = [f"DROP VIEW IF EXISTS model_version_windows_{level};" for level in LEVEL_ORDER]
    for level in LEVEL_ORDER:  # back to 0002's columns: a view loses columns only by being recreated
        statements.append(f"DROP VIEW model_windows_{level};")
        statements.append(_model_view(views["model"], PREDICTIONS, "model_windows", level))
    for level in reversed(LEVEL_ORDER):
        for family in reversed(MERGED_FAMILIES):
            statements.append(_drop_relation(bind, family.relation(level)))
            statements.append(f"DROP VIEW IF EXISTS {family.source(level)};")
    statements.append(
        "DROP FUNCTION IF EXISTS dl_roc_auc(bigint[], bigint[]), dl_roc_auc_bound(bigint[], bigint[]),"
        " dl_score_bins(bigint[], bigint[]);"
    )
    execute_script(bind, "\n".join(s for s in statements if s))


def _drop_relation(bind: Connection, rel: str) -> str:
    kind = bind.exec_driver_sql(f"SELECT c.relkind::text FROM pg_class c WHERE c.oid = to_regclass('{rel}')").scalar()
    if kind == "v":
        return f"DROP MATERIALIZED VIEW {rel};"
    if kind is not None:
        return f"DROP TABLE {rel};"
    return ""


def downgrade(bind: Connection) -> None:
    statements = [
        f"DROP VIEW IF EXISTS model_windows_{level}, custom_metrics_{level};" for level in LEVEL_ORDER
    ]
    statements.append(
        "DROP FUNCTION IF EXISTS dl_log_histogram_quantile(bigint[], double precision, double precision,"
        " double precision, double precision, double precision), dl_confusion_correct(bigint[], integer);"
    )
    for family in CAGG_FAMILIES:  # the merge views depend on the level below: drop them first
        views = ", ".join(family.source(level) for level in reversed(LEVEL_ORDER))
        statements.append(f"DROP VIEW IF EXISTS {views};")
    for level in reversed(LEVEL_ORDER):
        for family in CAGG_FAMILIES:
            statements.append(_drop_relation(bind, family.relation(level)))
    execute_script(bind, "\n".join(statements))
    execute_script(bind, schema_sql("0002_windows.down.sql"))
