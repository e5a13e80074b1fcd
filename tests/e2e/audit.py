"""What every service says after a run, read over gRPC as an operator (and, for Matching's
order events, as the Order service): the facts the chaos test's invariants are checked on.
Nothing here trusts the load generator's own counts."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import grpc
from clearmesh.matching.v1 import matching_pb2
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as order_pb
from clearmesh.settlement.v1 import settlement_pb2
from clearmesh.settlement.v1 import settlement_service_pb2 as settlement_pb
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from tests.e2e.trading import Stubs
from tests.testkit.processes import Metadata, Processes

LIVE = (trading_pb2.ORDER_STATE_OPEN, trading_pb2.ORDER_STATE_PARTIALLY_FILLED)
SETTLED = (settlement_pb2.SETTLEMENT_STATE_POSTED, settlement_pb2.SETTLEMENT_STATE_ANCHORED)
# Every system account a trade or a deposit can touch (services/wallet/domain/accounts.py).
SYSTEM_ACCOUNTS = ("system/fees", "system/deposits-in-transit", "system/withdrawals-in-transit",
                   "system/hot-wallet", "system/cold-wallet")
PAGE = 1000
EVENTS_IDLE_SECS = 5.0


@dataclass(frozen=True)
class MatchingOrder:
    """An order as Matching's events leave it: the last event's state and filled quantity."""

    state: int
    filled: Decimal
    account: str


def pages(call: Callable[[str], Any], items: Callable[[Any], Any]) -> Iterator[Any]:
    token = ""
    while True:
        page = call(token)
        yield from items(page)
        if not (token := page.next_page_token):
            return


class Audit(Stubs):
    def __init__(self, processes: Processes) -> None:
        self.processes = processes
        self.operator = processes.bearer("auditor", "operator")
        self.as_order: Metadata = (("authorization", f"Bearer {processes.issuer.mint(service='order')}"),)

    def orders(self) -> list[order_pb2.Order]:
        """Every order the Order service holds, of every account."""
        return list(pages(lambda token: self.order.ListOrders(order_pb.ListOrdersRequest(
            page_size=PAGE, page_token=token), metadata=self.operator), lambda page: page.orders))

    def trades(self, market: str) -> list[matching_pb2.Trade]:
        return list(pages(lambda token: self.matching.ListTrades(matching_pb.ListTradesRequest(
            market=market, page_size=PAGE, page_token=token), metadata=self.operator), lambda page: page.trades))

    def matching_orders(self, market: str) -> dict[str, MatchingOrder]:
        """Each order Matching has journaled on `market`, folded from its order events up to the
        book's current sequence (events are numbered one by one per market)."""
        target = self.matching.GetOrderBook(matching_pb.GetOrderBookRequest(market=market, depth=1),
                                            metadata=self.operator).sequence
        orders: dict[str, MatchingOrder] = {}
        if target == 0:
            return orders
        stream = self.matching.StreamOrderEvents(matching_pb.StreamOrderEventsRequest(market=market),
                                                 metadata=self.as_order, timeout=EVENTS_IDLE_SECS + target / 500)
        try:
            for message in stream:
                if message.HasField("status"):
                    raise AssertionError(f"Matching's order events of {market} ended: {message.status}")
                event = message.event
                orders[event.order] = MatchingOrder(event.state, Decimal(event.filled_quantity or "0"), event.account)
                if event.sequence >= target:
                    break
        finally:
            stream.cancel()
        return orders

    def book(self, market: str) -> matching_pb2.OrderBook:
        answer: matching_pb2.OrderBook = self.matching.GetOrderBook(
            matching_pb.GetOrderBookRequest(market=market, depth=1000), metadata=self.operator)
        return answer

    def settlements(self) -> list[settlement_pb2.Settlement]:
        return list(pages(lambda token: self.settlement.ListSettlements(settlement_pb.ListSettlementsRequest(
            page_size=PAGE, page_token=token), metadata=self.operator), lambda page: page.settlements))

    def balances(self, account: str) -> list[wallet_pb2.Balance]:
        return list(pages(lambda token: self.wallet.ListBalances(wallet_pb.ListBalancesRequest(
            account=account, page_size=PAGE, page_token=token), metadata=self.operator), lambda page: page.balances))

    def entries(self, account: str) -> list[wallet_pb2.Entry]:
        return list(pages(lambda token: self.wallet.ListEntries(wallet_pb.ListEntriesRequest(
            account=account, page_size=PAGE, page_token=token), metadata=self.operator), lambda page: page.entries))

    def reconcile(self) -> settlement_pb.ReconcileResponse:
        answer: settlement_pb.ReconcileResponse = self.settlement.Reconcile(
            settlement_pb.ReconcileRequest(), metadata=self.operator, timeout=60)
        return answer

    def cancel_all(self, orders: list[str]) -> None:
        """Cancel these orders as an operator, all at once; one that finished meanwhile
        answers FAILED_PRECONDITION, which is as good."""
        calls = [self.order.CancelOrder.future(order_pb.CancelOrderRequest(
            name=order, request_id=f"audit-cancel-{order.rsplit('/', 1)[-1]}"), metadata=self.operator, timeout=30)
            for order in orders]
        for call in calls:
            try:
                call.result()
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.FAILED_PRECONDITION:
                    raise


def trade_postings(entries: list[wallet_pb2.Entry]) -> Counter[tuple[str, str, str, int, str]]:
    """Each trade or fee posting → how many times the ledger holds it; a trade posted twice
    shows as 2 (a self-trade's two legs differ in sign, so they stay apart)."""
    kinds = (wallet_pb2.ENTRY_KIND_TRADE, wallet_pb2.ENTRY_KIND_FEE)
    return Counter((entry.transfer, entry.account, entry.asset, entry.kind, entry.amount)
                   for entry in entries if entry.kind in kinds)
