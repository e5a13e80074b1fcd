"""Domain errors → `google.rpc.Status` with rich details (AIP-193): the one mapping.

ErrorInfo (stable reason, the platform's domain, metadata) always; BadRequest when the error
names fields. The interceptor is the only caller: servicers raise, they never build statuses.
The way back, for a caller of another service: `peer_error`; for one that relays a call to
another and passes its answer on as it is, `relayed_answer`.
"""

from __future__ import annotations

import socket
from typing import Any

import asyncpg
import grpc
import redis.exceptions
import sqlalchemy.exc
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



# What a store that cannot be reached raises, through SQLAlchemy, asyncpg, aiosqlite or redis:
# a refused, reset or timed-out connection, a name that does not resolve (a pod being
# rescheduled), a pool that hands out no connection in time.
_OUTAGES: tuple[type[BaseException], ...] = (
    ConnectionError, TimeoutError, socket.gaierror,
    sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError,
    asyncpg.exceptions.PostgresConnectionError, asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.CannotConnectNowError, asyncpg.exceptions.AdminShutdownError,
    redis.exceptions.ConnectionError, redis.exceptions.TimeoutError,
)
STORE_UNAVAILABLE = "STORE_UNAVAILABLE"


def _unreachable_store(exc: BaseException) -> BaseException | None:
    """The exception in `exc`'s chain (itself, or what caused it) that says a database or cache
    could not be reached; None when there is none."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        invalidated = isinstance(current, sqlalchemy.exc.DBAPIError) and current.connection_invalidated
        if invalidated or isinstance(current, _OUTAGES):
            return current
        current = current.__cause__ or current.__context__
    return None


def is_outage(exc: BaseException) -> bool:
    """Whether `exc` says a database or cache could not be reached: background work that met
    it retries later instead of ending."""
    return _unreachable_store(exc) is not None


def outage(exc: BaseException) -> DomainError | None:
    """Unavailable when `exc` says a database or cache could not be reached: the caller may
    retry the same call later, and nothing of it was committed (a write transaction commits
    whole or not at all). None for any other exception."""
    cause = _unreachable_store(exc)
    if cause is None:
        return None
    return errors.Unavailable(STORE_UNAVAILABLE, "a database this call needs cannot be reached just now; retry",
                              metadata={"cause": type(cause).__name__})


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
    return _peer_error(error.code(), error.details() or "", rpc_status.from_call(error), peer, unavailable_reason)


# grpc.StatusCode by its number, for a status that came inside a message (a batch item's).
_CODES = {code.value[0]: code for code in grpc.StatusCode}


def peer_item_error(status: status_pb2.Status, peer: str, unavailable_reason: str) -> DomainError:
    """A batch item's status (Matching.SubmitOrders, Wallet.PlaceHolds) as the very error
    `peer_error` makes of the same status ending a unary call."""
    code = _CODES.get(status.code, grpc.StatusCode.UNKNOWN)
    return _peer_error(code, status.message, status, peer, unavailable_reason)


def _peer_error(code: grpc.StatusCode, message: str, status: status_pb2.Status | None, peer: str,
                unavailable_reason: str) -> DomainError:
    refusal = _REFUSALS.get(code)
    _, reason, metadata, violations = _details(status)
    if refusal is None:
        # The peer's own reason, when it gave one (STORE_UNAVAILABLE: its database), says which
        # of "down", "busy" or "its store is" it was: kept for the caller's logs.
        said = f" ({reason}: {message})" if reason else ""
        return errors.Unavailable(unavailable_reason, f"the {peer} service did not answer: {code.name}{said}",
                                  metadata={"peerStatus": code.name, **({"peerReason": reason} if reason else {})})
    return refusal(reason or code.name, f"{peer}: {message}", metadata=metadata, violations=violations)


# Every code a DomainError names, for an answer passed on as it is (`relayed_answer`).
_ANSWERS: dict[str, type[DomainError]] = {
    kind.code: kind for kind in (
        errors.InvalidArgument, errors.NotFound, errors.AlreadyExists, errors.FailedPrecondition,
        errors.PermissionDenied, errors.Unauthenticated, errors.ResourceExhausted, errors.Aborted,
        errors.Unavailable, errors.DeadlineExceeded, errors.Unimplemented)
}


def relayed_answer(error: grpc.aio.AioRpcError) -> DomainError | None:
    """The error a peer answered, unchanged (code, reason, message, metadata, field violations),
    for a caller that relays the call to pass on as its own answer; None when the status is not
    a clearmesh answer: no ErrorInfo of this platform (the peer unreachable, a deadline that
    passed, a proxy's own status) or a code no domain error has (INTERNAL)."""
    kind = _ANSWERS.get(error.code().name)
    domain, reason, metadata, violations = _details(rpc_status.from_call(error))
    if kind is None or domain != ERROR_DOMAIN:
        return None
    return kind(reason, error.details() or "", metadata=metadata, violations=violations)


def _details(status: status_pb2.Status | None) -> tuple[str, str, dict[str, str], list[tuple[str, str]]]:
    """The ErrorInfo's domain, reason and metadata ("", "", {} without one) and the field
    violations of a status."""
    found: tuple[str, str, dict[str, str]] = ("", "", {})
    violations: list[tuple[str, str]] = []
    # Any: the stubs type Descriptor as either of protobuf's two implementations, Is() only one.
    details: list[Any] = list(status.details) if status is not None else []
    for detail in details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            found = info.domain, info.reason, dict(info.metadata)
        elif detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            violations = [(item.field, item.description) for item in bad.field_violations]
    return (*found, violations)
