"""Typed domain errors: what went wrong, in words a domain can say without knowing gRPC.

Each class names its status code by the canonical code name (`"NOT_FOUND"`), a plain string,
so domain modules import nothing from gRPC or protobuf. The one translation to a
`google.rpc.Status` (ErrorInfo, BadRequest) lives beside the interceptor that is its only
user: `services/runtime/status.py`.
"""

from __future__ import annotations

from typing import Any, ClassVar


class DomainError(Exception):
    """An expected failure with a stable UPPER_SNAKE `reason` (AIP-193)."""

    code: ClassVar[str] = "UNKNOWN"

    def __init_subclass__(cls, code: str = "", **kwargs: Any) -> None:
        """`class NotFound(DomainError, code="NOT_FOUND")`: each subclass names its status code."""
        super().__init_subclass__(**kwargs)
        if code:
            cls.code = code

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


class InvalidArgument(DomainError, code="INVALID_ARGUMENT"):
    """The request is malformed whatever the system's state: a bad field, a bad name."""


class NotFound(DomainError, code="NOT_FOUND"):
    """The named resource does not exist (said only once the caller may know it, AIP-193)."""


class AlreadyExists(DomainError, code="ALREADY_EXISTS"):
    """A create whose resource, or unique key, is taken already."""


class FailedPrecondition(DomainError, code="FAILED_PRECONDITION"):
    """The system's state does not allow this now; retrying the same call will not help."""


class PermissionDenied(DomainError, code="PERMISSION_DENIED"):
    """The caller is known but may not do this (or may not learn that the resource exists)."""


class Unauthenticated(DomainError, code="UNAUTHENTICATED"):
    """No valid credentials came with the call."""


class ResourceExhausted(DomainError, code="RESOURCE_EXHAUSTED"):
    """A quota or a limit is spent; the metadata says when to come back, where known."""


class Aborted(DomainError, code="ABORTED"):
    """A concurrent writer won a race; the whole read-modify-write may be retried."""


class Unavailable(DomainError, code="UNAVAILABLE"):
    """A dependency cannot be reached just now; the same call may succeed later."""


class DeadlineExceeded(DomainError, code="DEADLINE_EXCEEDED"):
    """The work did not finish in the time it was given."""


class Unimplemented(DomainError, code="UNIMPLEMENTED"):
    """The RPC is declared in the contract but not built (yet)."""
