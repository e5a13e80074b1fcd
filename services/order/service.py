"""The order service as the runtime starts it: the servicer, the event followers, the repair,
the sweep of notional hours no window reads."""

from __future__ import annotations

from pathlib import Path

from clearmesh.order.v1 import order_service_pb2, order_service_pb2_grpc

from services.order.api import OrderServicer
from services.order.follower import EventFollower
from services.order import hours_sweep
from services.order.lifecycle import NOTIONAL_WINDOW, Lifecycle
from services.order.markets import Markets
from services.order.peers import Peers
from services.order.store import OrderStore
from services.runtime.assets import parse_asset_config
from services.runtime.server import ServiceRuntime, contract_spec

# How often orders left PENDING and releases left DUE (a peer was down) are tried again.
REPAIR_INTERVAL_SECS = 2.0


async def build(runtime: ServiceRuntime) -> OrderServicer:
    settings = runtime.settings
    store = OrderStore()
    peers = Peers(runtime.channel, runtime.matching)
    # Holds are placed in the Wallet's smallest units, so Order reads the same asset list.
    markets = Markets(peers, {code: asset.precision for code, asset in parse_asset_config(settings.assets).items()})
    lifecycle = Lifecycle(runtime.transactions, store, peers, markets, runtime.clock,
                          fee_rate=settings.settlement_fee_rate)
    follower = EventFollower(runtime.transactions, store, peers, markets, fee_rate=settings.settlement_fee_rate,
                             release=lifecycle.release, withdraw=lifecycle.withdraw, spawn=runtime.spawn,
                             answered=lifecycle.answered, recorded=lifecycle.recorded,
                             write=lifecycle.writes.write_alongside)
    runtime.spawn(follower.follow_all_markets(), "order-markets")
    runtime.spawn(lifecycle.repair_forever(REPAIR_INTERVAL_SECS), "order-repair")
    runtime.spawn(hours_sweep.sweep_forever(runtime.transactions, store, runtime.clock, NOTIONAL_WINDOW),
                  "order-hours-sweep")
    return OrderServicer(runtime.transactions, store, lifecycle)


SPEC = contract_spec(
    "order", order_service_pb2, order_service_pb2_grpc, "OrderService",
    build=build, migrations=Path(__file__).resolve().parent / "migrations",
)
