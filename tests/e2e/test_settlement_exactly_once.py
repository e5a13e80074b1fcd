"""Every trade posted exactly once when Settlement or the Wallet is killed with `kill -9` in the
middle of the flow. Wallet, Matching and Settlement as real processes, on SQLite files and on
PostgreSQL (one scratch database, a schema per service).

Trades are made the way Order makes them (holds named after the orders, then the orders
straight into Matching's SubmitOrder as the `order` service), all holds first, then the
orders from a thread while Settlement follows and posts the trades live; the kill lands once
some trades are posted and more keep coming. The verdict is the final ledger: one fee entry
per trade transfer (the Wallet journals one entry per posting), no trade left out, balances
exact to the unit, nothing held."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.settlement.v1 import settlement_pb2
from clearmesh.settlement.v1 import settlement_service_pb2 as settlement_pb
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from tests.e2e.trading import CONTINUOUS, Stubs, fee, notional, usdc
from tests.testkit.processes import Processes, eventually

MARKET = CONTINUOUS
PAIRS = 200
PRICE, QUANTITY = "100.00", "0.0001"
KILL_AFTER_PAIRS = PAIRS // 4
SETTLED = (settlement_pb2.SETTLEMENT_STATE_POSTED, settlement_pb2.SETTLEMENT_STATE_ANCHORED)


class Desk(Stubs):
    """Wallet, Matching and Settlement as processes; alice buys, bob sells, PAIRS times."""

    def __init__(self, data_dir: Path, env: dict[str, str]) -> None:
        self.processes = Processes(data_dir, ("wallet", "matching", "settlement"), {
            # Patient enough to outlast a Wallet restart; quick enough to notice it is back.
            "SETTLEMENT_RETRY_ATTEMPTS": "30", "SETTLEMENT_RETRY_DELAY_SECS": "0.05", **env})
        self.operator = self.processes.bearer("ops", "operator")
        self.as_order = (("authorization", f"Bearer {self.processes.issuer.mint(service='order')}"),)
        self.submitted = 0

    def open(self) -> None:
        """Wallet and Matching up, both traders funded and every order's hold placed."""
        self.processes.start("wallet")
        self.processes.start("matching")
        for account, asset, amount in (("alice", "USDC", "1000"), ("bob", "BTC", "1")):
            self.wallet.Deposit(wallet_pb.DepositRequest(account=f"accounts/{account}", asset=asset, amount=amount,
                                                         request_id=f"fund-{account}"), metadata=self.operator)
        buy_hold = str(usdc(notional(PRICE, QUANTITY) + fee(notional(PRICE, QUANTITY))))
        for pair in range(PAIRS):
            for hold, account, asset, amount in ((f"b{pair}", "alice", "USDC", buy_hold),
                                                 (f"s{pair}", "bob", "BTC", QUANTITY)):
                self.wallet.PlaceHold(wallet_pb.PlaceHoldRequest(
                    hold=f"holds/{hold}", account=f"accounts/{account}", asset=asset, amount=amount),
                    metadata=self.as_order)

    def submit_all(self) -> None:
        """Every pair into Matching: a resting sell, then the buy that takes it (one trade each)."""
        for pair in range(PAIRS):
            for order, account, side in ((f"s{pair}", "bob", trading_pb2.SIDE_SELL),
                                         (f"b{pair}", "alice", trading_pb2.SIDE_BUY)):
                self.matching.SubmitOrder(matching_pb.SubmitOrderRequest(
                    order=f"orders/{order}", account=f"accounts/{account}", market=MARKET, side=side,
                    type=trading_pb2.ORDER_TYPE_LIMIT, price=PRICE, quantity=QUANTITY), metadata=self.as_order)
            self.submitted = pair + 1

    def fee_entries(self) -> list[str]:
        """The transfer of every entry of `system/fees`: one per trade it was credited by."""
        transfers: list[str] = []
        token = ""
        while True:
            page = self.wallet.ListEntries(wallet_pb.ListEntriesRequest(
                account="system/fees", page_size=1000, page_token=token), metadata=self.operator)
            transfers.extend(entry.transfer for entry in page.entries)
            if not (token := page.next_page_token):
                return transfers

    def balances(self, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        answer = self.wallet.ListBalances(wallet_pb.ListBalancesRequest(account=account), metadata=self.operator)
        return {b.asset: (Decimal(b.total), Decimal(b.held)) for b in answer.balances}

    def settled(self) -> list[settlement_pb2.Settlement]:
        answer = self.settlement.ListSettlements(settlement_pb.ListSettlementsRequest(page_size=1000),
                                                 metadata=self.operator)
        return [s for s in answer.settlements if s.state in SETTLED]

    def trades(self) -> list[str]:
        answer = self.matching.ListTrades(matching_pb.ListTradesRequest(market=MARKET, page_size=1000),
                                          metadata=self.operator)
        return [trade.name for trade in answer.trades]


@pytest.fixture(params=["sqlite", "postgres"])
def desk(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Desk]:
    env = {}
    if request.param == "postgres":
        env = {"DATABASE_URL": request.getfixturevalue("postgres_url"), "CLEARMESH_MIGRATE_ON_START": "true"}
    running = Desk(tmp_path, env)
    try:
        running.open()
        yield running
    finally:
        running.processes.stop_all()


def submitting(desk: Desk) -> threading.Thread:
    thread = threading.Thread(target=desk.submit_all, name="submit-orders", daemon=True)
    thread.start()
    eventually(lambda: desk.submitted, lambda done: done >= KILL_AFTER_PAIRS, f"{KILL_AFTER_PAIRS} pairs submitted")
    eventually(desk.fee_entries, bool, "the first trades posted")
    return thread


def assert_every_trade_posted_once(desk: Desk) -> None:
    trades = desk.trades()
    assert len(trades) == PAIRS
    eventually(desk.settled, lambda settled: len(settled) == PAIRS, f"{PAIRS} settlements POSTED", wait_secs=60)
    assert Counter(desk.fee_entries()) == Counter({f"transfers/{trade}": 1 for trade in trades})
    each = notional(PRICE, QUANTITY)
    assert desk.balances("accounts/alice") == {
        "USDC": (Decimal(1000) - PAIRS * usdc(each + fee(each)), Decimal(0)),
        "BTC": (PAIRS * Decimal(QUANTITY), Decimal(0))}
    assert desk.balances("accounts/bob") == {
        "BTC": (Decimal(1) - PAIRS * Decimal(QUANTITY), Decimal(0)),
        "USDC": (PAIRS * usdc(each - fee(each)), Decimal(0))}
    assert desk.balances("system/fees")["USDC"][0] == PAIRS * usdc(2 * fee(each))


def test_settlement_killed_mid_flow_posts_every_trade_exactly_once_after_a_restart(desk: Desk) -> None:
    desk.processes.start("settlement")
    thread = submitting(desk)
    desk.processes.kill("settlement")
    traded_at_kill = desk.submitted
    thread.join(timeout=120)
    assert traded_at_kill < PAIRS  # mid-flow: some trades posted, later ones not even made yet
    desk.processes.start("settlement")
    assert_every_trade_posted_once(desk)


def test_wallet_killed_mid_flow_posts_every_trade_exactly_once_after_a_restart(desk: Desk) -> None:
    desk.processes.start("settlement")
    thread = submitting(desk)
    desk.processes.kill("wallet")
    traded_at_kill = desk.submitted
    thread.join(timeout=120)  # Matching still trades; Settlement's postings fail and wait
    assert traded_at_kill < PAIRS  # mid-flow: some trades posted, later ones not even made yet
    desk.processes.start("wallet")
    assert_every_trade_posted_once(desk)
