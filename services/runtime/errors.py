"""Typed domain errors: what went wrong, in words a domain can say without knowing gRPC.

Each class names its status code by the canonical code name (`"NOT_FOUND"`), a plain string,
so domain modules import nothing from gRPC or protobuf. The one translation to a
`google.rpc.Status` (ErrorInfo, BadRequest) lives beside the interceptor that is its only
user: `services/runtime/status.py`.
"""

from __future__ import annotations

from typing import ClassVar


class DomainError(Exception):
    """An expected failure with a stable UPPER_SNAKE `reason` (AIP-193)."""

    code: ClassVar[str] = "UNKNOWN"

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
    code = "INVALID_ARGUMENT"


class NotFound(DomainError):
    code = "NOT_FOUND"


class AlreadyExists(DomainError):
    code = "ALREADY_EXISTS"


class FailedPrecondition(DomainError):
    code = "FAILED_PRECONDITION"


class PermissionDenied(DomainError):
    code = "PERMISSION_DENIED"


class Unauthenticated(DomainError):
    code = "UNAUTHENTICATED"


class ResourceExhausted(DomainError):
    code = "RESOURCE_EXHAUSTED"


class Aborted(DomainError):
    code = "ABORTED"


class Unavailable(DomainError):
    code = "UNAVAILABLE"


class DeadlineExceeded(DomainError):
    code = "DEADLINE_EXCEEDED"


class Unimplemented(DomainError):
    code = "UNIMPLEMENTED"
