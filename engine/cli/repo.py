"""Locating the source checkout: `scripts/`, `alembic.ini` and `migrations/` live beside the packages, not
inside them, so commands that need them look for the repository root."""

from __future__ import annotations

from pathlib import Path

from engine.errors import DriftlineError


class RepoFilesMissingError(DriftlineError):
    """A command needs files from the source checkout that are not here (e.g. a wheel install)."""


def find_root(override: str | None = None) -> Path | None:
    """The checkout root: `override` (DRIFTLINE_ROOT) if given, else the directory above the `engine`
    package (an editable install or a checkout on sys.path), else the current directory or one of its
    parents. A root is a directory holding `alembic.ini`."""
    candidates: list[Path] = []
    if override:
        candidates.append(Path(override))
    candidates.append(Path(__file__).resolve().parents[2])
    cwd = Path.cwd().resolve()
    candidates.extend([cwd, *cwd.parents])
    for path in candidates:
        if (path / "alembic.ini").is_file():
            return path
    return None


def require(relative: str, override: str | None = None) -> Path:
    """Path of a file in the checkout, or a clear error saying what is missing."""
    root = find_root(override)
    if root is None or not (root / relative).exists():
        raise RepoFilesMissingError(
            f"{relative} not found: this command needs the driftline source checkout "
            "(run it from the repository, or set DRIFTLINE_ROOT to it)"
        )
    return root / relative
