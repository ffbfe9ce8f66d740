DROP TABLE IF EXISTS rejected_rows;
DROP TABLE IF EXISTS ingest_batches;
DROP TABLE IF EXISTS metrics;
DROP TABLE IF EXISTS predictions;
DROP TABLE IF EXISTS model_versions;
DROP TABLE IF EXISTS model_features;
DROP TABLE IF EXISTS models;
