"""SQLAlchemy async engines: PostgreSQL via asyncpg in production, SQLite via aiosqlite as the
embedded default (one file per service under the data directory)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event
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


def create_engine(url: str, **kwargs: Any) -> AsyncEngine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    return create_async_engine(url, pool_pre_ping=True, **kwargs)


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
