import datetime

from clearmesh.matching.v1 import matching_pb2 as _matching_pb2
from clearmesh.type.v1 import access_pb2 as _access_pb2
from clearmesh.type.v1 import trading_pb2 as _trading_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListMarketsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListMarketsResponse(_message.Message):
    __slots__ = ("markets", "next_page_token")
    MARKETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    markets: _containers.RepeatedCompositeFieldContainer[_matching_pb2.Market]
    next_page_token: str
    def __init__(self, markets: _Optional[_Iterable[_Union[_matching_pb2.Market, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetMarketRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CreateMarketRequest(_message.Message):
    __slots__ = ("market", "market_id", "request_id")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    MARKET_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    market: _matching_pb2.Market
    market_id: str
    request_id: str
    def __init__(self, market: _Optional[_Union[_matching_pb2.Market, _Mapping]] = ..., market_id: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetOrderBookRequest(_message.Message):
    __slots__ = ("market", "depth")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    DEPTH_FIELD_NUMBER: _ClassVar[int]
    market: str
    depth: int
    def __init__(self, market: _Optional[str] = ..., depth: _Optional[int] = ...) -> None: ...

class ListTradesRequest(_message.Message):
    __slots__ = ("market", "page_size", "page_token")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    market: str
    page_size: int
    page_token: str
    def __init__(self, market: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListTradesResponse(_message.Message):
    __slots__ = ("trades", "next_page_token")
    TRADES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    trades: _containers.RepeatedCompositeFieldContainer[_matching_pb2.Trade]
    next_page_token: str
    def __init__(self, trades: _Optional[_Iterable[_Union[_matching_pb2.Trade, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class StreamTradesRequest(_message.Message):
    __slots__ = ("market", "after_sequence", "max_trades_per_message")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MAX_TRADES_PER_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    market: str
    after_sequence: int
    max_trades_per_message: int
    def __init__(self, market: _Optional[str] = ..., after_sequence: _Optional[int] = ..., max_trades_per_message: _Optional[int] = ...) -> None: ...

class StreamTradesResponse(_message.Message):
    __slots__ = ("trade", "status", "trades")
    TRADE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    trade: _matching_pb2.Trade
    status: _status_pb2.Status
    trades: TradeBatch
    def __init__(self, trade: _Optional[_Union[_matching_pb2.Trade, _Mapping]] = ..., status: _Optional[_Union[_status_pb2.Status, _Mapping]] = ..., trades: _Optional[_Union[TradeBatch, _Mapping]] = ...) -> None: ...

class TradeBatch(_message.Message):
    __slots__ = ("trades",)
    TRADES_FIELD_NUMBER: _ClassVar[int]
    trades: _containers.RepeatedCompositeFieldContainer[_matching_pb2.Trade]
    def __init__(self, trades: _Optional[_Iterable[_Union[_matching_pb2.Trade, _Mapping]]] = ...) -> None: ...

class ListAuctionsRequest(_message.Message):
    __slots__ = ("market", "page_size", "page_token")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    market: str
    page_size: int
    page_token: str
    def __init__(self, market: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuctionsResponse(_message.Message):
    __slots__ = ("auctions", "next_page_token")
    AUCTIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    auctions: _containers.RepeatedCompositeFieldContainer[_matching_pb2.Auction]
    next_page_token: str
    def __init__(self, auctions: _Optional[_Iterable[_Union[_matching_pb2.Auction, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SubmitOrderRequest(_message.Message):
    __slots__ = ("order", "account", "market", "side", "type", "time_in_force", "price", "quantity", "max_notional", "post_only", "expire_time", "trace_parent")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    MARKET_FIELD_NUMBER: _ClassVar[int]
    SIDE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TIME_IN_FORCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAX_NOTIONAL_FIELD_NUMBER: _ClassVar[int]
    POST_ONLY_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    TRACE_PARENT_FIELD_NUMBER: _ClassVar[int]
    order: str
    account: str
    market: str
    side: _trading_pb2.Side
    type: _trading_pb2.OrderType
    time_in_force: _trading_pb2.TimeInForce
    price: str
    quantity: str
    max_notional: str
    post_only: bool
    expire_time: _timestamp_pb2.Timestamp
    trace_parent: str
    def __init__(self, order: _Optional[str] = ..., account: _Optional[str] = ..., market: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., type: _Optional[_Union[_trading_pb2.OrderType, str]] = ..., time_in_force: _Optional[_Union[_trading_pb2.TimeInForce, str]] = ..., price: _Optional[str] = ..., quantity: _Optional[str] = ..., max_notional: _Optional[str] = ..., post_only: _Optional[bool] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trace_parent: _Optional[str] = ...) -> None: ...

class SubmitOrderResponse(_message.Message):
    __slots__ = ("state", "filled_quantity", "average_price", "trades", "reason", "sequence")
    STATE_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_PRICE_FIELD_NUMBER: _ClassVar[int]
    TRADES_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    state: _trading_pb2.OrderState
    filled_quantity: str
    average_price: str
    trades: _containers.RepeatedCompositeFieldContainer[_matching_pb2.Trade]
    reason: str
    sequence: int
    def __init__(self, state: _Optional[_Union[_trading_pb2.OrderState, str]] = ..., filled_quantity: _Optional[str] = ..., average_price: _Optional[str] = ..., trades: _Optional[_Iterable[_Union[_matching_pb2.Trade, _Mapping]]] = ..., reason: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class SubmitOrdersRequest(_message.Message):
    __slots__ = ("orders",)
    ORDERS_FIELD_NUMBER: _ClassVar[int]
    orders: _containers.RepeatedCompositeFieldContainer[SubmitOrderRequest]
    def __init__(self, orders: _Optional[_Iterable[_Union[SubmitOrderRequest, _Mapping]]] = ...) -> None: ...

class SubmitOrdersResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[SubmitOrderResult]
    def __init__(self, results: _Optional[_Iterable[_Union[SubmitOrderResult, _Mapping]]] = ...) -> None: ...

class SubmitOrderResult(_message.Message):
    __slots__ = ("order", "error")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    order: SubmitOrderResponse
    error: _status_pb2.Status
    def __init__(self, order: _Optional[_Union[SubmitOrderResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class CancelOrderRequest(_message.Message):
    __slots__ = ("order", "market")
    ORDER_FIELD_NUMBER: _ClassVar[int]
    MARKET_FIELD_NUMBER: _ClassVar[int]
    order: str
    market: str
    def __init__(self, order: _Optional[str] = ..., market: _Optional[str] = ...) -> None: ...

class CancelOrderResponse(_message.Message):
    __slots__ = ("state", "filled_quantity", "remaining_quantity", "sequence")
    STATE_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REMAINING_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    state: _trading_pb2.OrderState
    filled_quantity: str
    remaining_quantity: str
    sequence: int
    def __init__(self, state: _Optional[_Union[_trading_pb2.OrderState, str]] = ..., filled_quantity: _Optional[str] = ..., remaining_quantity: _Optional[str] = ..., sequence: _Optional[int] = ...) -> None: ...

class StreamOrderEventsRequest(_message.Message):
    __slots__ = ("market", "after_sequence")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    market: str
    after_sequence: int
    def __init__(self, market: _Optional[str] = ..., after_sequence: _Optional[int] = ...) -> None: ...

class StreamOrderEventsResponse(_message.Message):
    __slots__ = ("event", "status")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    event: _matching_pb2.OrderEvent
    status: _status_pb2.Status
    def __init__(self, event: _Optional[_Union[_matching_pb2.OrderEvent, _Mapping]] = ..., status: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...
