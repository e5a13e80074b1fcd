"""The services behind the edge: one grpc.aio channel per service, one cached callable per
route (generic calls by method path, serialized with the route's own message classes), and
their aggregated gRPC health.

Matching may run in shards (services/runtime/shards.py): a call that names a market goes to
the shard that owns it (any shard would relay it there, services/matching/relay.py, at the cost
of a hop); ListMarkets (which names none) goes to CLEARMESH_MATCHING_ADDR, which lists every
shard's markets for a user.

The caller's token, the request id and the W3C trace context of the edge's server span are
passed per call as metadata (see asgi.py). No client interceptors: a grpc.aio interceptor adds
a task and a future chain to every call, measured at 0.2-0.3 ms in bench/edge.py, and the
edge's own SERVER span already marks this hop in the trace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

import grpc
from grpc_health.v1 import health_pb2

from gateway.transcode.rules import Route
from services.runtime.channels import channel_options
from services.runtime.settings import Settings
from services.runtime.shards import MARKET_PREFIX

HEALTH_CHECK = "/grpc.health.v1.Health/Check"
HEALTH_TIMEOUT_SECS = 2.0


def service_key(service_full_name: str) -> str:
    """``clearmesh.kyc.v1.KycService`` → ``kyc``, the name Settings knows its address by."""
    return service_full_name.split(".")[1]


def _serialize(request: Any) -> bytes:
    return request.SerializeToString()


def _codec(route: Route) -> dict[str, Any]:
    """A route's messages on the wire: any request as it is, the reply as its output type."""
    return {"request_serializer": _serialize, "response_deserializer": route.output_type.FromString}


def _market_of(request: Any) -> str | None:
    """The market a Matching request names (`market`, a market's `name`, CreateMarket's
    `market_id`), or None."""
    for field in ("market", "name"):
        value = getattr(request, field, None)
        if isinstance(value, str) and value.startswith(MARKET_PREFIX):
            return value
    value = getattr(request, "market_id", None)
    return value if isinstance(value, str) and value else None


class Upstreams:
    def __init__(self, settings: Settings, routes: Iterable[Route]) -> None:
        self._settings = settings
        self._routes = tuple(routes)
        self.services: tuple[str, ...] = tuple(sorted({service_key(r.service_name) for r in self._routes}))
        self._shards = settings.matching_shard_map()
        self._channels: dict[str, grpc.aio.Channel] = {}  # by address
        self._unary: dict[tuple[str, str], grpc.aio.UnaryUnaryMultiCallable] = {}
        self._stream: dict[tuple[str, str], grpc.aio.UnaryStreamMultiCallable] = {}

    def channel(self, service: str, address: str | None = None) -> grpc.aio.Channel:
        # Created on first use, inside the serving event loop that grpc.aio binds it to.
        address = address or self._settings.address_of(service)
        channel = self._channels.get(address)
        if channel is None:
            channel = grpc.aio.insecure_channel(address, options=channel_options(self._settings.max_message_bytes))
            self._channels[address] = channel
        return channel

    def unary(self, route: Route, request: Any = None) -> grpc.aio.UnaryUnaryMultiCallable:
        key = (route.grpc_path, self.address_of(route, request))
        if key not in self._unary:
            self._unary[key] = self.channel("", key[1]).unary_unary(route.grpc_path, **_codec(route))
        return self._unary[key]

    def stream(self, route: Route, request: Any = None) -> grpc.aio.UnaryStreamMultiCallable:
        key = (route.grpc_path, self.address_of(route, request))
        if key not in self._stream:
            self._stream[key] = self.channel("", key[1]).unary_stream(route.grpc_path, **_codec(route))
        return self._stream[key]

    def address_of(self, route: Route, request: Any) -> str:
        """Where a call goes: its service's address; a Matching call naming a market, its shard."""
        service = service_key(route.service_name)
        if service == "matching" and self._shards.count > 1 and (market := _market_of(request)) is not None:
            return self._shards.address_of(market)
        return self._settings.address_of(service)

    async def _health_of(self, service: str) -> str:
        check = self.channel(service).unary_unary(
            HEALTH_CHECK, request_serializer=_serialize,
            response_deserializer=health_pb2.HealthCheckResponse.FromString)
        try:
            reply = await check(health_pb2.HealthCheckRequest(service=""), timeout=HEALTH_TIMEOUT_SECS)
        except grpc.aio.AioRpcError as exc:
            return exc.code().name
        return str(health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status))

    async def health(self) -> dict[str, str]:
        """Each service's overall gRPC health status by name (SERVING, NOT_SERVING, UNAVAILABLE...)."""
        statuses = await asyncio.gather(*(self._health_of(name) for name in self.services))
        return dict(zip(self.services, statuses))

    async def close(self) -> None:
        await asyncio.gather(*(channel.close() for channel in self._channels.values()))
        self._channels.clear()
        self._unary.clear()
        self._stream.clear()
