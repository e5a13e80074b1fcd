"""The matching service as the runtime starts it."""

from __future__ import annotations

from pathlib import Path

from clearmesh.matching.v1 import matching_service_pb2, matching_service_pb2_grpc
from services.matching.api import MatchingServicer
from services.matching.domain import default_markets
from services.matching.exchange import Exchange
from services.matching.store import MatchingStore
from services.runtime.assets import parse_asset_config
from services.runtime.server import ServiceRuntime, contract_spec


async def build(runtime: ServiceRuntime) -> MatchingServicer:
    settings = runtime.settings
    # The Wallet's asset list: Matching lists only markets the Wallet can hold and settle.
    assets = parse_asset_config(settings.assets)
    exchange = Exchange(MatchingStore(runtime.engine), runtime.clock, runtime.spawn,
                        order_expiration_hours=settings.order_expiration_hours,
                        max_book_size=settings.max_order_book_size)
    await exchange.open(default_markets(settings.matching_interval_ms))
    runtime.on_close(exchange.close)
    return MatchingServicer(exchange, runtime.transactions, {code: asset.precision for code, asset in assets.items()})


SPEC = contract_spec(
    "matching", matching_service_pb2, matching_service_pb2_grpc, "MatchingService",
    build=build, migrations=Path(__file__).resolve().parent / "migrations",
)
