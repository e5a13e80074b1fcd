"""The wallet service as the runtime starts it."""

from __future__ import annotations

from pathlib import Path

from clearmesh.wallet.v1 import wallet_service_pb2, wallet_service_pb2_grpc
from services.runtime.metrics import sample_forever
from services.runtime.server import ServiceRuntime, contract_spec
from services.wallet.api import WalletServicer
from services.wallet.domain import parse_asset_config
from services.wallet.hold_writer import HoldWriter
from services.wallet.kyc import WithdrawalLimits
from services.wallet.metrics import holds_sampler
from services.wallet.store import WalletStore


async def build(runtime: ServiceRuntime) -> WalletServicer:
    assets = parse_asset_config(runtime.settings.assets)
    # The runtime's transactions: on SQLite they keep their connections, and a hold group runs
    # on the driver (store.py); the runtime gives the connections back when it closes.
    store = WalletStore(runtime.engine, assets, runtime.transactions)
    await store.pin_assets()
    holds = HoldWriter(store)
    runtime.spawn(holds.run(), "wallet:holds")
    runtime.spawn(sample_forever(holds_sampler(store, assets), "wallet holds"), "wallet:metrics")
    return WalletServicer(store, holds, WithdrawalLimits(lambda: runtime.channel("kyc")), runtime.clock)


SPEC = contract_spec(
    "wallet", wallet_service_pb2, wallet_service_pb2_grpc, "WalletService",
    build=build, migrations=Path(__file__).resolve().parent / "migrations",
)
