"""A trace through the real mesh: the five services and the REST edge as processes exporting
OTLP to a receiver this test runs (opentelemetry-proto's TraceService over gRPC, as Jaeger's
OTLP port would get it). An order placed over REST with a W3C traceparent is one trace from
the edge through Order to KYC, Wallet and Matching; its trade's settlement span links back
to it; a sampled-out request leaves no span anywhere. And the logs of the whole run: one JSON
object a line, with the trace ids, and never a secret, a token or personal data.

One run for the module (starting six processes is the slow part); the tests read it."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from clearmesh.type.v1 import trading_pb2
from opentelemetry.proto.trace.v1 import trace_pb2
from tests.e2e.trading import CONTINUOUS, Platform
from tests.testkit.otlp import OtlpReceiver, ReceivedSpan
from tests.testkit.processes import SECRET, eventually

SERVER, CLIENT = trace_pb2.Span.SPAN_KIND_SERVER, trace_pb2.Span.SPAN_KIND_CLIENT
# What the REST client sends: its own span, as a traced caller would.
SAMPLED_TRACE, SAMPLED_PARENT = os.urandom(16).hex(), os.urandom(8).hex()
DROPPED_TRACE, DROPPED_PARENT = os.urandom(16).hex(), os.urandom(8).hex()
PLACE_ORDER = "clearmesh.order.v1.OrderService/PlaceOrder"
# What Order calls while placing an order, by the service that answers.
CALLED = {"kyc": "clearmesh.kyc.v1.KycService/CheckEligibilities",
          "wallet": "clearmesh.wallet.v1.WalletService/PlaceHolds",
          "matching": "clearmesh.matching.v1.MatchingService/SubmitOrders"}
PERSONAL = ("Dana Example", "1 Canal Street", "NXALICE", "NXBOB", "1990-04-02")


@dataclass
class Run:
    receiver: OtlpReceiver
    data_dir: Path
    tokens: list[str]  # every bearer token the run used


def _place_over_rest(edge: str, token: str, request_id: str, traceparent: str) -> dict[str, object]:
    answer = httpx.post(f"{edge}/v1/orders", params={"requestId": request_id}, timeout=30, json={
        "market": CONTINUOUS, "side": "SIDE_BUY", "type": "ORDER_TYPE_LIMIT", "price": "30000.00", "quantity": "0.001"},
        headers={"authorization": f"Bearer {token}", "traceparent": traceparent, "x-request-id": request_id})
    assert answer.status_code == 200, answer.text
    order: dict[str, object] = answer.json()
    return order


def _settlement_link(receiver: OtlpReceiver, trace_id: str) -> list[ReceivedSpan]:
    return [span for span in receiver.spans()
            if span.service == "settlement" and any(linked == trace_id for linked, _ in span.links)]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with OtlpReceiver() as receiver:
        platform = Platform(tmp_path_factory.mktemp("traced"), {
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_TRACES_SAMPLER": "parentbased_always_on", "CLEARMESH_ENVIRONMENT": "e2e",
            "OTEL_BSP_SCHEDULE_DELAY": "50",  # export every 50 ms, not every 5 s
            # Every SQL statement a span, however fast (by default only those of 1 ms or more:
            # services/runtime/sql_spans.py), so the trace shows where each one runs.
            "CLEARMESH_SQL_SPAN_MIN_MS": "0"})
        try:
            platform.start()
            edge = platform.processes.start_edge()
            alice = platform.trader("alice", {"USDC": "1000"})
            bob = platform.trader("bob", {"BTC": "1"})
            for _ in range(2):  # resting asks the REST buys take
                platform.place(bob, CONTINUOUS, trading_pb2.SIDE_SELL, "30000.00", "0.001")
            token = alice[0][1].removeprefix("Bearer ")
            # Sampled out first, then sampled: once the second one's settlement span is in,
            # everything the first one could have left anywhere would have been exported too.
            dropped = _place_over_rest(edge, token, "rest-dropped", f"00-{DROPPED_TRACE}-{DROPPED_PARENT}-00")
            sampled = _place_over_rest(edge, token, "rest-sampled", f"00-{SAMPLED_TRACE}-{SAMPLED_PARENT}-01")
            assert dropped["state"] == sampled["state"] == "ORDER_STATE_FILLED"
            eventually(lambda: _settlement_link(receiver, SAMPLED_TRACE), bool,
                       "the settlement span linking to the sampled order's trace")
            tokens = [token, bob[0][1].removeprefix("Bearer "), platform.operator[0][1].removeprefix("Bearer ")]
            yield Run(receiver, platform.processes.data_dir, tokens)
        finally:
            platform.stop()


def _complete_trace(run: Run) -> list[ReceivedSpan]:
    """The sampled order's trace, once every service's server span (each ends after all its
    children, and each process exports on its own) has arrived."""
    services = {"edge", "order", *CALLED}
    return eventually(lambda: run.receiver.trace(SAMPLED_TRACE),
                      lambda spans: services <= {span.service for span in spans if span.kind == SERVER},
                      "the server span of every service")


def _ancestors(span: ReceivedSpan, spans: list[ReceivedSpan]) -> list[str]:
    by_id = {s.span_id: s for s in spans}
    seen: list[str] = []
    while span.parent_id in by_id:
        span = by_id[span.parent_id]
        seen.append(span.span_id)
    return seen


def test_the_edge_span_continues_the_rest_clients_traceparent(run: Run) -> None:
    spans = _complete_trace(run)
    [edge] = [span for span in spans if span.service == "edge"]
    assert (edge.kind, edge.parent_id, edge.name) == (SERVER, SAMPLED_PARENT, "POST /v1/orders")
    assert edge.attribute("http.response.status_code") == 200


def test_orders_server_span_is_a_child_of_the_edges(run: Run) -> None:
    spans = _complete_trace(run)
    [edge] = [span for span in spans if span.service == "edge"]
    [place] = [span for span in spans if span.service == "order" and span.kind == SERVER]
    assert (place.name, place.parent_id) == (PLACE_ORDER, edge.span_id)
    assert (place.attribute("rpc.system"), place.attribute("rpc.method")) == ("grpc", "PlaceOrder")


@pytest.mark.parametrize("service", list(CALLED))
def test_each_call_order_makes_is_a_client_span_under_place_order_and_the_callees_server_span(
        run: Run, service: str) -> None:
    spans = _complete_trace(run)
    [place] = [span for span in spans if span.service == "order" and span.kind == SERVER]
    by_id = {span.span_id: span for span in spans}
    [server] = [span for span in spans if span.service == service and span.kind == SERVER]
    client = by_id[server.parent_id]
    assert (server.name, client.service, client.kind, client.name) == (CALLED[service], "order", CLIENT, CALLED[service])
    assert place.span_id in _ancestors(client, spans)


def test_orders_sql_statements_are_spans_under_place_order(run: Run) -> None:
    spans = _complete_trace(run)
    [place] = [span for span in spans if span.service == "order" and span.kind == SERVER]
    statements = [span for span in spans if span.service == "order" and span.attribute("db.system.name") == "sqlite"]
    assert statements and all(place.span_id in _ancestors(span, spans) for span in statements)
    assert {span.attribute("db.operation.name") for span in statements} >= {"INSERT"}
    assert all(span.kind == CLIENT and span.attribute("db.query.text") for span in statements)


def test_the_settlement_span_links_to_matchings_span_of_the_taker_order(run: Run) -> None:
    spans = _complete_trace(run)
    [submit] = [span for span in spans if span.service == "matching" and span.kind == SERVER]
    [settlement] = _settlement_link(run.receiver, SAMPLED_TRACE)
    assert settlement.name == "settlement intake"
    assert (SAMPLED_TRACE, submit.span_id) in settlement.links
    assert settlement.trace_id != SAMPLED_TRACE  # a trace of its own, linked, not a child


def test_a_sampled_out_request_leaves_no_span_and_no_link_anywhere(run: Run) -> None:
    spans = run.receiver.spans()
    assert [span.name for span in spans if span.trace_id == DROPPED_TRACE] == []
    assert [span.name for span in spans if any(linked == DROPPED_TRACE for linked, _ in span.links)] == []


def test_health_checks_and_reflection_are_not_traced(run: Run) -> None:
    """The test kit waited for every service's health check and for the edge's /healthz."""
    names = {span.name for span in run.receiver.spans()}
    assert [name for name in names if name.startswith(("grpc.health.", "grpc.reflection.", "GET /healthz"))] == []


def test_every_span_names_its_service_version_and_environment(run: Run) -> None:
    resources = {span.service: span.resource for span in run.receiver.spans()}
    assert set(resources) == {"edge", "order", "kyc", "wallet", "matching", "settlement"}
    assert {(r["deployment.environment"], bool(r["service.version"])) for r in resources.values()} == {("e2e", True)}


def _log_lines(run: Run) -> list[str]:
    return [line for log in sorted(run.data_dir.glob("*.log"))
            for line in log.read_text(errors="replace").splitlines() if line.strip()]


def test_every_log_line_is_one_json_object(run: Run) -> None:
    lines = _log_lines(run)
    assert len(lines) > 50
    assert [line for line in lines if not line.startswith("{") or not isinstance(json.loads(line), dict)] == []


def test_an_rpc_log_line_carries_trace_and_span_ids_request_id_method_code_and_duration(run: Run) -> None:
    spans = _complete_trace(run)
    [place] = [span for span in spans if span.service == "order" and span.kind == SERVER]
    lines = [json.loads(line) for line in (run.data_dir / "order.log").read_text().splitlines() if line.strip()]
    [logged] = [line for line in lines if line.get("trace_id") == SAMPLED_TRACE and line["message"] == "rpc"]
    assert (logged["span_id"], logged["correlation_id"]) == (place.span_id, "rest-sampled")
    assert (logged["rpc.method"], logged["grpc.code"]) == (f"/{PLACE_ORDER}", "OK")
    assert logged["duration_ms"] > 0


def test_no_log_line_holds_a_secret_a_token_or_personal_data(run: Run) -> None:
    text = "\n".join(_log_lines(run))
    leaks = [secret for secret in (SECRET, *run.tokens, *PERSONAL, "Bearer ", "eyJ") if secret in text]
    assert leaks == []
