"""Monitors: configured analyses a model keeps running on a schedule, and their run history."""
