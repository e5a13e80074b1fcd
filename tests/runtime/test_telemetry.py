"""Tracing's settings and helpers: parent-based sampling only, the traceparent a record keeps
and the link made from it, a span per SQL statement inside a traced call (every statement
with a threshold of 0; with one, those that took at least that long, and every failed one)."""

from __future__ import annotations

import random
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags
from pydantic import ValidationError
from sqlalchemy import text

from services.runtime.database import create_engine
from services.runtime.settings import Settings
from services.runtime.telemetry import configure_tracing, current_traceparent, link_to, sampler_of

TRACE, SPAN = 0x4BF92F3577B34DA6A3CE929D0E0E4736, 0x00F067AA0BA902B7


def _parent(sampled: bool) -> trace.Span:
    flags = TraceFlags.SAMPLED if sampled else TraceFlags.DEFAULT
    return NonRecordingSpan(SpanContext(TRACE, SPAN, is_remote=True, trace_flags=TraceFlags(flags)))


def test_span_and_trace_ids_leave_pythons_global_random_as_it_was() -> None:
    # A process that seeds `random` (a replayed simulation) must not repeat another's trace ids,
    # and hypothesis warns of a test whose global random state moves while it draws an example.
    tracer = configure_tracing("test", Settings()).get_tracer("test")
    state = random.getstate()

    contexts = [tracer.start_span("call").get_span_context() for _ in range(100)]

    assert random.getstate() == state
    assert len({context.trace_id for context in contexts}) == len({context.span_id for context in contexts}) == 100
    assert all(0 < context.span_id < 2**64 and 0 < context.trace_id < 2**128 for context in contexts)
    assert max(context.trace_id for context in contexts) >= 2**120  # the high bits are drawn too


@pytest.mark.parametrize("sampler", ["always_on", "traceidratio", "jaeger_remote"])
def test_a_sampler_that_ignores_the_callers_decision_is_refused(sampler: str) -> None:
    with pytest.raises(ValidationError):
        Settings(OTEL_TRACES_SAMPLER=sampler)


@pytest.mark.parametrize("exporter", ["jaeger", "zipkin", ""])
def test_an_unknown_exporter_is_refused(exporter: str) -> None:
    with pytest.raises(ValidationError):
        Settings(OTEL_TRACES_EXPORTER=exporter)


@pytest.mark.parametrize("sampler", ["parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"])
@pytest.mark.parametrize("sampled", [True, False])
def test_every_hop_follows_the_callers_sampling_flag(sampler: str, sampled: bool) -> None:
    decide = sampler_of(Settings(OTEL_TRACES_SAMPLER=sampler, OTEL_TRACES_SAMPLER_ARG=0.5))
    parent = trace.set_span_in_context(_parent(sampled))

    assert decide.should_sample(parent, TRACE, "rpc").decision.is_sampled() is sampled


