-- Ranges to recompute whatever the raw rows' write history says (a dimension declared later changes the
-- windows' segment key without a write): on the full edition refreshed with force => true.
ALTER TABLE window_invalidations ADD COLUMN force boolean NOT NULL DEFAULT false;
