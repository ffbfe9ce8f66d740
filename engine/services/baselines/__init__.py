"""Baselines: reference bins and statistics per model (content), and the service that stores them."""
