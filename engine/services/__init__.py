"""Services: load from the store → compute → persist. Called by the API, the CLI and the worker."""
