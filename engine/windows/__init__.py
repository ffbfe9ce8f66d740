"""The 1-minute / hourly / daily windows as data: what the relations hold and the pure maths over their
state (no I/O; an import-linter contract keeps it so).

- `spec`: the families, levels and merge rules of the window relations (defined in sql/schema/0002_windows*).
- `merge`: rows of window state merged per (bucket, group) into column arrays (`Merged`).
- `ranges`: time ranges (touched minutes, pending spans) aligned to levels.
- `catalog`: the metrics derived per model task and the state columns each reads.
- `derive_batch`: those metrics for every bucket at once; `percentiles`: quantiles from log histograms.
- `ddl`: the SQL templates of the window relations, rendered for migrations.

Reading window state is in `engine.store.window_reads`; keeping it current in `engine.rollups.refresher`.
"""
