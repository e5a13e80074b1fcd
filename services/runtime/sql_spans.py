"""A CLIENT span per SQL statement a service runs inside a traced call, when it took long
enough to tell anyone something.

OpenTelemetry's SQLAlchemy instrumentation would do this, but its releases pin the
instrumentation core to another version than the gRPC instrumentation we run (0.66b1 against
0.66b2), so the two cannot be installed together; these few engine hooks do the same.

Only a statement run under a recorded span (`deferred_spans.recorded`) gets one: a background
loop polling its table (the settlement poster, the anchorer) would otherwise start a trace of
its own every second.
Transaction control (BEGIN, COMMIT, SAVEPOINT, PRAGMA, ...) gets none.
Names and attributes follow the database conventions: the span is named by the operation and
the database (`SELECT order`), and carries db.system.name, db.namespace, db.operation.name,
db.query.text (the statement with its placeholders; parameter values are never recorded,
they hold accounts and amounts) and server.address / server.port on PostgreSQL.

Fast statements get no span (`CLEARMESH_SQL_SPAN_MIN_MS`, 1 ms by default; 0 records every
one). A statement is timed, and only one that ran at least that long, or failed, is made a
span afterwards, with the times it ran (`start_span(start_time=...)`, `end(end_time=...)`:
the SDK's public API; a statement has no child span, so nothing needs it current while it
runs). On SQLite a statement of Order's placement runs in ~15–50 µs of CPU and its span cost
~40 µs more to make (SDK start and end with four attributes, measured in one process with a
batch span processor) plus ~7 µs to export: Order's 2.3 statement spans per order were more
than half its spans and told an SRE nothing its PlaceOrder span and the `store` step of
`order_place_step_seconds` do not (bench/span_census.py; docs/observability.md, "What tracing
costs"). Timing one costs two clock reads (~1.5 µs). A statement that waited on a lock, scanned
a table it should not or crossed a slow network still shows, in the trace it slowed. The
precedent is Elastic APM's `exit_span_min_duration` (1 ms by default in its Python agent):
exit spans shorter than it are dropped. Ours keeps failed statements whatever they took.

A statement run on the driver directly (SQLite's or asyncpg's, direct_statements.py), beneath
SQLAlchemy and its hooks, gets the same span from the engine's `StatementSpans`
(`statement_spans`).
"""

from __future__ import annotations

from time import time_ns
from typing import Any
from weakref import WeakKeyDictionary

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from services.runtime.deferred_spans import recorded

_tracer = trace.get_tracer("clearmesh.sql")
_TIMED = "_clearmesh_statement"
# db.query.text is cut here: a bulk insert's VALUES list can run to megabytes.
MAX_QUERY_TEXT = 2048
# Statements that only open, close or tune a transaction get no span: a quarter of an order's
# spans were SQLite's BEGINs, each costing an export and telling nothing the query spans don't.
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET"})
# The shortest statement that gets a span, by default (Settings.sql_span_min_ms; see the module).
DEFAULT_MIN_MS = 1.0


def _attributes(engine: Engine) -> dict[str, Any]:
    url = engine.url
    system = "postgresql" if url.get_backend_name() == "postgresql" else url.get_backend_name()
    attributes: dict[str, Any] = {"db.system.name": system}
    if url.database:
        # SQLite's database is a file path; its name says which service's store it is.
        attributes["db.namespace"] = url.database.rsplit("/", 1)[-1] if system == "sqlite" else url.database
    if url.host:
        attributes["server.address"] = url.host
        attributes["server.port"] = url.port or 5432
    return attributes


def _operation(statement: str) -> str:
    return statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"


class StatementSpans:
    """The spans of one engine's statements: those of at least `min_ms` milliseconds, and
    every failed one."""

    def __init__(self, engine: Engine, min_ms: float = DEFAULT_MIN_MS) -> None:
        self._common = _attributes(engine)
        self._target = self._common.get("db.namespace", self._common["db.system.name"])
        self.min_ns = int(min_ms * 1_000_000)

    def start(self, statement: str) -> Statement | None:
        """`statement` timed from now, to be made a span (a child of the current span) when it
        ends; None outside a recorded span and for transaction control."""
        parent = trace.get_current_span()
        # Not `is_recording()`: a gRPC call's DeferredSpan records nothing itself, yet is recorded.
        if not recorded(parent):
            return None
        operation = _operation(statement)
        if operation in TRANSACTION_CONTROL:
            return None
        return Statement(self, parent, operation, statement, time_ns())

    def span(self, parent: Span, operation: str, statement: str, started: int, ended: int,
             error: BaseException | None = None) -> None:
        """The finished span of `statement`, which ran from `started` to `ended` (ns since
        the epoch) under `parent`; with the driver's `error` (the DB-API exception) if it failed.
        Every attribute is given at the start, in one dict: set afterwards, each would be
        checked again under the span's lock."""
        attributes = {**self._common, "db.operation.name": operation, "db.query.text": statement[:MAX_QUERY_TEXT]}
        if error is not None:
            attributes["error.type"] = type(error).__qualname__
        span = _tracer.start_span(f"{operation} {self._target}", trace.set_span_in_context(parent),
                                  SpanKind.CLIENT, attributes, start_time=started)
        if error is not None:
            span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end(end_time=ended)


class Statement:
    """A statement being timed (`StatementSpans.start`): `end()` when it has run."""

    __slots__ = ("_operation", "_parent", "_spans", "_started", "_statement")

    def __init__(self, spans: StatementSpans, parent: Span, operation: str, statement: str, started: int) -> None:
        self._spans, self._parent, self._operation = spans, parent, operation
        self._statement, self._started = statement, started

    def end(self, error: BaseException | None = None) -> None:
        """It ran (or failed with the driver's `error`): its span, if it took long enough or failed."""
        ended = time_ns()
        if error is not None or ended - self._started >= self._spans.min_ns:
            self._spans.span(self._parent, self._operation, self._statement, self._started, ended, error)


# By dialect: one per engine created, shared with the engines Engine.execution_options derives
# from it (Transactions' write and alone engines), which run the same hooks.
_traced: WeakKeyDictionary[Dialect, StatementSpans] = WeakKeyDictionary()


def statement_spans(engine: Engine) -> StatementSpans | None:
    """The spans `engine`'s statements get, None if it is not traced (`trace_statements`)."""
    return _traced.get(engine.dialect)


def trace_statements(engine: AsyncEngine, min_ms: float = DEFAULT_MIN_MS) -> None:
    """Hooks `engine` so each statement run under a recording span that takes at least
    `min_ms` milliseconds (or fails) gets a span of its own."""
    spans = _traced[engine.sync_engine.dialect] = StatementSpans(engine.sync_engine, min_ms)

    def before(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        timed = spans.start(statement)
        if timed is not None:
            setattr(context, _TIMED, timed)

    def after(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        timed = getattr(context, _TIMED, None)
        if timed is not None:
            timed.end()
            setattr(context, _TIMED, None)

    def failed(exception_context: Any) -> None:
        timed = getattr(exception_context.execution_context, _TIMED, None)
        if timed is not None:
            timed.end(exception_context.original_exception)
            setattr(exception_context.execution_context, _TIMED, None)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "handle_error", failed)
