"""SQLAlchemy async engines: PostgreSQL via asyncpg in production, SQLite via aiosqlite as the
embedded default (one file per service under the data directory).

On PostgreSQL each service keeps its tables in its own schema, named by the URL's `schema`
query parameter (Settings.database_url_for adds the service's name). Services may then share
one database: each has its own `alembic_version` and runtime tables (`request_log`), and none
sees another's. The parameter is ours, not the driver's: create_engine turns it into the
connection's search_path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from services.runtime.pool_ping import ping_idle_connections
from services.runtime.sql_spans import DEFAULT_MIN_MS, trace_statements
from services.runtime.sqlite_inline import inline_connector


def stored_utc(moment: datetime) -> datetime:
    """A time read back from a `DateTime(timezone=True)` column, aware. Every stored time is
    UTC, but SQLite hands it back naive (PostgreSQL aware)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


# What a commit in WAL mode waits for (CLEARMESH_SQLITE_SYNCHRONOUS, README "Durability"):
#   FULL    the log is fsynced at every commit: an acknowledged transaction survives a power
#           loss or a kernel crash. The default: the ledger and the journal acknowledge money.
#   NORMAL  the log is fsynced only at checkpoints: a commit survives the process's crash (it
#           is in the OS page cache), but a power loss may drop the last commits before the
#           checkpoint. The database itself never corrupts either way.
SqliteSynchronous = Literal["FULL", "NORMAL"]
SQLITE_SYNCHRONOUS_MODES: tuple[SqliteSynchronous, ...] = ("FULL", "NORMAL")
DEFAULT_SQLITE_SYNCHRONOUS: SqliteSynchronous = "FULL"


def sqlite_pragmas(synchronous: str) -> Callable[[Any, Any], None]:
    """The `connect` hook that sets up every SQLite connection of an engine."""
    if synchronous not in SQLITE_SYNCHRONOUS_MODES:
        raise ValueError(f"synchronous must be one of {SQLITE_SYNCHRONOUS_MODES}, not {synchronous!r}")

    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers run beside the one writer; busy_timeout makes a second writer wait
        # for the lock instead of failing at once; foreign keys are off by default in SQLite.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return on_connect


SCHEMA_PARAMETER = "schema"

# Connections kept open per engine. SQLAlchemy's default (5, plus 10 more that are closed again
# when returned) churns under a few dozen concurrent calls: every extra connection is opened
# and closed again, with its PRAGMAs (SQLite) or a new session (PostgreSQL) each time (profiled
# in bench/order.py at 32 clients). An idle SQLite connection costs a file handle;
# PostgreSQL's are bounded by its max_connections, shared by every service.
SQLITE_POOL = {"pool_size": 32, "max_overflow": 32}
POSTGRES_POOL = {"pool_size": 10, "max_overflow": 10}


def is_postgres(url: str) -> bool:
    return url.startswith("postgresql")


def with_schema(url: str, schema: str) -> str:
    """The PostgreSQL URL with `schema` as its default; an explicit one in the URL is kept."""
    parsed = make_url(url)
    if not is_postgres(url) or SCHEMA_PARAMETER in parsed.query:
        return url
    return parsed.update_query_dict({SCHEMA_PARAMETER: schema}).render_as_string(hide_password=False)


def schema_of(url: str) -> str | None:
    value = make_url(url).query.get(SCHEMA_PARAMETER)
    return value if isinstance(value, str) else None


