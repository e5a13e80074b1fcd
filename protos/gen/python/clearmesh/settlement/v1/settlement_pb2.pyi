import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SettlementState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SETTLEMENT_STATE_UNSPECIFIED: _ClassVar[SettlementState]
    SETTLEMENT_STATE_PENDING: _ClassVar[SettlementState]
    SETTLEMENT_STATE_POSTED: _ClassVar[SettlementState]
    SETTLEMENT_STATE_ANCHORED: _ClassVar[SettlementState]
    SETTLEMENT_STATE_FAILED: _ClassVar[SettlementState]
SETTLEMENT_STATE_UNSPECIFIED: SettlementState
SETTLEMENT_STATE_PENDING: SettlementState
SETTLEMENT_STATE_POSTED: SettlementState
SETTLEMENT_STATE_ANCHORED: SettlementState
SETTLEMENT_STATE_FAILED: SettlementState

class Settlement(_message.Message):
    __slots__ = ("name", "trade", "state", "buyer_fee", "seller_fee", "fee_asset", "attempts", "failure_reason", "anchor_signature", "anchor_slot", "batch_root", "create_time", "update_time", "buyer", "seller")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TRADE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    BUYER_FEE_FIELD_NUMBER: _ClassVar[int]
    SELLER_FEE_FIELD_NUMBER: _ClassVar[int]
    FEE_ASSET_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_SLOT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ROOT_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    BUYER_FIELD_NUMBER: _ClassVar[int]
    SELLER_FIELD_NUMBER: _ClassVar[int]
    name: str
    trade: str
    state: SettlementState
    buyer_fee: str
    seller_fee: str
    fee_asset: str
    attempts: int
    failure_reason: str
    anchor_signature: str
    anchor_slot: int
    batch_root: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    buyer: str
    seller: str
    def __init__(self, name: _Optional[str] = ..., trade: _Optional[str] = ..., state: _Optional[_Union[SettlementState, str]] = ..., buyer_fee: _Optional[str] = ..., seller_fee: _Optional[str] = ..., fee_asset: _Optional[str] = ..., attempts: _Optional[int] = ..., failure_reason: _Optional[str] = ..., anchor_signature: _Optional[str] = ..., anchor_slot: _Optional[int] = ..., batch_root: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., buyer: _Optional[str] = ..., seller: _Optional[str] = ...) -> None: ...

class SettlementProof(_message.Message):
    __slots__ = ("settlement", "leaf", "siblings", "sibling_is_left", "batch_root", "anchor_signature", "anchor_slot")
    SETTLEMENT_FIELD_NUMBER: _ClassVar[int]
    LEAF_FIELD_NUMBER: _ClassVar[int]
    SIBLINGS_FIELD_NUMBER: _ClassVar[int]
    SIBLING_IS_LEFT_FIELD_NUMBER: _ClassVar[int]
    BATCH_ROOT_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ANCHOR_SLOT_FIELD_NUMBER: _ClassVar[int]
    settlement: str
    leaf: str
    siblings: _containers.RepeatedScalarFieldContainer[str]
    sibling_is_left: _containers.RepeatedScalarFieldContainer[bool]
    batch_root: str
    anchor_signature: str
    anchor_slot: int
    def __init__(self, settlement: _Optional[str] = ..., leaf: _Optional[str] = ..., siblings: _Optional[_Iterable[str]] = ..., sibling_is_left: _Optional[_Iterable[bool]] = ..., batch_root: _Optional[str] = ..., anchor_signature: _Optional[str] = ..., anchor_slot: _Optional[int] = ...) -> None: ...
