"""A CLIENT span per SQL statement a service runs inside a traced call.

OpenTelemetry's SQLAlchemy instrumentation would do this, but its releases pin the
instrumentation core to another version than the gRPC instrumentation we run (0.66b1 against
0.66b2), so the two cannot be installed together; these few engine hooks do the same.

Only a statement run under a recording span gets one: a background loop polling its table
(the settlement poster, the anchorer) would otherwise start a trace of its own every second.
Transaction control (BEGIN, COMMIT, SAVEPOINT, PRAGMA, ...) gets none.
Names and attributes follow the database conventions: the span is named by the operation and
the database (`SELECT order`), and carries db.system.name, db.namespace, db.operation.name,
db.query.text (the statement with its placeholders; parameter values are never recorded,
they hold accounts and amounts) and server.address / server.port on PostgreSQL.

A statement run on SQLite's driver directly (sqlite_direct.py), beneath SQLAlchemy and its
hooks, gets the same span from the engine's `StatementSpans` (`statement_spans`).
"""

from __future__ import annotations

from typing import Any
from weakref import WeakKeyDictionary

from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode
from sqlalchemy import event
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

_tracer = trace.get_tracer("clearmesh.sql")
_SPAN = "_clearmesh_span"
# db.query.text is cut here: a bulk insert's VALUES list can run to megabytes.
MAX_QUERY_TEXT = 2048
# Statements that only open, close or tune a transaction get no span: a quarter of an order's
# spans were SQLite's BEGINs, each costing an export and telling nothing the query spans don't.
TRANSACTION_CONTROL = frozenset({"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA", "SET"})


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


class StatementSpans:
    """The spans of one engine's statements."""

    def __init__(self, engine: Engine) -> None:
        self._common = _attributes(engine)
        self._target = self._common.get("db.namespace", self._common["db.system.name"])

    def start(self, statement: str) -> Span | None:
        """`statement`'s span, a child of the current span; None outside a recording span and
        for transaction control."""
        if not trace.get_current_span().is_recording():
            return None
        operation = statement.lstrip().split(None, 1)[0].upper() if statement.strip() else "SQL"
        if operation in TRANSACTION_CONTROL:
            return None
        return _tracer.start_span(f"{operation} {self._target}", kind=SpanKind.CLIENT, attributes={
            **self._common, "db.operation.name": operation, "db.query.text": statement[:MAX_QUERY_TEXT]})


def end_failed(span: Span, error: BaseException) -> None:
    """Ends a statement's span with the driver's error (`error`, the DB-API exception)."""
    span.set_status(Status(StatusCode.ERROR, type(error).__name__))
    span.set_attribute("error.type", type(error).__qualname__)
    span.end()


# By dialect: one per engine created, shared with the engines Engine.execution_options derives
# from it (Transactions' write and alone engines), which run the same hooks.
_traced: WeakKeyDictionary[Dialect, StatementSpans] = WeakKeyDictionary()


def statement_spans(engine: Engine) -> StatementSpans | None:
    """The spans `engine`'s statements get, None if it is not traced (`trace_statements`)."""
    return _traced.get(engine.dialect)


def trace_statements(engine: AsyncEngine) -> None:
    """Hooks `engine` so each statement run under a recording span gets a span of its own."""
    spans = _traced[engine.sync_engine.dialect] = StatementSpans(engine.sync_engine)

    def before(_conn: Any, _cursor: Any, statement: str, _params: Any, context: Any, _many: bool) -> None:
        span = spans.start(statement)
        if span is not None:
            setattr(context, _SPAN, span)

    def after(_conn: Any, _cursor: Any, _statement: str, _params: Any, context: Any, _many: bool) -> None:
        span = getattr(context, _SPAN, None)
        if span is not None:
            span.end()
            setattr(context, _SPAN, None)

    def failed(exception_context: Any) -> None:
        span = getattr(exception_context.execution_context, _SPAN, None)
        if span is not None:
            end_failed(span, exception_context.original_exception)
            setattr(exception_context.execution_context, _SPAN, None)

    event.listen(engine.sync_engine, "before_cursor_execute", before)
    event.listen(engine.sync_engine, "after_cursor_execute", after)
    event.listen(engine.sync_engine, "handle_error", failed)
