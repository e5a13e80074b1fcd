"""What a refused RPC said: the google.rpc.Status details the runtime attaches (ErrorInfo with
the stable reason, BadRequest with one violation per bad field)."""

from __future__ import annotations

from typing import TypeVar, cast

import grpc
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

D = TypeVar("D", bound=Message)

FieldViolation = error_details_pb2.BadRequest.FieldViolation


def detail(error: grpc.RpcError, kind: type[D]) -> D | None:
    """The status detail of this type, or None when the status carries none (a sync stub's
    error and an aio call's both answer code(), details() and trailing_metadata())."""
    status = rpc_status.from_call(cast(grpc.Call, error))
    for packed in status.details if status else []:
        if packed.Is(kind.DESCRIPTOR):
            unpacked = kind()
            packed.Unpack(unpacked)
            return unpacked
    return None


def status(error: grpc.RpcError) -> status_pb2.Status:
    """The whole google.rpc.Status the call ended with (its code, message and details)."""
    found = rpc_status.from_call(cast(grpc.Call, error))
    assert found is not None, f"{error} carries no google.rpc.Status"
    return found


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo:
    """The ErrorInfo; an empty one when there is none, so a reason compares as ""."""
    return detail(error, error_details_pb2.ErrorInfo) or error_details_pb2.ErrorInfo()


def reason(error: grpc.aio.AioRpcError) -> str:
    return error_info(error).reason


def field_violations(error: grpc.aio.AioRpcError) -> list[FieldViolation]:
    """BadRequest's violations in the order the service named them; [] without one."""
    bad = detail(error, error_details_pb2.BadRequest)
    return list(bad.field_violations) if bad else []
