"""The Order service's calls to Matching, Wallet and KYC: each with a deadline, as this
service (the runtime's channels carry its identity, never the user's token), and each peer's
refusal turned back into the typed error it was (same code, same reason).

Concurrent placements share their CheckEligibility, SubmitOrder and PlaceHold calls: they go
as one KYC.CheckEligibilities, one Matching.SubmitOrders per shard and one Wallet.PlaceHolds
(services/runtime/coalesce.py), each order still answered, or refused, as its own unary call
would have been. Under load the KYC check lingers (KYC_LINGER_SECS): it is the placements'
first call, and the orders it gathers go on together, one group commit, one PlaceHolds and one
SubmitOrders for them all."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from functools import partial
from typing import Any

import grpc
from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.matching.v1 import matching_pb2
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.matching.v1 import matching_service_pb2_grpc as matching_grpc
from clearmesh.wallet.v1 import wallet_pb2
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc

from services.order.domain.orders import Order
from services.order.domain.reasons import OrderReason
from services.order.wire import decimal_text, enum, timestamp
from services.runtime.coalesce import Coalescer
from services.runtime.errors import DomainError, FailedPrecondition
from services.runtime.paging import every_page
from services.runtime.shards import MatchingShards
from services.runtime.status import peer_error, peer_item_error
from services.runtime.telemetry import current_traceparent

# A peer that has not answered within this long is treated as unavailable.
CALL_TIMEOUT_SECS = 5.0
# Under load (the last KYC batch carried several orders), a KYC batch goes no sooner than this
# after the one before; a lone placement's call goes at once. The orders a batch gathers go on
# together (one group commit, one PlaceHolds, one SubmitOrders), so a longer linger buys less
# CPU per order with a longer wait. bench/order.py --quick, PostgreSQL, in turns (2026-12-07,
# after the notional's hours and random_page_cost): at 500/s offered, p99 (best of 2 repeats)
# 50–59 ms at 20 ms in five runs, 55–73 at 15, 64–66 at 30, 73–235 at 10 (73–108 leaving out
# the first, busier round), 326–410 at 6 (fell behind); CPU per order over all processes
# 2.84–3.04 ms at 20, 3.40–3.60 at 10, 2.58 at 30 (whose closed loop then saturated lower,
# ~510/s against ~590). On SQLite 20 ms against 10:
# p99 39 against 31–32 ms, both within the target, CPU per order 2.3 against 2.7.
# The price: under load one account's placements (which ask KYC one at a time) go at most one
# per batch, ~50/s.
KYC_LINGER_SECS = 0.02

class Peers:
    def __init__(self, channel: Callable[[str], grpc.aio.Channel], matching: MatchingShards,
                 timeout: float = CALL_TIMEOUT_SECS) -> None:
        self._channel = channel
        self._shards = matching
        self._timeout = timeout
        self._holds: Coalescer[wallet_pb.PlaceHoldRequest, wallet_pb2.Hold] = Coalescer(self._place_holds)
        self._eligibility: Coalescer[kyc_pb.CheckEligibilityRequest, kyc_pb.CheckEligibilityResponse] = Coalescer(
            self._check_eligibilities, linger=KYC_LINGER_SECS)
        # One per Matching shard (by address): a batch goes to the shard that owns its markets.
        self._submits: dict[str, Coalescer[matching_pb.SubmitOrderRequest, matching_pb.SubmitOrderResponse]] = {}

    def _matching(self, market_id: str) -> matching_grpc.MatchingServiceStub:
        """Matching's shard that owns the market (services/runtime/shards.py)."""
        return matching_grpc.MatchingServiceStub(self._shards.of(market_id))

    def _wallet(self) -> wallet_grpc.WalletServiceStub:
        return wallet_grpc.WalletServiceStub(self._channel("wallet"))

    async def _call(self, method: Any, request: Any, peer: str, unavailable_reason: str) -> Any:
        try:
            return await method(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise peer_error(error, peer, unavailable_reason) from None

    async def _call_each(self, method: Any, request: Any, count: int, answer_field: str, peer: str,
                         unavailable_reason: str) -> list[Any | DomainError]:
        """A batch call's answers, one per item: its `answer_field`, or the error its unary call
        would have raised; all that error when the batch gets no answer (or is refused whole)."""
        try:
            answer = await method(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            return [peer_error(error, peer, unavailable_reason) for _ in range(count)]
        return [peer_item_error(result.error, peer, unavailable_reason) if result.HasField("error")
                else getattr(result, answer_field) for result in answer.results]

    # ------------------------------------------------------------- matching

    async def market(self, market_id: str) -> matching_pb2.Market:
        return await self._call(self._matching(market_id).GetMarket,
                                matching_pb.GetMarketRequest(name=f"markets/{market_id}"),
                                "matching", OrderReason.MATCHING_UNAVAILABLE)

    async def market_ids(self) -> list[str]:
        """Every shard's markets (each shard lists only its own to a service)."""
        ids: list[str] = []
        for channel in self._shards.every():
            stub = matching_grpc.MatchingServiceStub(channel)
            list_markets = partial(self._call, stub.ListMarkets, peer="matching",
                                   unavailable_reason=OrderReason.MATCHING_UNAVAILABLE)
            async for page in every_page(list_markets, matching_pb.ListMarketsRequest(page_size=1000)):
                ids.extend(market.name.removeprefix("markets/") for market in page.markets)
        return ids

    async def submit(self, order: Order) -> matching_pb.SubmitOrderResponse:
        spec = order.spec
        request = matching_pb.SubmitOrderRequest(
            order=order.name, account=order.account, market=f"markets/{order.market_id}", side=enum(spec.side),
            type=enum(spec.order_type), time_in_force=enum(spec.time_in_force), price=decimal_text(spec.price),
            quantity=decimal_text(spec.quantity), max_notional=decimal_text(spec.max_notional),
            post_only=spec.post_only,
            # This placement's own trace for its trades: the batch call goes out in another's.
            trace_parent=current_traceparent())
        if spec.expire_time is not None:
            # Only GTT carries one; Matching bounds every other resting order by ORDER_EXPIRATION_HOURS.
            request.expire_time.CopyFrom(timestamp(spec.expire_time))
        shard = self._shards.map.address_of(order.market_id)
        submits = self._submits.get(shard)
        if submits is None:
            submits = self._submits[shard] = Coalescer(self._submit_orders)
        return await submits.call(request)

    async def _submit_orders(self, requests: list[matching_pb.SubmitOrderRequest]) -> list[Any | DomainError]:
        """One SubmitOrders to the shard that owns these orders' markets (a batch is one shard's)."""
        return await self._call_each(self._matching(requests[0].market).SubmitOrders,
                                     matching_pb.SubmitOrdersRequest(orders=requests), len(requests), "order",
                                     "matching", OrderReason.MATCHING_UNAVAILABLE)

    async def cancel(self, order: Order) -> matching_pb.CancelOrderResponse:
        return await self._call(self._matching(order.market_id).CancelOrder, matching_pb.CancelOrderRequest(
            order=order.name, market=f"markets/{order.market_id}"), "matching", OrderReason.MATCHING_UNAVAILABLE)

    def order_events(self, market_id: str, after_sequence: int) -> Any:
        """The market's order events after the cursor, then live (no deadline: it stays open)."""
        return self._matching(market_id).StreamOrderEvents(matching_pb.StreamOrderEventsRequest(
            market=f"markets/{market_id}", after_sequence=after_sequence))

    # --------------------------------------------------------------- wallet

    async def place_hold(self, order: Order, amount: str) -> None:
        await self._holds.call(wallet_pb.PlaceHoldRequest(
            hold=order.hold_name, account=order.account, asset=order.hold_asset, amount=amount))

    async def _place_holds(self, requests: list[wallet_pb.PlaceHoldRequest]) -> list[Any | DomainError]:
        return await self._call_each(self._wallet().PlaceHolds, wallet_pb.PlaceHoldsRequest(holds=requests),
                                     len(requests), "hold", "wallet", OrderReason.WALLET_UNAVAILABLE)

    async def release_hold(self, order: Order, amount: str) -> None:
        await self._call(self._wallet().ReleaseHold, wallet_pb.ReleaseHoldRequest(
            hold=order.hold_name, amount=amount, request_id=order.release_request_id),
            "wallet", OrderReason.WALLET_UNAVAILABLE)

    # ------------------------------------------------------------------ kyc

    async def check_eligibility(self, account: str, asset: str, amount: Decimal, used: Decimal) -> Decimal | None:
        """What KYC leaves of the binding limit after this order (None: no limit binds) if it
        allows the order; FAILED_PRECONDITION with KYC's reason if not."""
        answer = await self._eligibility.call(kyc_pb.CheckEligibilityRequest(
            account=account, action=kyc_pb.ELIGIBILITY_ACTION_PLACE_ORDER, asset=asset,
            amount=format(amount, "f"), used_amount=format(used, "f")))
        if not answer.allowed:
            raise FailedPrecondition(answer.reason or OrderReason.KYC_DENIED,
                                     f"KYC does not allow this order: {answer.reason}",
                                     metadata={"remaining": answer.remaining, "tier": str(answer.tier)})
        return Decimal(answer.remaining) if answer.remaining else None

    async def _check_eligibilities(self, requests: list[kyc_pb.CheckEligibilityRequest]) -> list[Any | DomainError]:
        return await self._call_each(kyc_grpc.KycServiceStub(self._channel("kyc")).CheckEligibilities,
                                     kyc_pb.CheckEligibilitiesRequest(checks=requests), len(requests),
                                     "eligibility", "kyc", OrderReason.KYC_UNAVAILABLE)