def create_engine(url: str, *, sqlite_synchronous: SqliteSynchronous = DEFAULT_SQLITE_SYNCHRONOUS,
                  timeout_secs: float | None = None, sql_span_min_ms: float = DEFAULT_MIN_MS,
                  **kwargs: Any) -> AsyncEngine:
    """An engine for `url`; on SQLite every connection commits with `sqlite_synchronous`.
    A statement run in a traced call that takes `sql_span_min_ms` or more (or fails) gets a
    span (sql_spans.py).

    On PostgreSQL, `timeout_secs` bounds connecting, each statement and the wait for a pooled
    connection, so a database that is gone (refusing, or a partition that answers nothing)
    fails the call in that time instead of holding it; None waits as long as the driver does
    (migrations, whose statements may run long). A connection taken from the pool after a
    while unused is pinged first, so one that died while the database was away is replaced,
    not used (runtime/pool_ping.py)."""
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        # An in-memory database lives in one connection (SQLAlchemy's StaticPool): kept as it was.
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            # Statements on the loop's thread, not a worker thread each (see sqlite_inline.py).
            connector = inline_connector(path, commit_off_loop=sqlite_synchronous == "FULL")
            kwargs = _pooled({"async_creator": connector, **kwargs}, SQLITE_POOL)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", sqlite_pragmas(sqlite_synchronous))
        trace_statements(engine, sql_span_min_ms)
        return engine
    parsed = make_url(url)
    if (schema := schema_of(url)) is not None:
        parsed = parsed.difference_update_query([SCHEMA_PARAMETER])
        # Only the service's schema: an unqualified name never falls through to `public`.
        kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})["search_path"] = _quoted(schema)
    # Generic plans, made once per prepared statement and connection: PostgreSQL otherwise plans
    # a prepared statement again at every execution while that looks cheaper, and for one over
    # arrays (`unnest`, `= ANY`: the Wallet's hold group, Matching's journal and look-ups) it may
    # go on doing so, the generic plan assuming arrays of unknown length. The hot statements are
    # key look-ups and index range scans, one good plan whatever their values. The Wallet's hold
    # group alone: ~0.25–0.45 ms of the server's CPU in ~0.55–0.75 per group was planning (a
    # throwaway script, 400 groups of 4 on 200,000 balances, each way). bench/order.py --db
    # postgres --quick, every connection so against none, in turns: the saturation rate higher
    # in 7 of 7 pairs (by 10–24 %, 2026-12-07).
    connect_args = kwargs.setdefault("connect_args", {})
    settings = connect_args.setdefault("server_settings", {})
    settings["plan_cache_mode"] = "force_generic_plan"
    # A generic plan stays as it was made, on a connection that lives as long as the process,
    # and the first ones are made at start, on tables still empty. With the default cost of a
    # random page read (4, a spinning disk's), such a plan scans the whole table for a key
    # look-up over an array (`hold_id = ANY(...)`): ten pages read in order looked cheaper than
    # an index, and the plan never changed as the table grew. In bench/order.py on PostgreSQL
    # (2026-12-07, the machine's autovacuum off, so no ANALYZE ever re-planned them) the
    # Wallet's hold group read its whole holds table ~3,100 times a run, 4.3 million rows, and
    # KYC's standings read its applicants table the same way (~1,200 scans); the server's CPU
    # per order at 500/s rose from 0.95 to 1.34 ms from the first repeat to the second (the
    # growing notional sum, services/order/store.py, did its part). 1.1, what PostgreSQL's documentation
    # suggests for solid-state storage, prices the index path as it costs there, and the plan
    # made on an empty table is an index scan (tests/runtime/test_database.py).
    settings["random_page_cost"] = "1.1"
    if timeout_secs is not None:
        connect_args.update(timeout=timeout_secs, command_timeout=timeout_secs)
        kwargs.setdefault("pool_timeout", timeout_secs)
    engine = create_async_engine(parsed, **_pooled(kwargs, POSTGRES_POOL))
    ping_idle_connections(engine)
    trace_statements(engine, sql_span_min_ms)
    return engine


def statements_alone(engine: AsyncEngine) -> AsyncEngine:
    """`engine` whose connections, on PostgreSQL, run each statement outside a transaction
    (autocommit): a single statement is its own transaction there, and the BEGIN and
    COMMIT/ROLLBACK round trips around it cost as much as the statement. SQLite's engine as it
    is (its driver's autocommit would change how its transactions begin). Only for work of ONE
    statement: several would each commit, and see, on their own."""
    return engine.execution_options(isolation_level="AUTOCOMMIT") if engine.dialect.name == "postgresql" else engine


def _pooled(kwargs: dict[str, Any], pool: dict[str, int]) -> dict[str, Any]:
    """`kwargs` with the pool's size, unless the caller chose its own pool."""
    if "poolclass" in kwargs or "pool_size" in kwargs:
        return kwargs
    return {**pool, **kwargs}


async def ensure_schema(url: str) -> None:
    """Creates the URL's schema if it is missing (migrations run in it; it must exist first)."""
    schema = schema_of(url)
    if schema is None:
        return
    engine = create_async_engine(make_url(url).difference_update_query([SCHEMA_PARAMETER]))
    try:
        async with engine.begin() as connection:
            await connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {_quoted(schema)}"))
    finally:
        await engine.dispose()


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


async def _admin(admin_url: str, sql: str) -> None:
    import asyncpg

    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


async def create_scratch_database(admin_url: str, prefix: str = "clearmesh_scratch") -> str:
    """A new, empty PostgreSQL database beside `admin_url` (a plain postgresql:// URL), for a
    test or a benchmark; returns its SQLAlchemy asyncpg URL. Drop it with drop_scratch_database."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_scratch_database(admin_url: str, url: str) -> None:
    await _admin(admin_url, f'DROP DATABASE "{url.rsplit("/", 1)[1]}" WITH (FORCE)')
