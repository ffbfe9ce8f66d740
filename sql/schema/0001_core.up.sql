-- driftline core store: model registry, predictions and metrics hypertables, rejected input.
-- Applied by migrations/versions/*_core.py; placeholders {chunk_interval} are filled from settings.

CREATE EXTENSION IF NOT EXISTS timescaledb;

CREATE TABLE models (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         text NOT NULL UNIQUE CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$'),
    task         text NOT NULL CHECK (task IN ('binary', 'multiclass', 'regression')),
    -- Classification: the class labels in a fixed order. For 'binary' exactly two, the second is the
    -- positive class that `score` refers to. NULL for regression.
    class_labels text[] CHECK (
        (task = 'regression' AND class_labels IS NULL)
        OR (task = 'binary' AND cardinality(class_labels) = 2)
        OR (task = 'multiclass' AND cardinality(class_labels) >= 2)
    ),
    -- Binary decision threshold on `score` (used to derive the predicted class and confusion cells).
    threshold    double precision NOT NULL DEFAULT 0.5 CHECK (threshold > 0 AND threshold < 1),
    -- Segment tag keys that windows are grouped by (declared dimensions).
    dimensions   text[] NOT NULL DEFAULT '{}',
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Feature schema. Numeric features are stored positionally in predictions.num_features[position],
-- categorical ones in predictions.cat_features[position] (1-based, dense per kind).
CREATE TABLE model_features (
    model_id     integer NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$'),
    kind         text NOT NULL CHECK (kind IN ('numeric', 'categorical')),
    position     smallint NOT NULL CHECK (position >= 1),
    ordinal      smallint NOT NULL,         -- declaration order, for listing the schema as it was declared
    min_value    double precision,
    max_value    double precision,
    categories   text[],
    nullable     boolean NOT NULL DEFAULT true,
    PRIMARY KEY (model_id, name),
    UNIQUE (model_id, kind, position),
    CHECK (kind = 'numeric' OR (min_value IS NULL AND max_value IS NULL)),
    CHECK (kind = 'categorical' OR categories IS NULL),
    CHECK (min_value IS NULL OR max_value IS NULL OR min_value <= max_value)
);

CREATE TABLE model_versions (
    id           integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    model_id     integer NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    version      text NOT NULL CHECK (version ~ '^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$'),
    stage        text NOT NULL DEFAULT 'development'
                 CHECK (stage IN ('development', 'staging', 'production', 'archived')),
    description  text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    promoted_at  timestamptz,
    archived_at  timestamptz,
    UNIQUE (model_id, version)
);
-- At most one production version per model.
CREATE UNIQUE INDEX model_versions_one_production ON model_versions (model_id) WHERE stage = 'production';

CREATE TABLE predictions (
    time            timestamptz NOT NULL,
    model_id        integer NOT NULL,
    version_id      integer NOT NULL,
    prediction_id   text NOT NULL,
    predicted_class text,               -- classification: one of models.class_labels
    predicted_value double precision,   -- regression
    score           double precision,   -- binary: probability of the positive class
    probabilities   double precision[], -- multiclass: one per class, in class_labels order
    latency_ms      double precision,
    segments        jsonb,              -- flat {key: string value}
    num_features    double precision[], -- by model_features.position; NULL element = missing
    cat_features    text[],             -- by model_features.position; NULL element = missing
    label_class     text,
    label_value     double precision,
    label_time      timestamptz
);
SELECT create_hypertable('predictions', 'time', chunk_time_interval => INTERVAL '{chunk_interval}',
                         create_default_indexes => false);
-- Idempotency by prediction id (a unique index on a hypertable must include the time column) and the
-- label lookup by prediction id both use this index.
CREATE UNIQUE INDEX predictions_model_pid ON predictions (model_id, prediction_id, time);
CREATE INDEX predictions_model_time ON predictions (model_id, time DESC);

CREATE TABLE metrics (
    time      timestamptz NOT NULL,
    model_id  integer,                  -- NULL for metrics not tied to a model
    name      text NOT NULL,
    value     double precision NOT NULL,
    tags      jsonb
);
SELECT create_hypertable('metrics', 'time', chunk_time_interval => INTERVAL '{chunk_interval}',
                         create_default_indexes => false);
CREATE INDEX metrics_model_name_time ON metrics (model_id, name, time DESC);

-- Exactly-once batches: a batch sent again with the same idempotency key is answered from here.
CREATE TABLE ingest_batches (
    idempotency_key text PRIMARY KEY,
    kind            text NOT NULL CHECK (kind IN ('predictions', 'labels', 'metrics')),
    model_id        integer,
    -- sha256 of the batch's content: a key sent again with a different batch is refused, not replayed.
    digest          text NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    result          jsonb NOT NULL
);

-- Nothing a user sent is silently lost: rows refused in partial mode are kept here with the reason.
CREATE TABLE rejected_rows (
    id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    received_at  timestamptz NOT NULL DEFAULT now(),
    kind         text NOT NULL CHECK (kind IN ('predictions', 'labels', 'metrics')),
    model_id     integer,
    batch_key    text,
    row_index    integer NOT NULL,
    field        text,
    reason       text NOT NULL,
    payload      jsonb
);
CREATE INDEX rejected_rows_model_time ON rejected_rows (model_id, received_at DESC);
