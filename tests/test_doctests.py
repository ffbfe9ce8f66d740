"""The examples in the docstrings of engine/ and api/ run and give what they show (every module holding one)."""

from __future__ import annotations

import doctest
import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted(
    ".".join(p.relative_to(ROOT).with_suffix("").parts)
    for package in ("engine", "api")
    for p in (ROOT / package).rglob("*.py")
    if ">>> " in p.read_text()
)


def test_examples_are_found() -> None:
    assert {"engine.ingest.magnitude", "engine.algorithms.drift.thresholds", "engine.ingest.bounds"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name: str) -> None:
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0, f"{name}: {result}"
