"""The whole platform as real processes, and what a test does with it: traders through KYC and
funded, orders placed through Order, and the outcome read back from every service."""

from __future__ import annotations

from decimal import Decimal
from functools import partial
from pathlib import Path

import grpc

from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.matching.v1 import matching_pb2
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.matching.v1 import matching_service_pb2_grpc as matching_grpc
from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as order_pb
from clearmesh.order.v1 import order_service_pb2_grpc as order_grpc
from clearmesh.settlement.v1 import settlement_pb2
from clearmesh.settlement.v1 import settlement_service_pb2 as settlement_pb
from clearmesh.settlement.v1 import settlement_service_pb2_grpc as settlement_grpc
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc
from tests.testkit.processes import Metadata, Processes, eventually
from tests.testkit.traders import approve

from services.runtime.fees import fee_units, notional_units
from services.runtime.shards import shard_of

SERVICES = ("kyc", "wallet", "matching", "order", "settlement")
FEE_RATE = Decimal("0.001")  # SETTLEMENT_FEE_RATE's default, which the processes run with
USDC_DECIMALS = 6
# The default markets: BTC-USDC continuous (tick 0.01, lot 0.0001), GRID-USDC a periodic
# auction (tick 0.001, lot 0.001) clearing every MATCHING_INTERVAL_MS.
CONTINUOUS = "markets/BTC-USDC"
AUCTION = "markets/GRID-USDC"
AUCTION_INTERVAL_MS = 300


class Stubs:
    """A stub for each running service, on the processes' shared channels."""

    processes: Processes

    @property
    def kyc(self) -> kyc_grpc.KycServiceStub:
        return kyc_grpc.KycServiceStub(self.processes.channel("kyc"))

    @property
    def wallet(self) -> wallet_grpc.WalletServiceStub:
        return wallet_grpc.WalletServiceStub(self.processes.channel("wallet"))

    @property
    def matching(self) -> matching_grpc.MatchingServiceStub:
        return matching_grpc.MatchingServiceStub(self.processes.channel("matching"))

    @property
    def order(self) -> order_grpc.OrderServiceStub:
        return order_grpc.OrderServiceStub(self.processes.channel("order"))

    @property
    def settlement(self) -> settlement_grpc.SettlementServiceStub:
        return settlement_grpc.SettlementServiceStub(self.processes.channel("settlement"))


