"""The poster sends the next batch while the Wallet is still posting one, never more than
MAX_IN_FLIGHT batches at once, and never a settlement that is already in a batch in flight."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, cast

from services.runtime.clock import FixedClock
from services.runtime.transactions import Transactions
from services.settlement import poster as poster_module
from services.settlement.domain.batching import BatchLimits
from services.settlement.domain.charges import TradeTerms
from services.settlement.domain.settlement import Settlement, open_settlement
from services.settlement.domain.states import RetryPolicy
from services.settlement.ledger import TradeTransfer, WalletLedger
from services.settlement.poster import Poster
from services.settlement.store import SettlementStore
from services.wallet.domain import DEFAULT_ASSETS

NOW = datetime(2026, 12, 6, tzinfo=UTC)


def settlement(sequence: int) -> Settlement:
    terms = TradeTerms(price="100.00", quantity="0.01", buyer="accounts/a", seller="accounts/b",
                       buy_order=f"orders/b{sequence}", sell_order=f"orders/s{sequence}",
                       base_asset="BTC", quote_asset="USDC")
    return open_settlement(trade=f"markets/BTC-USDC/trades/{sequence}", market="markets/BTC-USDC",
                           sequence=sequence, terms=terms, execute_time="2026-12-06T00:00:00Z",
                           assets=DEFAULT_ASSETS, fee_rate=Decimal("0.001"), now=NOW)


class Store:
    """The settlements the poster reads and marks, in memory."""

    def __init__(self, settlements: Sequence[Settlement]) -> None:
        self.settlements = {s.settlement_id: s for s in settlements}
        self.posted: list[str] = []

    async def due_ids(self, _session: Any, _now: datetime, limit: int) -> list[str]:
        pending = [s for s in self.settlements.values() if s.settlement_id not in self.posted]
        return [s.settlement_id for s in sorted(pending, key=lambda s: s.sequence)][:limit]

    async def pending(self, _session: Any, ids: Sequence[str]) -> list[Settlement]:
        return [self.settlements[i] for i in ids if i not in self.posted]

    async def next_retry_time(self, _session: Any) -> datetime | None:
        return None

    async def mark_posted(self, _session: Any, ids: Sequence[str], _now: datetime) -> None:
        self.posted.extend(ids)


class Transactions_:
    async def read(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await work(None)

    async def write(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await work(None)


class Wallet:
    """Takes each batch and holds it until told to answer."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.answer = asyncio.Event()

    async def post(self, transfers: Sequence[TradeTransfer]) -> None:
        self.batches.append([transfer.transfer_id for transfer in transfers])
        await self.answer.wait()


def poster_of(store: Store, wallet: Wallet) -> Poster:
    return Poster(tx=cast(Transactions, Transactions_()), store=cast(SettlementStore, store),
                  clock=FixedClock(NOW), ledger=cast(WalletLedger, wallet), assets=DEFAULT_ASSETS,
                  policy=RetryPolicy(3, 1.0), on_posted=lambda: None, limits=BatchLimits(2, 0.0))


async def until(condition: Callable[[], bool]) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0)
    raise AssertionError("never happened")


async def test_the_next_batch_is_sent_while_the_wallet_posts_one() -> None:
    wallet = Wallet()
    running = asyncio.create_task(poster_of(Store([settlement(n) for n in range(1, 5)]), wallet).run())
    try:
        await until(lambda: len(wallet.batches) == 2)
    finally:
        running.cancel()

    assert wallet.batches == [["markets/BTC-USDC/trades/1", "markets/BTC-USDC/trades/2"],
                              ["markets/BTC-USDC/trades/3", "markets/BTC-USDC/trades/4"]]


async def test_no_more_batches_than_allowed_are_in_flight() -> None:
    wallet = Wallet()
    running = asyncio.create_task(poster_of(Store([settlement(n) for n in range(1, 11)]), wallet).run())
    try:
        await until(lambda: len(wallet.batches) == poster_module.MAX_IN_FLIGHT)
        for _ in range(100):
            await asyncio.sleep(0)
    finally:
        running.cancel()

    assert len(wallet.batches) == poster_module.MAX_IN_FLIGHT


async def test_a_settlement_in_flight_is_not_sent_again() -> None:
    wallet = Wallet()
    running = asyncio.create_task(poster_of(Store([settlement(n) for n in range(1, 4)]), wallet).run())
    try:
        await until(lambda: len(wallet.batches) == 2)
        for _ in range(100):
            await asyncio.sleep(0)
    finally:
        running.cancel()

    assert wallet.batches == [["markets/BTC-USDC/trades/1", "markets/BTC-USDC/trades/2"],
                              ["markets/BTC-USDC/trades/3"]]


async def test_every_batch_answered_is_marked_posted_once() -> None:
    store, wallet = Store([settlement(n) for n in range(1, 6)]), Wallet()
    wallet.answer.set()
    running = asyncio.create_task(poster_of(store, wallet).run())
    try:
        await until(lambda: len(store.posted) == 5)
    finally:
        running.cancel()

    assert sorted(store.posted) == sorted(store.settlements)
