"""Server streaming (NDJSON, SSE, in-band errors) and what the edge forwards upstream
(token unchanged, request id, W3C trace context), against a scripted Matching service run
by the real runtime: the unbuilt Matching cannot stream yet, this one can."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import orjson
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2, matching_service_pb2_grpc
from services.runtime.errors import NotFound, Unavailable
from services.runtime.logs import correlation_id_var
from services.runtime.server import contract_spec, start

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_SPAN = "00f067aa0ba902b7"


@dataclass
class Seen:
    metadata: dict[str, str] = field(default_factory=dict)
    request_id: str = ""
    endless_cancelled: threading.Event = field(default_factory=threading.Event)


class ScriptedMatching(matching_service_pb2_grpc.MatchingServiceServicer):
    """GetMarket echoes; StreamTrades: FAIL-FIRST fails before any trade, EMPTY ends at once,
    ENDLESS sends one trade and then nothing until cancelled, anything else sends two trades and
    then loses its upstream."""

    def __init__(self, seen: Seen) -> None:
        self.seen = seen

    async def GetMarket(self, request: Any, context: grpc.aio.ServicerContext) -> matching_pb2.Market:
        metadata = context.invocation_metadata() or ()
        self.seen.metadata = {key: value for key, value in metadata if isinstance(value, str)}
        self.seen.request_id = correlation_id_var.get()
        return matching_pb2.Market(name=request.name, base_asset="GRID", quote_asset="USDC", tick_size="0.0001")

    async def StreamTrades(self, request: Any, context: grpc.aio.ServicerContext):
        if request.market == "markets/FAIL-FIRST":
            raise NotFound("MARKET_NOT_FOUND", f"{request.market} does not exist")
        if request.market == "markets/EMPTY":
            return
        if request.market == "markets/ENDLESS":
            yield matching_service_pb2.StreamTradesResponse(trade=matching_pb2.Trade(market=request.market, sequence=1))
            try:
                await asyncio.Event().wait()  # a quiet market: nothing more, ever
            except asyncio.CancelledError:
                self.seen.endless_cancelled.set()
                raise
        for sequence in (1, 2):
            yield matching_service_pb2.StreamTradesResponse(trade=matching_pb2.Trade(
                name=f"{request.market}/trades/{sequence}", market=request.market, sequence=sequence,
                price="0.1250", quantity="10"))
        raise Unavailable("ENGINE_RESTARTING", "the engine is restarting")


@pytest.fixture(scope="module")
def scripted(stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Seen]]:
    seen = Seen()

    async def build(_runtime: Any) -> ScriptedMatching:
        return ScriptedMatching(seen)

    spec = contract_spec("matching", matching_service_pb2, matching_service_pb2_grpc, "MatchingService", build=build)
    # Its own data directory: the real Matching's database has migrations this spec lacks.
    own = stack.settings.model_copy(update={"data_dir": tmp_path_factory.mktemp("scripted-matching")})
    running = stack.run(start(spec, own, port=0))
    url, _ = stack.start_edge(stack.upstream_settings(matching_addr=f"127.0.0.1:{running.port}"))
    yield url, seen
    stack.run(running.stop(grace=0))


def _lines(response: httpx.Response) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in response.text.splitlines() if line]


def test_a_stream_is_ndjson_one_bare_message_per_line_then_an_in_band_error(scripted, auth) -> None:
    url, _ = scripted
    response = httpx.get(f"{url}/v1/markets/GRID-USDC/trades:stream", headers=auth())
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = _lines(response)
    assert [line["trade"]["sequence"] for line in lines[:2]] == ["1", "2"]
    assert lines[2] == {"error": {"code": 14, "message": "the engine is restarting", "details": [
        {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "ENGINE_RESTARTING", "domain": "clearmesh.io"}]}}


def test_a_stream_is_server_sent_events_when_the_client_accepts_them(scripted, auth) -> None:
    url, _ = scripted
    response = httpx.get(f"{url}/v1/markets/GRID-USDC/trades:stream",
                         headers={**auth(), "accept": "text/event-stream"})
    assert response.headers["content-type"] == "text/event-stream"
    events = response.text.split("\n\n")
    assert events[0].startswith("data: ") and orjson.loads(events[0][6:])["trade"]["sequence"] == "1"
    assert events[2].startswith("event: error\ndata: ")
    assert orjson.loads(events[2].split("data: ", 1)[1])["code"] == 14


def test_a_stream_that_fails_before_its_first_message_gets_the_mapped_http_status(scripted, auth) -> None:
    url, _ = scripted
    response = httpx.get(f"{url}/v1/markets/FAIL-FIRST/trades:stream", headers=auth())
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json()["details"][0]["reason"] == "MARKET_NOT_FOUND"


def test_a_stream_that_ends_without_messages_is_an_empty_200(scripted, auth) -> None:
    url, _ = scripted
    response = httpx.get(f"{url}/v1/markets/EMPTY/trades:stream", headers=auth())
    assert (response.status_code, response.text) == (200, "")


def test_a_unary_reply_is_proto3_json_with_zero_values(scripted, auth) -> None:
    url, _ = scripted
    market = httpx.get(f"{url}/v1/markets/GRID-USDC", headers=auth()).json()
    assert market["name"] == "markets/GRID-USDC"
    assert market["tickSize"] == "0.0001"
    assert market["mode"] == "MARKET_MODE_UNSPECIFIED"  # zero values are emitted


def test_the_token_is_forwarded_unchanged_with_the_request_id(scripted, auth) -> None:
    url, seen = scripted
    headers = {**auth(), "x-request-id": "trace-me-42"}
    response = httpx.get(f"{url}/v1/markets/GRID-USDC", headers=headers)
    assert response.headers["x-request-id"] == "trace-me-42"
    assert seen.metadata["authorization"] == headers["authorization"]
    assert seen.metadata["x-request-id"] == "trace-me-42"
    assert seen.request_id == "trace-me-42"


def _spans_under_parent(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    """The edge's SERVER spans under PARENT_SPAN. The edge ends its span just after the last
    byte went out, on the stack's own thread, so the client may get the reply first: wait for
    the span (boundedly) instead of racing it."""
    deadline = time.monotonic() + 10
    while True:
        spans = [s for s in exporter.get_finished_spans() if s.kind is trace.SpanKind.SERVER
                 and s.parent is not None and format(s.parent.span_id, "016x") == PARENT_SPAN]
        if spans or time.monotonic() > deadline:
            return spans
        time.sleep(0.01)


def test_traceparent_continues_through_an_edge_span_into_the_service(scripted, auth) -> None:
    url, seen = scripted
    provider = trace.get_tracer_provider()
    assert isinstance(provider, TracerProvider), "the services configure the SDK provider at start"
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    httpx.get(f"{url}/v1/markets/GRID-USDC", headers={**auth(), "traceparent": f"00-{TRACE_ID}-{PARENT_SPAN}-01"})

    _version, trace_id, parent, _flags = seen.metadata["traceparent"].split("-")
    assert trace_id == TRACE_ID
    edge_spans = _spans_under_parent(exporter)
    assert len(edge_spans) == 1
    assert edge_spans[0].name == "GET /v1/{name=markets/*}"
    assert format(edge_spans[0].context.trace_id, "032x") == TRACE_ID
    assert parent == format(edge_spans[0].context.span_id, "016x")  # the service's parent is the edge's span


def test_a_client_that_hangs_up_cancels_the_upstream_stream(scripted, auth) -> None:
    url, seen = scripted
    with httpx.stream("GET", f"{url}/v1/markets/ENDLESS/trades:stream", headers=auth()) as response:
        first = next(response.iter_lines())
        assert orjson.loads(first)["trade"]["sequence"] == "1"
    # A liveness bound, not a speed claim: the cancellation must arrive at all.
    assert seen.endless_cancelled.wait(timeout=10)
