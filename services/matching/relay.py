"""A user's call naming a market another Matching shard owns, answered by that shard.

Behind the Istio ingress, REST reaches Matching through the `matching` Service, which spreads
the calls over every shard: the caller cannot pick the market's owner. So a shard relays a
user's call of a market it does not own to the owner (services/runtime/shards.py) over gRPC and
passes the owner's answer on as it is — the same message, or the same error (code, reason,
message, metadata). The calls relayed are the ones a user may make, those with an HTTP binding:
GetMarket, GetOrderBook, ListTrades, ListAuctions, StreamTrades, and an operator's CreateMarket.
Relaying CreateMarket is as safe as calling the owner directly: the owner alone writes the
market, this shard keeps nothing of the call, and the request_id makes a retry after a lost
answer safe either way. ListMarkets asks every other shard for its own markets.

Whose call the owner sees: the user's. The relayed call carries the caller's own
`authorization` header, so the owner authenticates and authorizes the user exactly as when
called directly, and shows the trades as that user may see them (visibility.py). Relaying as
this service instead would be unsafe: a service sees every trade's parties, so the owner would
have to trust a user named by some header from any Matching pod, and a bug there would show
traders each other's accounts. The relaying shard adds no authority of its own; it admitted
the caller before (the interceptor runs first), so a caller it refuses learns nothing here.

Not relayed, refused with MARKET_ON_ANOTHER_SHARD as before: a service's call (Order and
Settlement route every call by market themselves, SubmitOrder, CancelOrder and
StreamOrderEvents are theirs alone; a misrouted one is a bug to be told of, not hidden by a
hop) and a call already relayed (the shards disagree about the map, e.g. while the count
changes: the call stops instead of going round).

An owner that cannot be reached, or gives no answer within RELAY_TIMEOUT_SECS (or the caller's
own deadline, if sooner), makes the call answer UNAVAILABLE SHARD_UNAVAILABLE, naming the shard;
so does a user's ListMarkets while any shard is down, rather than a list silently short of
that shard's markets.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.message import Message

from clearmesh.matching.v1 import matching_pb2, matching_service_pb2 as pb, matching_service_pb2_grpc as pb_grpc
from services.matching.domain.reasons import MatchingReason
from services.matching.exchange import Placement
from services.runtime.auth import current_principal
from services.runtime.errors import DomainError, Unavailable
from services.runtime.shards import MatchingShards
from services.runtime.status import relayed_answer

# A unary call the owner has not answered in this long answers UNAVAILABLE (the caller may
# retry on any shard); Order gives Matching as long (services/order/peers.py).
RELAY_TIMEOUT_SECS = 5.0
# Metadata on a relayed call: the shard that relayed it. A call carrying it is never relayed again.
RELAYED_BY = "x-clearmesh-relayed-by"


class Relay:
    def __init__(self, placement: Placement, shards: MatchingShards) -> None:
        self._placement = placement
        self._shards = shards
        self._stubs: dict[int, pb_grpc.MatchingServiceStub] = {}
        self.timeout = RELAY_TIMEOUT_SECS

    def elsewhere(self, market: str, context: Any) -> bool:
        """Whether the owner shard is to answer this call: a user's call of a market another
        shard owns. A service's or an already relayed call of such a market is refused."""
        if self._placement.owns(market):
            return False
        if not self._relays(context):
            raise self._placement.refuse(market)
        return True

    async def call(self, method: str, market: str, request: Message, context: Any) -> Any:
        """The owner's answer to a unary call."""
        shard = self._placement.shards.shard_of(market)
        try:
            return await getattr(self._stub(shard), method)(
                request, timeout=self._deadline(context), metadata=self._metadata(context))
        except grpc.aio.AioRpcError as error:
            raise self._failure(error, shard, f"markets/{market}") from None

    async def stream(self, method: str, market: str, request: Message, context: Any) -> AsyncIterator[Any]:
        """The owner's stream, item by item, for as long as the caller follows it (no deadline
        of ours: a stream stays open; the caller's own, if it set one)."""
        shard = self._placement.shards.shard_of(market)
        call = getattr(self._stub(shard), method)(
            request, timeout=context.time_remaining(), metadata=self._metadata(context))
        try:
            async for item in call:
                yield item
        except grpc.aio.AioRpcError as error:
            raise self._failure(error, shard, f"markets/{market}") from None
        finally:
            call.cancel()  # the caller left: so does the owner's stream

    async def markets_elsewhere(self, request: pb.ListMarketsRequest, context: Any) -> tuple[list[matching_pb2.Market], bool]:
        """For a user's ListMarkets: the other shards' pages for the same request (each lists
        its own markets), and whether any of them has more. Nothing for a service's or a
        relayed call: they list this shard's own (Order and Settlement ask every shard)."""
        if self._placement.shards.count == 1 or not self._relays(context):
            return [], False
        others = [shard for shard in range(self._placement.shards.count) if shard != self._placement.shard]
        pages = await asyncio.gather(*(self._list(shard, request, context) for shard in others))
        return [market for page in pages for market in page.markets], any(page.next_page_token for page in pages)

    async def _list(self, shard: int, request: pb.ListMarketsRequest, context: Any) -> pb.ListMarketsResponse:
        try:
            page: pb.ListMarketsResponse = await self._stub(shard).ListMarkets(
                request, timeout=self._deadline(context), metadata=self._metadata(context))
        except grpc.aio.AioRpcError as error:
            raise self._failure(error, shard, "") from None
        return page

    def _relays(self, context: Any) -> bool:
        """A user's call that no shard has relayed yet."""
        return current_principal().service is None and not any(
            key == RELAYED_BY for key, _ in context.invocation_metadata() or ())

    def _stub(self, shard: int) -> pb_grpc.MatchingServiceStub:
        if shard not in self._stubs:
            self._stubs[shard] = pb_grpc.MatchingServiceStub(self._shards.at(shard))
        return self._stubs[shard]

    def _deadline(self, context: Any) -> float:
        remaining = context.time_remaining()
        return self.timeout if remaining is None else min(self.timeout, remaining)

    def _metadata(self, context: Any) -> tuple[tuple[str, str], ...]:
        """The caller's authorization, and this shard as the relay. The request id and the
        trace context are added by the peer channel (services/runtime/channels.py)."""
        caller = [(key, value) for key, value in context.invocation_metadata() or () if key == "authorization"]
        return (*caller, (RELAYED_BY, str(self._placement.shard)))

    def _failure(self, error: grpc.aio.AioRpcError, shard: int, market: str) -> DomainError:
        """The owner's own error as it is; UNAVAILABLE when it gave none (unreachable, too slow)."""
        answer = relayed_answer(error)
        if answer is not None:
            return answer
        what = f", which serves {market}," if market else ""
        return Unavailable(MatchingReason.SHARD_UNAVAILABLE,
                           f"matching shard {shard}{what} did not answer ({error.code().name}); retry",
                           metadata={"shard": str(shard), "address": self._placement.shards.addresses[shard],
                                     "peerStatus": error.code().name, **({"market": market} if market else {})})
