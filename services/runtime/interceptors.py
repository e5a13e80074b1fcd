"""The server interceptor every service runs after OpenTelemetry's.

grpc.aio interceptors see only the method name and metadata, so this one wraps the method
handler it returns: that is where the call's duration, status and exceptions become visible.
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
from services.runtime.status import grpc_code, internal_status, to_status_proto
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
    metrics.observe(method, code.name, elapsed)
    log.info("rpc", extra={"fields": {"rpc.method": method, "grpc.code": code.name,
                                      "duration_ms": round(elapsed * 1000, 3), **fields}})


async def _fail(exc: BaseException, method: str, context: grpc.aio.ServicerContext,
                started: float) -> None:
    if isinstance(exc, NotImplementedError):
        # The generated base servicer raises this for every RPC a service has not built yet.
        exc = Unimplemented("NOT_IMPLEMENTED", f"{method} is not implemented yet")
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
