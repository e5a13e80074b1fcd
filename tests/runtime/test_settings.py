"""Settings come from the environment, by the production guide's names, once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.runtime.settings import Settings, ensure_jwt_secret, ensure_secret_file


def test_the_production_guide_names_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHING_INTERVAL_MS", "250")
    monkeypatch.setenv("SETTLEMENT_FEE_RATE", "0.0025")
    monkeypatch.setenv("CORS_ALLOWED_ORIGINS", "https://a.example, https://b.example")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://db/clearmesh")
    settings = Settings()
    assert settings.matching_interval_ms == 250
    assert settings.settlement_fee_rate == Decimal("0.0025")
    assert settings.cors_allowed_origins == ["https://a.example", "https://b.example"]
    assert settings.database_url_for("wallet") == "postgresql+asyncpg://db/clearmesh?schema=wallet"


def test_a_malformed_value_fails_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MATCHING_INTERVAL_MS", "soon")
    with pytest.raises(ValidationError):
        Settings()


def test_the_embedded_default_is_a_sqlite_file_per_service(tmp_path: Path) -> None:
    settings = Settings(CLEARMESH_DATA_DIR=tmp_path)
    assert settings.database_url_for("kyc") == f"sqlite+aiosqlite:///{tmp_path / 'kyc.db'}"
    assert settings.should_migrate_on_start("kyc")


def test_a_production_database_is_not_migrated_on_start() -> None:
    assert not Settings(database_url="postgresql+asyncpg://db/x").should_migrate_on_start("kyc")


def test_without_jwt_secret_a_random_one_is_kept_private_in_the_data_dir(tmp_path: Path) -> None:
    settings = Settings(CLEARMESH_DATA_DIR=tmp_path)
    secret = ensure_jwt_secret(settings)
    assert len(secret) >= 32
    assert ensure_jwt_secret(settings) == secret
    assert (tmp_path / "jwt_secret").stat().st_mode & 0o077 == 0


def test_a_generated_secret_file_is_made_once_and_kept_private(tmp_path: Path) -> None:
    settings = Settings(CLEARMESH_DATA_DIR=tmp_path / "data")
    first = ensure_secret_file(settings, "some_key", lambda: "generated-once")
    again = ensure_secret_file(settings, "some_key", lambda: "generated-twice")
    assert first == again == "generated-once"
    assert (tmp_path / "data" / "some_key").stat().st_mode & 0o077 == 0
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["some_key"]


def test_a_service_database_url_overrides_the_shared_one() -> None:
    settings = Settings(database_url="postgresql+asyncpg://db/shared",
                        wallet_database_url="postgresql+asyncpg://ledger-db/wallet")
    assert settings.database_url_for("wallet") == "postgresql+asyncpg://ledger-db/wallet?schema=wallet"
    assert settings.database_url_for("kyc") == "postgresql+asyncpg://db/shared?schema=kyc"


def test_a_service_database_url_is_read_from_its_environment_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KYC_DATABASE_URL", "postgresql+asyncpg://kyc-db/kyc")
    assert Settings().database_url_for("kyc") == "postgresql+asyncpg://kyc-db/kyc?schema=kyc"


def test_a_schema_named_in_the_url_is_kept() -> None:
    settings = Settings(database_url="postgresql+asyncpg://db/shared?schema=ledger")
    assert settings.database_url_for("wallet") == "postgresql+asyncpg://db/shared?schema=ledger"


def test_trace_export_is_read_by_the_standard_otel_names(monkeypatch: pytest.MonkeyPatch) -> None:
    names = {"OTEL_SERVICE_NAME": "wallet-eu", "OTEL_TRACES_EXPORTER": "none",
             "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4317",
             "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://traces:4317"}
    for name, value in names.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert {name: getattr(settings, name.lower()) for name in names} == names
