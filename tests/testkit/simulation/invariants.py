"""The invariants of the trading path, read from the five stores through their own read
functions (an observer's engine on each service's file: it works while a service is down).

Safety — must hold after every step, whatever is in flight:
- the Wallet's ledger is consistent: balances are what the journal and the holds say, every
  transfer and every asset sums to zero, no account is below zero (`consistency_report`);
- no trade lost or duplicated: every settlement names a trade Matching made, one per trade;
- no duplicate posting: a settled trade's transfer is in the Wallet, and the fee account holds
  exactly the fees of the trades whose transfers are there (one more posting would show);
- every accepted order is consistent with Matching: Order never reports more filled than
  Matching, and a final state Order shows is Matching's;
- no hold without an order (Order writes the order before it asks for the hold).

Eventual — once the run has drained without faults:
- no order PENDING; every order's state and filled quantity are Matching's;
- every trade settled exactly once (POSTED or ANCHORED, its transfer in the Wallet);
- no orphan hold: a final order's hold holds nothing;
- the fee account equals the sum of all settled fees;
- Settlement's Reconcile is clean (run by the driver over the network).
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.matching import wire as matching_wire
from services.matching.domain import Market, OrderEvent
from services.matching.store import MatchingStore
from services.order.domain.enums import FINAL_STATES, OrderState
from services.order.domain.orders import Order
from services.order.store import OrderStore
from services.runtime.assets import parse_asset_config
from services.runtime.database import create_engine
from services.runtime.transactions import Transactions
from services.settlement.domain.reconciliation import SETTLED
from services.settlement.domain.settlement import Settlement, transfer_id_for
from services.settlement.store import SettlementStore
from services.wallet import tables as wallet_tables
from services.wallet.domain import SystemAccount
from services.wallet.domain import parse_asset_config as wallet_assets
from services.wallet.store import WalletStore

from tests.testkit.simulation.world import sim_settings

READ_ALL = 10**9
VERSIONED = ("matching", "order", "settlement", "wallet")
LIVE = frozenset({OrderState.OPEN, OrderState.PARTIALLY_FILLED})


@dataclass
class Facts:
    markets: dict[str, Market]
    trades: list[str]  # names, `markets/X/trades/N`
    last_events: dict[str, tuple[Market, OrderEvent]]  # order id -> Matching's last event of it
    orders: list[Order]
    settlements: list[Settlement]


class Observer:
    def __init__(self, data_dir: Path) -> None:
        settings = sim_settings(data_dir)
        self._engines: list[AsyncEngine] = []

        def tx(service: str) -> Transactions:
            engine = create_engine(settings.database_url_for(service))
            self._engines.append(engine)
            return Transactions(engine)

        self.order_tx, self.settlement_tx = tx("order"), tx("settlement")
        wallet_engine = create_engine(settings.database_url_for("wallet"))
        self._engines.append(wallet_engine)
        self.wallet = WalletStore(wallet_engine, wallet_assets(settings.assets))
        self.wallet_tx = self.wallet.tx
        matching_engine = create_engine(settings.database_url_for("matching"))
        self._engines.append(matching_engine)
        self.matching = MatchingStore(matching_engine)
        self.orders, self.settlement = OrderStore(), SettlementStore()
        self._markets: dict[str, Market] = {}
        self._trades: list[str] = []
        self._trade_cursor: dict[str, int] = {}
        self._event_cursor: dict[str, int] = {}
        self._last_events: dict[str, tuple[Market, OrderEvent]] = {}
        # What each database looked like at the last read (SQLite's data_version), and what
        # was read then: a check re-reads only the databases a step changed.
        self._versions = {name: sqlite3.connect(data_dir / f"{name}.db") for name in VERSIONED}
        self._seen: dict[str, int] = {}
        self._changed: set[str] = set(VERSIONED)
        self._cache: dict[str, Any] = {}
        self.decimals = {code: asset.precision for code, asset in parse_asset_config(settings.assets).items()}

    def _look(self) -> None:
        for name, connection in self._versions.items():
            version = connection.execute("PRAGMA data_version").fetchone()[0]
            if self._seen.get(name) != version:
                self._seen[name] = version
                self._changed.add(name)

    async def _cached(self, key: str, depends: set[str], read: Callable[[], Awaitable[Any]]) -> Any:
        if key not in self._cache or depends & self._changed:
            self._cache[key] = await read()
        return self._cache[key]

    async def close(self) -> None:
        for connection in self._versions.values():
            connection.close()
        for engine in self._engines:
            await engine.dispose()

    async def facts(self) -> Facts:
        # Matching's journal only grows: read what is new since the last look.
        if "matching" in self._changed:
            await self._read_matching()
        orders = await self._cached("orders", {"order"}, self._all_orders)
        settlements = await self._cached("settlements", {"settlement"}, lambda: self.settlement_tx.read(
            lambda session: self.settlement.of_market(session, None)))
        return Facts(self._markets, list(self._trades), dict(self._last_events), orders, settlements)

    async def _all_orders(self) -> list[Order]:
        async def read(session: Any) -> list[Order]:
            rows = await self.orders.page(session, account=None, market=None, states=[], after_seq=0, limit=READ_ALL)
            return sorted((order for _, order in rows), key=lambda order: order.order_id)

        return await self.order_tx.read(read)

    async def _read_matching(self) -> None:
        if not self._markets:
            self._markets = {market.name: market for market in await self.matching.market_definitions()}
        for name, market in sorted(self._markets.items()):
            trades = await self.matching.trades_after(name, self._trade_cursor.get(name, 0), READ_ALL)
            self._trades += [matching_wire.trade_message(market, trade).name for trade in trades]
            if trades:
                self._trade_cursor[name] = trades[-1].sequence
            events = await self.matching.events_after(name, self._event_cursor.get(name, 0), READ_ALL)
            for event in events:
                self._last_events[event.order_id.removeprefix("orders/")] = (market, event)
            if events:
                self._event_cursor[name] = events[-1].sequence

    # ----------------------------------------------------------------- safety

    async def safety(self) -> list[str]:
        """The safety invariants, re-read only where a database changed since the last look."""
        self._look()
        if not self._changed:
            return []
        try:
            return await self._safety()
        finally:
            self._changed = set()

    async def _safety(self) -> list[str]:
        facts = await self.facts()
        problems: list[str] = []
        report = await self._cached("report", {"wallet"}, self.wallet.consistency_report)
        if not report.ok:
            problems.append(f"wallet ledger inconsistent: {report}")
        problems += self._trades_vs_settlements(facts)
        problems += await self._postings(facts)
        problems += self._orders_vs_matching(facts, eventually=False)
        problems += await self._holds(facts, eventually=False)
        return problems

    async def eventual(self) -> list[str]:
        problems = await self.safety()  # also brings the cached reads up to date
        facts = await self.facts()
        settled = {s.trade for s in facts.settlements if s.progress.state in SETTLED}
        problems += [f"{trade}: not settled ({self._state_of(facts, trade)})" for trade in facts.trades
                     if trade not in settled]
        problems += self._orders_vs_matching(facts, eventually=True)
        problems += await self._holds(facts, eventually=True)
        return problems

    @staticmethod
    def _state_of(facts: Facts, trade: str) -> str:
        found = [s.progress.state for s in facts.settlements if s.trade == trade]
        return str(found[0]) if found else "no settlement"

    @staticmethod
    def _trades_vs_settlements(facts: Facts) -> list[str]:
        traded = set(facts.trades)
        problems = [f"{s.trade}: settlement {s.settlement_id} of a trade Matching never made"
                    for s in facts.settlements if s.trade not in traded]
        per_trade: dict[str, int] = defaultdict(int)
        for settlement in facts.settlements:
            per_trade[settlement.trade] += 1
        problems += [f"{trade}: {count} settlements" for trade, count in per_trade.items() if count > 1]
        if len(set(facts.trades)) != len(facts.trades):
            problems.append("Matching journaled a trade number twice")
        return problems

    async def _postings(self, facts: Facts) -> list[str]:
        by_transfer = {transfer_id_for(s.trade): s for s in facts.settlements}

        async def read(session: object) -> tuple[set[str], dict[str, int]]:
            posted = await self.wallet.posted_transfers(session, sorted(by_transfer))  # type: ignore[arg-type]
            fees = {asset: balance.total for asset, balance in await self.wallet.list_balances(
                session, SystemAccount.FEES, after_asset=None, limit=READ_ALL)}  # type: ignore[arg-type]
            return set(posted), fees

        posted, fee_balances = await self._cached("postings", {"wallet", "settlement"},
                                                  lambda: self.wallet_tx.read(read))
        problems = [f"{s.trade}: {s.progress.state} but the Wallet has no transfer for it"
                    for s in facts.settlements if s.progress.state in SETTLED and transfer_id_for(s.trade) not in posted]
        expected: dict[str, int] = defaultdict(int)
        for transfer in posted:
            settlement = by_transfer[transfer]
            expected[settlement.terms.quote_asset] += settlement.charges.buyer_fee_units + settlement.charges.seller_fee_units
        problems += [f"{SystemAccount.FEES} holds {fee_balances.get(asset, 0)} {asset} units, the posted trades' fees "
                     f"are {expected[asset]}" for asset in sorted(self.decimals) if fee_balances.get(asset, 0) != expected[asset]]
        return problems

    @staticmethod
    def _orders_vs_matching(facts: Facts, *, eventually: bool) -> list[str]:
        problems: list[str] = []
        for order in facts.orders:
            known = facts.last_events.get(order.order_id)
            if eventually and order.state is OrderState.PENDING:
                problems.append(f"orders/{order.order_id}: still PENDING")
            if known is None:
                if order.state in LIVE or order.state in (OrderState.FILLED, OrderState.EXPIRED):
                    problems.append(f"orders/{order.order_id}: {order.state} in Order, unknown to Matching")
                continue
            market, event = known
            matched = Decimal(matching_wire.quantity(market, event.filled))
            matching_state = event.state.name
            if order.state is OrderState.REJECTED:
                if eventually and matching_state in ("OPEN", "PARTIALLY_FILLED"):
                    problems.append(f"orders/{order.order_id}: REJECTED in Order, {matching_state} in Matching")
                continue
            if order.filled_quantity > matched:
                problems.append(f"orders/{order.order_id}: Order counts {order.filled_quantity} filled, "
                                f"Matching {matched}")
            if (order.state in FINAL_STATES or eventually) and (
                    order.state.value != matching_state or order.filled_quantity != matched):
                problems.append(f"orders/{order.order_id}: {order.state} {order.filled_quantity} in Order, "
                                f"{matching_state} {matched} in Matching")
        return problems

    async def _holds(self, facts: Facts, *, eventually: bool) -> list[str]:
        orders = {order.order_id: order for order in facts.orders}

        async def read(session: object) -> list[tuple[str, int]]:
            holds = wallet_tables.holds
            rows = await session.execute(select(  # type: ignore[attr-defined]
                holds.c.hold_id, holds.c.units - holds.c.consumed_units - holds.c.released_units))
            return [(row[0], int(row[1])) for row in rows]

        problems: list[str] = []
        for hold_id, remaining in await self._cached("holds", {"wallet"}, lambda: self.wallet_tx.read(read)):
            order = orders.get(hold_id)
            if order is None:
                problems.append(f"holds/{hold_id}: no order of that id in Order ({remaining} units held)")
            elif eventually and remaining and order.state not in LIVE:
                problems.append(f"holds/{hold_id}: {remaining} units still held for a {order.state} order "
                                f"(orphan hold)")
        return problems
