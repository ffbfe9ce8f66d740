"""The server secret API keys are hashed with: DRIFTLINE_SECRET_KEY, else a file (DRIFTLINE_SECRET_KEY_FILE,
default `$DRIFTLINE_HOME/secret_key`) that creating the first key writes, readable by its owner only.

Every API process and the CLI must see the same secret: on one host the file does it; several hosts set
DRIFTLINE_SECRET_KEY (from a secret store). A server with another secret refuses every key (401), it never
accepts one."""

from __future__ import annotations

import contextlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from engine.config import AccessSettings, SettingsError
from engine.services.access.tokens import secret_id

MIN_SECRET_CHARS = 32


@dataclass(frozen=True, slots=True)
class ServerSecret:
    value: bytes
    id: str

    @classmethod
    def of(cls, text: str, origin: str) -> ServerSecret:
        text = text.strip()
        if len(text) < MIN_SECRET_CHARS:
            raise SettingsError(f"{origin} holds {len(text)} characters; a secret key needs at least "
                                f"{MIN_SECRET_CHARS} (e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
        value = text.encode()
        return cls(value, secret_id(value))


def load_secret(access: AccessSettings, create: bool = False) -> ServerSecret | None:
    """The configured secret; None when there is none (and `create` is false or there is nowhere to keep one)."""
    if access.secret_key:
        return ServerSecret.of(access.secret_key, "DRIFTLINE_SECRET_KEY")
    if not access.secret_key_file:
        return None
    path = Path(access.secret_key_file)
    if not path.exists():
        if not create:
            return None
        _create(path)
    return ServerSecret.of(path.read_text(), str(path))


def _create(path: Path) -> None:
    """Written whole under a temporary name, then linked into place: a process racing us reads either no
    file or the complete one, and the first link wins."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(48) + "\n")
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
