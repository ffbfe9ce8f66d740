"""Client options, resolved once when a client is constructed (the environment is read then, never at
import): base URL from the argument or `DRIFTLINE_URL`, API key from the argument or `DRIFTLINE_API_KEY`."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from engine.sdk.retry import RetryPolicy

DEFAULT_URL = "http://127.0.0.1:8000"
USER_AGENT = "driftline-sdk/0.1"


@dataclass(frozen=True, slots=True)
class ClientOptions:
    base_url: str
    api_key: str | None
    timeout: float
    retry: RetryPolicy
    batch_size: int

    @classmethod
    def resolve(
        cls, base_url: str | None, api_key: str | None, timeout: float, retry: RetryPolicy | None, batch_size: int,
        env: Mapping[str, str] | None = None,
    ) -> ClientOptions:
        env = os.environ if env is None else env
        url = base_url or env.get("DRIFTLINE_URL") or DEFAULT_URL
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"the driftline URL must start with http:// or https://, got {url!r}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        return cls(base_url=url.rstrip("/"), api_key=api_key or env.get("DRIFTLINE_API_KEY") or None,
                   timeout=timeout, retry=retry or RetryPolicy(), batch_size=batch_size)

    @property
    def headers(self) -> dict[str, str]:
        headers = {"user-agent": USER_AGENT, "accept": "application/json"}
        if self.api_key:
            headers["x-api-key"] = self.api_key
        return headers
