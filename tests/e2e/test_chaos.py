"""Chaos: the whole mesh under the load generator's flow (gRPC straight to Order and REST
through the edge at once), each process killed with `kill -9` in turn — Matching, Settlement,
the Wallet, Order, KYC, the edge — and started again while the load keeps coming. On SQLite
files and on a scratch PostgreSQL database (a schema per service).

One run per database (the module's fixture); each test then checks one invariant on what the
services answer over gRPC once the mesh has settled — never on the load generator's counts:
every accepted order in the state Matching gives it, no trade lost or doubled, every trade
settled exactly once, the ledger balanced per asset, no negative balance, no hold outliving
its order, the fee account equal to the fees charged, reconciliation clean."""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
from clearmesh.matching.v1 import matching_pb2
from clearmesh.order.v1 import order_pb2
from clearmesh.settlement.v1 import settlement_pb2
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_pb2
from tests.e2e.audit import LIVE, SETTLED, SYSTEM_ACCOUNTS, Audit, MatchingOrder, trade_postings
from tests.e2e.trading import AUCTION, AUCTION_INTERVAL_MS, CONTINUOUS, FEE_RATE, SERVICES, USDC_DECIMALS
from tests.testkit.processes import Processes

from services.load.accounts import FUNDING, Trader, prepare_traders
from services.load.flow import Flow
from services.load.grpc_driver import GrpcDriver
from services.load.report import Samples
from services.load.rest_driver import RestDriver
from services.load.runner import Plan, Run
from services.runtime import loop as runtime_loop
from services.runtime.fees import fee_units, notional_units

KILLED_IN_TURN = ("matching", "settlement", "wallet", "order", "kyc", "edge")
MARKETS = (CONTINUOUS, AUCTION)
TRADERS = 8
GRPC_PLAN = Plan(workers=6, rate=25.0, duration_secs=0, run_id="chaos-grpc")
REST_PLAN = Plan(workers=3, rate=10.0, duration_secs=0, run_id="chaos-rest")
LOAD_SECS = 0.7  # load on a whole mesh before each kill
DOWN_SECS = 0.3  # how long the killed process stays down before it is started again
RECOVERY_SECS = 15.0  # the most orders may take to get through again after a restart
SETTLE_SECS = 30.0  # the most the mesh may take to settle once the load stops
DECIMALS = {"USDC": 6, "BTC": 8, "GRID": 3}
T = TypeVar("T")


def settled(read: Callable[[], T], done: Callable[[T], bool], wait_secs: float = SETTLE_SECS, poll_secs: float = 0.05) -> T:
    """`read()` once `done` holds of it, or its last value after `wait_secs`: the tests then
    assert on what it is, so a mesh that never settles fails them with the facts."""
    deadline = time.monotonic() + wait_secs
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(poll_secs)


def more_than(count: int) -> Callable[[int], bool]:
    return lambda value: value > count


class Load:
    """The load generator's flow from a thread with its own event loop: gRPC and REST at once."""

    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.grpc, self.rest = Samples(), Samples()
        self.traders: list[Trader] = []
        self._runs: list[Run] = []
        self._loop = runtime_loop.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_until_complete, args=(self._main(),), daemon=True)
        self._ready = threading.Event()
        self.failure: BaseException | None = None

    async def _main(self) -> None:
        try:
            ports = self.processes.ports
            self.traders = await prepare_traders(self.processes.issuer, f"127.0.0.1:{ports['kyc']}",
                                                 f"127.0.0.1:{ports['wallet']}", "chaos", TRADERS)
            grpc_driver, rest_driver = GrpcDriver(f"127.0.0.1:{ports['order']}"), RestDriver("127.0.0.1", ports["edge"])
            self._runs = [Run(grpc_driver, self.traders, Flow(1, TRADERS), GRPC_PLAN, self.grpc),
                          Run(rest_driver, self.traders, Flow(2, TRADERS), REST_PLAN, self.rest)]
            self._ready.set()
            await asyncio.gather(*(run.run() for run in self._runs))
            await grpc_driver.close()
            await rest_driver.close()
        except BaseException as exc:
            self.failure = exc
            self._ready.set()
            raise

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(timeout=60)
        if self.failure:
            raise self.failure

    def placed(self) -> int:
        return self.grpc.placed + self.rest.placed

    def stop(self) -> None:
        for run in self._runs:
            self._loop.call_soon_threadsafe(run.stop)
        self._thread.join(timeout=30)
        self._loop.close()


