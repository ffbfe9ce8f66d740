"""Analyses over stored windows: load via the store, compute via the algorithms, return a typed result."""
