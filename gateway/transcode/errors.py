"""Typed errors raised while transcoding an HTTP request into a gRPC call.

They are the runtime's DomainError (stable UPPER_SNAKE ``reason``, ``message``,
``metadata``, ``violations``) so one error mapper treats both alike, plus the HTTP status
and gRPC code the edge answers with (docs/conventions.md, Errors over HTTP).
"""

from __future__ import annotations

from typing import Any

from grpc import StatusCode

from services.runtime.errors import DomainError

ERROR_DOMAIN = "gateway.clearmesh"
"""``google.rpc.ErrorInfo.domain`` for errors produced by the edge itself (AIP-193)."""


class TranscodeError(DomainError):
    """A request the edge refuses before any gRPC call is made."""

    http_status: int = 400
    grpc_code: StatusCode = StatusCode.INVALID_ARGUMENT

    def __init_subclass__(cls, http_status: int | None = None, grpc_code: StatusCode | None = None,
                          **kwargs: Any) -> None:
        """`class RouteNotFound(TranscodeError, http_status=404, grpc_code=StatusCode.NOT_FOUND)`."""
        super().__init_subclass__(**kwargs)
        if http_status is not None:
            cls.http_status = http_status
        if grpc_code is not None:
            cls.grpc_code = grpc_code

    @property
    def code(self) -> StatusCode:  # type: ignore[override]  # the gRPC code, where DomainError keeps its name
        return self.grpc_code

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.reason!r}, {self.message!r}, violations={self.violations!r})"


class BadRequest(TranscodeError):
    """400 / INVALID_ARGUMENT: malformed body, unknown or invalid field, collision."""


class RouteNotFound(TranscodeError, http_status=404, grpc_code=StatusCode.NOT_FOUND):
    """404 / NOT_FOUND: no binding matches the path (GW routing-error mapping)."""


class MethodNotAllowed(TranscodeError, http_status=405, grpc_code=StatusCode.UNIMPLEMENTED):
    """405 / UNIMPLEMENTED: the path is bound, but not for this HTTP method.

    grpc-gateway maps 405 to UNIMPLEMENTED (runtime/errors.go routing errors); we keep
    its pairing and list the allowed methods in ``allowed_methods`` for the Allow header.
    """

    def __init__(self, reason: str, message: str, *, allowed_methods: tuple[str, ...]) -> None:
        super().__init__(reason, message, metadata={"allowedMethods": ",".join(allowed_methods)})
        self.allowed_methods = allowed_methods