@dataclass
class Outcome:
    """What the services answered once the mesh settled, and what the run did."""

    traders: list[str]
    accepted: dict[str, str]  # order → state, as PlaceOrder answered the load (gRPC and REST)
    recovered_after: dict[str, float]  # killed process → seconds from its restart to the next order placed
    orders: list[order_pb2.Order]
    matching: dict[str, MatchingOrder]
    trades: list[matching_pb2.Trade]
    books: dict[str, matching_pb2.OrderBook]
    settlements: list[settlement_pb2.Settlement]
    balances: dict[str, list[wallet_pb2.Balance]]  # account → balances, before the final cancels
    entries: list[wallet_pb2.Entry]
    mismatches: list[str]
    reconciled: int
    live_after_cancels: list[str] = field(default_factory=list)
    held_after_cancels: dict[tuple[str, str], Decimal] = field(default_factory=dict)


def disagreements(audit: Audit) -> list[str]:
    """Orders on which Order and Matching disagree (or that Order has not finished placing)."""
    matching = {name: order for market in MARKETS for name, order in audit.matching_orders(market).items()}
    return [f"{o.name}: Order {trading_pb2.OrderState.Name(o.state)} {o.filled_quantity}, Matching {matching.get(o.name)}"
            for o in audit.orders() if not agrees(o, matching.get(o.name))]


def agrees(order: order_pb2.Order, matching: MatchingOrder | None) -> bool:
    if order.state == trading_pb2.ORDER_STATE_REJECTED:
        # Never reached the book, or refused by it — or a stray: Order rejected it when Matching
        # did not answer, Matching had journaled it after all, and Order took it off the book
        # (services/order/follower.py) before anything traded against it.
        return matching is None or matching.state == trading_pb2.ORDER_STATE_REJECTED or (
            matching.state == trading_pb2.ORDER_STATE_CANCELLED and matching.filled == 0)
    return (matching is not None and matching.state == order.state
            and matching.filled == Decimal(order.filled_quantity or "0"))


def unsettled(audit: Audit) -> list[str]:
    settled_trades = {s.trade for s in audit.settlements() if s.state in SETTLED}
    return [t.name for market in MARKETS for t in audit.trades(market) if t.name not in settled_trades]


