"""The coalescing transport under uvicorn's protocol: a response's writes leave together, a
lone write leaves on the next loop turn, close sends what is held, abort drops it."""

from __future__ import annotations

import asyncio
from typing import Any

from gateway.edge.transport import CoalescingTransport


class RecordingTransport:
    def __init__(self) -> None:
        self.sent: list[bytes] = []
        self.closed = False
        self.aborted = False

    def write(self, data: bytes) -> None:
        self.sent.append(data)

    def is_closing(self) -> bool:
        return self.closed or self.aborted

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return {"peername": ("127.0.0.1", 4242)}.get(name, default)


def _pair() -> tuple[RecordingTransport, CoalescingTransport]:
    raw = RecordingTransport()
    return raw, CoalescingTransport(raw, asyncio.get_running_loop())  # type: ignore[arg-type]  # a duck Transport


async def _next_turn() -> None:
    await asyncio.sleep(0)


async def test_headers_and_body_leave_as_one_write() -> None:
    raw, transport = _pair()
    transport.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
    assert raw.sent == []
    transport.write(b"{}")
    assert raw.sent == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    await _next_turn()
    assert len(raw.sent) == 1


async def test_a_lone_write_leaves_on_the_next_loop_turn() -> None:
    raw, transport = _pair()
    transport.write(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n")  # a stream's headers
    assert raw.sent == []
    assert transport.get_write_buffer_size() > 0
    await _next_turn()
    assert raw.sent == [b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"]
    transport.write(b"5\r\nhello\r\n")
    await _next_turn()
    assert raw.sent[1:] == [b"5\r\nhello\r\n"]


async def test_close_sends_what_is_held_first_and_abort_drops_it() -> None:
    raw, transport = _pair()
    transport.write(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    transport.close()
    assert raw.sent == [b"HTTP/1.1 400 Bad Request\r\n\r\n"] and raw.closed
    raw, transport = _pair()
    transport.write(b"partial")
    transport.abort()
    await _next_turn()
    assert raw.sent == [] and raw.aborted


async def test_nothing_is_written_to_a_closing_transport_and_the_rest_is_delegated() -> None:
    raw, transport = _pair()
    transport.write(b"late")
    raw.closed = True  # the peer went away before the next turn
    await _next_turn()
    assert raw.sent == []
    assert transport.get_extra_info("peername") == ("127.0.0.1", 4242)
