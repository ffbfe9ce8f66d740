ALTER TABLE window_invalidations DROP COLUMN force;
