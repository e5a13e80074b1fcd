"""`clearmesh migrate` on PostgreSQL: every service into one shared DATABASE_URL (each in its
own schema), as the release Job runs it."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from services.cli import main
from services.registry import SERVICE_NAMES


def test_clearmesh_migrate_brings_every_service_into_one_shared_database(postgres_url: str, tmp_path: Path) -> None:
    environment = {"DATABASE_URL": postgres_url, "CLEARMESH_DATA_DIR": str(tmp_path)}
    result = CliRunner().invoke(main, ["migrate"], env=environment)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [f"{name}: migrated" for name in SERVICE_NAMES]
