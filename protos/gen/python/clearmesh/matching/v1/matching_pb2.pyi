import datetime

from clearmesh.type.v1 import trading_pb2 as _trading_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MarketMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKET_MODE_UNSPECIFIED: _ClassVar[MarketMode]
    MARKET_MODE_CONTINUOUS: _ClassVar[MarketMode]
    MARKET_MODE_PERIODIC_AUCTION: _ClassVar[MarketMode]

class MarketState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    MARKET_STATE_UNSPECIFIED: _ClassVar[MarketState]
    MARKET_STATE_OPEN: _ClassVar[MarketState]
    MARKET_STATE_HALTED: _ClassVar[MarketState]

class SelfTradePrevention(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SELF_TRADE_PREVENTION_UNSPECIFIED: _ClassVar[SelfTradePrevention]
    SELF_TRADE_PREVENTION_CANCEL_RESTING: _ClassVar[SelfTradePrevention]
    SELF_TRADE_PREVENTION_CANCEL_TAKER: _ClassVar[SelfTradePrevention]
    SELF_TRADE_PREVENTION_CANCEL_BOTH: _ClassVar[SelfTradePrevention]

class OrderEventType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ORDER_EVENT_TYPE_UNSPECIFIED: _ClassVar[OrderEventType]
    ORDER_EVENT_TYPE_ACCEPTED: _ClassVar[OrderEventType]
    ORDER_EVENT_TYPE_FILLED: _ClassVar[OrderEventType]
    ORDER_EVENT_TYPE_PARTIALLY_FILLED: _ClassVar[OrderEventType]
    ORDER_EVENT_TYPE_CANCELLED: _ClassVar[OrderEventType]
    ORDER_EVENT_TYPE_EXPIRED: _ClassVar[OrderEventType]
    ORDER_EVENT_TYPE_REJECTED: _ClassVar[OrderEventType]
MARKET_MODE_UNSPECIFIED: MarketMode
MARKET_MODE_CONTINUOUS: MarketMode
MARKET_MODE_PERIODIC_AUCTION: MarketMode
MARKET_STATE_UNSPECIFIED: MarketState
MARKET_STATE_OPEN: MarketState
MARKET_STATE_HALTED: MarketState
SELF_TRADE_PREVENTION_UNSPECIFIED: SelfTradePrevention
SELF_TRADE_PREVENTION_CANCEL_RESTING: SelfTradePrevention
SELF_TRADE_PREVENTION_CANCEL_TAKER: SelfTradePrevention
SELF_TRADE_PREVENTION_CANCEL_BOTH: SelfTradePrevention
ORDER_EVENT_TYPE_UNSPECIFIED: OrderEventType
ORDER_EVENT_TYPE_ACCEPTED: OrderEventType
ORDER_EVENT_TYPE_FILLED: OrderEventType
ORDER_EVENT_TYPE_PARTIALLY_FILLED: OrderEventType
ORDER_EVENT_TYPE_CANCELLED: OrderEventType
ORDER_EVENT_TYPE_EXPIRED: OrderEventType
ORDER_EVENT_TYPE_REJECTED: OrderEventType

class Market(_message.Message):
    __slots__ = ("name", "base_asset", "quote_asset", "tick_size", "lot_size", "min_quantity", "max_quantity", "mode", "auction_interval", "state", "self_trade_prevention", "reference_price")
    NAME_FIELD_NUMBER: _ClassVar[int]
    BASE_ASSET_FIELD_NUMBER: _ClassVar[int]
    QUOTE_ASSET_FIELD_NUMBER: _ClassVar[int]
    TICK_SIZE_FIELD_NUMBER: _ClassVar[int]
    LOT_SIZE_FIELD_NUMBER: _ClassVar[int]
    MIN_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MAX_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    AUCTION_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SELF_TRADE_PREVENTION_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_PRICE_FIELD_NUMBER: _ClassVar[int]
    name: str
    base_asset: str
    quote_asset: str
    tick_size: str
    lot_size: str
    min_quantity: str
    max_quantity: str
    mode: MarketMode
    auction_interval: _duration_pb2.Duration
    state: MarketState
    self_trade_prevention: SelfTradePrevention
    reference_price: str
    def __init__(self, name: _Optional[str] = ..., base_asset: _Optional[str] = ..., quote_asset: _Optional[str] = ..., tick_size: _Optional[str] = ..., lot_size: _Optional[str] = ..., min_quantity: _Optional[str] = ..., max_quantity: _Optional[str] = ..., mode: _Optional[_Union[MarketMode, str]] = ..., auction_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., state: _Optional[_Union[MarketState, str]] = ..., self_trade_prevention: _Optional[_Union[SelfTradePrevention, str]] = ..., reference_price: _Optional[str] = ...) -> None: ...

class PriceLevel(_message.Message):
    __slots__ = ("price", "quantity", "order_count")
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    price: str
    quantity: str
    order_count: int
    def __init__(self, price: _Optional[str] = ..., quantity: _Optional[str] = ..., order_count: _Optional[int] = ...) -> None: ...

class OrderBook(_message.Message):
    __slots__ = ("market", "bids", "asks", "sequence")
    MARKET_FIELD_NUMBER: _ClassVar[int]
    BIDS_FIELD_NUMBER: _ClassVar[int]
    ASKS_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    market: str
    bids: _containers.RepeatedCompositeFieldContainer[PriceLevel]
    asks: _containers.RepeatedCompositeFieldContainer[PriceLevel]
    sequence: int
    def __init__(self, market: _Optional[str] = ..., bids: _Optional[_Iterable[_Union[PriceLevel, _Mapping]]] = ..., asks: _Optional[_Iterable[_Union[PriceLevel, _Mapping]]] = ..., sequence: _Optional[int] = ...) -> None: ...

class Trade(_message.Message):
    __slots__ = ("name", "market", "sequence", "price", "quantity", "buy_order", "sell_order", "buyer", "seller", "taker_side", "auction", "execute_time", "taker_trace_parent")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MARKET_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    BUY_ORDER_FIELD_NUMBER: _ClassVar[int]
    SELL_ORDER_FIELD_NUMBER: _ClassVar[int]
    BUYER_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    TAKER_SIDE_FIELD_NUMBER: _ClassVar[int]
    AUCTION_FIELD_NUMBER: _ClassVar[int]
    EXECUTE_TIME_FIELD_NUMBER: _ClassVar[int]
    TAKER_TRACE_PARENT_FIELD_NUMBER: _ClassVar[int]
    name: str
    market: str
    sequence: int
    price: str
    quantity: str
    buy_order: str
    sell_order: str
    buyer: str
    seller: str
    taker_side: _trading_pb2.Side
    auction: str
    execute_time: _timestamp_pb2.Timestamp
    taker_trace_parent: str
    def __init__(self, name: _Optional[str] = ..., market: _Optional[str] = ..., sequence: _Optional[int] = ..., price: _Optional[str] = ..., quantity: _Optional[str] = ..., buy_order: _Optional[str] = ..., sell_order: _Optional[str] = ..., buyer: _Optional[str] = ..., seller: _Optional[str] = ..., taker_side: _Optional[_Union[_trading_pb2.Side, str]] = ..., auction: _Optional[str] = ..., execute_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., taker_trace_parent: _Optional[str] = ...) -> None: ...

class Auction(_message.Message):
    __slots__ = ("name", "clearing_price", "volume", "order_count", "trade_count", "clear_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLEARING_PRICE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    ORDER_COUNT_FIELD_NUMBER: _ClassVar[int]
    TRADE_COUNT_FIELD_NUMBER: _ClassVar[int]
    CLEAR_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    clearing_price: str
    volume: str
    order_count: int
    trade_count: int
    clear_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., clearing_price: _Optional[str] = ..., volume: _Optional[str] = ..., order_count: _Optional[int] = ..., trade_count: _Optional[int] = ..., clear_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class OrderEvent(_message.Message):
    __slots__ = ("sequence", "market", "order", "account", "type", "state", "filled_quantity", "remaining_quantity", "trade", "last_price", "last_quantity", "reason", "event_time")
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    MARKET_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REMAINING_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    TRADE_FIELD_NUMBER: _ClassVar[int]
    LAST_PRICE_FIELD_NUMBER: _ClassVar[int]
    LAST_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EVENT_TIME_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    market: str
    order: str
    account: str
    type: OrderEventType
    state: _trading_pb2.OrderState
    filled_quantity: str
    remaining_quantity: str
    trade: str
    last_price: str
    last_quantity: str
    reason: str
    event_time: _timestamp_pb2.Timestamp
    def __init__(self, sequence: _Optional[int] = ..., market: _Optional[str] = ..., order: _Optional[str] = ..., account: _Optional[str] = ..., type: _Optional[_Union[OrderEventType, str]] = ..., state: _Optional[_Union[_trading_pb2.OrderState, str]] = ..., filled_quantity: _Optional[str] = ..., remaining_quantity: _Optional[str] = ..., trade: _Optional[str] = ..., last_price: _Optional[str] = ..., last_quantity: _Optional[str] = ..., reason: _Optional[str] = ..., event_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
