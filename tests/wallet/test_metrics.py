"""wallet_holds_outstanding and wallet_held_amount: the holds not yet consumed or released, by
asset, as the sampler reads them from the store."""

from __future__ import annotations

from typing import Any

from clearmesh.wallet.v1 import wallet_service_pb2 as pb
import pytest
from prometheus_client import REGISTRY

from services.runtime.database import create_engine
from services.wallet.domain import DEFAULT_ASSETS
from services.wallet.metrics import holds_sampler
from services.wallet.store import WalletStore

ALICE = "accounts/alice"


async def sampled(wallet: Any, asset: str) -> tuple[float | None, float | None]:
    """(outstanding holds, amount they hold) of `asset` after a sample of the Wallet's store."""
    await holds_sampler(WalletStore(create_engine(wallet.database_url), DEFAULT_ASSETS), DEFAULT_ASSETS)()
    return (REGISTRY.get_sample_value("wallet_holds_outstanding", {"asset": asset}),
            REGISTRY.get_sample_value("wallet_held_amount", {"asset": asset}))


async def test_open_holds_are_counted_with_what_they_still_hold_until_released(wallet: Any) -> None:
    await wallet.deposit(ALICE, "10")
    for hold, amount in (("holds/o1", "4"), ("holds/o2", "1.5")):
        await wallet.stub.PlaceHold(pb.PlaceHoldRequest(hold=hold, account=ALICE, asset="USDC", amount=amount),
                                    metadata=wallet.order)
    assert await sampled(wallet, "USDC") == (2, 5.5)
    await wallet.stub.ReleaseHold(pb.ReleaseHoldRequest(hold="holds/o1"), metadata=wallet.order)
    assert await sampled(wallet, "USDC") == (1, 1.5)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the query above runs on both
async def test_an_asset_without_holds_reads_zero(wallet: Any) -> None:
    assert await sampled(wallet, "BTC") == (0, 0)
