-- driftline 0014 (both editions): labels for predictions in compressed history are acknowledged at once and
-- applied later, many at a time.
--
-- On the full edition an UPDATE of one row in a compressed chunk decompresses the whole compressed batch
-- (up to 1,000 rows) that holds it: a sparse label batch (1 % or 0.1 % of ten days) cost 7-23x as much per
-- label as into uncompressed history (bench/results/compression.md). A label whose prediction lies in a
-- compressed chunk is therefore stored here (durably, in the ingest transaction) and applied by the
-- refresher (`dl_apply_pending_labels`), which runs before every refresh of the windows: all the labels
-- that arrived for a range since the last refresh share one decompression of it. On the Apache edition
-- nothing is compressed and this table stays empty.

-- One pending label per labelled prediction (model, prediction id, the prediction's time): a label sent
-- again before it is applied replaces the pending one (last write wins, as an UPDATE of the row does).
CREATE TABLE pending_labels (
    model_id      integer NOT NULL REFERENCES models (id) ON DELETE CASCADE,
    prediction_id text NOT NULL,
    time          timestamptz NOT NULL,
    label_class   text,
    label_value   double precision,
    label_time    timestamptz NOT NULL,
    received_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (model_id, prediction_id, time)
);
CREATE INDEX pending_labels_model_time ON pending_labels (model_id, time);

-- Apply the pending labels of one model to its predictions; returns the number of predictions labelled.
-- The pending rows are taken out of the table first (DELETE … RETURNING, so a label upserted meanwhile for
-- the same prediction waits for this transaction and is then pending again, to be applied next time, never
-- lost or overwritten by an older one), then applied with one UPDATE per run of nearby times within a
-- chunk (no gap longer than p_gap), each planned for its own bounds (EXECUTE … USING: constants to the
-- planner), so only the compressed batches holding those runs are decompressed. The UPDATE triggers record
-- the touched minutes for the windows as for any label. All in the caller's transaction: a crash or a
-- rollback leaves every pending label where it was (a retry applies it once; applying is idempotent).
-- Labels for predictions that no longer exist are dropped.
CREATE FUNCTION dl_apply_pending_labels(p_model_id integer, p_gap interval DEFAULT '15 minutes')
RETURNS bigint LANGUAGE plpgsql
SET timescaledb.max_tuples_decompressed_per_dml_transaction = 0
-- In a compressed chunk the statistics know nothing of the rows the statement decompresses; a nested loop
-- over a chunk estimated empty rescans the targets for every decompressed row.
SET enable_nestloop = off
SET client_min_messages = warning  -- not a NOTICE per call for the temporary table that exists already
AS $$
DECLARE
    v_total bigint := 0;
    v_n bigint;
    g record;
    upd_sql constant text := $q$
        UPDATE predictions p
        SET label_class = t.label_class, label_value = t.label_value, label_time = t.label_time
        FROM dl_pending_apply t
        WHERE p.model_id = $1 AND p.time >= $2 AND p.time <= $3
          AND t.time >= $2 AND t.time <= $3
          AND p.prediction_id = t.prediction_id AND p.time = t.time
    $q$;
BEGIN
    CREATE TEMPORARY TABLE IF NOT EXISTS dl_pending_apply (
        prediction_id text NOT NULL,
        time          timestamptz NOT NULL,
        label_class   text,
        label_value   double precision,
        label_time    timestamptz NOT NULL
    ) ON COMMIT DELETE ROWS;
    TRUNCATE dl_pending_apply;
    WITH taken AS (
        DELETE FROM pending_labels WHERE model_id = p_model_id
        RETURNING prediction_id, time, label_class, label_value, label_time
    )
    INSERT INTO dl_pending_apply SELECT * FROM taken;
    GET DIAGNOSTICS v_n = ROW_COUNT;
    IF v_n = 0 THEN
        RETURN 0;
    END IF;
    ANALYZE dl_pending_apply;
    FOR g IN
        WITH chunks AS (
            SELECT c.range_start, c.range_end
            FROM timescaledb_information.chunks c
            WHERE c.hypertable_schema = current_schema() AND c.hypertable_name = 'predictions'
        ), marked AS (
            SELECT t.time, c.range_start,
                   CASE WHEN lag(t.time) OVER w IS NULL
                          OR t.time - lag(t.time) OVER w > p_gap
                          OR c.range_start IS DISTINCT FROM lag(c.range_start) OVER w
                        THEN 1 ELSE 0 END AS brk
            FROM (SELECT DISTINCT time FROM dl_pending_apply) t
            LEFT JOIN chunks c ON t.time >= c.range_start AND t.time < c.range_end
            WINDOW w AS (ORDER BY t.time)
        ), grouped AS (
            SELECT time, sum(brk) OVER (ORDER BY time) AS grp FROM marked
        )
        SELECT min(time) AS lo, max(time) AS hi FROM grouped GROUP BY grp ORDER BY 1
    LOOP
        EXECUTE upd_sql USING p_model_id, g.lo, g.hi;
        GET DIAGNOSTICS v_n = ROW_COUNT;
        v_total := v_total + v_n;
    END LOOP;
    TRUNCATE dl_pending_apply;
    RETURN v_total;
END $$;

-- The predictions with their labels as they will be once every pending label is applied: what reads of
-- labels from raw rows use (performance estimation cells, tracked batches, baselines from a range), and
-- what a SQL user should read instead of `predictions` for labels that arrived since the last refresh.
CREATE VIEW predictions_labelled AS
SELECT p.time, p.model_id, p.version_id, p.prediction_id, p.predicted_class, p.predicted_value, p.score,
       p.probabilities, p.latency_ms, p.segments, p.num_features, p.cat_features,
       CASE WHEN l.model_id IS NULL THEN p.label_class ELSE l.label_class END AS label_class,
       CASE WHEN l.model_id IS NULL THEN p.label_value ELSE l.label_value END AS label_value,
       CASE WHEN l.model_id IS NULL THEN p.label_time ELSE l.label_time END AS label_time
FROM predictions p
LEFT JOIN pending_labels l ON l.model_id = p.model_id AND l.prediction_id = p.prediction_id AND l.time = p.time;
