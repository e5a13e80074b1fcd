"""Client channels between services: keepalive, message caps, and on every call the calling
service's token, the request id, the trace context (a CLIENT span when one is recorded) and
the client metrics.

No grpc.aio interceptor does this: with any client interceptor grpc.aio drives each call
through an InterceptedUnaryUnaryCall, a task of its own on top of the call's, and every layer
adds a coroutine and a new ClientCallDetails. `PeerChannel` instead hands each call to grpc.aio
as it is, with its metadata complete, and follows its end with a done callback (the span's
status and end, the metrics). Measured with bench/client_calls.py (a unary call to a
separate echo process, 32 at a time, the caller's process CPU per call): see that script's
docstring for the figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any

import grpc
from opentelemetry import trace

from services.runtime.auth import TokenIssuer
from services.runtime.logs import correlation_id_var
from services.runtime.metrics import observe_client
from services.runtime.rpc_tracing import ClientSpans, end_client_span


def channel_options(max_message_bytes: int) -> list[tuple[str, int]]:
    return [
        # Ping an idle connection every 30 s and give up after 10 s without an answer, so a
        # dead peer behind a silent network is noticed; the server permits this rate.
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.keepalive_permit_without_calls", 1),
        # A peer that restarts (a rollout, a crash) is back within seconds: retry connecting
        # from 0.1 s up to every 2 s, not gRPC's default of up to 120 s, during which every
        # call and every followed stream to it would fail at once with UNAVAILABLE.
        ("grpc.initial_reconnect_backoff_ms", 100),
        ("grpc.min_reconnect_backoff_ms", 100),
        ("grpc.max_reconnect_backoff_ms", 2_000),
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


class ServiceToken:
    """This service's own token, re-minted before it expires."""

    def __init__(self, issuer: TokenIssuer, service: str, ttl_seconds: int) -> None:
        self._issuer = issuer
        self._service = service
        self._refresh_after = ttl_seconds / 2
        self._token = ""
        self._minted = 0.0

    def __call__(self) -> str:
        if time.monotonic() - self._minted > self._refresh_after or not self._token:
            self._token = self._issuer.mint(service=self._service)
            self._minted = time.monotonic()
        return self._token


def no_token() -> str:
    """The token source of a caller known by its mesh identity: no authorization header."""
    return ""


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _status_of(call: Any) -> tuple[grpc.StatusCode, str]:
    """A finished call's code and details, read in its done callback. grpc.aio offers them only
    as coroutines; its own calls read the finished status from `_cython_call._status`, as here."""
    status = getattr(call._cython_call, "_status", None)  # grpc._cython.cygrpc.AioRpcStatus
    if status is None:  # not seen: a done call has its status
        return grpc.StatusCode.UNKNOWN, ""
    return _CODES.get(status.code(), grpc.StatusCode.UNKNOWN), status.details() or ""


class _Outgoing:
    """What every call of one channel adds: its metadata, its span, and what is done at its end."""

    def __init__(self, token: Callable[[], str], spans: ClientSpans) -> None:
        self._token = token
        self._spans = spans

    def start(self, method: str, metadata: Any) -> tuple[tuple[tuple[str, str], ...], Any]:
        """The call's complete metadata, and its recording span (None when none is recorded)."""
        given = tuple(metadata or ())
        added: list[tuple[str, str]] = []
        if (token := self._token()) and not any(key == "authorization" for key, _ in given):
            added.append(("authorization", f"Bearer {token}"))
        if (request_id := correlation_id_var.get()) and not any(key == "x-request-id" for key, _ in given):
            added.append(("x-request-id", request_id))
        span, carrier = self._spans.start(method)
        return (*given, *added, *carrier), span


def _unary_done(method: str, started: float, span: Any, call: Any) -> None:
    code, details = _status_of(call)
    observe_client(method, code, time.perf_counter() - started)
    if span is not None:
        end_client_span(span, code, details)


def _stream_done(span: Any, call: Any) -> None:
    end_client_span(span, *_status_of(call))


