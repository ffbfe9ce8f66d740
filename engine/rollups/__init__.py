"""Keeping the window relations current: the refresher that consumes the record of touched ranges."""
