-- driftline 0004 (both editions): writes into old, possibly compressed history — late labels and deletes.
--
-- On the full edition old chunks of `predictions` are compressed, and DML there decompresses what its
-- WHERE clause cannot rule out by constants: an UPDATE joined on the prediction id alone decompresses every
-- compressed row of the model. Every such statement must therefore be bounded by the times of the rows it
-- touches, written as constants (a custom plan). This file gives the engine and SQL users what that needs.

-- Each prediction's time by (model, prediction id), written by a trigger at every insert, whoever the
-- writer is. Never compressed: a label without the prediction's time is resolved here by one index probe
-- per chunk of this table, and the label UPDATE is then bounded to the chunks that hold its predictions.
-- Chunks of 30 days keep the probes few (the lookup is an index-only scan of each); the worker drops chunks
-- older than the label horizon (DRIFTLINE_LABEL_HORIZON). About 100 bytes per prediction.
CREATE TABLE prediction_times (
    model_id      integer NOT NULL,
    prediction_id text NOT NULL,
    time          timestamptz NOT NULL
);
SELECT create_hypertable('prediction_times', 'time', chunk_time_interval => INTERVAL '30 days',
                         create_default_indexes => false);
CREATE UNIQUE INDEX prediction_times_key ON prediction_times (model_id, prediction_id, time);

CREATE FUNCTION dl_record_prediction_times() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    -- DO NOTHING: a row deleted from predictions in SQL without dl_delete_predictions leaves its entry
    -- behind, and the same prediction stored again must not fail on it.
    INSERT INTO prediction_times (model_id, prediction_id, time)
    SELECT model_id, prediction_id, time FROM new_rows
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END $$;

CREATE TRIGGER predictions_times_insert AFTER INSERT ON predictions
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION dl_record_prediction_times();

-- The predictions stored before this migration.
INSERT INTO prediction_times (model_id, prediction_id, time)
SELECT model_id, prediction_id, time FROM predictions
ON CONFLICT DO NOTHING;

-- Record [lo, hi) of raw rows as stale for the windows of `kind` ('predictions' or 'metrics'): what the
-- statement-level triggers do for INSERT and UPDATE. Needed after a DELETE written in SQL on the full
-- edition, where TimescaleDB refuses DELETE triggers on compressed hypertables; call it in the same
-- transaction as the DELETE (dl_delete_predictions does this itself). For 'predictions' the feature
-- windows of a model with active baselines are marked too.
CREATE FUNCTION dl_invalidate(p_kind text, p_model_id integer, p_lo timestamptz, p_hi timestamptz)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF p_kind NOT IN ('predictions', 'metrics') THEN
        RAISE EXCEPTION 'dl_invalidate: kind must be predictions or metrics, not %', p_kind
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_lo IS NULL OR p_hi IS NULL OR NOT isfinite(p_lo) OR NOT isfinite(p_hi) THEN
        RAISE EXCEPTION 'dl_invalidate: lo and hi must be finite timestamps'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p_hi <= p_lo THEN
        RETURN;
    END IF;
    INSERT INTO window_invalidations (kind, model_id, lo, hi)
    SELECT k, p_model_id, time_bucket('1 minute', p_lo),
           time_bucket('1 minute', p_hi - interval '1 microsecond') + interval '1 minute'
    FROM unnest(ARRAY[p_kind, 'features']) AS k
    WHERE k = p_kind
       OR (p_kind = 'predictions'
           AND EXISTS (SELECT 1 FROM feature_baselines b WHERE b.active AND b.model_id = p_model_id));
END $$;

