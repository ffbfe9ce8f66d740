-- Migration 0011_baseline_samples, downgrade, both editions (hand-written, frozen once merged).
DROP TABLE IF EXISTS baseline_samples;
