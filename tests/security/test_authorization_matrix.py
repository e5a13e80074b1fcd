"""One account never reads, cancels or moves another's things: the authorization matrix of every
RPC (tests/security/surface.py reads them from the descriptors, internal ones included) × every
caller (trader A who owns the resources, trader B, an operator, each service identity), over
gRPC and over REST.

For each RPC the request names A's resources (its order, account, applicant, withdrawal,
settlement, hold). Every caller the contract does not admit is refused PERMISSION_DENIED; B, when
admitted by role, is refused PERMISSION_DENIED on A's resources (docs/conventions.md: another's
resource is PERMISSION_DENIED, checked before existence), and where the RPC names no resource
(lists, creates) B's answer mentions nothing of A's. A's state, read by an operator before and
after, is unchanged by all of it. Then every admitted caller makes the same call and is served:
the cell is live, so a refusal above is the check's doing, not a broken request's.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import grpc
import httpx
import pytest
from clearmesh.kyc.v1 import kyc_pb2
from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as order_pb
from clearmesh.settlement.v1 import settlement_pb2
from clearmesh.settlement.v1 import settlement_service_pb2 as settlement_pb
from clearmesh.wallet.v1 import wallet_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from google.protobuf import message
from tests.security.conftest import MARKET, Metadata, World, bearer
from tests.security.surface import RPCS, RULES, Resources, Rpc, aimed_request, http_call
from tests.testkit.rpc import reason
from tests.testkit.stack import Stack

from services.registry import SERVICE_NAMES
from services.runtime.auth import Principal

REFUSED = grpc.StatusCode.PERMISSION_DENIED
# A's resource to a stranger: PERMISSION_DENIED where the name says whose it is (accounts/A/…,
# checked before existence); where it does not (orders/{uuid}), exactly what a missing one gets.
STRANGER = {grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.NOT_FOUND}
# Served: answered, or refused for the resource's state (a withdrawal no longer pending, an
# order id already used) — past the authorization and ownership checks either way. A stream
# still open at the deadline was admitted.
SERVED = {grpc.StatusCode.OK, grpc.StatusCode.FAILED_PRECONDITION, grpc.StatusCode.ALREADY_EXISTS}
STREAM_WAIT_SECS = 0.5
# What A owns, by resource pattern; the matrix fails on an RPC naming a pattern not listed.
OWNED = frozenset({"accounts/*", "orders/*", "applicants/*", "accounts/*/withdrawals/*", "settlements/*", "holds/*"})
PUBLIC = [rpc for rpc in RPCS if rpc.route is not None]


@dataclass(frozen=True)
class Caller:
    label: str
    principal: Principal

    def admitted(self, rpc: Rpc) -> bool:
        return rpc.rule.allows(self.principal)

    def metadata(self, stack: Stack) -> Metadata:
        p = self.principal
        return bearer(stack, p.account, tuple(sorted(p.roles)), service=p.service)


def callers(world: World) -> dict[str, Caller]:
    every = [Caller("trader A", Principal(world.a, frozenset({"trader"}))),
             Caller("trader B", Principal(world.b, frozenset({"trader"}))),
             Caller("operator", Principal("ops", frozenset({"operator"}))),
             *(Caller(f"service {name}", Principal(service=name)) for name in SERVICE_NAMES)]
    return {caller.label: caller for caller in every}


def resources(world: World) -> Resources:
    return Resources({
        "accounts/*": world.account, "orders/*": world.order, "applicants/*": world.applicant,
        "accounts/*/withdrawals/*": world.withdrawal, "settlements/*": world.settlement, "holds/*": world.hold,
        "markets/*": MARKET, "transfers/*": lambda: f"transfers/{uuid.uuid4().hex}",
    }, OWNED)


def ghosts(world: World) -> Resources:
    """Names shaped like A's that name nothing: what a stranger gets on A's must be what they
    get here, or the answer tells them which ids exist."""
    ghost = str(uuid.uuid4())
    return Resources({
        "accounts/*": f"accounts/ghost-{ghost[:8]}", "orders/*": f"orders/{ghost}", "applicants/*": f"applicants/{ghost}",
        "accounts/*/withdrawals/*": f"{world.account}/withdrawals/ghost-{ghost[:8]}",
        "settlements/*": "settlements/BTC-USDC-999999999", "holds/*": f"holds/{ghost}",
        "markets/*": MARKET, "transfers/*": lambda: f"transfers/{uuid.uuid4().hex}",
    }, OWNED)


@dataclass(frozen=True)
class Answer:
    code: grpc.StatusCode
    text: str = ""  # what the caller was shown
    details: str = ""
    reason: str = ""

    def mentions(self, needles: tuple[str, ...]) -> list[str]:
        return [needle for needle in needles if needle in self.text]


Call = Callable[[Rpc, message.Message, Metadata], Answer]


def call_grpc(channels: dict[str, grpc.Channel]) -> Call:
    def call(rpc: Rpc, request: message.Message, metadata: Metadata) -> Answer:
        channel = channels[rpc.service]
        serialize, parse = type(request).SerializeToString, rpc.response_type.FromString
        if rpc.server_streaming:
            received: list[message.Message] = []
            stream = channel.unary_stream(rpc.path, request_serializer=serialize, response_deserializer=parse)(
                request, metadata=metadata, timeout=STREAM_WAIT_SECS)
            try:
                received.extend(stream)
            except grpc.RpcError as error:
                code = error.code()
                admitted = code == grpc.StatusCode.DEADLINE_EXCEEDED
                text = "".join(map(str, received))
                why = reason(error)  # type: ignore[arg-type]  # a sync call's error has the same trailers
                return Answer(grpc.StatusCode.OK if admitted else code, text, str(error.details()), why)
            return Answer(grpc.StatusCode.OK, "".join(map(str, received)))
        try:
            answer = channel.unary_unary(rpc.path, request_serializer=serialize, response_deserializer=parse)(
                request, metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            why = reason(error)  # type: ignore[arg-type]  # a sync call's error has the same trailers
            return Answer(error.code(), details=f"{why}: {error.details()}", reason=why)
        return Answer(grpc.StatusCode.OK, str(answer))

    return call


def call_rest(edge: str) -> Call:
    """The same call through the edge; the answer's code is the Status body's gRPC code."""
    def call(rpc: Rpc, request: message.Message, metadata: Metadata) -> Answer:
        assert rpc.route is not None
        http = http_call(rpc.route, request)
        headers = dict(metadata) | {"content-type": "application/json"}
        timeout = httpx.Timeout(10, read=STREAM_WAIT_SECS) if rpc.server_streaming else 10
        chunks: list[str] = []
        try:
            with httpx.stream(http.method, edge + http.path, content=http.body, headers=headers, timeout=timeout) as answer:
                status = answer.status_code
                for chunk in answer.iter_text():
                    chunks.append(chunk)
        except httpx.ReadTimeout:
            if not rpc.server_streaming:
                raise
            return Answer(grpc.StatusCode.OK, "".join(chunks))  # a stream still open: admitted
        text = "".join(chunks)
        if status == 200:
            return Answer(grpc.StatusCode.OK, text)
        body = json.loads(text)
        why = next((d.get("reason", "") for d in body.get("details", []) if d.get("reason")), "")
        return Answer(grpc.StatusCode(next(c for c in grpc.StatusCode if c.value[0] == body["code"])),
                      text, f"{status} {why}: {body.get('message')}", why)

    return call


def snapshot(channels: dict[str, grpc.Channel], world: World, operator: Metadata) -> tuple[str, ...]:
    """Everything of A's, read by an operator: what no refused call may change."""
    def read(service: str, method: str, request: message.Message, answer: type[message.Message]) -> str:
        path = f"/clearmesh.{service}.v1.{service.capitalize()}Service/{method}"
        return str(channels[service].unary_unary(path, request_serializer=type(request).SerializeToString,
                                                 response_deserializer=answer.FromString)(request, metadata=operator))
    return (
        read("wallet", "ListBalances", wallet_pb.ListBalancesRequest(account=world.account), wallet_pb.ListBalancesResponse),
        read("wallet", "ListEntries", wallet_pb.ListEntriesRequest(account=world.account, page_size=1000),
             wallet_pb.ListEntriesResponse),
        read("wallet", "GetWithdrawal", wallet_pb.GetWithdrawalRequest(name=world.withdrawal), wallet_pb2.Withdrawal),
        read("order", "GetOrder", order_pb.GetOrderRequest(name=world.order), order_pb2.Order),
        read("order", "ListOrders", order_pb.ListOrdersRequest(account=world.account, page_size=1000),
             order_pb.ListOrdersResponse),
        read("kyc", "GetApplicant", kyc_pb.GetApplicantRequest(name=world.applicant), kyc_pb2.Applicant),
        read("settlement", "GetSettlement", settlement_pb.GetSettlementRequest(name=world.settlement),
             settlement_pb2.Settlement),
    )


