"""CLEARMESH_SQLITE_SYNCHRONOUS: what an SQLite commit waits for. FULL (the default) fsyncs the
log at every commit, so an acknowledged transaction survives a power loss; NORMAL only at
checkpoints. The setting reaches every connection the engine opens."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import text

from services.runtime.database import create_engine
from services.runtime.settings import Settings

# PRAGMA synchronous answers a number: 1 NORMAL, 2 FULL.
PRAGMA_VALUE = {"NORMAL": 1, "FULL": 2}


async def synchronous_of_engine(tmp_path: Path, settings: Settings) -> int:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'service.db'}",
                           sqlite_synchronous=settings.sqlite_synchronous)
    try:
        async with engine.connect() as connection:
            return int((await connection.execute(text("PRAGMA synchronous"))).scalar_one())
    finally:
        await engine.dispose()


async def test_sqlite_commits_wait_for_the_disk_by_default(tmp_path: Path) -> None:
    assert await synchronous_of_engine(tmp_path, Settings()) == PRAGMA_VALUE["FULL"]


@pytest.mark.parametrize("value", ["NORMAL", "normal"])
async def test_the_setting_chooses_normal(tmp_path: Path, value: str) -> None:
    settings = Settings(CLEARMESH_SQLITE_SYNCHRONOUS=value)

    assert await synchronous_of_engine(tmp_path, settings) == PRAGMA_VALUE["NORMAL"]


def test_a_mode_that_could_lose_a_crashed_processes_commits_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(CLEARMESH_SQLITE_SYNCHRONOUS="OFF")
