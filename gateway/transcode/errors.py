"""Typed errors raised while transcoding an HTTP request into a gRPC call.

They mirror the shape of the runtime's DomainError (stable UPPER_SNAKE ``reason``,
``message``, ``metadata``, ``violations``) so one error mapper can treat both alike,
and add the HTTP status and gRPC code the edge answers with (MESH-CONVENTIONS §2.3).
"""

from __future__ import annotations

from grpc import StatusCode

ERROR_DOMAIN = "gateway.clearmesh"
"""``google.rpc.ErrorInfo.domain`` for errors produced by the edge itself (AIP-193)."""


class TranscodeError(Exception):
    """A request the edge refuses before any gRPC call is made."""

    http_status: int = 400
    grpc_code: StatusCode = StatusCode.INVALID_ARGUMENT

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

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {self.message!r}, violations={self.violations!r})"


class BadRequest(TranscodeError):
    """400 / INVALID_ARGUMENT: malformed body, unknown or invalid field, collision."""


class RouteNotFound(TranscodeError):
    """404 / NOT_FOUND: no binding matches the path (GW routing-error mapping)."""

    http_status = 404
    grpc_code = StatusCode.NOT_FOUND


class MethodNotAllowed(TranscodeError):
    """405 / UNIMPLEMENTED: the path is bound, but not for this HTTP method.

    grpc-gateway maps 405 to UNIMPLEMENTED (runtime/errors.go routing errors); we keep
    its pairing and list the allowed methods in ``allowed_methods`` for the Allow header.
    """

    http_status = 405
    grpc_code = StatusCode.UNIMPLEMENTED

    def __init__(self, reason: str, message: str, *, allowed_methods: tuple[str, ...]) -> None:
        super().__init__(reason, message, metadata={"allowedMethods": ",".join(allowed_methods)})
        self.allowed_methods = allowed_methods
