"""Oversize input is refused cleanly and leaves the platform serving: a gRPC message past the
services' limit (CLEARMESH_MAX_MESSAGE_BYTES) is RESOURCE_EXHAUSTED, an HTTP body past the
edge's limit is 413 whether or not it declares its length, an absurd URL is a 4xx, and each
service, and the edge, answers its next ordinary call as before."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import grpc
import httpx
import pytest
from clearmesh.kyc.v1 import kyc_pb2
from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from grpc_health.v1 import health_pb2, health_pb2_grpc
from tests.security.conftest import bearer
from tests.testkit.stack import Stack


def _serving(channel: grpc.Channel) -> int:
    return int(health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=5).status)


@pytest.mark.parametrize("service", ["kyc", "matching"])
def test_a_grpc_message_past_the_limit_is_resource_exhausted_and_the_service_serves_on(
        service: str, stack: Stack, channels: dict[str, grpc.Channel]) -> None:
    limit = stack.settings.max_message_bytes
    # The client's own send limit lifted, so the bytes reach the server and the server decides.
    with grpc.insecure_channel(f"127.0.0.1:{stack.services[service].port}",
                               options=[("grpc.max_send_message_length", 2 * limit)]) as channel:
        caller = bearer(stack, "mallory", ("trader", "operator"))
        request = kyc_pb.CreateApplicantRequest(applicant=kyc_pb2.Applicant(legal_name="M", address="x" * (limit + 1)))
        path = {"kyc": "/clearmesh.kyc.v1.KycService/CreateApplicant",
                "matching": "/clearmesh.matching.v1.MatchingService/ListMarkets"}[service]
        with pytest.raises(grpc.RpcError) as refused:
            channel.unary_unary(path, request_serializer=kyc_pb.CreateApplicantRequest.SerializeToString,
                                response_deserializer=bytes)(request, metadata=caller, timeout=10)
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert _serving(channels[service]) == health_pb2.HealthCheckResponse.SERVING
    markets = channels["matching"].unary_unary(
        "/clearmesh.matching.v1.MatchingService/ListMarkets",
        request_serializer=matching_pb.ListMarketsRequest.SerializeToString,
        response_deserializer=matching_pb.ListMarketsResponse.FromString)(matching_pb.ListMarketsRequest(), metadata=caller)
    assert markets.markets


def _chunks(total: int, size: int = 256 * 1024) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b"x" * min(size, total - sent)
        sent += size


def test_a_chunked_body_past_the_limit_is_413_without_a_declared_length(stack: Stack, edge: str) -> None:
    """No Content-Length to refuse early: the edge counts while the body arrives."""
    headers = {"authorization": bearer(stack, "mallory")[0][1], "content-type": "application/json"}
    answer = httpx.post(f"{edge}/v1/applicants", content=_chunks(stack.settings.max_message_bytes + 1),
                        headers=headers, timeout=30)
    assert answer.status_code == 413
    assert answer.json()["code"] == grpc.StatusCode.RESOURCE_EXHAUSTED.value[0]
    assert httpx.get(f"{edge}/healthz", timeout=5).status_code == 200


def _raw(edge: str, head: str, body: bytes = b"") -> bytes:
    """One HTTP/1.1 exchange on a plain socket (httpx refuses to send what these tests send)."""
    host, port = edge.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        connection.sendall(head.encode() + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
        return answer


def test_a_body_declaring_more_than_the_limit_is_413_before_it_is_sent(stack: Stack, edge: str) -> None:
    """Refused on the declared length alone: the edge does not wait for megabytes to arrive."""
    token = bearer(stack, "mallory")[0][1]
    answer = _raw(edge, f"POST /v1/applicants HTTP/1.1\r\nhost: edge\r\nauthorization: {token}\r\n"
                        f"content-type: application/json\r\ncontent-length: {stack.settings.max_message_bytes + 1}\r\n"
                        "connection: close\r\n\r\n", b"{}")
    assert answer.startswith(b"HTTP/1.1 413 ")
    assert httpx.get(f"{edge}/healthz", timeout=5).status_code == 200


def test_an_absurdly_long_url_is_refused_with_a_4xx(stack: Stack, edge: str) -> None:
    token = bearer(stack, "mallory")[0][1]
    answer = _raw(edge, f"GET /v1/markets?pageToken={'a' * 200_000} HTTP/1.1\r\nhost: edge\r\n"
                        f"authorization: {token}\r\nconnection: close\r\n\r\n")
    assert answer[:12] in (b"HTTP/1.1 400", b"HTTP/1.1 414", b"HTTP/1.1 431"), answer[:200]
    assert httpx.get(f"{edge}/healthz", timeout=5).status_code == 200
