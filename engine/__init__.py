"""driftline engine: everything that is not HTTP."""
