"""The Order service's calls to Matching, Wallet and KYC: each with a deadline, as this
service (the runtime's channels carry its identity, never the user's token), and each peer's
refusal turned back into the typed error it was (same code, same reason)."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import grpc
from clearmesh.kyc.v1 import kyc_service_pb2 as kyc_pb
from clearmesh.kyc.v1 import kyc_service_pb2_grpc as kyc_grpc
from clearmesh.matching.v1 import matching_pb2
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb
from clearmesh.matching.v1 import matching_service_pb2_grpc as matching_grpc
from clearmesh.wallet.v1 import wallet_service_pb2 as wallet_pb
from clearmesh.wallet.v1 import wallet_service_pb2_grpc as wallet_grpc

from services.order.domain.orders import Order
from services.order.domain.reasons import OrderReason
from services.order.wire import decimal_text, enum, timestamp
from services.runtime.errors import FailedPrecondition
from services.runtime.status import peer_error

# A peer that has not answered within this long is treated as unavailable.
CALL_TIMEOUT_SECS = 5.0

class Peers:
    def __init__(self, channel: Callable[[str], grpc.aio.Channel], timeout: float = CALL_TIMEOUT_SECS) -> None:
        self._channel = channel
        self._timeout = timeout

    def _matching(self) -> matching_grpc.MatchingServiceStub:
        return matching_grpc.MatchingServiceStub(self._channel("matching"))

    def _wallet(self) -> wallet_grpc.WalletServiceStub:
        return wallet_grpc.WalletServiceStub(self._channel("wallet"))

    async def _call(self, method: Any, request: Any, peer: str, unavailable_reason: str) -> Any:
        try:
            return await method(request, timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise peer_error(error, peer, unavailable_reason) from None

    # ------------------------------------------------------------- matching

    async def market(self, market_id: str) -> matching_pb2.Market:
        return await self._call(self._matching().GetMarket, matching_pb.GetMarketRequest(name=f"markets/{market_id}"),
                                "matching", OrderReason.MATCHING_UNAVAILABLE)

    async def market_ids(self) -> list[str]:
        ids: list[str] = []
        token = ""
        while True:
            page = await self._call(self._matching().ListMarkets, matching_pb.ListMarketsRequest(
                page_size=1000, page_token=token), "matching", OrderReason.MATCHING_UNAVAILABLE)
            ids.extend(market.name.removeprefix("markets/") for market in page.markets)
            token = page.next_page_token
            if not token:
                return ids

    async def submit(self, order: Order) -> matching_pb.SubmitOrderResponse:
        spec = order.spec
        request = matching_pb.SubmitOrderRequest(
            order=order.name, account=order.account, market=f"markets/{order.market_id}", side=enum(spec.side),
            type=enum(spec.order_type), time_in_force=enum(spec.time_in_force), price=decimal_text(spec.price),
            quantity=decimal_text(spec.quantity), max_notional=decimal_text(spec.max_notional),
            post_only=spec.post_only)
        if spec.expire_time is not None:
            # Only GTT carries one; Matching bounds every other resting order by ORDER_EXPIRATION_HOURS.
            request.expire_time.CopyFrom(timestamp(spec.expire_time))
        return await self._call(self._matching().SubmitOrder, request, "matching", OrderReason.MATCHING_UNAVAILABLE)

    async def cancel(self, order: Order) -> matching_pb.CancelOrderResponse:
        return await self._call(self._matching().CancelOrder, matching_pb.CancelOrderRequest(
            order=order.name, market=f"markets/{order.market_id}"), "matching", OrderReason.MATCHING_UNAVAILABLE)

    def order_events(self, market_id: str, after_sequence: int) -> Any:
        """The market's order events after the cursor, then live (no deadline: it stays open)."""
        return self._matching().StreamOrderEvents(matching_pb.StreamOrderEventsRequest(
            market=f"markets/{market_id}", after_sequence=after_sequence))

    # --------------------------------------------------------------- wallet

    async def place_hold(self, order: Order, amount: str) -> None:
        await self._call(self._wallet().PlaceHold, wallet_pb.PlaceHoldRequest(
            hold=order.hold_name, account=order.account, asset=order.hold_asset, amount=amount),
            "wallet", OrderReason.WALLET_UNAVAILABLE)

    async def release_hold(self, order: Order, amount: str) -> None:
        await self._call(self._wallet().ReleaseHold, wallet_pb.ReleaseHoldRequest(
            hold=order.hold_name, amount=amount, request_id=order.release_request_id),
            "wallet", OrderReason.WALLET_UNAVAILABLE)

    # ------------------------------------------------------------------ kyc

    async def check_eligibility(self, account: str, asset: str, amount: Decimal, used: Decimal) -> None:
        """Return if KYC allows the order; FAILED_PRECONDITION with KYC's reason if not."""
        answer = await self._call(kyc_grpc.KycServiceStub(self._channel("kyc")).CheckEligibility,
                                  kyc_pb.CheckEligibilityRequest(
                                      account=account, action=kyc_pb.ELIGIBILITY_ACTION_PLACE_ORDER, asset=asset,
                                      amount=format(amount, "f"), used_amount=format(used, "f")),
                                  "kyc", OrderReason.KYC_UNAVAILABLE)
        if not answer.allowed:
            raise FailedPrecondition(answer.reason or OrderReason.KYC_DENIED,
                                     f"KYC does not allow this order: {answer.reason}",
                                     metadata={"remaining": answer.remaining, "tier": str(answer.tier)})
