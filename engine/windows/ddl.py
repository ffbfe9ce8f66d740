"""Renders the DDL of the newest migration from the templates in `sql/schema/templates/`, per TimescaleDB
edition, into the SQL files that migration runs.

Migrations never import this module: each revision executes the files committed under `sql/schema/`
(`<revision>.<edition>.up.sql` / `.down.sql`), rendered here when the revision was written and frozen since.
A test checks that the newest revision's files equal what the templates render today, so a template edit
fails it until it becomes a new revision (move `REVISION` on, render that, older files stay as they are),
or the newest revision is re-rendered on purpose:

    python -m engine.windows.ddl render 0007 --out sql/schema/

Both editions get the same relation names and columns (the window relations themselves — rollup tables on
Apache, continuous aggregates on the full edition — were created by 0002 / 0003, whose renderers went when
they were frozen). The newest revision, 0007, adds columns to the derived SQL views only, so its two
editions' files are the same text under different headers.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Literal

from engine.windows.spec import (
    LEVEL_ORDER,
    PREDICTIONS,
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
REVISION = "0007_read_views"

# Columns migration 0003 added at the end of the derived views (its functions dl_roc_auc, dl_roc_auc_bound).
ROC_AUC_COLUMNS = (
    ",\n    dl_roc_auc(w.score_hist_pos, w.score_hist_neg) AS roc_auc,"
    "\n    dl_roc_auc_bound(w.score_hist_pos, w.score_hist_neg) AS roc_auc_bound"
)


def _template(name: str, **params: str) -> str:
    """A template with its opening comment (which describes the template, not what it renders) left out."""
    text = _template_text(name, **params)
    return re.sub(r"\A\s*(?:--[^\n]*\n\s*)*", "", text)


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


# Columns migration 0007 adds after 0003's: precision / recall / F1 per class (arrays in the model's
# class_labels order) and their macro averages (the unweighted mean over every class, as the engine's
# `*_macro`); for binary models also the positive class's (class_labels[2]) precision / recall / F1.
RATE_COLUMNS = "".join(
    f",\n    dl_class_rates(w.confusion, cardinality(m.class_labels), '{r}') AS {r}_per_class"
    for r in ("precision", "recall", "f1")
) + "".join(
    f",\n    dl_array_mean(dl_class_rates(w.confusion, cardinality(m.class_labels), '{r}')) AS {r}_macro"
    for r in ("precision", "recall", "f1")
) + "".join(
    f",\n    CASE WHEN m.task = 'binary' THEN (dl_class_rates(w.confusion, 2, '{r}'))[2] END AS {r}"
    for r in ("precision", "recall", "f1")
)
VIEWS: tuple[tuple[Family, str], ...] = (
    (PREDICTIONS, "model_windows"),
    (PREDICTIONS_BY_VERSION, "model_version_windows"),
)


def _upgrade(edition: Edition) -> list[str]:
    """Precision, recall and F1 (per class, macro, and the binary positive class) appended to the derived
    views `model_windows_<level>` and `model_version_windows_<level>`; the same on both editions (the views
    read the window relations, whatever they are)."""
    up = [_template_text("class_rate_functions.sql")]
    for level in LEVEL_ORDER:
        for family, view in VIEWS:
            up.append(_model_view(family, view, level, ROC_AUC_COLUMNS + RATE_COLUMNS, replace=True))
    return up


def _downgrade(edition: Edition) -> list[str]:
    down = []
    for level in LEVEL_ORDER:  # back to 0003's columns: a view loses columns only by being recreated
        for family, view in VIEWS:
            down.append(f"DROP VIEW {view}_{level};\n")
            down.append(_model_view(family, view, level, ROC_AUC_COLUMNS))
    down.append("DROP FUNCTION IF EXISTS dl_class_rates(bigint[], integer, text), dl_array_mean(float8[]);\n")
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
