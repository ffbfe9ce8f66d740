"""1-minute / hourly / daily windows over predictions, custom metrics and feature histograms.

- `spec`: the families, levels and merge rules of the window relations (defined in sql/schema/0002_windows*).
- `ddl`: per-edition DDL run by the 0002 migration (rollup hypertables or hierarchical continuous aggregates).
- `refresher.refresh(pool) -> RefreshReport`: bring the windows up to date (worker task and
  `driftline rollups refresh`).
- `reader.read_windows_snapshot` / `read_windows_merged_snapshot`: exact, real-time reads (materialised
  buckets + the pending raw tail), as per-row dicts or as columns (`merge.Merged`).
- `derive` / `percentiles`: metrics from merged window state, one bucket at a time (pure);
  `derive_batch`: the same for all buckets at once (what the REST read uses).
"""
