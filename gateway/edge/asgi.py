"""The edge as a plain ASGI application: the hot path is a handful of dict look-ups, the
core's precompiled transcoding, and one cached gRPC callable; all descriptor work was done
when the app was built.

Per request: request id (kept or minted) → server span continuing ``traceparent`` → CORS →
open endpoints (/healthz, /metrics, /openapi.json, /docs) → bearer token → rate limit (by
subject, or client address when anonymous) → transcode → gRPC call with the caller's token,
request id and trace context → JSON, NDJSON or SSE. Every refusal is a google.rpc.Status.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import time
from collections.abc import Mapping
from typing import Any

import grpc
import orjson
from opentelemetry import context, propagate, trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Status, StatusCode

from gateway.edge import docs
from gateway.edge.auth import Authenticator
from gateway.edge.cors import CorsPolicy
from gateway.edge.errors import Internal, OriginNotAllowed, RateLimited, Unauthenticated
from gateway.edge.http import ClientGone, Header, Message, Receive, Scope, Send, read_body, respond
from gateway.edge.metrics import EdgeMetrics
from gateway.edge.ratelimit import RateLimiter
from gateway.edge.tracing import ServerSpans
from gateway.edge.upstream import Upstreams
from gateway.edge.upstream_errors import error_answer, status_of
from gateway.transcode import (
    JSON_CONTENT_TYPE,
    NDJSON_CONTENT_TYPE,
    SSE_CONTENT_TYPE,
    MethodNotAllowed,
    RouteNotFound,
    TranscodeError,
    Transcoder,
    error_json,
    ndjson_error,
    sse_error,
)
from gateway.transcode.rules import Route
from services.runtime.logs import correlation_id_var

log = logging.getLogger("clearmesh.edge")

JSON = JSON_CONTENT_TYPE.encode()
UNARY_DEADLINE_SECS = 30.0
# A stream whose first message is not there within this wait gets its 200 headers anyway,
# so a quiet stream is not mistaken for a hung request; failures after that arrive in-band.
STREAM_HEADERS_WAIT_SECS = 1.0
OPEN_PATHS = frozenset({"/healthz", "/metrics", "/openapi.json", "/docs", "/docs/"})
UNTRACED_PATHS = frozenset({"/healthz", "/metrics"})
_REQUEST_ID = re.compile(rb"[A-Za-z0-9._:\-]{1,128}")


class _BytesHeaders(Getter[Mapping[bytes, bytes]]):
    """Lets OpenTelemetry's propagator read ASGI's byte headers."""

    def get(self, carrier: Mapping[bytes, bytes], key: str) -> list[str] | None:
        value = carrier.get(key.encode("latin-1"))
        return [value.decode("latin-1")] if value is not None else None

    def keys(self, carrier: Mapping[bytes, bytes]) -> list[str]:
        return [key.decode("latin-1") for key in carrier]


_GETTER = _BytesHeaders()


def _request_id(incoming: bytes | None) -> bytes:
    """The caller's x-request-id when it is a sane token, else a fresh one (128 random bits)."""
    if incoming is not None and _REQUEST_ID.fullmatch(incoming):
        return incoming
    return os.urandom(16).hex().encode()


def _upstream_timing(seconds: float) -> Header:
    """W3C Server-Timing with the service call's duration: lets a client (and bench/edge.py)
    tell the service's time from the edge's own."""
    return (b"server-timing", b"upstream;dur=%.3f" % (seconds * 1000))


def _log_level(route: str, status: int) -> int:
    """Failures always; the edge's own refusals at INFO; calls a service answered at DEBUG,
    since that service logs each RPC with the same request id (no double access log)."""
    if status >= 500:
        return logging.WARNING
    if route in ("unmatched", "preflight"):
        return logging.INFO
    return logging.DEBUG


