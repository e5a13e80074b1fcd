"""The matching service as the runtime starts it."""

from __future__ import annotations

from pathlib import Path

from clearmesh.matching.v1 import matching_service_pb2, matching_service_pb2_grpc
from services.matching.api import MatchingServicer
from services.matching.domain import default_markets
from services.matching.exchange import Exchange, Placement
from services.matching.relay import Relay
from services.matching.store import MatchingStore
from services.runtime.assets import parse_asset_config
from services.runtime.server import ServiceRuntime, contract_spec


async def build(runtime: ServiceRuntime) -> MatchingServicer:
    settings = runtime.settings
    # The Wallet's asset list: Matching lists only markets the Wallet can hold and settle.
    assets = parse_asset_config(settings.assets)
    shards = settings.matching_shard_map()
    if settings.matching_shard >= shards.count:
        raise ValueError(f"CLEARMESH_MATCHING_SHARD is {settings.matching_shard}, but "
                         f"CLEARMESH_MATCHING_SHARDS lists {shards.count} shard(s)")
    placement = Placement(shards, settings.matching_shard)
    store = MatchingStore(runtime.engine, sqlite_synchronous=settings.sqlite_synchronous, tx=runtime.transactions)
    exchange = Exchange(store, runtime.clock,
                        runtime.spawn, order_expiration_hours=settings.order_expiration_hours,
                        max_book_size=settings.max_order_book_size, placement=placement)
    await exchange.open(default_markets(settings.matching_interval_ms))
    runtime.on_close(exchange.close)
    # Users' calls of other shards' markets go to their owners, as the user (relay.py).
    return MatchingServicer(exchange, runtime.transactions, {code: asset.precision for code, asset in assets.items()},
                            Relay(placement, runtime.matching))


SPEC = contract_spec(
    "matching", matching_service_pb2, matching_service_pb2_grpc, "MatchingService",
    build=build, migrations=Path(__file__).resolve().parent / "migrations",
)
