"""Access settings read from the environment, and the server secret's rules (no database)."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.config import RateLimit, Settings, SettingsError
from engine.services.access.secret import load_secret
from engine.services.access.tokens import new_token, token_prefix


def test_rates_modes_and_secret_file_from_the_environment() -> None:
    access = Settings.from_env({"DRIFTLINE_RATE_INGEST": "600/1m", "DRIFTLINE_RATE_FAILED_AUTH": "off",
                                "DRIFTLINE_AUTH": "required", "DRIFTLINE_HOME": "/srv/dl"}).access
    assert access.ingest_rate == RateLimit(600, 60) and not access.failed_auth_rate.enabled
    assert access.mode == "required" and access.secret_key_file == "/srv/dl/secret_key"
    defaults = Settings.from_env({}).access
    assert defaults.mode == "auto" and defaults.ingest_rate == RateLimit(1200, 60)
    assert defaults.failed_auth_rate == RateLimit(30, 60) and defaults.secret_key_file is None
    for bad in ({"DRIFTLINE_RATE_INGEST": "fast"}, {"DRIFTLINE_RATE_INGEST": "5/0"}, {"DRIFTLINE_AUTH": "none"}):
        with pytest.raises(SettingsError):
            Settings.from_env(bad)


def test_secret_rules(tmp_path: Path) -> None:
    short = Settings.from_env({"DRIFTLINE_SECRET_KEY": "too-short"}).access
    with pytest.raises(SettingsError, match="at least 32"):
        load_secret(short)
    file_only = Settings.from_env({"DRIFTLINE_SECRET_KEY_FILE": str(tmp_path / "s" / "key")}).access
    assert load_secret(file_only) is None  # reading never creates
    created = load_secret(file_only, create=True)
    assert created is not None and load_secret(file_only) == created  # stable once written
    assert (tmp_path / "s" / "key").stat().st_mode & 0o077 == 0
    assert load_secret(Settings.from_env({}).access, create=True) is None  # nowhere to keep one


def test_token_shape() -> None:
    token, prefix = new_token()
    assert token.startswith(f"dl_{prefix}_") and len(token) == 3 + 12 + 1 + 43 and token_prefix(token) == prefix
    assert token_prefix(token + "x") is None and token_prefix("dl_XYZ_abc") is None
    assert len({new_token()[0] for _ in range(1000)}) == 1000