def run_chaos(processes: Processes) -> Outcome:
    processes.start_all((*SERVICES, "edge"))
    load = Load(processes)
    load.start()
    recovered_after: dict[str, float] = {}
    try:
        time.sleep(LOAD_SECS)
        for name in KILLED_IN_TURN:
            processes.kill(name)
            time.sleep(DOWN_SECS)
            processes.start(name)
            restarted, before = time.monotonic(), load.placed()
            # The load gets through again (the callers' channels reconnect), then runs on the
            # whole mesh up to the next kill.
            if settled(load.placed, more_than(before), RECOVERY_SECS) > before:
                recovered_after[name] = round(time.monotonic() - restarted, 1)
            time.sleep(LOAD_SECS)
    finally:
        load.stop()
    if load.failure:
        raise load.failure
    audit = Audit(processes)
    settled(lambda: disagreements(audit), lambda found: not found)
    settled(lambda: unsettled(audit), lambda found: not found)
    accounts = [f"accounts/{trader.account}" for trader in load.traders]
    orders = audit.orders()
    outcome = Outcome(
        traders=accounts, accepted={**load.grpc.accepted, **load.rest.accepted},
        recovered_after=recovered_after, orders=orders,
        matching={name: order for market in MARKETS for name, order in audit.matching_orders(market).items()},
        trades=[trade for market in MARKETS for trade in audit.trades(market)],
        books={market: audit.book(market) for market in MARKETS},
        settlements=audit.settlements(),
        balances={account: audit.balances(account) for account in (*accounts, *SYSTEM_ACCOUNTS)},
        entries=[entry for account in (*accounts, "system/fees") for entry in audit.entries(account)],
        mismatches=[], reconciled=0)
    answer = audit.reconcile()
    outcome.mismatches, outcome.reconciled = list(answer.mismatches), answer.checked_count
    # Cancel everything still live: every hold must then go back to nothing.
    audit.cancel_all([order.name for order in orders if order.state in LIVE])

    def holds() -> tuple[list[str], dict[tuple[str, str], Decimal]]:
        live = [o.name for o in audit.orders() if o.state in LIVE]
        held = {(account, b.asset): Decimal(b.held) for account in accounts for b in audit.balances(account)
                if Decimal(b.held)}
        return live, held

    outcome.live_after_cancels, outcome.held_after_cancels = settled(holds, lambda found: not found[0] and not found[1])
    return outcome


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def chaos(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Outcome]:
    env = {
        "MATCHING_INTERVAL_MS": str(AUCTION_INTERVAL_MS), "CLEARMESH_LOG_LEVEL": "WARNING",
        # Patient enough to outlast a Wallet restart, quick to notice it is back.
        "SETTLEMENT_RETRY_ATTEMPTS": "60", "SETTLEMENT_RETRY_DELAY_SECS": "0.25",
        "RATE_LIMIT_PER_MINUTE": "1000000", "RATE_LIMIT_BURST": "100000", "CLEARMESH_SHUTDOWN_GRACE_SECS": "1",
    }
    if request.param == "postgres":
        env |= {"DATABASE_URL": request.getfixturevalue("module_postgres_url"), "CLEARMESH_MIGRATE_ON_START": "true"}
    data_dir: Path = tmp_path_factory.mktemp(f"chaos-{request.param}")
    processes = Processes(data_dir, (*SERVICES, "edge"), env)
    try:
        yield run_chaos(processes)
    finally:
        processes.stop_all()


def test_the_load_kept_coming_and_traded_through_every_restart(chaos: Outcome) -> None:
    assert set(chaos.recovered_after) == set(KILLED_IN_TURN), chaos.recovered_after
    assert len(chaos.trades) >= 20
    assert {trade.market for trade in chaos.trades} == set(MARKETS)


def test_every_order_is_in_the_state_matching_gives_it(chaos: Outcome) -> None:
    wrong = [f"{o.name}: Order {trading_pb2.OrderState.Name(o.state)} filled {o.filled_quantity}, "
             f"Matching {chaos.matching.get(o.name)}" for o in chaos.orders if not agrees(o, chaos.matching.get(o.name))]
    assert wrong == []
    assert set(chaos.matching) <= {o.name for o in chaos.orders}  # Matching has no order Order lost


def test_every_order_the_client_was_told_of_is_kept_and_never_turned_into_a_rejection(chaos: Outcome) -> None:
    kept = {o.name: o.state for o in chaos.orders}
    assert set(chaos.accepted) <= set(kept)
    assert [name for name, state in chaos.accepted.items()
            if state != "ORDER_STATE_REJECTED" and kept[name] == trading_pb2.ORDER_STATE_REJECTED] == []


def test_no_trade_is_lost_or_duplicated(chaos: Outcome) -> None:
    for market in MARKETS:
        sequences = sorted(t.sequence for t in chaos.trades if t.market == market)
        assert sequences == list(range(1, len(sequences) + 1)), market  # numbered without a gap or a repeat
    filled: dict[str, Decimal] = defaultdict(Decimal)
    for trade in chaos.trades:
        filled[trade.buy_order] += Decimal(trade.quantity)
        filled[trade.sell_order] += Decimal(trade.quantity)
    known = {o.name for o in chaos.orders}
    assert set(filled) <= known
    assert {o.name: Decimal(o.filled_quantity or "0") for o in chaos.orders if o.name in filled} == dict(filled)
    assert all(Decimal(o.filled_quantity or "0") == 0 for o in chaos.orders if o.name not in filled)


