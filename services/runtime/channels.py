"""Client channels between services: keepalive, message caps, trace context, the calling
service's token and the request id carried onto every outgoing call."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc

from services.runtime.auth import TokenIssuer
from services.runtime.logs import correlation_id_var
from services.runtime.metrics import ClientMetrics
from services.runtime.telemetry import client_interceptors


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


class _OutgoingMetadata:
    def __init__(self, token: Callable[[], str]) -> None:
        self._token = token

    def _details(self, details: grpc.aio.ClientCallDetails) -> grpc.aio.ClientCallDetails:
        metadata = grpc.aio.Metadata(*(details.metadata or ()))
        if "authorization" not in metadata and (token := self._token()):
            metadata.add("authorization", f"Bearer {token}")
        if (request_id := correlation_id_var.get()) and "x-request-id" not in metadata:
            metadata.add("x-request-id", request_id)
        return grpc.aio.ClientCallDetails(details.method, details.timeout, metadata,
                                          details.credentials, details.wait_for_ready)


class _UnaryMetadata(_OutgoingMetadata, grpc.aio.UnaryUnaryClientInterceptor):
    async def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


class _StreamMetadata(_OutgoingMetadata, grpc.aio.UnaryStreamClientInterceptor):
    async def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return await continuation(self._details(details), request)


def dial(target: str, token: Callable[[], str], max_message_bytes: int) -> grpc.aio.Channel:
    return grpc.aio.insecure_channel(
        target, options=channel_options(max_message_bytes),
        # grpc.aio files an interceptor under the first kind it is an instance of, so each kind
        # of call (unary, server stream) gets an instance of its own.
        interceptors=[*client_interceptors(), _UnaryMetadata(token), _StreamMetadata(token), ClientMetrics()])
