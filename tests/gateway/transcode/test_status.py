"""gRPC → HTTP status table and the google.rpc.Status error body (docs/conventions.md: Errors over HTTP, Error body)."""

from __future__ import annotations

import base64

import grpc
import pytest
from google.protobuf import any_pb2, duration_pb2
from google.protobuf.message import Message
from google.rpc import error_details_pb2, status_pb2

from gateway.transcode import BadRequest, MethodNotAllowed, RouteNotFound, error_json, http_status_for, status_json
from gateway.transcode.errors import ERROR_DOMAIN

EXPECTED_HTTP = {
    grpc.StatusCode.OK: 200,
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}


@pytest.mark.parametrize(("code", "http_status"), EXPECTED_HTTP.items(), ids=lambda v: getattr(v, "name", str(v)))
def test_grpc_code_maps_to_the_conventions_http_status(code: grpc.StatusCode, http_status: int) -> None:
    assert http_status_for(code) == http_status_for(code.value[0]) == http_status


def test_code_outside_the_table_is_500() -> None:
    assert http_status_for(42) == 500


def _details_bin(*details: Message) -> bytes:
    status = status_pb2.Status(code=9, message="ignored")
    for detail in details:
        status.details.add().Pack(detail)
    return status.SerializeToString()


def test_error_body_without_details_still_has_an_empty_details_list() -> None:
    assert status_json(grpc.StatusCode.NOT_FOUND, "no such order") == {
        "code": 5,
        "message": "no such order",
        "details": [],
    }


def test_details_are_decoded_from_status_details_bin_with_type_urls() -> None:
    info = error_details_pb2.ErrorInfo(reason="INSUFFICIENT_FUNDS", domain="wallet.clearmesh", metadata={"asset": "USD"})
    retry = error_details_pb2.RetryInfo(retry_delay=duration_pb2.Duration(seconds=2))
    body = status_json(9, "insufficient funds", _details_bin(info, retry))
    assert body["details"] == [
        {
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "INSUFFICIENT_FUNDS",
            "domain": "wallet.clearmesh",
            "metadata": {"asset": "USD"},
        },
        {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "2s"},
    ]


def test_code_and_message_come_from_the_grpc_trailers() -> None:
    body = status_json(9, "from trailer", _details_bin(error_details_pb2.ErrorInfo(reason="X_Y")))
    assert (body["code"], body["message"]) == (9, "from trailer")


def test_base64_text_header_is_accepted() -> None:
    raw = _details_bin(error_details_pb2.ErrorInfo(reason="MARKET_CLOSED"))
    text = base64.b64encode(raw).decode().rstrip("=")
    assert status_json(9, "closed", text)["details"][0]["reason"] == "MARKET_CLOSED"


def test_unknown_detail_type_keeps_its_raw_bytes() -> None:
    status = status_pb2.Status(details=[any_pb2.Any(type_url="type.googleapis.com/x.Unknown", value=b"\x08\x01")])
    assert status_json(2, "boom", status.SerializeToString())["details"] == [
        {"@type": "type.googleapis.com/x.Unknown", "value": "CAE="}
    ]


def test_undecodable_details_are_dropped_not_fatal() -> None:
    assert status_json(13, "internal", b"\xff\xff\xff")["details"] == []


def test_bad_request_body_carries_error_info_and_field_violations() -> None:
    error = BadRequest("UNKNOWN_QUERY_PARAMETER", "Unknown query parameter 'x'", violations=[("x", "unknown field")])
    assert error_json(error) == {
        "code": 3,
        "message": "Unknown query parameter 'x'",
        "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "UNKNOWN_QUERY_PARAMETER", "domain": ERROR_DOMAIN},
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": "x", "description": "unknown field"}],
            },
        ],
    }


@pytest.mark.parametrize(
    ("error", "http_status", "grpc_code"),
    [
        (RouteNotFound("ROUTE_NOT_FOUND", "none"), 404, 5),
        (MethodNotAllowed("METHOD_NOT_ALLOWED", "no", allowed_methods=("GET",)), 405, 12),
        (BadRequest("INVALID_JSON", "bad"), 400, 3),
    ],
)
def test_edge_errors_pair_http_status_with_grpc_code(error: BadRequest, http_status: int, grpc_code: int) -> None:
    assert (error.http_status, error_json(error)["code"]) == (http_status, grpc_code)
