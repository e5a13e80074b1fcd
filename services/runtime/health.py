"""Asking a service whether it is up: its gRPC health check (grpc.health.v1), as `clearmesh up`,
the benchmarks and the tests that start services as processes all wait for it.

SERVING is what the runtime's server sets once the service has started (server.py); until the
process listens, a check fails with UNAVAILABLE, which here means "not yet".
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc


async def serving(channel: grpc.aio.Channel, timeout: float = 1.0) -> bool:
    """Whether the service behind `channel` answers SERVING now (False while it cannot answer)."""
    try:
        reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=timeout)
    except grpc.aio.AioRpcError:
        return False
    return bool(reply.status == health_pb2.HealthCheckResponse.SERVING)


async def wait_serving(channel: grpc.aio.Channel, *, attempts: int, pause: float,
                       alive: Callable[[], None] = lambda: None) -> bool:
    """Asks up to `attempts` times, `pause` seconds apart, until the service answers SERVING;
    whether it did. `alive` runs before each attempt: it raises when waiting is pointless (the
    process being waited for has exited)."""
    for _ in range(attempts):
        alive()
        if await serving(channel):
            return True
        await asyncio.sleep(pause)
    return False