class EdgeApp:
    def __init__(self, *, transcoder: Transcoder, upstreams: Upstreams, authenticator: Authenticator,
                 limiter: RateLimiter, cors: CorsPolicy, metrics: EdgeMetrics, openapi: bytes,
                 max_body_bytes: int) -> None:
        self.transcoder = transcoder
        self.upstreams = upstreams
        self._authenticator = authenticator
        self._limiter = limiter
        self._cors = cors
        self.metrics = metrics
        self._openapi = openapi
        self._max_body = max_body_bytes
        self._pool = transcoder.rules.pool
        self._spans = ServerSpans()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await self.upstreams.close()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        headers: dict[bytes, bytes] = dict(scope["headers"])
        method: str = scope["method"]
        request_id = _request_id(headers.get(b"x-request-id"))
        correlation_id_var.set(request_id.decode())
        extra = [(b"x-request-id", request_id), *self._cors.response_headers(headers.get(b"origin"))]
        parent = propagate.extract(headers, getter=_GETTER) if b"traceparent" in headers else None
        # Probes and scrapes are no work anyone waits for: not traced, like gRPC health checks.
        span = trace.INVALID_SPAN if scope["path"] in UNTRACED_PATHS else self._spans.start(method, parent)
        # Current for the call's traceparent and the log lines' trace ids; like
        # start_as_current_span, on the current context (not the extracted one).
        attached = context.attach(trace.set_span_in_context(span))
        response_started = False

        async def tracked_send(message: Message) -> None:
            nonlocal response_started
            response_started = response_started or message["type"] == "http.response.start"
            await send(message)

        route, status = "unmatched", 500
        try:
            route, status = await self._dispatch(scope, receive, tracked_send, headers, extra, request_id)
        except ClientGone:
            status = 499
        except Exception:  # a fault of ours: logged in full, answered as a Status
            log.exception("edge failure", extra={"fields": {"http.method": method, "http.path": scope["path"]}})
            if not response_started:
                await self._refuse(send, Internal("INTERNAL", "internal error"), extra)
        finally:
            if span.is_recording():
                span.update_name(f"{method} {route}")
                span.set_attributes({"http.request.method": method, "http.route": route,
                                     "http.response.status_code": status})
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
            elapsed = time.perf_counter() - started
            self.metrics.observe(method, route, status, elapsed)
            level = _log_level(route, status)
            if log.isEnabledFor(level):
                log.log(level, "http", extra={"fields": {
                    "http.method": method, "http.route": route, "http.status": status,
                    "duration_ms": round(elapsed * 1000, 3)}})
            context.detach(attached)
            span.end()

    async def _refuse(self, send: Send, error: TranscodeError, extra: list[Header]) -> int:
        headers = list(extra)
        if isinstance(error, MethodNotAllowed):
            headers.append((b"allow", ", ".join(error.allowed_methods).encode()))
        elif isinstance(error, Unauthenticated):
            # RFC 6750 §3: no error code when no credentials were sent at all.
            challenge = b"Bearer" if error.reason == "UNAUTHENTICATED" else b'Bearer error="invalid_token"'
            headers.append((b"www-authenticate", challenge))
        elif isinstance(error, RateLimited):
            headers.append((b"retry-after", str(error.retry_after).encode()))
        await respond(send, error.http_status, orjson.dumps(error_json(error)), JSON, headers)
        return error.http_status

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send, headers: dict[bytes, bytes],
                        extra: list[Header], request_id: bytes) -> tuple[str, int]:
        method: str = scope["method"]
        path: str = scope["path"]
        origin = headers.get(b"origin")
        if method == "OPTIONS" and origin is not None and b"access-control-request-method" in headers:
            if not self._cors.allows(origin):
                error = OriginNotAllowed("CORS_ORIGIN_NOT_ALLOWED", "This origin may not call the API")
                return "preflight", await self._refuse(send, error, extra)
            await respond(send, 204, b"", b"text/plain", [(b"x-request-id", request_id),
                                                           *self._cors.preflight_headers(origin)])
            return "preflight", 204
        if method == "GET" and (path in OPEN_PATHS or path.startswith(docs.ASSET_PREFIX)):
            # One metrics label for every asset path, so unknown ones cannot grow the label set.
            label = path if path in OPEN_PATHS else f"{docs.ASSET_PREFIX}{{asset}}"
            return label, await self._open(path, send, extra)

        authorization = headers.get(b"authorization")
        refusal: Unauthenticated | None = None
        subject = ""
        try:
            subject = await self._authenticator.subject(authorization.decode("latin-1") if authorization else None)
        except Unauthenticated as exc:
            refusal = exc
        client = scope.get("client")
        try:
            await self._limiter.admit(subject or f"ip:{client[0] if client else 'unknown'}")
        except RateLimited as exc:
            return "unmatched", await self._refuse(send, exc, extra)
        if refusal is not None:
            return "unmatched", await self._refuse(send, refusal, extra)

        raw_path = scope.get("raw_path") or path.encode()
        try:
            body = await read_body(receive, self._max_body, headers.get(b"content-length"))
            call = self.transcoder.transcode(method, raw_path.decode("latin-1"),
                                             scope.get("query_string", b"").decode("latin-1"), body)
        except TranscodeError as exc:
            return "unmatched", await self._refuse(send, exc, extra)

        route = call.route
        trace_context: dict[str, str] = {}
        propagate.inject(trace_context)  # traceparent (and tracestate) of this request's span
        metadata = (("authorization", authorization.decode("latin-1")),  # type: ignore[union-attr]  # authenticated: present
                    ("x-request-id", request_id.decode()), *trace_context.items())
        if route.server_streaming:
            sse = SSE_CONTENT_TYPE.encode() in headers.get(b"accept", b"")
            return route.template.source, await self._stream(route, call.request, metadata, sse, receive, send, extra)
        called = time.perf_counter()
        try:
            reply = await self.upstreams.unary(route, call.request)(call.request, metadata=metadata, timeout=UNARY_DEADLINE_SECS)
        except grpc.aio.AioRpcError as exc:
            timing = _upstream_timing(time.perf_counter() - called)
            return route.template.source, await self._upstream_error(send, exc, [*extra, timing])
        # The clock stops with the reply in hand: encoding it is the edge's own time.
        timing = _upstream_timing(time.perf_counter() - called)
        await respond(send, 200, self.transcoder.responses.unary(route, reply), JSON, [*extra, timing])
        return route.template.source, 200

    async def _upstream_error(self, send: Send, exc: grpc.aio.AioRpcError, extra: list[Header]) -> int:
        http_status, status, headers = error_answer(exc, self._pool)
        await respond(send, http_status, orjson.dumps(status), JSON, [*extra, *headers])
        return http_status

    async def _stream(self, route: Route, request: Any, metadata: tuple[tuple[str, str], ...], sse: bool,
                      receive: Receive, send: Send, extra: list[Header]) -> int:
        """Server streaming: failures before the first message get their HTTP status; after the
        headers went out a failure is one in-band line (NDJSON ``{"error": ...}`` / SSE ``event: error``)."""
        encode = self.transcoder.responses.sse_message if sse else self.transcoder.responses.ndjson_message
        encode_error = sse_error if sse else ndjson_error
        content_type = (SSE_CONTENT_TYPE if sse else NDJSON_CONTENT_TYPE).encode()
        call = self.upstreams.stream(route, request)(request, metadata=metadata)
        first = asyncio.ensure_future(call.read())
        try:
            await asyncio.wait({first}, timeout=STREAM_HEADERS_WAIT_SECS)
            if first.done() and (error := first.exception()) is not None:
                if isinstance(error, grpc.aio.AioRpcError):
                    return await self._upstream_error(send, error, extra)
                raise error
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-type", content_type), (b"cache-control", b"no-cache"),
                                    (b"x-accel-buffering", b"no"), *extra]})
            hang_up = asyncio.ensure_future(self._until_disconnect(receive, call))
            try:
                reply = await first
                while reply is not grpc.aio.EOF:
                    await send({"type": "http.response.body", "body": encode(route, reply),  # type: ignore[arg-type]  # stubs: read() -> object
                                "more_body": True})
                    reply = await call.read()
            except grpc.aio.AioRpcError as exc:
                if exc.code() is not grpc.StatusCode.CANCELLED or not hang_up.done():
                    await send({"type": "http.response.body", "body": encode_error(status_of(exc, self._pool)),
                                "more_body": True})
            finally:
                hang_up.cancel()
            await send({"type": "http.response.body", "body": b""})
            return 200
        finally:
            if not first.done():
                first.cancel()
            call.cancel()

    @staticmethod
    async def _until_disconnect(receive: Receive, call: grpc.aio.UnaryStreamCall) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        call.cancel()

    async def _open(self, path: str, send: Send, extra: list[Header]) -> int:
        if path == "/healthz":
            statuses = await self.upstreams.health()
            healthy = all(status == "SERVING" for status in statuses.values())
            body = orjson.dumps({"status": "SERVING" if healthy else "NOT_SERVING", "services": statuses})
            await respond(send, 200 if healthy else 503, body, JSON, extra)
            return 200 if healthy else 503
        if path == "/metrics":
            await respond(send, 200, self.metrics.render(), EdgeMetrics.content_type, extra)
            return 200
        if path == "/openapi.json":
            await respond(send, 200, self._openapi, JSON, extra)
            return 200
        if path in ("/docs", "/docs/"):
            await respond(send, 200, docs.PAGE, b"text/html; charset=utf-8", extra)
            return 200
        name = path.removeprefix(docs.ASSET_PREFIX)
        content_type = docs.ASSETS.get(name)
        if content_type is None:
            return await self._refuse(send, RouteNotFound("ROUTE_NOT_FOUND", f"No document {path}"), extra)
        await respond(send, 200, docs.asset(name), content_type, [*extra, (b"cache-control", b"max-age=86400")])
        return 200
