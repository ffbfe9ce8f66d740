"""Renders the DDL of the newest migration from the templates in `sql/schema/templates/`, per TimescaleDB
edition, into the SQL files that migration runs.

Migrations never import this module: each revision executes the files committed under `sql/schema/`
(`<revision>.<edition>.up.sql` / `.down.sql`), rendered here when the revision was written and frozen since.
A test checks that the newest revision's files equal what the templates render today, so a template edit
fails it until it becomes a new revision (move `REVISION` on, render that, older files stay as they are),
or the newest revision is re-rendered on purpose:

    python -m engine.windows.ddl render 0012 --out sql/schema/

Both editions get the same relation names and columns (the window relations themselves — rollup tables on
Apache, continuous aggregates on the full edition — were created by 0002 / 0003, whose renderers went when
they were frozen, as 0007's did). The newest revision, 0012, adds per-bin sums to the feature windows,
which are engine-maintained tables on both editions, so its two editions' files are the same text under
different headers.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Literal

from engine.windows.spec import LEVEL_ORDER, LevelName

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
REVISION = "0012_feature_bin_sums"


def _template(name: str, **params: str) -> str:
    """A template with its opening comment (which describes the template, not what it renders) left out."""
    text = _template_text(name, **params)
    return re.sub(r"\A\s*(?:--[^\n]*\n\s*)*", "", text)


# Per-bin sums of the feature windows (0012): one float8 per bin, like `counts`; NULL for categorical features.
BIN_SUMS = ",\n       dl_sum_sums(bin_sums) AS bin_sums"
# (level, its bucket width, the level it is computed from)
SOURCE_VIEWS: tuple[tuple[LevelName, str, LevelName], ...] = (("1h", "1 hour", "1m"), ("1d", "1 day", "1h"))


def _source_view(level: LevelName, interval: str, below: LevelName, extra: str, replace: bool) -> str:
    sql = _template("feature_hist_source_view.sql", level=level, interval=interval, below=below, extra=extra)
    return sql.replace("CREATE VIEW", "CREATE OR REPLACE VIEW", 1) if replace else sql


# Every model with an active baseline has its feature windows recomputed over its whole history, so the
# rows written before this revision (bin_sums NULL) gain their sums; reads of those ranges are exact from
# raw rows until the refresher has been through them.
INVALIDATE_ALL = """INSERT INTO window_invalidations (kind, model_id, lo, hi)
SELECT 'features', r.model_id, time_bucket('1 minute', r.first), time_bucket('1 minute', r.last) + interval '1 minute'
FROM (SELECT b.model_id,
             (SELECT min(time) FROM predictions p WHERE p.model_id = b.model_id) AS first,
             (SELECT max(time) FROM predictions p WHERE p.model_id = b.model_id) AS last
      FROM (SELECT DISTINCT model_id FROM feature_baselines WHERE active) b) r
WHERE r.first IS NOT NULL;
"""


def _upgrade(edition: Edition) -> list[str]:
    """Per-bin sums (`bin_sums`, float8[] per bin of `counts`) in the feature windows at 1m / 1h / 1d and in
    the views that compute 1h and 1d. The feature windows are engine-maintained tables on both editions
    (their bins change with the active baseline, which a continuous aggregate cannot follow), so both
    editions get the same text."""
    up = [_template_text("feature_bin_sums.sql")]
    up.append("".join(f"ALTER TABLE feature_hist_{lv} ADD COLUMN bin_sums double precision[];\n" for lv in LEVEL_ORDER))
    up += [_source_view(level, interval, below, BIN_SUMS, replace=True) for level, interval, below in SOURCE_VIEWS]
    up.append(INVALIDATE_ALL)
    return up


def _downgrade(edition: Edition) -> list[str]:
    down = ["".join(f"DROP VIEW feature_hist_{lv}_source;\n" for lv, _, _ in reversed(SOURCE_VIEWS))]
    down.append("".join(f"ALTER TABLE feature_hist_{lv} DROP COLUMN bin_sums;\n" for lv in LEVEL_ORDER))
    down += [_source_view(level, interval, below, "", replace=False) for level, interval, below in SOURCE_VIEWS]
    down.append(
        "DROP AGGREGATE dl_sum_sums(double precision[]);\n"
        "DROP FUNCTION dl_add_sums(double precision[], double precision[]);\n"
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
