"""One TCP segment per response instead of two: uvicorn's HTTP protocol on a transport that
holds a write until the next one (or the next turn of the event loop).

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start`` and the body on ``http.response.body``: two ``send`` calls, two
segments on the wire, and a client that is woken by the headers and must wait again for the
body. Held here, the body's write carries the headers with it. A write that no other follows
within the same step (a stream's headers before a quiet spell, its later messages) goes out
on the next turn of the loop, a few µs later, so nothing waits on a timer. close() sends what
is held first; abort() drops it, like the transport's own buffer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Delegates to ``transport``; ``write`` holds data until the next write or loop turn."""

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: list[bytes] = []

    def write(self, data: bytes) -> None:
        if not self._held:
            self._held.append(data)
            self._loop.call_soon(self.flush)
            return
        self._held.append(data)
        self.flush()

    def flush(self) -> None:
        if not self._held:
            return
        held, self._held = self._held, []
        if not self._transport.is_closing():
            self._transport.write(held[0] if len(held) == 1 else b"".join(held))

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def abort(self) -> None:
        self._held = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(map(len, self._held))

    def __getattr__(self, name: str) -> Any:
        # is_closing, pause_reading, resume_reading, get_extra_info, set_protocol, ...
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, writing through a CoalescingTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]  # as uvicorn's own
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]  # a Transport by duck typing
