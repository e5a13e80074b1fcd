"""Every call to the chain is a CLIENT span: the anchor with its transaction's signature and
slot, a failure marked as one, a memo read under the call that asked for it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from services.runtime.errors import Unavailable
from services.settlement.chain import LiteSvmChain, load_or_create_keypair
from services.settlement.chain.traced import TracedChain
from services.settlement.domain.merkle import memo_for_root

MEMO = memo_for_root(bytes(range(32)))


def chain_spans(recorded: InMemorySpanExporter) -> list[ReadableSpan]:
    """The chain's spans: the recorder is process-wide, and a span of an earlier test's call
    (a server draining as it stops) can end while this one runs."""
    return [span for span in recorded.get_finished_spans()
            if span.instrumentation_scope is not None and span.instrumentation_scope.name == "clearmesh.solana"]


@pytest.fixture
async def chain(tmp_path: Path) -> AsyncIterator[TracedChain]:
    traced = TracedChain(LiteSvmChain(load_or_create_keypair(None, tmp_path)))
    yield traced
    await traced.close()


async def test_an_anchor_is_a_client_span_naming_its_transaction(chain: TracedChain,
                                                                 recorded_spans: InMemorySpanExporter) -> None:
    anchor = await chain.anchor(MEMO)

    [span] = chain_spans(recorded_spans)
    assert (span.name, span.kind) == ("solana anchor", SpanKind.CLIENT)
    attributes = span.attributes or {}
    assert (attributes["solana.signature"], attributes["solana.slot"]) == (anchor.signature, anchor.slot)
    assert attributes["solana.chain"] == chain.description


async def test_a_refused_anchor_is_an_error_span(chain: TracedChain, recorded_spans: InMemorySpanExporter) -> None:
    with pytest.raises(Unavailable):
        await chain.anchor(b"\xff\xfe")  # the Memo program requires UTF-8

    [span] = chain_spans(recorded_spans)
    assert (span.status.status_code, (span.attributes or {})["error.type"]) == (StatusCode.ERROR, "Unavailable")


async def test_a_memo_read_is_a_child_of_the_call_that_asked(chain: TracedChain,
                                                             recorded_spans: InMemorySpanExporter) -> None:
    anchor = await chain.anchor(MEMO)
    recorded_spans.clear()
    with trace.get_tracer("test").start_as_current_span("GetSettlementProof") as call:
        assert await chain.read_memo(anchor.signature) == MEMO

    read = next(span for span in recorded_spans.get_finished_spans() if span.name == "solana read_memo")
    assert read.parent is not None and read.parent.span_id == call.get_span_context().span_id