def a_names(world: World) -> tuple[str, ...]:
    """Strings that would show B something of A's."""
    return (world.a, world.order.removeprefix("orders/"), world.applicant, world.withdrawal, world.settlement)


@pytest.fixture(scope="module")
def cast(world: World) -> dict[str, Caller]:
    return callers(world)


def check_matrix(rpc: Rpc, call: Call, world: World, stack: Stack, cast: dict[str, Caller],
                 channels: dict[str, grpc.Channel]) -> None:
    aimed = aimed_request(rpc, resources(world))
    operator = cast["operator"].metadata(stack)
    before = snapshot(channels, world, operator)
    b = cast["trader B"]
    for caller in cast.values():
        if caller.label == "trader A" or (caller.admitted(rpc) and caller is not b):
            continue
        answer = call(rpc, aimed_request(rpc, resources(world)).request, caller.metadata(stack))
        if caller.admitted(rpc) and not aimed.owned:
            # B may call it, on nothing of A's: the answer shows nothing of A's either.
            assert answer.code in SERVED, f"{caller.label}: {answer.code} {answer.details}"
            assert answer.mentions(a_names(world)) == [], f"{caller.label} saw A's {answer.mentions(a_names(world))}"
        elif caller.admitted(rpc):
            assert answer.code in STRANGER, f"{caller.label} on {aimed.owned}: {answer.code} {answer.details}"
            ghost = call(rpc, aimed_request(rpc, ghosts(world)).request, caller.metadata(stack))
            assert (answer.code, answer.reason) == (ghost.code, ghost.reason), \
                f"{caller.label} tells A's {aimed.owned} ({answer.details}) from a missing one ({ghost.details})"
        else:
            assert answer.code == REFUSED, f"{caller.label} on {aimed.owned or 'nothing of A'}: {answer.code} {answer.details}"
    assert snapshot(channels, world, operator) == before, "a refused call changed A's state"
    admitted = [caller for caller in cast.values() if caller.admitted(rpc) and caller is not b]
    assert admitted, f"{rpc.label} admits no caller: the matrix cannot prove it live"
    for caller in admitted:
        answer = call(rpc, aimed_request(rpc, resources(world)).request, caller.metadata(stack))
        assert answer.code in SERVED, f"{caller.label} admitted to {rpc.label} got {answer.code} {answer.details}: not live"


@pytest.mark.parametrize("rpc", RPCS, ids=[rpc.label for rpc in RPCS])
def test_over_grpc_no_caller_reaches_what_is_not_theirs(rpc: Rpc, world: World, stack: Stack, cast: dict[str, Caller],
                                                        channels: dict[str, grpc.Channel]) -> None:
    check_matrix(rpc, call_grpc(channels), world, stack, cast, channels)


@pytest.mark.parametrize("rpc", PUBLIC, ids=[rpc.label for rpc in PUBLIC])
def test_over_rest_no_caller_reaches_what_is_not_theirs(rpc: Rpc, world: World, stack: Stack, cast: dict[str, Caller],
                                                        channels: dict[str, grpc.Channel], edge: str) -> None:
    check_matrix(rpc, call_rest(edge), world, stack, cast, channels)


def test_the_matrix_covers_every_rpc_of_every_contract() -> None:
    """A service or RPC in the contracts that the matrix does not call would go unchecked."""
    in_contracts = {f"/{file.package}.{service.name}/{method.name}" for file in RULES.files
                    if file.package.startswith("clearmesh.") for service in file.service for method in service.method}
    assert {rpc.path for rpc in RPCS} == in_contracts
