from __future__ import annotations

from tests.api.conftest import client

__all__ = ["client"]
