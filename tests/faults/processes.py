"""Real processes for the fault and memory tests: the API as a uvicorn subprocess (what `driftline serve`
runs: `uvicorn --factory api.app:app_from_env`), its memory read from /proc, and a raw HTTP/1.1 client for
bodies httpx would not send as they are (chunked bodies cut off, bodies sent while the answer is read)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.conftest import ROOT
from tests.sdk.servers import free_port

START_TIMEOUT = 60.0


@dataclass
class ApiProcess:
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        return self.proc.pid

    def status(self, key: str) -> int:
        """A kB field of /proc/PID/status (VmRSS, VmHWM), in bytes."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
        raise KeyError(key)

    def reset_peak(self) -> None:
        """Reset VmHWM to the current RSS (Linux ≥ 4.0: write 5 to clear_refs)."""
        Path(f"/proc/{self.pid}/clear_refs").write_text("5")

    def kill9(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def _wait_live(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the API exited with {proc.returncode}: {log.read_text()[-2000:]}")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url + "/health/live", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"the API did not start within {START_TIMEOUT}s: {log.read_text()[-2000:]}")


def start_api(db_url: str, log: Path, port: int | None = None, **env: str) -> ApiProcess:
    port = port or free_port()
    environ = {**os.environ, "DRIFTLINE_DATABASE_URL": db_url, **env}
    out = log.open("ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:app_from_env", "--host", "127.0.0.1",
         "--port", str(port), "--log-level", "warning", "--no-access-log"],
        cwd=ROOT, env=environ, stdout=out, stderr=subprocess.STDOUT)
    api = ApiProcess(proc, port, log)
    try:
        _wait_live(api.url, proc, log)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return api


@contextlib.contextmanager
def api_process(db_url: str, log: Path, **env: str) -> Iterator[ApiProcess]:
    api = start_api(db_url, log, **env)
    try:
        yield api
    finally:
        if api.proc.poll() is None:
            api.proc.terminate()
            try:
                api.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                api.proc.kill()
                api.proc.wait()


def raw_request(port: int, head: bytes, body_chunks: Iterator[bytes], timeout: float = 30.0) -> tuple[int, int]:
    """Send `head` then the chunks (as given: the caller frames them), stop sending as soon as the server has
    answered or closed; return (status, bytes of body sent)."""
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(head)
        sock.setblocking(False)
        answer = b""
        for chunk in body_chunks:
            try:
                answer += sock.recv(65536)
            except BlockingIOError:
                pass
            except OSError:
                break
            if answer:
                break
            try:
                sock.setblocking(True)
                sock.settimeout(timeout)
                sock.sendall(chunk)
                sent += len(chunk)
                sock.setblocking(False)
            except OSError:  # the server answered and closed while we were sending
                break
        sock.setblocking(True)
        sock.settimeout(timeout)
        with contextlib.suppress(OSError):
            while b"\r\n" not in answer:
                more = sock.recv(65536)
                if not more:
                    break
                answer += more
    status = int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0
    return status, sent
