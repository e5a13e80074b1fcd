"""The runtime's engines (services/runtime/database.py)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from services.runtime.database import create_engine, statements_alone


async def test_on_postgresql_a_statement_alone_commits_by_itself(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE alone (n integer)"))
        async with statements_alone(engine).connect() as alone:
            await alone.execute(text("INSERT INTO alone VALUES (1)"))
            # not committed by this connection, and yet another one sees it
            async with engine.connect() as other:
                seen = (await other.execute(text("SELECT count(*) FROM alone"))).scalar_one()
        assert seen == 1
    finally:
        await engine.dispose()


async def test_on_sqlite_statements_alone_is_the_engine_itself(tmp_path: Path) -> None:
    # SQLite's transactions begin as the runtime makes them (transactions.py), not by autocommit.
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'alone.db'}")
    try:
        assert statements_alone(engine) is engine
    finally:
        await engine.dispose()


async def test_on_postgresql_every_connection_plans_its_statements_once(postgres_url: str) -> None:
    # Generic plans: made once per prepared statement, not again at every execution.
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            mode = (await connection.execute(text("SHOW plan_cache_mode"))).scalar_one()
    finally:
        await engine.dispose()
    assert mode == "force_generic_plan"


async def test_on_postgresql_a_plan_made_on_an_empty_table_looks_keys_up_by_index(postgres_url: str) -> None:
    # The plan a kept connection makes at start is the one it keeps (generic plans): a key
    # look-up over an array must not become a scan of the whole table as the table grows.
    engine = create_engine(postgres_url)
    try:
        async with engine.connect() as connection:
            # The Wallet's holds table's shape: how wide a row is decides how a scan is priced.
            await connection.execute(text(
                "CREATE TEMPORARY TABLE holds (hold_id varchar(64) PRIMARY KEY, account varchar(140) NOT NULL,"
                " asset varchar(16) NOT NULL, units bigint NOT NULL, consumed_units bigint NOT NULL,"
                " released_units bigint NOT NULL, create_time timestamptz NOT NULL)"))
            await connection.execute(text("PREPARE by_ids(text[]) AS SELECT * FROM holds WHERE hold_id = ANY($1)"))
            plan = "\n".join((await connection.execute(text("EXPLAIN EXECUTE by_ids(ARRAY['a', 'b'])"))).scalars())
    finally:
        await engine.dispose()
    assert "Seq Scan" not in plan and "holds_pkey" in plan, plan
