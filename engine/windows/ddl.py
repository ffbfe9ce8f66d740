"""Renders the DDL of the window relations per TimescaleDB edition into the SQL files that migrations run.

Migrations never call this module: each revision executes SQL files committed under `sql/schema/`
(`<revision>.<edition>.up.sql`, `<revision>.<edition>.down.sql`), rendered here when the revision was
written. Edit a template and the rendering of the newest revision changes; a test then fails until the
change becomes a new revision (or the newest one is re-rendered on purpose):

    python -m engine.windows.ddl render 0003 --out sql/schema/

Both editions get the same relation names and columns. Each level's definition is a view
`<family>_<level>_source`; the level itself is
- Apache edition: a rollup hypertable `CREATE TABLE … AS SELECT * FROM <source> WITH NO DATA`, filled by
  the engine's refresher (`engine.windows.refresher`);
- full edition: a continuous aggregate whose query is the text of that same view, `WITH NO DATA`,
  real-time (`materialized_only = false`), with a refresh policy; late data older than a policy's window is
  refreshed by the engine's refresher from the invalidation record.
So the SQL of every window exists once, in the templates.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from engine.store.sqlfiles import SQL_DIR, schema_sql
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

Edition = Literal["apache", "timescale"]
EDITIONS: tuple[Edition, ...] = ("apache", "timescale")

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
    """Sections of a file split at `-- level: <name>` lines; the text before the first is under "". The
    comment lines that open a section describe the template, not what it renders: they are left out."""
    parts = re.split(r"^-- level: (\w+)\s*$", text, flags=re.MULTILINE)
    bodies = zip(parts[1::2], parts[2::2], strict=True)
    sections = {name: re.sub(r"\A\s*(?:--[^\n]*\n\s*)*", "", body) for name, body in bodies}
    return {"": parts[0], **sections}


def _view_query(sql: str, view: str) -> str:
    """The query of `CREATE VIEW <view> AS <query>;` in `sql`: what a continuous aggregate is created from."""
    found = re.search(rf"^CREATE VIEW {view} AS\n(.*?);$", sql, flags=re.MULTILINE | re.DOTALL)
    if found is None:
        raise ValueError(f"no CREATE VIEW {view} in the template")
    return found.group(1).strip()


def _unique_index(family: Family, level: LevelName) -> str:
    rel = family.relation(level)
    cols = ", ".join((*family.keys, "bucket"))
    return f"CREATE UNIQUE INDEX {rel}_key ON {rel} ({cols}) NULLS NOT DISTINCT"


def _materialize(edition: Edition, family: Family, level: LevelName, query: str) -> str:
    """The relation of one level: a rollup hypertable (Apache) or a continuous aggregate of `query`, the
    text of the level's source view (full edition)."""
    rel = family.relation(level)
    if edition == "timescale":
        start, end, every = POLICIES[level]
        return (
            f"CREATE MATERIALIZED VIEW {rel} WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS\n"
            f"{query}\nWITH NO DATA;\n"
            f"SELECT add_continuous_aggregate_policy('{rel}', start_offset => INTERVAL '{start}',"
            f" end_offset => INTERVAL '{end}', schedule_interval => INTERVAL '{every}');\n"
        )
    return (
        f"CREATE TABLE {rel} AS SELECT * FROM {family.source(level)} WITH NO DATA;\n"
        f"ALTER TABLE {rel} ALTER COLUMN bucket SET NOT NULL;\n"
        f"SELECT create_hypertable('{rel}', 'bucket', chunk_time_interval => INTERVAL '{LEVELS[level].chunk_interval}',"
        f" create_default_indexes => false);\n"
        f"{_unique_index(family, level)};\n"
    )


def _drop_relation(edition: Edition, family: Family, level: LevelName) -> str:
    kind = "MATERIALIZED VIEW" if edition == "timescale" else "TABLE"
    return f"DROP {kind} IF EXISTS {family.relation(level)};\n"


def _merge_templates(level: LevelName, **params: str) -> dict[str, str]:
    text = schema_sql("0002_windows_levels.up.sql", level=level, width=LEVELS[level].sql_interval, **params)
    return _sections(text)


def _merge_view(family: Family, level: LevelName, below: str) -> str:
    """`<family>_<level>_source`: prediction state of `below` merged to the level's width and the family's
    keys (sql/schema/0002_windows_levels.up.sql, section `predictions`)."""
    return _merge_templates(level, name=family.name, keys=", ".join(family.keys), below=below)["predictions"]


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


def _header(revision: str, edition: Edition, direction: str) -> str:
    name = {"apache": "Apache edition", "timescale": "full (Timescale-License) edition"}[edition]
    return (
        f"-- Migration {revision}, {direction}, {name}.\n"
        f"-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the\n"
        f"-- revision runs this text, whatever the templates say later.\n"
    )