def test_every_trade_is_settled_exactly_once(chaos: Outcome) -> None:
    by_trade = Counter(s.trade for s in chaos.settlements)
    assert by_trade == Counter(t.name for t in chaos.trades)  # one settlement per trade, none for no trade
    assert [s.name for s in chaos.settlements if s.state not in SETTLED] == []
    postings = trade_postings(chaos.entries)
    assert [posting for posting, count in postings.items() if count > 1] == []
    posted = {transfer for transfer, *_ in postings}
    assert {f"transfers/{t.name}" for t in chaos.trades} <= posted


def test_every_balance_is_the_deposits_plus_its_trades_minus_its_fees(chaos: Outcome) -> None:
    expected: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for account in chaos.traders:
        for asset, amount in FUNDING.items():
            expected[account, asset] += Decimal(amount)
    fees = {s.trade: s for s in chaos.settlements}
    for trade in chaos.trades:
        base, quote = trade.market.removeprefix("markets/").split("-")
        notional = Decimal(notional_units(Decimal(trade.price) * Decimal(trade.quantity), USDC_DECIMALS)).scaleb(-USDC_DECIMALS)
        settlement = fees[trade.name]
        expected[trade.buyer, base] += Decimal(trade.quantity)
        expected[trade.buyer, quote] -= notional + Decimal(settlement.buyer_fee)
        expected[trade.seller, base] -= Decimal(trade.quantity)
        expected[trade.seller, quote] += notional - Decimal(settlement.seller_fee)
    actual = {(account, b.asset): Decimal(b.total) for account in chaos.traders for b in chaos.balances[account]}
    assert {key: value for key, value in actual.items() if value} == {key: value for key, value in expected.items() if value}


def test_the_ledger_balances_per_asset(chaos: Outcome) -> None:
    sums: dict[str, Decimal] = defaultdict(Decimal)
    for balances in chaos.balances.values():
        for balance in balances:
            sums[balance.asset] += Decimal(balance.total)
    assert sums and all(total == 0 for total in sums.values()), dict(sums)


def test_no_balance_is_negative(chaos: Outcome) -> None:
    negative = [(account, b.asset, b.available, b.held) for account in chaos.traders for b in chaos.balances[account]
                if Decimal(b.available) < 0 or Decimal(b.held) < 0]
    assert negative == []
    assert all(Decimal(b.total) >= 0 for b in chaos.balances["system/fees"])


def test_no_hold_outlives_its_order(chaos: Outcome) -> None:
    live = {o.name for o in chaos.orders if o.state in LIVE}
    resting = {name for name, order in chaos.matching.items() if order.state in LIVE}
    assert live == resting  # Matching's book rests exactly the orders Order holds money for
    assert sum(level.order_count for book in chaos.books.values() for level in (*book.bids, *book.asks)) == len(live)
    assert chaos.live_after_cancels == []
    assert chaos.held_after_cancels == {}  # every order finished: nothing held anywhere


def test_the_fee_account_holds_exactly_the_fees_charged(chaos: Outcome) -> None:
    notional_by_order: dict[str, int] = defaultdict(int)
    for trade in chaos.trades:
        units = notional_units(Decimal(trade.price) * Decimal(trade.quantity), USDC_DECIMALS)
        notional_by_order[trade.buy_order] += units
        notional_by_order[trade.sell_order] += units
    # Each order pays the fee on its whole filled notional, rounded up once (services/runtime/fees.py).
    charged = Decimal(sum(fee_units(units, FEE_RATE) for units in notional_by_order.values())).scaleb(-USDC_DECIMALS)
    settled_fees = sum((Decimal(s.buyer_fee) + Decimal(s.seller_fee) for s in chaos.settlements), Decimal(0))
    fee_account = {b.asset: Decimal(b.total) for b in chaos.balances["system/fees"]}
    assert charged > 0
    assert settled_fees == charged
    assert fee_account == {"USDC": charged}


def test_reconciliation_is_clean(chaos: Outcome) -> None:
    assert chaos.mismatches == []
    assert chaos.reconciled == len(chaos.trades)
