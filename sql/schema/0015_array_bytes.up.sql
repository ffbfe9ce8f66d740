-- Migration 0015_array_bytes, upgrade (both editions): a cheap wire form for the window count arrays.
--
-- `dl_array_bytes(anyarray) -> bytea` returns an array's stored bytes as they are (its detoasted varlena
-- without the length word): a header (ndim, data offset, element type, dimensions, lower bounds, padding)
-- then the elements in the server's native byte order. It is PostgreSQL's own `byteasend` (which returns
-- its detoasted argument unchanged) declared for arrays: a copy of the bytes, where `array_send` calls the
-- element type's send function and allocates a buffer per element (~55 ns each: most of the server's time
-- in a read shipping thousands of window rows of 100-element histograms).
--
-- A function in LANGUAGE internal can only be created by a superuser. Without one (a managed service) the
-- function is not created and the window reads keep `array_send`: they probe for it (and for its byte
-- order) on each connection, so both forms stay correct.
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        CREATE FUNCTION dl_array_bytes(anyarray) RETURNS bytea
            LANGUAGE internal IMMUTABLE STRICT PARALLEL SAFE AS 'byteasend';
        COMMENT ON FUNCTION dl_array_bytes(anyarray) IS
            'An array''s stored bytes (header, then native-order elements), for fast window reads (driftline 0015).';
    ELSE
        RAISE NOTICE 'driftline 0015: not a superuser, dl_array_bytes not created (window reads use array_send)';
    END IF;
END
$$;
