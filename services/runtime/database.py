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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine


def stored_utc(moment: datetime) -> datetime:
    """A time read back from a `DateTime(timezone=True)` column, aware. Every stored time is
    UTC, but SQLite hands it back naive (PostgreSQL aware)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers run beside the one writer; busy_timeout makes a second writer wait for
    # the lock instead of failing at once; foreign keys are off by default in SQLite.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


SCHEMA_PARAMETER = "schema"


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


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    parsed = make_url(url)
    if (schema := schema_of(url)) is not None:
        parsed = parsed.difference_update_query([SCHEMA_PARAMETER])
        # Only the service's schema: an unqualified name never falls through to `public`.
        kwargs.setdefault("connect_args", {}).setdefault("server_settings", {})["search_path"] = _quoted(schema)
    return create_async_engine(parsed, pool_pre_ping=True, **kwargs)


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
