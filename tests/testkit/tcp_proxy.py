"""A TCP proxy the test controls, between a service process and PostgreSQL or Redis: the
machine's servers cannot be stopped by a test, so the test cuts the wire in front of them.

    with TcpProxy("127.0.0.1", 5432) as proxy:   # point the service at 127.0.0.1:proxy.port
        proxy.cut("reset")   # the server is gone: live connections reset, new ones refused
        proxy.cut("stall")   # a partition: connections accepted, nothing forwarded either way
        proxy.restore()      # it is back: new connections go through (cut ones stay dead)

It runs its own event loop on a thread, so the test's code can stay synchronous.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Mode = Literal["reset", "stall"]
CHUNK = 64 * 1024


class TcpProxy:
    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.mode: Mode | None = None  # None: the wire is whole
        self.connections = 0  # accepted so far, for the test to see that the service dialled here
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-proxy", daemon=True)
        self._server: asyncio.Server | None = None
        self._live: set[asyncio.StreamWriter] = set()

    def __enter__(self) -> TcpProxy:
        self._thread.start()
        self._server = self._call(asyncio.start_server(self._accept, "127.0.0.1", 0))
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *_exc: object) -> None:
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def cut(self, mode: Mode) -> None:
        """From now on the server behind is unreachable, as `mode` says; connections already
        open die with it (reset at once, or stall and never carry another byte)."""
        self._call(self._cut(mode))

    def restore(self) -> None:
        """The server is reachable again through new connections."""
        self._call(self._restore())

    # ------------------------------------------------------------------ loop side
    def _call(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result(timeout=10)

    async def _cut(self, mode: Mode) -> None:
        self.mode = mode
        for writer in list(self._live):
            if mode == "reset":
                _abort(writer)
        # stalled: the pumps see the mode and stop forwarding

    async def _restore(self) -> None:
        self.mode = None
        for writer in list(self._live):  # what was cut stays cut, as after a real outage
            _abort(writer)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._live):
            _abort(writer)

    async def _accept(self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "reset":
            _abort(client)
            return
        self._live.add(client)
        try:
            if self.mode == "stall":
                await _closed(client_reader)  # held open, never answered
                return
            try:
                server_reader, server = await asyncio.open_connection(*self.target)
            except OSError:
                return
            self._live.add(server)
            try:
                await asyncio.gather(self._pump(client_reader, server), self._pump(server_reader, client))
            finally:
                self._live.discard(server)
                _abort(server)
        finally:
            self._live.discard(client)
            _abort(client)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            while chunk := await source.read(CHUNK):
                if self.mode is not None:  # cut while open: this connection is dead for good
                    await _closed(source)
                    break
                sink.write(chunk)
                await sink.drain()
        _abort(sink)


async def _closed(reader: asyncio.StreamReader) -> None:
    """Swallow whatever arrives until the peer (or an abort) closes the connection."""
    with contextlib.suppress(OSError, asyncio.IncompleteReadError):
        while await reader.read(CHUNK):
            pass


def _abort(writer: asyncio.StreamWriter) -> None:
    """Close with a reset, as a vanished server's kernel would answer."""
    transport = writer.transport
    if transport.is_closing():
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    transport.abort()
