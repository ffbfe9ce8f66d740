"""The batch processor's JSON outputs, named as the analytics-pipeline seed says and written atomically: a
temporary file in the output directory, flushed to disk, then renamed over the final name, so a reader
never sees half a file and a rerun replaces the previous output in one step."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import msgspec


def metrics_name(model: str, batch_id: str) -> str:
    return f"{model}_metrics_{batch_id}.json"


def predictions_name(model: str, batch_id: str) -> str:
    return f"{model}_predictions_{batch_id}.json"


def summary_name(batch_id: str) -> str:
    return f"batch_summary_{batch_id}.json"


def write_json_atomic(directory: Path, name: str, document: object) -> Path:
    """Write `document` (msgspec Structs, dicts, lists, datetimes) as JSON to `directory/name`."""
    directory.mkdir(parents=True, exist_ok=True)
    data = msgspec.json.format(msgspec.json.encode(document), indent=2)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, directory / name)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return directory / name
