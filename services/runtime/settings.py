"""One typed settings object per process, read once from the environment.

The variable names are the production guide's (DATABASE_URL, MATCHING_INTERVAL_MS, ...); the
CLEARMESH_* ones are ours. Nothing else in the code reads os.environ. Two things touch it
without reading a setting: `clearmesh up` (services/supervisor.py) hands the environment on,
whole, to the processes it starts, which read it here; and the OpenTelemetry SDK reads the
OTEL_* variables not declared below (sampler, exporter headers, TLS) itself, see
services/runtime/telemetry.py.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.runtime.database import DEFAULT_SQLITE_SYNCHRONOUS, SqliteSynchronous, with_schema
from services.runtime.shards import ShardMap, shard_ordinal
from services.runtime.sql_spans import DEFAULT_MIN_MS as DEFAULT_SQL_SPAN_MIN_MS

# Default gRPC port per service when all run on one machine (`clearmesh up`); in Kubernetes
# every service listens on 50051 in its own pod.
DEFAULT_PORTS: dict[str, int] = {
    "order": 50051, "matching": 50052, "wallet": 50053, "kyc": 50054, "settlement": 50055,
}
EDGE_PORT = 8080
METRICS_BASE_PORT = 9090


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=False)

    # Storage. Empty DATABASE_URL means the embedded default: a SQLite file per service.
    # <SERVICE>_DATABASE_URL gives one service its own database; DATABASE_URL is the fallback
    # all others share. On PostgreSQL each service lives in its own schema either way.
    database_url: str = ""
    order_database_url: str = ""
    matching_database_url: str = ""
    wallet_database_url: str = ""
    kyc_database_url: str = ""
    settlement_database_url: str = ""
    redis_url: str = ""
    data_dir: Path = Field(Path(".clearmesh"), validation_alias="CLEARMESH_DATA_DIR")
    # Run migrations when a service starts; on by default for the embedded SQLite, off for
    # a production database, where `clearmesh migrate` runs them as a release step.
    migrate_on_start: bool | None = Field(None, validation_alias="CLEARMESH_MIGRATE_ON_START")
    # The longest PostgreSQL may take to accept a connection or answer one statement: past it
    # the call answers UNAVAILABLE instead of waiting on a database that is gone.
    database_timeout_secs: float = Field(5.0, gt=0, validation_alias="CLEARMESH_DATABASE_TIMEOUT_SECS")
    # What an SQLite commit waits for (services/runtime/database.py): FULL survives a power
    # loss, NORMAL only a crash of the process. PostgreSQL has its own (synchronous_commit).
    sqlite_synchronous: SqliteSynchronous = Field(
        DEFAULT_SQLITE_SYNCHRONOUS, validation_alias="CLEARMESH_SQLITE_SYNCHRONOUS")

    # Matching and orders.
    matching_interval_ms: int = Field(1000, gt=0)
    order_expiration_hours: int = Field(720, gt=0)
    max_order_book_size: int = Field(100_000, gt=0)

    # The Wallet's assets and their precision (decimals), CODE:PRECISION,...
    assets: str = Field("USDC:6,GRID:3,BTC:8", validation_alias="CLEARMESH_ASSETS")

    # Settlement and the chain.
    settlement_fee_rate: Decimal = Field(Decimal("0.001"), ge=0, lt=1)
    settlement_retry_attempts: int = Field(5, ge=1)
    settlement_retry_delay_secs: float = Field(2.0, ge=0)
    settlement_confirmation_timeout_secs: float = Field(30.0, gt=0)
    solana_rpc_url: str = ""
    solana_commitment: str = "confirmed"
    blockchain_keypair_path: Path | None = None

    # Identity.
    jwt_secret: SecretStr | None = None
    jwt_expiration_hours: int = Field(24, gt=0)
    jwt_issuer: str = Field("clearmesh", validation_alias="CLEARMESH_JWT_ISSUER")
    jwt_audience: str = Field("clearmesh", validation_alias="CLEARMESH_JWT_AUDIENCE")

    # KYC. Unset keys mean the embedded default: generated once and kept in the data directory
    # (see ensure_secret_file). Empty paths/tables mean the shipped sample list / default tiers.
    kyc_sanctions_path: Path | None = Field(None, validation_alias="CLEARMESH_KYC_SANCTIONS_PATH")
    # Fernet keys, comma separated, newest first (the first encrypts, all decrypt).
    kyc_pii_keys: SecretStr | None = Field(None, validation_alias="CLEARMESH_KYC_PII_KEYS")
    # HMAC key for document numbers, at least 32 characters.
    kyc_hash_key: SecretStr | None = Field(None, validation_alias="CLEARMESH_KYC_HASH_KEY")
    # Tier limits as JSON (services/kyc/domain/tiers.py); empty means the built-in table.
    kyc_tiers: str = Field("", validation_alias="CLEARMESH_KYC_TIERS")
    # Screening policy as JSON (min_age, denied_countries, ...); empty means the defaults.
    kyc_screening_policy: str = Field("", validation_alias="CLEARMESH_KYC_SCREENING_POLICY")
    # How long an account's KYC state may be served from Redis; reviews invalidate it sooner.
    kyc_cache_ttl_secs: int = Field(60, gt=0, validation_alias="CLEARMESH_KYC_CACHE_TTL_SECS")

    # The edge.
    cors_allowed_origins: Annotated[list[str], NoDecode] = []
    rate_limit_per_minute: int = Field(600, gt=0)
    rate_limit_burst: int = Field(100, gt=0)
    metrics_port: int | None = None
    edge_host: str = Field("127.0.0.1", validation_alias="CLEARMESH_EDGE_HOST")
    edge_port: int = Field(EDGE_PORT, validation_alias="CLEARMESH_EDGE_PORT")
    # RS256 keys for the edge's JWT check in production: a JWKS URL or file. Empty: HS256
    # with JWT_SECRET, as the services verify locally.
    jwks_url: str = Field("", validation_alias="CLEARMESH_JWKS")

    # Serving.
    grpc_host: str = Field("127.0.0.1", validation_alias="CLEARMESH_GRPC_HOST")
    grpc_port: int | None = Field(None, validation_alias="CLEARMESH_GRPC_PORT")
    # Where the other services are: host:port. Defaults are the `clearmesh up` ports.
    order_addr: str = Field("127.0.0.1:50051", validation_alias="CLEARMESH_ORDER_ADDR")
    matching_addr: str = Field("127.0.0.1:50052", validation_alias="CLEARMESH_MATCHING_ADDR")
    # Matching in shards (services/runtime/shards.py): every shard's address, in shard order;
    # empty means one shard at CLEARMESH_MATCHING_ADDR. A Matching process is the shard
    # CLEARMESH_MATCHING_SHARD names: a number, or a StatefulSet pod's name (`matching-2`).
    matching_shards: Annotated[list[str], NoDecode] = Field([], validation_alias="CLEARMESH_MATCHING_SHARDS")
    matching_shard: int = Field(0, ge=0, validation_alias="CLEARMESH_MATCHING_SHARD")
    wallet_addr: str = Field("127.0.0.1:50053", validation_alias="CLEARMESH_WALLET_ADDR")
    kyc_addr: str = Field("127.0.0.1:50054", validation_alias="CLEARMESH_KYC_ADDR")
    settlement_addr: str = Field("127.0.0.1:50055", validation_alias="CLEARMESH_SETTLEMENT_ADDR")
    # Seconds in-flight calls get to finish after SIGTERM.
    shutdown_grace_secs: float = Field(10.0, ge=0, validation_alias="CLEARMESH_SHUTDOWN_GRACE_SECS")
    # 4 MiB both ways: the largest message any RPC needs (a 1000-item page) is far smaller,
    # and a cap on sends keeps a bug from shipping an unbounded response.
    max_message_bytes: int = Field(4 * 1024 * 1024, gt=0, validation_alias="CLEARMESH_MAX_MESSAGE_BYTES")
    # In the mesh the sidecar terminates mTLS and forwards the peer's SPIFFE identity in
    # x-forwarded-client-cert; only then may a service identity come from there.
    trust_mesh_identity: bool = Field(False, validation_alias="CLEARMESH_TRUST_MESH_IDENTITY")
    log_level: str = Field("INFO", validation_alias="CLEARMESH_LOG_LEVEL")

    # Tracing (the standard OpenTelemetry names). Spans are exported over OTLP only when an
    # endpoint is set; an empty service name means the service's own.
    otel_service_name: str = ""
    otel_traces_exporter: Literal["otlp", "console", "none"] = "otlp"
    otel_exporter_otlp_endpoint: str = ""
    otel_exporter_otlp_traces_endpoint: str = ""
    # Only parent-based samplers: the root decides (the edge, or whoever called it with a
    # traceparent) and every hop below keeps or drops the trace with it.
    otel_traces_sampler: Literal["parentbased_always_on", "parentbased_always_off",
                                 "parentbased_traceidratio"] = "parentbased_always_on"
    otel_traces_sampler_arg: float = Field(1.0, ge=0.0, le=1.0)
    # A SQL statement in a traced call gets a span only when it took this long (milliseconds)
    # or failed; 0: every statement (services/runtime/sql_spans.py says why).
    sql_span_min_ms: float = Field(DEFAULT_SQL_SPAN_MIN_MS, ge=0.0, validation_alias="CLEARMESH_SQL_SPAN_MIN_MS")
    # The resource's deployment.environment: which of dev, staging, prod a span comes from.
    deployment_environment: str = Field("local", validation_alias="CLEARMESH_ENVIRONMENT")

    @field_validator("sqlite_synchronous", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("matching_shard", mode="before")
    @classmethod
    def _shard_ordinal(cls, value: object) -> object:
        return shard_ordinal(value) if isinstance(value, str) else value

    @field_validator("cors_allowed_origins", "matching_shards", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return [item.strip() for item in value.split(",") if item.strip()]
        return value

    def port_for(self, service: str) -> int:
        return self.grpc_port if self.grpc_port is not None else DEFAULT_PORTS[service]

    def address_of(self, service: str) -> str:
        return str(getattr(self, f"{service}_addr"))

    def matching_shard_map(self) -> ShardMap:
        return ShardMap(tuple(self.matching_shards) or (self.matching_addr,))

    def storage_name(self, service: str, shard: int | None = None) -> str:
        """The schema (PostgreSQL) or file (SQLite) a service keeps its tables in. Matching's
        shard 0 keeps `matching`, as a single Matching always has; shard n `matching_shard_n`."""
        if service != "matching":
            return service
        shard = self.matching_shard if shard is None else shard
        return service if shard == 0 else f"{service}_shard_{shard}"

    def database_url_for(self, service: str, shard: int | None = None) -> str:
        """The service's own URL, else the shared one (in the service's schema), else SQLite."""
        name = self.storage_name(service, shard)
        url = str(getattr(self, f"{service}_database_url")) or self.database_url
        if url:
            return with_schema(url, name)
        return f"sqlite+aiosqlite:///{(self.data_dir / f'{name}.db').resolve()}"

    def should_migrate_on_start(self, service: str) -> bool:
        if self.migrate_on_start is not None:
            return self.migrate_on_start
        return self.database_url_for(service).startswith("sqlite")


def ensure_secret_file(settings: Settings, filename: str, generate: Callable[[], str]) -> str:
    """A secret kept in the data directory (mode 0600), generated on first use.

    The embedded default for secrets that production sets in the environment.
    """
    return ensure_private_file(settings.data_dir, filename, generate)


def ensure_private_file(directory: Path, filename: str, generate: Callable[[], str]) -> str:
    """The text of `directory/filename` (mode 0600), generated and written on first use.

    Created atomically (a private temporary file hard-linked into place), so concurrent
    processes agree on one value and none ever reads a half-written file.
    """
    path = directory / filename
    if not path.exists():
        directory.mkdir(parents=True, exist_ok=True)
        descriptor, temporary = tempfile.mkstemp(dir=directory, prefix=f".{filename}.")
        try:
            with os.fdopen(descriptor, "w") as handle:  # mkstemp creates it 0600
                handle.write(generate())
            os.link(temporary, path)
        except FileExistsError:
            pass  # another process made it first; use theirs
        finally:
            os.unlink(temporary)
    return path.read_text().strip()


def ensure_jwt_secret(settings: Settings) -> str:
    """The JWT secret: JWT_SECRET, or else one generated once and kept (mode 0600) in the data
    directory, so every process sharing that directory signs and verifies alike. The one
    reader of the secret (services/runtime/auth.py `token_issuer` uses it)."""
    if settings.jwt_secret is not None:
        return settings.jwt_secret.get_secret_value()
    return ensure_secret_file(settings, "jwt_secret", lambda: secrets.token_urlsafe(48))
