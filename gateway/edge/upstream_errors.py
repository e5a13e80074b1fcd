"""A failed gRPC call as the HTTP answer: mapped status, google.rpc.Status body, and the
headers that status implies (WWW-Authenticate for 401, Retry-After from RetryInfo for 429)."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Mapping
from typing import Any

import grpc
from google.protobuf import descriptor_pool

from gateway.edge.http import Header
from gateway.transcode import http_status_for, status_json
from gateway.transcode.status import STATUS_DETAILS_HEADER


def _trailer(exc: grpc.aio.AioRpcError, key: str) -> Any:
    for name, value in exc.trailing_metadata() or ():
        if name == key:
            return value
    return None


def retry_after(status: Mapping[str, Any]) -> int | None:
    """Seconds from a RetryInfo detail (e.g. ``"1.5s"``), for the Retry-After header."""
    for detail in status.get("details", ()):
        if str(detail.get("@type", "")).endswith("google.rpc.RetryInfo"):
            delay = str(detail.get("retryDelay", "")).rstrip("s")
            with contextlib.suppress(ValueError):
                return max(1, math.ceil(float(delay)))
    return None


def status_of(exc: grpc.aio.AioRpcError, pool: descriptor_pool.DescriptorPool) -> dict[str, Any]:
    """The google.rpc.Status JSON, details from ``grpc-status-details-bin``."""
    return status_json(exc.code(), exc.details() or "", _trailer(exc, STATUS_DETAILS_HEADER), pool=pool)


def error_answer(exc: grpc.aio.AioRpcError, pool: descriptor_pool.DescriptorPool) -> tuple[int, dict[str, Any], list[Header]]:
    status = status_of(exc, pool)
    http_status = http_status_for(exc.code())
    headers: list[Header] = []
    if http_status == 401:
        headers.append((b"www-authenticate", b'Bearer error="invalid_token"'))
    elif http_status == 429 and (seconds := retry_after(status)) is not None:
        headers.append((b"retry-after", str(seconds).encode()))
    return http_status, status, headers
