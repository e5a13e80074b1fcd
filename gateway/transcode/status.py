"""gRPC status → HTTP status and the JSON error body (MESH-CONVENTIONS §2.3, §2.4).

The body is the raw ``google.rpc.Status`` JSON that both grpc-gateway and Envoy
(``convert_grpc_status: true``) produce: ``{"code": <gRPC int>, "message": ..., "details": [...]}``.
``code`` is the **gRPC** code, not the HTTP one; ``details`` is always present.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from google.protobuf import any_pb2, descriptor_pool, json_format
from google.protobuf.message import DecodeError
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc import StatusCode

from gateway.transcode.errors import ERROR_DOMAIN, TranscodeError

# Same table in GW runtime/errors.go HTTPStatusFromCode and Envoy grpcToHttpStatus.
# FAILED_PRECONDITION is 400 on purpose (not 412): the client must change state, not headers.
HTTP_STATUS_BY_GRPC_CODE: Mapping[int, int] = MappingProxyType(
    {
        code_pb2.OK: 200,
        code_pb2.CANCELLED: 499,
        code_pb2.UNKNOWN: 500,
        code_pb2.INVALID_ARGUMENT: 400,
        code_pb2.DEADLINE_EXCEEDED: 504,
        code_pb2.NOT_FOUND: 404,
        code_pb2.ALREADY_EXISTS: 409,
        code_pb2.PERMISSION_DENIED: 403,
        code_pb2.RESOURCE_EXHAUSTED: 429,
        code_pb2.FAILED_PRECONDITION: 400,
        code_pb2.ABORTED: 409,
        code_pb2.OUT_OF_RANGE: 400,
        code_pb2.UNIMPLEMENTED: 501,
        code_pb2.INTERNAL: 500,
        code_pb2.UNAVAILABLE: 503,
        code_pb2.DATA_LOSS: 500,
        code_pb2.UNAUTHENTICATED: 401,
    }
)

STATUS_DETAILS_HEADER = "grpc-status-details-bin"


def grpc_code_value(code: StatusCode | int) -> int:
    """The integer of a gRPC code, whether given as ``grpc.StatusCode`` or int."""
    return code.value[0] if isinstance(code, StatusCode) else int(code)


def http_status_for(code: StatusCode | int) -> int:
    """HTTP status for a gRPC code; codes outside the table are 500."""
    return HTTP_STATUS_BY_GRPC_CODE.get(grpc_code_value(code), 500)


def decode_status_details(details_bin: bytes | str | None) -> status_pb2.Status | None:
    """Parse the ``grpc-status-details-bin`` trailer (a serialized google.rpc.Status).

    Accepts raw bytes (what grpcio hands over) or the base64 text form of the header.
    A value that does not parse is dropped: a broken detail must not hide the error.
    """
    if not details_bin:
        return None
    raw = details_bin
    if isinstance(raw, str):
        try:
            raw = base64.b64decode(raw + "=" * (-len(raw) % 4))
        except ValueError:
            return None
    try:
        return status_pb2.Status.FromString(raw)
    except DecodeError:
        return None


def _detail_to_json(detail: any_pb2.Any, pools: tuple[descriptor_pool.DescriptorPool, ...]) -> dict[str, Any]:
    """One Any detail as JSON with ``@type``; unknown types keep their raw bytes."""
    for pool in pools:
        try:
            return json_format.MessageToDict(detail, descriptor_pool=pool)
        except (TypeError, KeyError, json_format.Error):
            continue
    return {"@type": detail.type_url, "value": base64.b64encode(detail.value).decode("ascii")}


def status_json(
    code: StatusCode | int,
    message: str,
    details_bin: bytes | str | None = None,
    *,
    pool: descriptor_pool.DescriptorPool | None = None,
) -> dict[str, Any]:
    """The google.rpc.Status JSON for a failed call.

    ``code`` and ``message`` come from the ``grpc-status``/``grpc-message`` trailers
    (authoritative); ``details`` from ``grpc-status-details-bin``. ``pool`` resolves
    service-specific detail types; the default pool (google.rpc.*) is always tried.
    """
    details: list[dict[str, Any]] = []
    decoded = decode_status_details(details_bin)
    if decoded is not None:
        pools = (pool, descriptor_pool.Default()) if pool is not None else (descriptor_pool.Default(),)
        details = [_detail_to_json(d, pools) for d in decoded.details]
    return {"code": grpc_code_value(code), "message": message, "details": details}


def status_for_error(error: TranscodeError) -> status_pb2.Status:
    """The google.rpc.Status an edge-side refusal is reported with (ErrorInfo always, AIP-193)."""
    status = status_pb2.Status(code=grpc_code_value(error.grpc_code), message=error.message)
    status.details.add().Pack(
        error_details_pb2.ErrorInfo(reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata)
    )
    if error.violations:
        bad_request = error_details_pb2.BadRequest(
            field_violations=[
                error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
                for field, description in error.violations
            ]
        )
        status.details.add().Pack(bad_request)
    return status


def error_json(error: TranscodeError) -> dict[str, Any]:
    """JSON body for an edge-side refusal, same shape as an upstream error."""
    status = status_for_error(error)
    return status_json(status.code, status.message, status.SerializeToString())
