"""driftline REST API (Litestar): schemas, routing, auth and error mapping. No SQL, no statistics."""
