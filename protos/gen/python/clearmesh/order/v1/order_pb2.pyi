import datetime

from clearmesh.type.v1 import trading_pb2 as _trading_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Order(_message.Message):
    __slots__ = ("name", "account", "market", "side", "type", "time_in_force", "price", "quantity", "max_notional", "post_only", "expire_time", "state", "filled_quantity", "average_price", "reject_reason", "create_time", "update_time", "client_order_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
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
    STATE_FIELD_NUMBER: _ClassVar[int]
    FILLED_QUANTITY_FIELD_NUMBER: _ClassVar[int]
    AVERAGE_PRICE_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ORDER_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
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
    state: _trading_pb2.OrderState
    filled_quantity: str
    average_price: str
    reject_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    client_order_id: str
    def __init__(self, name: _Optional[str] = ..., account: _Optional[str] = ..., market: _Optional[str] = ..., side: _Optional[_Union[_trading_pb2.Side, str]] = ..., type: _Optional[_Union[_trading_pb2.OrderType, str]] = ..., time_in_force: _Optional[_Union[_trading_pb2.TimeInForce, str]] = ..., price: _Optional[str] = ..., quantity: _Optional[str] = ..., max_notional: _Optional[str] = ..., post_only: _Optional[bool] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state: _Optional[_Union[_trading_pb2.OrderState, str]] = ..., filled_quantity: _Optional[str] = ..., average_price: _Optional[str] = ..., reject_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., client_order_id: _Optional[str] = ...) -> None: ...
