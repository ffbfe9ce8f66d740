"""Renders the DDL of the newest migration from the templates in `sql/schema/templates/`, per TimescaleDB
edition, into the SQL files that migration runs.

Migrations never import this module: each revision executes the files committed under `sql/schema/`
(`<revision>.<edition>.up.sql` / `.down.sql`), rendered here when the revision was written and frozen since.
A test checks that the newest revision's files equal what the templates render today, so a template edit
fails it until it becomes a new revision (move `REVISION` on, render that, older files stay as they are),
or the newest revision is re-rendered on purpose:

    python -m engine.windows.ddl render 0003 --out sql/schema/

Both editions get the same relation names and columns. Each level's definition is a view
`<family>_<level>_source`; the level itself is
- Apache edition: a rollup hypertable `CREATE TABLE … AS SELECT * FROM <source> WITH NO DATA`, filled by
  the engine's refresher (`engine.rollups.refresher`);
- full edition: a continuous aggregate of the same query text, `WITH NO DATA`, real-time
  (`materialized_only = false`), with a refresh policy; late data older than a policy's window is
  refreshed by the engine's refresher from the invalidation record.
So the SQL of every window exists once, in the templates, and this is the one place they are composed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Literal

from engine.windows.spec import (
    LEVEL_ORDER,
    LEVELS,
    PREDICTIONS,
    PREDICTIONS_BY_MODEL,
    PREDICTIONS_BY_VERSION,
    Family,
    LevelName,
)

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "sql" / "schema"


def _template_text(name: str, **params: str) -> str:
    """sql/schema/templates/<name> with `{key}` placeholders replaced."""
    text = (SCHEMA_DIR / "templates" / name).read_text()
    for key, value in params.items():
        text = text.replace("{" + key + "}", value)
    return text

Edition = Literal["apache", "timescale"]
EDITIONS: tuple[Edition, ...] = ("apache", "timescale")
# The revision the templates render: the newest one.
REVISION = "0003_merged_windows"

# Full edition refresh policies: (start_offset, end_offset, schedule_interval) per level. The 1m policy
# keeps the last hours current; the coarser ones follow. Anything older is refreshed on demand by the
# engine refresher from window_invalidations (late data, backfills).
POLICIES: dict[LevelName, tuple[str, str, str]] = {
    "1m": ("3 hours", "1 minute", "1 minute"),
    "1h": ("2 days", "1 hour", "10 minutes"),
    "1d": ("7 days", "1 day", "1 hour"),
}

# What migration 0003 creates, in build order (fixed here, not read from spec.ROLLUPS, so that a later
# rollup comes with its own migration).
MERGED_FAMILIES: tuple[Family, ...] = (PREDICTIONS_BY_VERSION, PREDICTIONS_BY_MODEL)

# Columns migration 0003 adds at the end of the derived views (functions from roc_auc_functions.sql).
ROC_AUC_COLUMNS = (
    ",\n    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,"
    "\n    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound"
)


def _template(name: str, **params: str) -> str:
    """A template with its opening comment (which describes the template, not what it renders) left out."""
    text = _template_text(name, **params)
    return re.sub(r"\A\s*(?:--[^\n]*\n\s*)*", "", text)


def _merge_query(family: Family, level: LevelName, below: str) -> str:
    """Prediction state of `below` merged to the level's width and the family's keys."""
    return _template(
        "window_merge.sql", width=LEVELS[level].sql_interval, keys=", ".join(family.keys), below=below
    ).strip()


def _materialize(edition: Edition, family: Family, level: LevelName, query: str) -> str:
    """The relation of one level: a rollup hypertable of the level's source view (Apache) or a continuous
    aggregate of `query`, the text that view was created from (full edition)."""
    rel = family.relation(level)
    if edition == "timescale":
        start, end, every = POLICIES[level]
        return (
            f"CREATE MATERIALIZED VIEW {rel} WITH (timescaledb.continuous, timescaledb.materialized_only = false) AS\n"
            f"{query}\nWITH NO DATA;\n"
            f"SELECT add_continuous_aggregate_policy('{rel}', start_offset => INTERVAL '{start}',"
            f" end_offset => INTERVAL '{end}', schedule_interval => INTERVAL '{every}');\n"
        )
    keys = ", ".join((*family.keys, "bucket"))
    return (
        f"CREATE TABLE {rel} AS SELECT * FROM {family.source(level)} WITH NO DATA;\n"
        f"ALTER TABLE {rel} ALTER COLUMN bucket SET NOT NULL;\n"
        f"SELECT create_hypertable('{rel}', 'bucket', chunk_time_interval => INTERVAL '{LEVELS[level].chunk_interval}',"
        f" create_default_indexes => false);\n"
        f"CREATE UNIQUE INDEX {rel}_key ON {rel} ({keys}) NULLS NOT DISTINCT;\n"
    )


def _drop_relation(edition: Edition, family: Family, level: LevelName) -> str:
    kind = "MATERIALIZED VIEW" if edition == "timescale" else "TABLE"
    return f"DROP {kind} IF EXISTS {family.relation(level)};\n"


def _model_view(family: Family, view: str, level: LevelName, extra: str = "", replace: bool = False) -> str:
    segment = "\n    w.segment," if "segment" in family.keys else ""
    sql = (
        _template("model_windows_view.sql")
        .replace("{view}", f"{view}_{level}")
        .replace("{relation}", family.relation(level))
        .replace("{segment}", segment)
        .replace("{extra}", extra)
    )
    return sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1) if replace else sql


def _upgrade(edition: Edition) -> list[str]:
    """`predictions_by_version_<level>` (segments merged), `predictions_by_model_<level>` (versions merged
    too), the view `model_version_windows_<level>`, and ROC AUC with its bound in the derived views
    (`dl_roc_auc`, `dl_roc_auc_bound`).

    Apache edition: rollup tables filled by the migration from the materialised relation below (ranges
    still pending there stay pending, and the refresher recomputes all of them). Full edition: continuous
    aggregates created WITH NO DATA (a refresh cannot run inside the migration's transaction); the data
    already stored is recorded as pending, so reads are exact at once (from raw rows) and the refresher
    materialises it."""
    up = [_template_text("roc_auc_functions.sql")]
    for level in LEVEL_ORDER:
        # ROC AUC and its bound appended to the per-segment view (columns can only be added at the end)
        up.append(_model_view(PREDICTIONS, "model_windows", level, ROC_AUC_COLUMNS, replace=True))
        for family in MERGED_FAMILIES:
            assert family.rollup_of is not None
            query = _merge_query(family, level, f"{family.rollup_of}_{level}")
            up.append(f"CREATE VIEW {family.source(level)} AS\n{query};\n")
            up.append(_materialize(edition, family, level, query))
            if edition == "apache":
                up.append(f"INSERT INTO {family.relation(level)} SELECT * FROM {family.source(level)};\n")
        up.append(_model_view(PREDICTIONS_BY_VERSION, "model_version_windows", level, ROC_AUC_COLUMNS))
    if edition == "timescale":
        up.append(
            "INSERT INTO window_invalidations (kind, model_id, lo, hi)\n"
            "SELECT 'predictions', model_id, min(bucket), max(bucket) + interval '1 minute'\n"
            "FROM predictions_1m GROUP BY model_id, time_bucket('1 hour', bucket);\n"
        )
    return up


def _downgrade(edition: Edition) -> list[str]:
    down = ["".join(f"DROP VIEW IF EXISTS model_version_windows_{level};\n" for level in LEVEL_ORDER)]
    for level in LEVEL_ORDER:  # back to 0002's columns: a view loses columns only by being recreated
        down.append(f"DROP VIEW model_windows_{level};\n")
        down.append(_model_view(PREDICTIONS, "model_windows", level))
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
    return down


def _header(edition: Edition, direction: str) -> str:
    name = {"apache": "Apache edition", "timescale": "full (Timescale-License) edition"}[edition]
    return (
        f"-- Migration {REVISION}, {direction}, {name}.\n"
        f"-- Rendered by engine.windows.ddl from the templates of the commit that wrote it, then frozen: the\n"
        f"-- revision runs this text, whatever the templates say later.\n"
    )


def _join(*pieces: str) -> str:
    """One script: the pieces trimmed, a blank line between them."""
    return "\n".join(p.strip() + "\n" for p in pieces if p.strip())


def render(revision: str = REVISION) -> dict[str, str]:
    """File name -> SQL text of the newest revision, up and down for each edition. `revision` is its id or
    number ("0003"); older revisions are frozen and have no renderer."""
    if revision not in (REVISION, REVISION.partition("_")[0]):
        raise KeyError(f"no renderer for revision {revision!r}: the templates render only {REVISION!r}")
    files: dict[str, str] = {}
    for edition in EDITIONS:
        files[f"{REVISION}.{edition}.up.sql"] = _join(_header(edition, "upgrade"), *_upgrade(edition))
        files[f"{REVISION}.{edition}.down.sql"] = _join(_header(edition, "downgrade"), *_downgrade(edition))
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m engine.windows.ddl", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    cmd = sub.add_parser("render", help="write the newest revision's SQL files (up and down, per edition)")
    cmd.add_argument("revision", help=f"{REVISION} (or {REVISION.partition('_')[0]})")
    cmd.add_argument("--out", type=Path, default=SCHEMA_DIR, help="directory (default: sql/schema/)")
    args = parser.parse_args(argv)
    try:
        files = render(args.revision)
    except KeyError as exc:
        parser.error(str(exc.args[0]))
    for name, text in files.items():
        (args.out / name).write_text(text)
        print(args.out / name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
