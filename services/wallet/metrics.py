"""The Wallet's metrics: holds still outstanding, by asset, sampled from the store every few
seconds (every replica reports the same truth). A hold that never goes away is money an order
no longer needs but nobody gave back: the HoldsOutstandingGrowing alert watches this."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal

from prometheus_client import Gauge

from services.wallet.domain import AssetCatalog
from services.wallet.store import WalletStore

HOLDS = Gauge("wallet_holds_outstanding", "Holds with an amount neither consumed nor released, by asset.", ["asset"])
HELD = Gauge("wallet_held_amount", "The amount those holds still hold, in the asset's units, by asset.", ["asset"])


def holds_sampler(store: WalletStore, assets: AssetCatalog) -> Callable[[], Awaitable[None]]:
    """The sampler runtime.metrics.sample_forever runs. Every configured asset is reported,
    with 0 when it has no outstanding hold, so a drained asset reads 0 rather than its last value."""

    async def sample() -> None:
        outstanding = await store.holds_outstanding()
        for code, asset in assets.items():
            count, units = outstanding.get(code, (0, 0))
            HOLDS.labels(code).set(count)
            HELD.labels(code).set(float(Decimal(units).scaleb(-asset.precision)))

    return sample