def _render_0002(edition: Edition) -> tuple[list[str], list[str]]:
    part1 = schema_sql("0002_windows.up.sql")
    up = [part1]
    for below, level in zip((None, *LEVEL_ORDER), LEVEL_ORDER, strict=False):
        sources = part1
        if below is not None:
            sources = (
                _merge_view(PREDICTIONS, level, PREDICTIONS.relation(below))
                + _merge_templates(level, below=below)["metrics"]
            )
            up.append(sources)
        for family in CAGG_FAMILIES:
            up.append(_materialize(edition, family, level, _view_query(sources, family.source(level))))
    views = _sections(schema_sql("0002_windows_views.up.sql"))
    up.append(views[""])
    for level in LEVEL_ORDER:
        up.append(_model_view(views["model"], PREDICTIONS, "model_windows", level))
        up.append(views["all"].replace("{level}", level))

    down = [
        "".join(
            f"DROP VIEW IF EXISTS model_windows_{level}, custom_metrics_{level};\n" for level in LEVEL_ORDER
        )
    ]
    down.append(
        "DROP FUNCTION IF EXISTS dl_log_histogram_quantile(bigint[], double precision, double precision,"
        " double precision, double precision, double precision), dl_confusion_correct(bigint[], integer);\n"
    )
    # the merge views depend on the level below: drop them first
    down.append(
        "".join(
            f"DROP VIEW IF EXISTS {', '.join(f.source(lv) for lv in reversed(LEVEL_ORDER))};\n"
            for f in CAGG_FAMILIES
        )
    )
    down.append(
        "".join(_drop_relation(edition, f, lv) for lv in reversed(LEVEL_ORDER) for f in CAGG_FAMILIES)
    )
    down.append(schema_sql("0002_windows.down.sql"))
    return up, down


# What migration 0003 creates, in build order (fixed here, not read from spec.ROLLUPS, so that a later
# rollup comes with its own migration).
MERGED_FAMILIES: tuple[Family, ...] = (PREDICTIONS_BY_VERSION, PREDICTIONS_BY_MODEL)


def _render_0003(edition: Edition) -> tuple[list[str], list[str]]:
    """Migration 0003: `predictions_by_version_<level>` (segments merged), `predictions_by_model_<level>`
    (versions merged too), the view `model_version_windows_<level>`, and ROC AUC with its bound in the
    derived views (`dl_roc_auc`, `dl_roc_auc_bound`).

    Apache edition: rollup tables filled by the migration from the materialised relation below (ranges
    still pending there stay pending, and the refresher recomputes all of them). Full edition: continuous
    aggregates created WITH NO DATA (a refresh cannot run inside the migration's transaction); the data
    already stored is recorded as pending, so reads are exact at once (from raw rows) and the refresher
    materialises it."""
    model = _sections(schema_sql("0002_windows_views.up.sql"))["model"]
    up = [schema_sql("0003_merged_windows.up.sql")]
    for level in LEVEL_ORDER:
        # ROC AUC and its bound appended to the per-segment view (columns can only be added at the end)
        up.append(_model_view(model, PREDICTIONS, "model_windows", level, ROC_AUC_COLUMNS, replace=True))
        for family in MERGED_FAMILIES:
            assert family.rollup_of is not None
            source = _merge_view(family, level, f"{family.rollup_of}_{level}")
            up.append(source)
            up.append(_materialize(edition, family, level, _view_query(source, family.source(level))))
            if edition == "apache":
                up.append(f"INSERT INTO {family.relation(level)} SELECT * FROM {family.source(level)};\n")
        up.append(_model_view(model, PREDICTIONS_BY_VERSION, "model_version_windows", level, ROC_AUC_COLUMNS))
    if edition == "timescale":
        up.append(
            "INSERT INTO window_invalidations (kind, model_id, lo, hi)\n"
            "SELECT 'predictions', model_id, min(bucket), max(bucket) + interval '1 minute'\n"
            "FROM predictions_1m GROUP BY model_id, time_bucket('1 hour', bucket);\n"
        )

    down = ["".join(f"DROP VIEW IF EXISTS model_version_windows_{level};\n" for level in LEVEL_ORDER)]
    for level in LEVEL_ORDER:  # back to 0002's columns: a view loses columns only by being recreated
        down.append(f"DROP VIEW model_windows_{level};\n")
        down.append(_model_view(model, PREDICTIONS, "model_windows", level))
    down.append(
        "".join(
            _drop_relation(edition, f, lv) + f"DROP VIEW IF EXISTS {f.source(lv)};\n"
            for lv in reversed(LEVEL_ORDER)
            for f in reversed(MERGED_FAMILIES)
        )
    )
    down.append(
        "DROP FUNCTION IF EXISTS dl_roc_auc(bigint[], bigint[]), dl_roc_auc_bound(bigint[], bigint[]),"
        " dl_score_bins(bigint[], bigint[]);\n"
    )
    return up, down


RENDERERS: dict[str, Callable[[Edition], tuple[list[str], list[str]]]] = {
    "0002_windows": _render_0002,
    "0003_merged_windows": _render_0003,
}


def _join(*pieces: str) -> str:
    """One script: the pieces trimmed, a blank line between them."""
    return "\n".join(p.strip() + "\n" for p in pieces if p.strip())


def render(revision: str) -> dict[str, str]:
    """File name -> SQL text of `revision`, up and down for each edition. `revision` is the revision id or
    its number ("0003")."""
    known = {rev: fn for rev, fn in RENDERERS.items() if revision in (rev, rev.partition("_")[0])}
    if len(known) != 1:
        raise KeyError(f"no renderer for revision {revision!r}; known: {sorted(RENDERERS)}")
    [(rev, renderer)] = known.items()
    files: dict[str, str] = {}
    for edition in EDITIONS:
        up, down = renderer(edition)
        files[f"{rev}.{edition}.up.sql"] = _join(_header(rev, edition, "upgrade"), *up)
        files[f"{rev}.{edition}.down.sql"] = _join(_header(rev, edition, "downgrade"), *down)
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.windows.ddl", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("render", help="write a revision's SQL files (up and down, per edition)")
    cmd.add_argument("revision", help=f"one of {sorted(RENDERERS)} (or its number)")
    cmd.add_argument("--out", type=Path, default=SQL_DIR / "schema", help="directory (default: sql/schema/)")
    args = parser.parse_args(argv)
    for name, text in render(args.revision).items():
        (args.out / name).write_text(text)
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