class Platform(Stubs):
    """The five services as processes; stubs and the operator's token. With `matching_shards`
    above 1, Matching runs as that many processes: `matching` (shard 0), `matching-1`, ..."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, *, metrics: bool = False,
                 matching_shards: int = 1) -> None:
        self.shard_names = ["matching"] + [f"matching-{shard}" for shard in range(1, matching_shards)]
        names = [name for service in SERVICES for name in (self.shard_names if service == "matching" else [service])]
        self.processes = Processes(data_dir, names, {"MATCHING_INTERVAL_MS": str(AUCTION_INTERVAL_MS), **(env or {})},
                                   metrics=metrics)
        if matching_shards > 1:
            self.processes.env["CLEARMESH_MATCHING_SHARDS"] = ",".join(
                f"127.0.0.1:{self.processes.ports[name]}" for name in self.shard_names)
        for shard, name in enumerate(self.shard_names):  # as a StatefulSet names its pods
            self.processes.own_env[name] = {"CLEARMESH_MATCHING_SHARD": f"matching-{shard}"}
        self.operator = self.processes.bearer("ops", "operator")
        self._ids = 0

    def start(self, markets: tuple[matching_pb.CreateMarketRequest, ...] = ()) -> None:
        """Start every process; `markets` are created on their shards once Matching is up,
        before Order and Settlement start (they would see a later one at their next relist).
        Peers first: KYC, Wallet and every Matching shard (together), then Order and Settlement."""
        self.processes.start_all(["kyc", "wallet", *self.shard_names])
        for market in markets:
            self.shard(shard_of(market.market_id, len(self.shard_names))).CreateMarket(market, metadata=self.operator)
        self.processes.start_all(["order", "settlement"])

    def shard(self, number: int) -> matching_grpc.MatchingServiceStub:
        return matching_grpc.MatchingServiceStub(self.processes.channel(self.shard_names[number]))

    def request_id(self) -> str:
        self._ids += 1
        return f"e2e-{self._ids}"

    def trader(self, account: str, deposits: dict[str, str]) -> Metadata:
        """`account` through KYC (applicant, passport, approved at tier 1) with these deposits."""
        caller = self.processes.bearer(account)
        approve(self.kyc, caller, self.operator, passport=f"NX{account.upper()}")
        for asset, amount in deposits.items():
            self.wallet.Deposit(wallet_pb.DepositRequest(account=f"accounts/{account}", asset=asset, amount=amount,
                                                         request_id=self.request_id()), metadata=self.operator)
        return caller

    def place(self, caller: Metadata, market: str, side: trading_pb2.Side, price: str, quantity: str) -> order_pb2.Order:
        answer: order_pb2.Order = self.order.PlaceOrder(order_pb.PlaceOrderRequest(order=order_pb2.Order(
            market=market, side=side, type=trading_pb2.ORDER_TYPE_LIMIT, price=price, quantity=quantity),
            request_id=self.request_id()), metadata=caller)
        return answer

    def get_order(self, name: str) -> order_pb2.Order:
        answer: order_pb2.Order = self.order.GetOrder(order_pb.GetOrderRequest(name=name), metadata=self.operator)
        return answer

    def trades(self, market: str, shard: int = 0) -> list[matching_pb2.Trade]:
        answer = self.shard(shard).ListTrades(matching_pb.ListTradesRequest(market=market, page_size=1000),
                                          metadata=self.operator)
        return list(answer.trades)

    def settlement_of(self, trade: matching_pb2.Trade) -> settlement_pb2.Settlement | None:
        """The trade's settlement, or None while Settlement has not taken the trade in yet (its
        intake follows Matching's stream a moment behind the trade)."""
        market, _, sequence = trade.name.removeprefix("markets/").partition("/trades/")
        try:
            answer: settlement_pb2.Settlement = self.settlement.GetSettlement(
                settlement_pb.GetSettlementRequest(name=f"settlements/{market}-{sequence}"), metadata=self.operator)
        except grpc.RpcError as error:
            if error.code() is grpc.StatusCode.NOT_FOUND:
                return None
            raise
        return answer

    def anchored(self, trade: matching_pb2.Trade) -> settlement_pb2.Settlement:
        """The trade's settlement once it is ANCHORED (a minute at most: batching, then the chain)."""
        settlement = eventually(partial(self.settlement_of, trade),
                                lambda s: s is not None and s.state == settlement_pb2.SETTLEMENT_STATE_ANCHORED,
                                f"the settlement of {trade.name} to be ANCHORED", wait_secs=60)
        assert settlement is not None
        return settlement

    def balances(self, account: str) -> dict[str, tuple[Decimal, Decimal]]:
        """asset → (total, held) of `account` (`accounts/alice`, `system/fees`), read as an operator."""
        answer = self.wallet.ListBalances(wallet_pb.ListBalancesRequest(account=account), metadata=self.operator)
        return {b.asset: (Decimal(b.total), Decimal(b.held)) for b in answer.balances}

    def total(self, account: str, asset: str) -> Decimal:
        return self.balances(account).get(asset, (Decimal(0), Decimal(0)))[0]

    def held(self, account: str, asset: str) -> Decimal:
        return self.balances(account).get(asset, (Decimal(0), Decimal(0)))[1]

    def stop(self) -> None:
        self.processes.stop_all()


def usdc(units: int) -> Decimal:
    return Decimal(units).scaleb(-USDC_DECIMALS)


def notional(price: str, quantity: str) -> int:
    """price × quantity in USDC units, as Order and Settlement count it."""
    return notional_units(Decimal(price) * Decimal(quantity), USDC_DECIMALS)


def fee(notional_units_: int) -> int:
    """An order's fee on its filled notional (services/runtime/fees.py), in USDC units."""
    return fee_units(notional_units_, FEE_RATE)
