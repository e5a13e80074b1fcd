"""Domain errors → `google.rpc.Status` with rich details (AIP-193): the one mapping.

ErrorInfo (stable reason, the platform's domain, metadata) always; BadRequest when the error
names fields. The interceptor is the only caller: servicers raise, they never build statuses.
The way back, for a caller of another service: `peer_reason`.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.runtime.errors import DomainError

ERROR_DOMAIN = "clearmesh.io"


def grpc_code(error: DomainError) -> grpc.StatusCode:
    return grpc.StatusCode[error.code]


def _pack(message: Message) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def to_status_proto(error: DomainError) -> status_pb2.Status:
    """The google.rpc.Status for an error: ErrorInfo always, BadRequest when fields are named."""
    details = [_pack(error_details_pb2.ErrorInfo(
        reason=error.reason, domain=ERROR_DOMAIN, metadata=error.metadata))]
    if error.violations:
        details.append(_pack(error_details_pb2.BadRequest(field_violations=[
            error_details_pb2.BadRequest.FieldViolation(field=field, description=description)
            for field, description in error.violations
        ])))
    return status_pb2.Status(code=code_pb2.Code.Value(error.code), message=error.message, details=details)


def internal_status(message: str = "internal error") -> status_pb2.Status:
    """What an unexpected exception becomes: no internals leak to the caller."""
    return status_pb2.Status(
        code=code_pb2.INTERNAL, message=message,
        details=[_pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN))])


def peer_reason(error: grpc.aio.AioRpcError) -> str:
    """The ErrorInfo reason a peer service's error carries ("" if none): how a caller tells,
    say, HOLD_EXCEEDED from INSUFFICIENT_FUNDS without parsing messages."""
    status = rpc_status.from_call(error)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""
