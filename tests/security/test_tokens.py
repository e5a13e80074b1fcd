"""Tokens that must never admit anyone: expired, unsigned (`alg: none`), signed with another
secret, for another audience, from another issuer, or not a token at all. Every service refuses
them on every RPC (UNAUTHENTICATED, over gRPC, as if there were no edge in front), and the edge
refuses them with 401 before anything reaches a service. The same call with a good token is
admitted, so each refusal is the token's doing."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import grpc
import httpx
import jwt
import pytest
from tests.security.conftest import bearer
from tests.security.surface import RPCS, Rpc
from tests.testkit.rpc import reason
from tests.testkit.stack import Stack

from services.runtime.auth import ALGORITHM
from services.runtime.settings import ensure_jwt_secret

TokenMaker = Callable[[Stack], str]


def _claims(stack: Stack, **overrides: object) -> dict[str, object]:
    now = int(time.time())
    claims: dict[str, object] = {"iss": stack.settings.jwt_issuer, "aud": stack.settings.jwt_audience, "iat": now,
                                 "exp": now + 600, "sub": "mallory", "roles": ["trader", "operator"]}
    return {**claims, **overrides}


def _signed(stack: Stack, **overrides: object) -> str:
    return jwt.encode(_claims(stack, **overrides), ensure_jwt_secret(stack.settings), algorithm=ALGORITHM)


def _unsigned(claims: dict[str, object]) -> str:
    return jwt.encode(claims, None, algorithm="none")  # type: ignore[arg-type]  # alg none takes no key


BAD_TOKENS: dict[str, tuple[TokenMaker, str]] = {
    "expired": (lambda stack: _signed(stack, iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), "TOKEN_EXPIRED"),
    "unsigned alg none": (lambda stack: _unsigned(_claims(stack)), "INVALID_TOKEN"),
    "signed with another secret": (
        lambda stack: jwt.encode(_claims(stack), "another-secret-" + "q" * 32, algorithm=ALGORITHM), "INVALID_TOKEN"),
    "another audience": (lambda stack: _signed(stack, aud="someone-else"), "INVALID_TOKEN"),
    "another issuer": (lambda stack: _signed(stack, iss="https://idp.example"), "INVALID_TOKEN"),
    "a service claim signed with another secret": (
        lambda stack: jwt.encode(_claims(stack, svc="order", sub="services/order"), "x" * 40, algorithm=ALGORITHM),
        "INVALID_TOKEN"),
    "not a token": (lambda stack: "not.a.token", "INVALID_TOKEN"),
}


def _attempt(channel: grpc.Channel, rpc: Rpc, metadata: tuple[tuple[str, str], ...]) -> tuple[grpc.StatusCode, str]:
    """The code and reason of `rpc` called with an empty request (a stream: its first answer)."""
    request = rpc.request_type()
    serialize, parse = type(request).SerializeToString, rpc.response_type.FromString
    try:
        if rpc.server_streaming:
            stream = channel.unary_stream(rpc.path, request_serializer=serialize, response_deserializer=parse)
            next(iter(stream(request, metadata=metadata, timeout=0.5)), None)
        else:
            channel.unary_unary(rpc.path, request_serializer=serialize, response_deserializer=parse)(
                request, metadata=metadata, timeout=10)
    except grpc.RpcError as error:
        return error.code(), reason(error)  # type: ignore[arg-type]  # a sync call's error has the same trailers
    return grpc.StatusCode.OK, ""


@pytest.mark.parametrize("rpc", RPCS, ids=[rpc.label for rpc in RPCS])
def test_every_rpc_refuses_every_bad_token(rpc: Rpc, stack: Stack, channels: dict[str, grpc.Channel]) -> None:
    channel = channels[rpc.service]
    for kind, (make, why) in BAD_TOKENS.items():
        answer = _attempt(channel, rpc, (("authorization", f"Bearer {make(stack)}"),))
        assert answer == (grpc.StatusCode.UNAUTHENTICATED, why), f"a token {kind}"
    # The control: a good token of a caller the contract admits gets past authentication.
    service = next(iter(sorted(rpc.rule.services)), None)
    good = bearer(stack, service=service) if service else bearer(stack, "mallory", tuple(sorted(rpc.rule.roles)))
    assert _attempt(channel, rpc, good)[0] not in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED)


ONE_ROUTE_PER_SERVICE = {rpc.service: rpc for rpc in RPCS if rpc.route is not None and not rpc.server_streaming}


def _any_path(template: str) -> str:
    """A path the template matches: each wildcard one segment `x-1`."""
    bound = re.sub(r"\{[^=}]+=([^}]*)\}", lambda m: m.group(1).replace("*", "x-1"), template)
    return re.sub(r"\{[^}]+\}", "x-1", bound)


@pytest.mark.parametrize("kind", list(BAD_TOKENS))
def test_the_edge_refuses_a_bad_token_with_401_before_any_service(kind: str, stack: Stack, edge: str) -> None:
    """The edge's check is one middleware for every route: one route per service shows it."""
    make, why = BAD_TOKENS[kind]
    headers = {"authorization": f"Bearer {make(stack)}"}
    for rpc in ONE_ROUTE_PER_SERVICE.values():
        assert rpc.route is not None
        answer = httpx.request(rpc.route.http_method, edge + _any_path(rpc.route.template.source), headers=headers,
                               timeout=10)
        assert answer.status_code == 401, f"{rpc.label}: {answer.status_code} {answer.text[:200]}"
        details = [(d["reason"], d["domain"]) for d in answer.json()["details"] if "reason" in d]
        assert details == [(why, "gateway.clearmesh")], rpc.label
