-- Migration 0011_baseline_samples, upgrade, both editions (hand-written, frozen once merged).
--
-- A bounded, reproducible sample of a baseline's reference rows (features only), in the positional layout
-- of `predictions` (num_features[position], cat_features[position]; NULL element = missing). Multivariate
-- drift fits its classifier / PCA on these rows. Filled when the baseline is created (from a stored range
-- or from uploaded data); baselines created before this revision have none (recreate them).
CREATE TABLE baseline_samples (
    baseline_id   integer NOT NULL REFERENCES baselines (id) ON DELETE CASCADE,
    row_index     integer NOT NULL CHECK (row_index >= 0),  -- the row's order in the reference
    num_features  double precision[],
    cat_features  text[],
    PRIMARY KEY (baseline_id, row_index)
);
