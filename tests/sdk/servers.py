"""A real uvicorn server for the API, and a real TCP proxy that injects faults, each on its own thread and
event loop, bound to loopback ports chosen by the OS."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import uvicorn

from api.app import create_app
from engine.config import Settings

START_TIMEOUT = 20.0
IO_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextlib.contextmanager
def api_server(db_url: str, **settings: object) -> Iterator[str]:
    """Serve `create_app(Settings(database_url=db_url))` with uvicorn on a free loopback port."""
    app = create_app(Settings(database_url=db_url, **settings))  # type: ignore[arg-type]
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + START_TIMEOUT
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"uvicorn did not start on port {port} within {START_TIMEOUT}s")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=START_TIMEOUT)


_HEADER_END = b"\r\n\r\n"
_KEY = re.compile(rb"^idempotency-key:\s*(\S+)\s*$", re.IGNORECASE | re.MULTILINE)
_LENGTH = re.compile(rb"^content-length:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)


@dataclass
class ProxyLog:
    connections: int = 0
    first_requests: list[bytes] = field(default_factory=list)  # request line + headers, per connection
    dropped: int = 0
    answered_503: int = 0

    def keys(self) -> list[str | None]:
        out: list[str | None] = []
        for head in self.first_requests:
            m = _KEY.search(head)
            out.append(m.group(1).decode() if m else None)
        return out


class FaultProxy:
    """Forwards HTTP/1.1 connections to `upstream_port`. For the first request of a connection it may:
    - answer `503` itself without forwarding (`answer_503` times), or
    - forward it, wait for the server's first response byte (the handler has finished, its transaction has
      committed) and then close both sockets without relaying anything (`drop_responses` times).
    Everything else is relayed byte for byte."""

    def __init__(self, upstream_port: int, *, drop_responses: int = 0, answer_503: int = 0) -> None:
        self.upstream_port = upstream_port
        self.drop_responses = drop_responses
        self.answer_503 = answer_503
        self.log = ProxyLog()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> FaultProxy:
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise RuntimeError("proxy did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=START_TIMEOUT)

    def _run(self) -> None:
        asyncio.run(self._main())

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        self.port = server.sockets[0].getsockname()[1]
        self._ready.set()
        async with server:
            await self._stop.wait()

    async def _read_request(self, reader: asyncio.StreamReader) -> bytes:
        head = await asyncio.wait_for(reader.readuntil(_HEADER_END), IO_TIMEOUT)
        m = _LENGTH.search(head)
        body = await asyncio.wait_for(reader.readexactly(int(m.group(1))), IO_TIMEOUT) if m else b""
        return head + body

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.log.connections += 1
        upstream: asyncio.StreamWriter | None = None
        try:
            try:
                request = await self._read_request(reader)
            except (asyncio.IncompleteReadError, TimeoutError):
                return
            self.log.first_requests.append(request.split(_HEADER_END, 1)[0])
            if self.answer_503 > 0:
                self.answer_503 -= 1
                self.log.answered_503 += 1
                body = b'{"status_code":503,"detail":"injected by the test proxy"}'
                writer.write(b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                             b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(body), body))
                await writer.drain()
                return
            up_reader, upstream = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", self.upstream_port), IO_TIMEOUT)
            upstream.write(request)
            await upstream.drain()
            if self.drop_responses > 0:
                self.drop_responses -= 1
                first = await asyncio.wait_for(up_reader.read(1), IO_TIMEOUT)
                assert first, "upstream closed without answering"
                self.log.dropped += 1
                writer.transport.abort()
                return
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        finally:
            for w in (writer, upstream):
                if w is not None:
                    w.close()


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(1 << 16):
            dst.write(data)
            await dst.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(Exception):
            dst.write_eof()