class _PeerMethod:
    """A method of a PeerChannel: grpc.aio's own callable, called with the complete metadata.
    The caller gets grpc.aio's call object itself; `_follow` hooks its end."""

    def __init__(self, inner: Any, method: str, outgoing: _Outgoing) -> None:
        self._inner = inner
        self._method = method
        self._outgoing = outgoing

    def __call__(self, request: Any, *, timeout: float | None = None, metadata: Any = None,
                 credentials: grpc.CallCredentials | None = None, wait_for_ready: bool | None = None,
                 compression: grpc.Compression | None = None) -> Any:
        started = time.perf_counter()
        sent, span = self._outgoing.start(self._method, metadata)
        call = self._inner(request, timeout=timeout, metadata=sent, credentials=credentials,
                           wait_for_ready=wait_for_ready, compression=compression)
        self._follow(call, started, span)
        return call

    def _follow(self, call: Any, started: float, span: Any) -> None:
        raise NotImplementedError


class _PeerUnary(_PeerMethod, grpc.aio.UnaryUnaryMultiCallable):
    """A unary method: the call counted and timed (services/runtime/metrics.py) and its span
    ended when it ends."""

    def _follow(self, call: Any, started: float, span: Any) -> None:
        call.add_done_callback(partial(_unary_done, self._method, started, span))


class _PeerStream(_PeerMethod, grpc.aio.UnaryStreamMultiCallable):
    """A server-streaming method: the metadata and span of a unary one; no metrics (streams a
    service follows live for hours: their duration says nothing)."""

    def _follow(self, call: Any, started: float, span: Any) -> None:
        if span is not None:
            call.add_done_callback(partial(_stream_done, span))


class PeerChannel(grpc.aio.Channel):
    """A grpc.aio channel to another service whose unary and server-streaming calls carry this
    service's token, the request id and the trace context, and are traced and measured.

    Stubs are built per call by the services (`WalletServiceStub(channel)`), each asking for
    every method of its service: the callables are kept, one per method and codec."""

    def __init__(self, channel: grpc.aio.Channel, outgoing: _Outgoing) -> None:
        self._channel = channel
        self._outgoing = outgoing
        self._unary: dict[tuple[Any, ...], _PeerUnary] = {}
        self._stream: dict[tuple[Any, ...], _PeerStream] = {}

    def unary_unary(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                    _registered_method: bool | None = False) -> _PeerUnary:
        key = (method, request_serializer, response_deserializer)
        if (callable_ := self._unary.get(key)) is None:
            callable_ = self._unary[key] = _PeerUnary(self._channel.unary_unary(
                method, request_serializer, response_deserializer, _registered_method),  # type: ignore[call-arg]  # stubs lack it
                method, self._outgoing)
        return callable_

    def unary_stream(self, method: str, request_serializer: Any = None, response_deserializer: Any = None,
                     _registered_method: bool | None = False) -> _PeerStream:
        key = (method, request_serializer, response_deserializer)
        if (callable_ := self._stream.get(key)) is None:
            callable_ = self._stream[key] = _PeerStream(self._channel.unary_stream(
                method, request_serializer, response_deserializer, _registered_method),  # type: ignore[call-arg]  # stubs lack it
                method, self._outgoing)
        return callable_

    # No service streams requests to another: these calls go out as they are.
    def stream_unary(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.stream_unary(*args, **kwargs)

    def stream_stream(self, *args: Any, **kwargs: Any) -> Any:
        return self._channel.stream_stream(*args, **kwargs)

    async def __aenter__(self) -> PeerChannel:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self, grace: float | None = None) -> None:
        await self._channel.close(grace)

    def get_state(self, try_to_connect: bool = False) -> grpc.ChannelConnectivity:
        return self._channel.get_state(try_to_connect)

    async def wait_for_state_change(self, last_observed_state: grpc.ChannelConnectivity) -> None:
        await self._channel.wait_for_state_change(last_observed_state)

    async def channel_ready(self) -> None:
        await self._channel.channel_ready()


def dial(target: str, token: Callable[[], str], max_message_bytes: int,
         tracer_provider: trace.TracerProvider | None = None) -> grpc.aio.Channel:
    """A channel to another service, calling with `token` (see PeerChannel); its spans go to
    `tracer_provider`, by default the process's (looked up again whenever it changes)."""
    channel = grpc.aio.insecure_channel(target, options=channel_options(max_message_bytes))
    return PeerChannel(channel, _Outgoing(token, ClientSpans(tracer_provider)))
