"""The one bootstrap every service starts with.

settings → logs → tracing → migrations → servicer → aio server (its one interceptor, health,
reflection, keepalive and size limits) → SERVING → on SIGTERM: NOT_SERVING, drain in-flight
calls within the grace period, stop background work, flush spans.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf.descriptor import ServiceDescriptor
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection
from functools import cached_property
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime import migrate
from services.runtime.auth import access_rules, token_issuer
from services.runtime.channels import ServiceToken, dial, no_token
from services.runtime.clock import Clock, SystemClock
from services.runtime.collector import tune_collector
from services.runtime.database import create_engine
from services.runtime.interceptors import CallInterceptor
from services.runtime.jwks import jwks_keys, keep_fresh
from services.runtime.logs import configure_logging
from services.runtime.metrics import serve_metrics
from services.runtime.rpc_tracing import ServerSpans
from services.runtime.settings import Settings
from services.runtime.shards import MatchingShards
from services.runtime.telemetry import configure_tracing, shutdown_tracing
from services.runtime.transactions import Transactions

log = logging.getLogger("clearmesh.server")


@dataclass(frozen=True)
class ServiceSpec:
    """What makes a service: its contract, how to build its servicer, its migrations."""

    name: str
    descriptor: ServiceDescriptor
    register: Callable[[Any, grpc.aio.Server], None]
    build: Callable[[ServiceRuntime], Awaitable[Any]]
    migrations: Path | None = None


class ServiceRuntime:
    """What a servicer gets from the runtime: settings, database, clock, peers, background tasks."""

    def __init__(self, spec: ServiceSpec, settings: Settings, clock: Clock) -> None:
        self.spec = spec
        self.settings = settings
        self.clock = clock
        self.jwks = jwks_keys(settings.jwks_url)
        self.issuer = token_issuer(settings, jwks=self.jwks)
        self.database_url = settings.database_url_for(spec.name)
        self.engine: AsyncEngine = create_engine(self.database_url, sqlite_synchronous=settings.sqlite_synchronous,
                                                   timeout_secs=settings.database_timeout_secs,
                                                   sql_span_min_ms=settings.sql_span_min_ms)
        self._token = ServiceToken(self.issuer, spec.name, settings.jwt_expiration_hours * 3600)
        self._channels: dict[str, grpc.aio.Channel] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closers: list[Callable[[], Awaitable[None]]] = []

    @cached_property
    def transactions(self) -> Transactions:
        """The service's read and write transactions (built once: it hooks the engine), keeping
        their SQLite connections between calls until `close`."""
        return Transactions(self.engine, keep_connections=True)

    def channel(self, service: str, address: str | None = None) -> grpc.aio.Channel:
        """A shared channel to another clearmesh service (at `address`, else its configured
        one), calling as this service."""
        address = address or self.settings.address_of(service)
        if address not in self._channels:
            # In the mesh the mTLS identity names the caller; a token of ours would meet the
            # sidecar's RequestAuthentication, which knows only the identity provider's keys.
            token = no_token if self.settings.trust_mesh_identity else self._token
            self._channels[address] = dial(address, token, self.settings.max_message_bytes)
        return self._channels[address]

    @cached_property
    def matching(self) -> MatchingShards:
        """Channels to the Matching shard that owns a market, or to every shard."""
        return MatchingShards(self.settings.matching_shard_map(), lambda address: self.channel("matching", address))

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Background work that lives as long as the server; a crash in it is logged loudly."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)

        def done(finished: asyncio.Task[Any]) -> None:
            self._tasks.discard(finished)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("background task failed", exc_info=finished.exception(),
                          extra={"fields": {"task": name}})

        task.add_done_callback(done)
        return task

    def on_close(self, closer: Callable[[], Awaitable[None]]) -> None:
        self._closers.append(closer)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for closer in reversed(self._closers):
            await closer()
        for channel in self._channels.values():
            await channel.close()
        if "transactions" in self.__dict__:  # built (cached_property): its kept connections go back first
            await self.transactions.close()
        await self.engine.dispose()


def server_options(settings: Settings) -> list[tuple[str, int]]:
    return [
        ("grpc.max_receive_message_length", settings.max_message_bytes),
        ("grpc.max_send_message_length", settings.max_message_bytes),
        # Accept the clients' 30 s keepalive pings (and idle ones) instead of answering
        # GOAWAY too_many_pings; 10 s leaves margin below the client interval.
        ("grpc.http2.min_ping_interval_without_data_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        # gRPC sets SO_REUSEPORT by default: a second server bound to a port already served
        # would then share it, and the kernel would split the connections between the two —
        # a call answered "Method not found!" by whatever other service holds the port. Off,
        # the second one fails to start, saying the address is in use.
        ("grpc.so_reuseport", 0),
    ]


@dataclass
class RunningService:
    spec: ServiceSpec
    server: grpc.aio.Server
    port: int
    health: health.aio.HealthServicer
    runtime: ServiceRuntime

    async def stop(self, grace: float | None = None) -> None:
        """NOT_SERVING first, so load balancers stop sending, then drain and release."""
        await self.health.enter_graceful_shutdown()
        await self.server.stop(self.runtime.settings.shutdown_grace_secs if grace is None else grace)
        await self.runtime.close()


async def start(spec: ServiceSpec, settings: Settings, *, clock: Clock | None = None,
                port: int | None = None) -> RunningService:
    """Builds and starts the service; it answers SERVING when this returns."""
    configure_tracing(spec.name, settings)
    if settings.should_migrate_on_start(spec.name):
        await migrate.upgrade(settings.database_url_for(spec.name), spec.migrations)
    runtime = ServiceRuntime(spec, settings, clock or SystemClock())
    if runtime.jwks is not None and runtime.jwks.fetched:
        # Tokens are checked on the event loop: keep the identity provider's keys cached.
        runtime.spawn(keep_fresh(runtime.jwks), "jwks-refresh")
    servicer = await spec.build(runtime)

    rules = access_rules([spec.descriptor])
    server = grpc.aio.server(
        interceptors=[CallInterceptor(runtime.issuer, rules, trust_mesh=settings.trust_mesh_identity,
                                      spans=ServerSpans())],
        options=server_options(settings))
    spec.register(servicer, server)
    health_servicer = health.aio.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    reflection.enable_server_reflection(
        [spec.descriptor.full_name, health.SERVICE_NAME, reflection.SERVICE_NAME], server)
    for name in ("", spec.descriptor.full_name):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    try:
        bound = server.add_insecure_port(f"{settings.grpc_host}:{settings.port_for(spec.name) if port is None else port}")
    except RuntimeError:  # the port is taken: nothing of this service is left running
        await runtime.close()
        raise
    await server.start()
    for name in ("", spec.descriptor.full_name):
        await health_servicer.set(name, health_pb2.HealthCheckResponse.SERVING)
    log.info("serving", extra={"fields": {"service": spec.name, "port": bound}})
    return RunningService(spec, server, bound, health_servicer, runtime)


async def serve(spec: ServiceSpec, settings: Settings) -> None:
    """Runs until SIGTERM or SIGINT, then shuts down gracefully."""
    configure_logging(spec.name, settings.log_level)
    serve_metrics(settings.metrics_port)
    running = await start(spec, settings)
    tune_collector()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("draining", extra={"fields": {"service": spec.name}})
    await running.stop()
    shutdown_tracing()


def contract_spec(name: str, pb2: Any, pb2_grpc: Any, service: str,
                  build: Callable[[ServiceRuntime], Awaitable[Any]] | None = None,
                  migrations: Path | None = None) -> ServiceSpec:
    """A ServiceSpec derived from the generated modules. Without `build`, the generated base
    servicer serves: every RPC answers UNIMPLEMENTED, honestly, until it is built."""

    async def unimplemented(_runtime: ServiceRuntime) -> Any:
        return getattr(pb2_grpc, f"{service}Servicer")()

    return ServiceSpec(
        name=name,
        descriptor=pb2.DESCRIPTOR.services_by_name[service],
        register=getattr(pb2_grpc, f"add_{service}Servicer_to_server"),
        build=build or unimplemented,
        migrations=migrations,
    )