def test_a_ratio_samples_roots_by_their_trace_id() -> None:
    decide = sampler_of(Settings(OTEL_TRACES_SAMPLER="parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG=0.25))
    kept = sum(decide.should_sample(None, 1 << 64 | trace_id, "root").decision.is_sampled()
               for trace_id in range(0, 2**64, 2**56))

    assert kept == 64  # a quarter of 256 trace ids spread evenly over the 64 bits the ratio reads


def test_the_kept_traceparent_of_a_sampled_span_links_back_to_it() -> None:
    with trace.use_span(_parent(sampled=True)):
        kept = current_traceparent()

    link = link_to(kept)
    assert kept == f"00-{TRACE:032x}-{SPAN:016x}-01"
    assert link is not None and (link.context.trace_id, link.context.span_id) == (TRACE, SPAN)


def test_nothing_is_kept_of_a_sampled_out_or_missing_span() -> None:
    with trace.use_span(_parent(sampled=False)):
        assert current_traceparent() == ""
    assert current_traceparent() == ""


@pytest.mark.parametrize("kept", ["", "00-xyz-00f067aa0ba902b7-01", f"00-{'0' * 32}-{'1' * 16}-01", "00-abc"])
def test_no_link_is_made_from_an_empty_or_malformed_traceparent(kept: str) -> None:
    assert link_to(kept) is None


def _statements(recorded: InMemorySpanExporter) -> list[ReadableSpan]:
    """The SQL spans among those the process finished: the recorder is process-wide, and a gRPC
    span of an earlier test's call can end (when its stopped server lets go of it) during this one."""
    return [span for span in recorded.get_finished_spans()
            if span.instrumentation_scope is not None and span.instrumentation_scope.name == "clearmesh.sql"]


async def test_a_statement_inside_a_traced_call_is_a_client_span_with_the_database_conventions(
        recorded_spans: InMemorySpanExporter, database_url: str) -> None:
    engine = create_engine(database_url, sql_span_min_ms=0)  # every statement
    try:
        with trace.get_tracer("test").start_as_current_span("call") as call:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1 WHERE 1 = :one"), {"one": 1})
    finally:
        await engine.dispose()

    statements = [span for span in _statements(recorded_spans) if span.name.startswith("SELECT")]
    assert statements and all(span.parent is not None and span.parent.span_id == call.get_span_context().span_id
                              for span in statements)
    attributes = statements[-1].attributes or {}
    assert attributes["db.operation.name"] == "SELECT"
    assert attributes["db.system.name"] == ("postgresql" if database_url.startswith("postgresql") else "sqlite")
    assert "SELECT 1 WHERE 1 =" in str(attributes["db.query.text"])
    assert statements[-1].kind is trace.SpanKind.CLIENT


async def test_a_statement_outside_any_traced_call_makes_no_span(recorded_spans: InMemorySpanExporter,
                                                                database_url: str) -> None:
    engine = create_engine(database_url, sql_span_min_ms=0)  # every statement
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()

    assert _statements(recorded_spans) == []


async def test_transaction_control_makes_no_span(recorded_spans: InMemorySpanExporter, database_url: str) -> None:
    engine = create_engine(database_url, sql_span_min_ms=0)  # every statement
    try:
        with trace.get_tracer("test").start_as_current_span("call"):
            async with engine.connect() as connection:
                await connection.exec_driver_sql("BEGIN")
                await connection.exec_driver_sql("SELECT 1")
                await connection.exec_driver_sql("COMMIT")
    finally:
        await engine.dispose()

    assert [span.name.split()[0] for span in _statements(recorded_spans)] == ["SELECT"]



async def test_a_statement_run_again_after_failing_gets_a_span_of_its_own_without_the_failure(
        recorded_spans: InMemorySpanExporter, database_url: str) -> None:
    engine = create_engine(database_url, sql_span_min_ms=0)  # every statement
    statement = text("SELECT count(*) FROM telemetry_probe")
    try:
        with trace.get_tracer("test").start_as_current_span("call"):
            async with engine.connect() as connection:
                with pytest.raises(Exception):  # noqa: B017 - each driver names the error its own way
                    await connection.execute(statement)
                await connection.rollback()
                await connection.execute(text("CREATE TEMPORARY TABLE telemetry_probe (n integer)"))
                await connection.execute(statement)
    finally:
        await engine.dispose()

    failed, again = [span for span in _statements(recorded_spans)
                     if "telemetry_probe" in str((span.attributes or {}).get("db.query.text"))
                     and span.name.startswith("SELECT")][-2:]
    assert failed.status.status_code is trace.StatusCode.ERROR and "error.type" in (failed.attributes or {})
    assert again.context.span_id != failed.context.span_id and again.name == failed.name
    assert again.status.status_code is not trace.StatusCode.ERROR
    assert "error.type" not in (again.attributes or {})


def _query(span: ReadableSpan) -> str:
    return str((span.attributes or {}).get("db.query.text"))


async def _slow_statement(connection: Any, database_url: str, seconds: float) -> None:
    """A statement that takes `seconds`: PostgreSQL's pg_sleep, or a function SQLite calls."""
    if database_url.startswith("postgresql"):
        await connection.execute(text("SELECT pg_sleep(:seconds)"), {"seconds": seconds})
        return
    raw = await connection.get_raw_connection()
    raw.driver_connection.sqlite_connection.create_function("pause", 1, time.sleep)
    await connection.execute(text("SELECT pause(:seconds)"), {"seconds": seconds})


async def test_a_statement_faster_than_the_threshold_makes_no_span(
        recorded_spans: InMemorySpanExporter, database_url: str) -> None:
    engine = create_engine(database_url, sql_span_min_ms=3_600_000)  # an hour
    try:
        with trace.get_tracer("test").start_as_current_span("call"):
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
    finally:
        await engine.dispose()

    assert _statements(recorded_spans) == []


async def test_a_statement_that_took_the_threshold_is_a_span_of_the_time_it_ran(
        recorded_spans: InMemorySpanExporter, database_url: str) -> None:
    engine = create_engine(database_url, sql_span_min_ms=20)
    try:
        with trace.get_tracer("test").start_as_current_span("call") as call:
            async with engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
                began = time.time_ns()
                await _slow_statement(connection, database_url, 0.05)
                ended = time.time_ns()
    finally:
        await engine.dispose()

    spans = _statements(recorded_spans)
    [slow] = [span for span in spans if "sleep(" in _query(span) or "pause(" in _query(span)]
    assert [span for span in spans if _query(span) == "SELECT 1"] == []
    assert slow.name.startswith("SELECT") and slow.kind is trace.SpanKind.CLIENT
    assert slow.parent is not None and slow.parent.span_id == call.get_span_context().span_id
    assert slow.start_time is not None and slow.end_time is not None
    assert began <= slow.start_time and slow.end_time <= ended and slow.end_time - slow.start_time >= 50_000_000


async def test_a_failed_statement_is_a_span_however_fast(recorded_spans: InMemorySpanExporter,
                                                          database_url: str) -> None:
    engine = create_engine(database_url, sql_span_min_ms=3_600_000)
    try:
        with trace.get_tracer("test").start_as_current_span("call"):
            async with engine.connect() as connection:
                with pytest.raises(Exception):  # noqa: B017 - each driver names the error its own way
                    await connection.execute(text("SELECT count(*) FROM no_such_table"))
    finally:
        await engine.dispose()

    [failed] = _statements(recorded_spans)
    assert failed.status.status_code is trace.StatusCode.ERROR and "error.type" in (failed.attributes or {})


def test_statements_of_a_millisecond_or_more_get_a_span_unless_configured_otherwise() -> None:
    assert Settings().sql_span_min_ms == 1.0
    assert Settings(CLEARMESH_SQL_SPAN_MIN_MS="0").sql_span_min_ms == 0
    with pytest.raises(ValidationError):
        Settings(CLEARMESH_SQL_SPAN_MIN_MS="-1")
