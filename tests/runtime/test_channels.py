"""A peer channel (`services.runtime.channels.dial`) carries the calling service's token on
every kind of call it makes, unary and streaming alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from services.runtime.channels import dial

SEEN = "/test.Echo/Authorization"


async def _authorization_unary(request: bytes, context: Any) -> bytes:
    return dict(context.invocation_metadata()).get("authorization", "").encode()


async def _authorization_stream(request: bytes, context: Any) -> AsyncIterator[bytes]:
    yield dict(context.invocation_metadata()).get("authorization", "").encode()


async def _echo_server() -> tuple[grpc.aio.Server, int]:
    server = grpc.aio.server()
    server.add_generic_rpc_handlers([grpc.method_handlers_generic_handler("test.Echo", {
        "Unary": grpc.unary_unary_rpc_method_handler(_authorization_unary),
        "Stream": grpc.unary_stream_rpc_method_handler(_authorization_stream),
    })])
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, port


async def test_a_unary_call_carries_the_service_token() -> None:
    server, port = await _echo_server()
    channel = dial(f"127.0.0.1:{port}", lambda: "service-token", 1 << 20)
    try:
        seen: bytes = await channel.unary_unary("/test.Echo/Unary")(b"")  # type: ignore[arg-type]  # raw bytes, no serializer
    finally:
        await channel.close()
        await server.stop(0)
    assert seen == b"Bearer service-token"


async def test_a_server_streaming_call_carries_the_service_token() -> None:
    server, port = await _echo_server()
    channel = dial(f"127.0.0.1:{port}", lambda: "service-token", 1 << 20)
    try:
        call: Any = channel.unary_stream("/test.Echo/Stream")(b"")  # type: ignore[arg-type]  # raw bytes, no serializer
        seen: list[bytes] = [message async for message in call]
    finally:
        await channel.close()
        await server.stop(0)
    assert seen == [b"Bearer service-token"]
