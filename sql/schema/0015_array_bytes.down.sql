-- Migration 0015_array_bytes, downgrade (both editions).
DROP FUNCTION IF EXISTS dl_array_bytes(anyarray);
