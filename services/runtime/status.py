"""Domain errors → `google.rpc.Status` with rich details (AIP-193): the one mapping.

ErrorInfo (stable reason, the platform's domain, metadata) always; BadRequest when the error
names fields. The interceptor is the only caller: servicers raise, they never build statuses.
The way back, for a caller of another service: `peer_error`.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.protobuf.message import Message
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status

from services.runtime import errors
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



# The codes that are a peer's answer about the request (a refusal), not a failure to answer.
_REFUSALS: dict[grpc.StatusCode, type[DomainError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: errors.InvalidArgument,
    grpc.StatusCode.NOT_FOUND: errors.NotFound,
    grpc.StatusCode.ALREADY_EXISTS: errors.AlreadyExists,
    grpc.StatusCode.FAILED_PRECONDITION: errors.FailedPrecondition,
    grpc.StatusCode.PERMISSION_DENIED: errors.PermissionDenied,
    grpc.StatusCode.RESOURCE_EXHAUSTED: errors.ResourceExhausted,
    grpc.StatusCode.ABORTED: errors.Aborted,
}


def peer_error(error: grpc.aio.AioRpcError, peer: str, unavailable_reason: str) -> DomainError:
    """A peer service's refusal as the typed error it was (same code, reason, metadata and
    field violations), or Unavailable with `unavailable_reason` when it gave no answer."""
    refusal = _REFUSALS.get(error.code())
    if refusal is None:
        return errors.Unavailable(unavailable_reason, f"the {peer} service did not answer: {error.code().name}",
                                  metadata={"peerStatus": error.code().name})
    reason, metadata, violations = error.code().name, {}, []
    status = rpc_status.from_call(error)
    for detail in status.details if status is not None else []:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            reason, metadata = info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(item.field, item.description) for item in bad.field_violations]
    return refusal(reason, f"{peer}: {error.details()}", metadata=metadata, violations=violations)
