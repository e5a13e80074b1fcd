"""The flow over gRPC, straight to the Order service, on a few shared aio channels."""

from __future__ import annotations

import itertools

import grpc

from clearmesh.order.v1 import order_pb2, order_service_pb2 as order_pb, order_service_pb2_grpc as order_grpc
from clearmesh.type.v1 import trading_pb2
from services.load.accounts import Trader
from services.load.drivers import CALL_TIMEOUT_SECS, Answer
from services.load.flow import Kind, Place, Side

# One HTTP/2 connection serialises its frames on one socket and one completion queue; a few
# spread the client's work when many calls are in flight at once.
CHANNELS = 4
SIDES = {Side.BUY: trading_pb2.SIDE_BUY, Side.SELL: trading_pb2.SIDE_SELL}


def order_message(action: Place) -> order_pb2.Order:
    order = order_pb2.Order(market=action.market, side=SIDES[action.side])
    if action.kind is Kind.MARKET:
        order.type = trading_pb2.ORDER_TYPE_MARKET
        order.time_in_force = trading_pb2.TIME_IN_FORCE_IOC
    else:
        order.type = trading_pb2.ORDER_TYPE_LIMIT
        order.time_in_force = trading_pb2.TIME_IN_FORCE_IOC if action.kind is Kind.IOC else trading_pb2.TIME_IN_FORCE_GTC
        order.price = action.price or ""
    order.quantity = action.quantity or ""
    order.max_notional = action.max_notional or ""
    return order


class GrpcDriver:
    def __init__(self, order_addr: str, channels: int = CHANNELS) -> None:
        self._channels = [grpc.aio.insecure_channel(order_addr) for _ in range(channels)]
        self._stubs = itertools.cycle([order_grpc.OrderServiceStub(channel) for channel in self._channels])

    async def place(self, trader: Trader, action: Place, request_id: str) -> Answer:
        try:
            answer = await next(self._stubs).PlaceOrder(
                order_pb.PlaceOrderRequest(order=order_message(action), request_id=request_id),
                metadata=trader.metadata, timeout=CALL_TIMEOUT_SECS)
        except grpc.aio.AioRpcError as error:
            return Answer(error.code().name)
        return Answer("OK", answer.name, trading_pb2.OrderState.Name(answer.state))

    async def cancel(self, trader: Trader, order: str, request_id: str) -> Answer:
        try:
            answer = await next(self._stubs).CancelOrder(
                order_pb.CancelOrderRequest(name=order, request_id=request_id),
                metadata=trader.metadata, timeout=CALL_TIMEOUT_SECS)
        except grpc.aio.AioRpcError as error:
            return Answer(error.code().name)
        return Answer("OK", answer.name, trading_pb2.OrderState.Name(answer.state))

    async def close(self) -> None:
        for channel in self._channels:
            await channel.close()
