"""Settlement lag, sampled: a trade as Matching publishes it (StreamTrades, as an operator)
to its settlement seen POSTED (GetSettlement polled every POLL_SECS).

Matching numbers trades per market on their own counter, and no RPC tells its latest value,
so the probe streams each market's trades from the start and samples only those executed
after it started (a long history is read once, in the stream's chunks). One trade at a time: while one is followed, the trades that arrive are not sampled, so the
probe adds at most one poll every POLL_SECS to the load whatever the trade rate. Lag is the
wall time seen minus the trade's execute_time (same machine, same clock), so it is accurate
to about one poll.

At the end of a run the trade being followed (and the one waiting) is followed to its
settlement, not dropped: a short run, or a slow machine, still yields its samples. What kept
a trade from being sampled is counted too (`given_up`, `errors` by status code), so a run
with no lag figure says why."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import grpc

from clearmesh.matching.v1 import matching_service_pb2 as matching_pb, matching_service_pb2_grpc as matching_grpc
from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as settlement_pb
from clearmesh.settlement.v1 import settlement_service_pb2_grpc as settlement_grpc
from services.load.accounts import Metadata

POLL_SECS = 0.02
GIVE_UP_SECS = 30.0  # a trade not settled by then is left out of the sample (and said so)
RECONNECT_SECS = 0.5
SETTLED = (settlement_pb2.SETTLEMENT_STATE_POSTED, settlement_pb2.SETTLEMENT_STATE_ANCHORED)


def settlement_name(trade: str) -> str:
    """`markets/BTC-USDC/trades/42` → `settlements/BTC-USDC-42` (Settlement's naming)."""
    market, _, sequence = trade.removeprefix("markets/").partition("/trades/")
    return f"settlements/{market}-{sequence}"


class LagProbe:
    def __init__(self, matching_addr: str, settlement_addr: str, operator: Metadata, markets: list[str]) -> None:
        self._matching = grpc.aio.insecure_channel(matching_addr)
        self._settlement = grpc.aio.insecure_channel(settlement_addr)
        self._operator, self._markets = operator, markets
        # None: the run is over, stop after the trades already taken.
        self._next: asyncio.Queue[tuple[str, float] | None] = asyncio.Queue(maxsize=1)
        self.lags_ms: list[float] = []
        self.given_up = 0  # trades not settled within GIVE_UP_SECS
        self.errors: Counter[str] = Counter()  # failed calls by RPC and status code
        self._followers: list[asyncio.Task[None]] = []
        self._sampler: asyncio.Task[None] | None = None
        self._since = 0.0

    async def start(self) -> None:
        self._since = time.time()
        self._followers = [asyncio.create_task(self._follow(market, 0)) for market in self._markets]
        self._sampler = asyncio.create_task(self._sample())

    async def _follow(self, market: str, after: int) -> None:
        stub = matching_grpc.MatchingServiceStub(self._matching)
        while True:
            try:
                async for message in stub.StreamTrades(matching_pb.StreamTradesRequest(market=market, after_sequence=after),
                                                       metadata=self._operator):
                    if not message.HasField("trade"):
                        break
                    after = message.trade.sequence
                    executed = message.trade.execute_time.ToNanoseconds() / 1e9
                    if executed < self._since:
                        continue  # history from before this run
                    with contextlib.suppress(asyncio.QueueFull):  # busy following another: not sampled
                        self._next.put_nowait((message.trade.name, executed))
            except grpc.aio.AioRpcError as error:  # Matching restarting: follow again from the last trade seen
                self.errors[f"StreamTrades {error.code().name}"] += 1
            await asyncio.sleep(RECONNECT_SECS)

    async def _sample(self) -> None:
        stub = settlement_grpc.SettlementServiceStub(self._settlement)
        while (taken := await self._next.get()) is not None:
            trade, executed = taken
            request = settlement_pb.GetSettlementRequest(name=settlement_name(trade))
            while True:
                try:
                    if (await stub.GetSettlement(request, metadata=self._operator, timeout=5)).state in SETTLED:
                        self.lags_ms.append((time.time() - executed) * 1000)
                        break
                except grpc.aio.AioRpcError as error:  # not made yet (NOT_FOUND), or Settlement restarting
                    if error.code() != grpc.StatusCode.NOT_FOUND:
                        self.errors[f"GetSettlement {error.code().name}"] += 1
                if time.time() - executed > GIVE_UP_SECS:
                    self.given_up += 1
                    break
                await asyncio.sleep(POLL_SECS)

    async def stop(self) -> None:
        """Stop taking trades; those already taken are followed to their settlement (each at
        most GIVE_UP_SECS after it executed)."""
        for task in self._followers:
            task.cancel()
        await asyncio.gather(*self._followers, return_exceptions=True)
        if self._sampler is not None:
            await self._next.put(None)
            await self._sampler
        await self._matching.close()
        await self._settlement.close()
