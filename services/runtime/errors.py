"""Typed domain errors and their one mapping to gRPC status with rich details (AIP-193).

Domain code raises these; only the runtime's interceptor turns them into a status, so every
service answers with the same codes, ErrorInfo domain and BadRequest shape.
"""

from __future__ import annotations

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2

ERROR_DOMAIN = "clearmesh.io"


class DomainError(Exception):
    """An expected failure with a stable UPPER_SNAKE `reason`."""

    code: grpc.StatusCode = grpc.StatusCode.UNKNOWN

    def __init__(
        self,
        reason: str,
        message: str,
        *,
        metadata: dict[str, str] | None = None,
        violations: list[tuple[str, str]] | None = None,
    ) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
        self.metadata = dict(metadata or {})
        self.violations = list(violations or [])


class InvalidArgument(DomainError):
    code = grpc.StatusCode.INVALID_ARGUMENT


class NotFound(DomainError):
    code = grpc.StatusCode.NOT_FOUND


class AlreadyExists(DomainError):
    code = grpc.StatusCode.ALREADY_EXISTS


class FailedPrecondition(DomainError):
    code = grpc.StatusCode.FAILED_PRECONDITION


class PermissionDenied(DomainError):
    code = grpc.StatusCode.PERMISSION_DENIED


class Unauthenticated(DomainError):
    code = grpc.StatusCode.UNAUTHENTICATED


class ResourceExhausted(DomainError):
    code = grpc.StatusCode.RESOURCE_EXHAUSTED


class Aborted(DomainError):
    code = grpc.StatusCode.ABORTED


class Unavailable(DomainError):
    code = grpc.StatusCode.UNAVAILABLE


class Unimplemented(DomainError):
    code = grpc.StatusCode.UNIMPLEMENTED


def _pack(message: object) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)  # type: ignore[arg-type]
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
    return status_pb2.Status(
        code=getattr(code_pb2, error.code.name), message=error.message, details=details)


def internal_status(message: str = "internal error") -> status_pb2.Status:
    """What an unexpected exception becomes: no internals leak to the caller."""
    return status_pb2.Status(
        code=code_pb2.INTERNAL, message=message,
        details=[_pack(error_details_pb2.ErrorInfo(reason="INTERNAL", domain=ERROR_DOMAIN))])
