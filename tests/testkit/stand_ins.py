"""A gRPC server on a free port for a test's fake of another service (a KYC that records what it
was sent, one that always allows): the test registers its servicer, gets the address."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import grpc


@asynccontextmanager
async def stand_in(register: Callable[[grpc.aio.Server], None]) -> AsyncIterator[str]:
    """Serve what `register` adds (e.g. `add_KycServiceServicer_to_server(fake, server)`) at the
    yielded `127.0.0.1:port` until the block ends."""
    server = grpc.aio.server()
    register(server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(0)
