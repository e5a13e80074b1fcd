"""The server interceptors every service runs, outermost first: StreamClosing, OpenTelemetry's,
then CallInterceptor.

grpc.aio interceptors see only the method name and metadata, so both of ours wrap the method
handler they return: that is where the call's duration, status and exceptions become visible,
and where a response stream can be closed by its own call.
"""

from __future__ import annotations

import inspect
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any

import grpc
from grpc_status import rpc_status

from services.runtime import metrics
from services.runtime.auth import AccessRule, TokenIssuer, authenticate, authorize, bind_principal
from services.runtime.errors import DomainError, Unimplemented
from services.runtime.status import grpc_code, internal_status, outage, to_status_proto
from services.runtime.logs import correlation_id_var

log = logging.getLogger("clearmesh.rpc")


# Health and reflection stay open to anyone: probes and grpcurl carry no token.
OPEN_PREFIXES = ("/grpc.health.v1.", "/grpc.reflection.")


def _metadata(details: grpc.HandlerCallDetails) -> dict[str, str]:
    return {key: value for key, value in (details.invocation_metadata or ())
            if isinstance(value, str)}


def _wrap(handler: grpc.RpcMethodHandler, method: str,
          admit: Callable[[grpc.aio.ServicerContext], None]) -> grpc.RpcMethodHandler:
    """The same handler, each call admitted by `admit`, timed, logged, errors → rich status.

    Every kind of RPC is wrapped, so none can skip authentication; whether the request
    streams does not matter here (it is passed through), only whether the response does.
    """
    kind = ("stream" if handler.request_streaming else "unary") + "_" + (
        "stream" if handler.response_streaming else "unary")
    inner = getattr(handler, kind)

    async def streaming(request: Any, context: grpc.aio.ServicerContext) -> AsyncIterator[Any]:
        started = time.perf_counter()
        open_streams = metrics.open_streams(method)
        open_streams.inc()
        try:
            admit(context)
            result = inner(request, context)
            if inspect.isasyncgen(result):
                async for item in result:
                    yield item
            elif inspect.isawaitable(result):
                await result
        except BaseException as exc:  # noqa: BLE001 - mapped, logged and re-raised as status
            await _fail(exc, method, context, started)
        else:
            _log(method, grpc.StatusCode.OK, started)
        finally:
            open_streams.dec()

    async def single(request: Any, context: grpc.aio.ServicerContext) -> Any:
        started = time.perf_counter()
        try:
            admit(context)
            result = inner(request, context)
            if inspect.isawaitable(result):
                result = await result
        except BaseException as exc:  # noqa: BLE001 - mapped, logged and re-raised as status
            await _fail(exc, method, context, started)
        _log(method, grpc.StatusCode.OK, started)
        return result

    factory = getattr(grpc, f"{kind}_rpc_method_handler")
    return factory(streaming if handler.response_streaming else single,
                   request_deserializer=handler.request_deserializer,
                   response_serializer=handler.response_serializer)


def _log(method: str, code: grpc.StatusCode, started: float, **fields: object) -> None:
    elapsed = time.perf_counter() - started
    metrics.observe(method, code, elapsed)
    log.info("rpc", extra={"fields": {"rpc.method": method, "grpc.code": code.name,
                                      "duration_ms": round(elapsed * 1000, 3), **fields}})


async def _fail(exc: BaseException, method: str, context: grpc.aio.ServicerContext,
                started: float) -> None:
    if isinstance(exc, NotImplementedError):
        # The generated base servicer raises this for every RPC a service has not built yet.
        exc = Unimplemented("NOT_IMPLEMENTED", f"{method} is not implemented yet")
    if (isinstance(exc, Exception) and not isinstance(exc, (DomainError, grpc.aio.AbortError, grpc.aio.UsageError))
            and (unreachable := outage(exc))):
        log.warning("a store is unreachable", exc_info=exc, extra={"fields": {"rpc.method": method}})
        exc = unreachable
    if isinstance(exc, DomainError):
        _log(method, grpc_code(exc), started, reason=exc.reason)
        await context.abort_with_status(rpc_status.to_status(to_status_proto(exc)))
    if isinstance(exc, (grpc.aio.AbortError, grpc.aio.UsageError)) or not isinstance(exc, Exception):
        raise exc  # an abort already under way, or cancellation: not ours to rewrite
    log.exception("unhandled error", exc_info=exc, extra={"fields": {"rpc.method": method}})
    await context.abort_with_status(rpc_status.to_status(internal_status()))


class CallInterceptor(grpc.aio.ServerInterceptor):
    """Per call: request id (from `x-request-id` or new), the caller's token and the method's
    access rule checked before the servicer runs, one access-log line, errors → rich status."""

    def __init__(self, issuer: TokenIssuer, rules: Mapping[str, AccessRule], *,
                 trust_mesh: bool) -> None:
        self._issuer = issuer
        self._rules = rules
        self._trust_mesh = trust_mesh

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None or details.method.startswith(OPEN_PREFIXES):
            return handler
        metadata = _metadata(details)
        method = details.method

        def admit(context: grpc.aio.ServicerContext) -> None:
            correlation_id_var.set(metadata.get("x-request-id") or uuid.uuid4().hex)
            principal = authenticate(metadata, self._issuer, trust_mesh=self._trust_mesh)
            authorize(method, principal, self._rules)
            bind_principal(principal)

        return _wrap(handler, method, admit)


class StreamClosing(grpc.aio.ServerInterceptor):
    """The outermost interceptor: a response stream is written by a coroutine of the call's
    own (`context.write`) that closes the generator chain beneath it when the call ends.

    grpc.aio drives a handler's response generator with a plain `async for` and never closes
    it: when a client leaves a stream while the generators are suspended at a `yield`, the
    garbage collector closes them later in another context, where the tracing interceptor's
    span context cannot be detached (OpenTelemetry then logs "Failed to detach context" as an
    error, on every cancelled stream: open-telemetry/opentelemetry-python-contrib#2357,
    grpc/grpc#42295). Closed here, they unwind inside the call that opened them."""

    async def intercept_service(
            self, continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler[Any, Any] | None]],
            details: grpc.HandlerCallDetails) -> grpc.RpcMethodHandler[Any, Any] | None:
        handler = await continuation(details)
        if handler is None or not handler.response_streaming:
            return handler
        kind = ("stream" if handler.request_streaming else "unary") + "_stream"
        inner = getattr(handler, kind)

        async def written(request: Any, context: grpc.aio.ServicerContext) -> None:
            responses = inner(request, context)
            if not inspect.isasyncgen(responses):  # already written with context.write
                if inspect.isawaitable(responses):
                    await responses
                return
            try:
                async for response in responses:
                    await context.write(response)
            finally:
                await responses.aclose()

        factory = getattr(grpc, f"{kind}_rpc_method_handler")
        return factory(written, request_deserializer=handler.request_deserializer,
                       response_serializer=handler.response_serializer)