-- Delete a model's predictions by id, by time range [p_start, p_end), or both, and record what the windows
-- must recompute, in the caller's transaction; returns the number of rows deleted. The supported way to
-- delete predictions in SQL on both editions:
--     SELECT dl_delete_predictions('fraud', p_ids => ARRAY['tx-1', 'tx-2']);
--     SELECT dl_delete_predictions('fraud', p_start => '2026-03-01', p_end => '2026-03-02');
-- Ids without a finite range are found through prediction_times (within the label horizon). Every DELETE
-- runs with its time bounds as constants (EXECUTE … USING plans each statement for its values), so only
-- the compressed batches holding the deleted rows are decompressed; the tuple-decompression limit is
-- lifted for that reason.
CREATE FUNCTION dl_delete_predictions(p_model text, p_start timestamptz DEFAULT NULL,
                                      p_end timestamptz DEFAULT NULL, p_ids text[] DEFAULT NULL)
RETURNS bigint LANGUAGE plpgsql
SET timescaledb.max_tuples_decompressed_per_dml_transaction = 0
AS $$
DECLARE
    v_model integer;
    v_lo timestamptz := coalesce(p_start, '-infinity');
    v_hi timestamptz := coalesce(p_end, 'infinity');
    v_total bigint := 0;
    v_n bigint;
    g record;
    -- $1 model, [$2, $3) time, $4 ids (NULL: all in the range). The deleted rows' hours are recorded as
    -- stale like the DELETE trigger does on the Apache edition, and their lookup entries go with them.
    del_sql constant text := $q$
        WITH del AS (
            DELETE FROM predictions
            WHERE model_id = $1 AND time >= $2 AND time < $3 AND ($4::text[] IS NULL OR prediction_id = ANY ($4))
            RETURNING model_id, prediction_id, time
        ), stale AS (
            INSERT INTO window_invalidations (kind, model_id, lo, hi)
            SELECT k.kind, d.model_id, time_bucket('1 minute', min(d.time)),
                   time_bucket('1 minute', max(d.time)) + interval '1 minute'
            FROM del d CROSS JOIN (VALUES ('predictions'), ('features')) AS k(kind)
            WHERE k.kind = 'predictions'
               OR EXISTS (SELECT 1 FROM feature_baselines b WHERE b.active AND b.model_id = $1)
            GROUP BY k.kind, d.model_id, time_bucket('1 hour', d.time)
        ), lookup AS (
            DELETE FROM prediction_times t USING del d
            WHERE t.model_id = $1 AND t.time >= $2 AND t.time < $3
              AND t.prediction_id = d.prediction_id AND t.time = d.time
        )
        SELECT count(*) FROM del
    $q$;
BEGIN
    SELECT id INTO v_model FROM models WHERE name = p_model;
    IF v_model IS NULL THEN
        RAISE EXCEPTION 'dl_delete_predictions: no model named %', p_model USING ERRCODE = 'no_data_found';
    END IF;
    IF p_ids IS NULL AND p_start IS NULL AND p_end IS NULL THEN
        RAISE EXCEPTION 'dl_delete_predictions: give ids, a time range, or both'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF v_hi <= v_lo THEN
        RETURN 0;
    END IF;
    IF p_ids IS NULL OR (isfinite(v_lo) AND isfinite(v_hi)) THEN
        EXECUTE del_sql INTO v_n USING v_model, v_lo, v_hi, p_ids;
        RETURN v_n;
    END IF;
    -- Ids with an open range: one DELETE per chunk of predictions holding them, bounded to their times.
    FOR g IN
        SELECT min(t.time) AS lo, max(t.time) + interval '1 microsecond' AS hi,
               array_agg(DISTINCT t.prediction_id) AS ids
        FROM prediction_times t
        LEFT JOIN timescaledb_information.chunks c
               ON c.hypertable_schema = current_schema() AND c.hypertable_name = 'predictions'
              AND t.time >= c.range_start AND t.time < c.range_end
        WHERE t.model_id = v_model AND t.prediction_id = ANY (p_ids) AND t.time >= v_lo AND t.time < v_hi
        GROUP BY c.range_start
    LOOP
        EXECUTE del_sql INTO v_n USING v_model, g.lo, g.hi, g.ids;
        v_total := v_total + v_n;
    END LOOP;
    RETURN v_total;
END $$;
