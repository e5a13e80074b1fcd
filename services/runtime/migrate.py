"""Runs a service's migrations: the runtime's own branch plus the service's `migrations/`.

On PostgreSQL they run in the service's schema (the URL's `schema`, see database.py), which is
created first; `alembic_version` lives there too, so services sharing a database never see
each other's revisions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from services.runtime.database import create_engine, ensure_schema

RUNTIME_MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def alembic_config(service_migrations: Path | None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(RUNTIME_MIGRATIONS))
    locations = [RUNTIME_MIGRATIONS / "versions"]
    if service_migrations is not None and service_migrations.is_dir():
        locations.append(service_migrations)
    config.set_main_option("path_separator", "os")
    config.set_main_option("version_locations", os.pathsep.join(map(str, locations)))
    return config


def heads(service_migrations: Path | None) -> set[str]:
    return set(ScriptDirectory.from_config(alembic_config(service_migrations)).get_heads())


async def upgrade(url: str, service_migrations: Path | None, revision: str = "heads") -> None:
    await _run(url, service_migrations, lambda config: command.upgrade(config, revision))


async def downgrade(url: str, service_migrations: Path | None, revision: str) -> None:
    await _run(url, service_migrations, lambda config: command.downgrade(config, revision))


async def _run(url: str, service_migrations: Path | None, step: Callable[[Config], None]) -> None:
    config = alembic_config(service_migrations)
    await ensure_schema(url)
    engine = create_engine(url)

    def run(connection: Connection) -> None:
        config.attributes["connection"] = connection
        step(config)

    try:
        async with engine.begin() as connection:
            await connection.run_sync(run)
    finally:
        await engine.dispose()
