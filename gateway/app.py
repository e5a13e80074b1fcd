"""The Python REST edge: ``create_app(settings)`` builds the ASGI app, ``serve(settings)`` runs it.

Routes come only from the ``google.api.http`` rules of the packaged descriptor set
(``clearmesh/descriptor.binpb``); an RPC without a binding is not reachable from here.
"""

from __future__ import annotations

import logging

import orjson
import uvicorn
from prometheus_client import start_http_server

from gateway.descriptor import load_descriptor_set
from gateway.edge.asgi import EdgeApp
from gateway.edge.auth import Authenticator, verifier_for
from gateway.edge.cors import CorsPolicy
from gateway.edge.metrics import EdgeMetrics
from gateway.edge.ratelimit import RateLimiter
from gateway.edge.transport import CoalescingHttpToolsProtocol
from gateway.edge.upstream import Upstreams
from gateway.transcode import Transcoder, build_openapi
from services.runtime.collector import tune_collector
from services.runtime.logs import configure_logging
from services.runtime.loop import run as run_loop
from services.runtime.settings import Settings
from services.runtime.telemetry import configure_tracing, shutdown_tracing

log = logging.getLogger("clearmesh.edge")


def create_app(settings: Settings, *, descriptor: bytes | None = None) -> EdgeApp:
    transcoder = Transcoder.from_descriptor_set(descriptor if descriptor is not None else load_descriptor_set())
    return EdgeApp(
        transcoder=transcoder,
        upstreams=Upstreams(settings, transcoder.rules.routes),
        authenticator=Authenticator(verifier_for(settings)),
        limiter=RateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst, settings.redis_url),
        cors=CorsPolicy(settings.cors_allowed_origins),
        metrics=EdgeMetrics(),
        openapi=orjson.dumps(build_openapi(transcoder.rules)),
        max_body_bytes=settings.max_message_bytes,
    )


def server_config(app: EdgeApp, settings: Settings, *, port: int | None = None) -> uvicorn.Config:
    return uvicorn.Config(
        app, host=settings.edge_host, port=settings.edge_port if port is None else port,
        # uvicorn's httptools protocol, each response's headers and body in one segment.
        http=CoalescingHttpToolsProtocol, loop="asyncio", lifespan="on", access_log=False, log_config=None,
        # On SIGTERM uvicorn stops accepting, lets in-flight requests finish within the grace
        # period, then runs the lifespan shutdown that closes the upstream channels.
        timeout_graceful_shutdown=max(1, int(settings.shutdown_grace_secs)),
    )


async def serve(settings: Settings) -> None:
    """Runs the edge on CLEARMESH_EDGE_PORT (8080) until SIGTERM or SIGINT, then drains."""
    configure_logging("edge", settings.log_level)
    configure_tracing("edge", settings)
    app = create_app(settings)
    if settings.metrics_port is not None:
        # Also on the design's metrics port (9090 for the edge under `clearmesh up`), like
        # every service; /metrics on the edge's own port serves the same registry.
        start_http_server(settings.metrics_port, registry=app.metrics.registry)
    server = uvicorn.Server(server_config(app, settings))
    # What start-up built (modules, routes, the transcoder's messages) out of the collector's
    # sight, as every service does (services/runtime/collector.py): with tracing on, each
    # request's span waits in the export queue long enough to be promoted, and the full
    # collections that follow would walk all of it again and again.
    tune_collector()
    await server.serve()
    shutdown_tracing()


def main() -> None:
    run_loop(serve(Settings()))


if __name__ == "__main__":
    main()
