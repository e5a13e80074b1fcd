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

class EntryKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENTRY_KIND_UNSPECIFIED: _ClassVar[EntryKind]
    ENTRY_KIND_DEPOSIT: _ClassVar[EntryKind]
    ENTRY_KIND_WITHDRAWAL: _ClassVar[EntryKind]
    ENTRY_KIND_HOLD: _ClassVar[EntryKind]
    ENTRY_KIND_RELEASE: _ClassVar[EntryKind]
    ENTRY_KIND_TRADE: _ClassVar[EntryKind]
    ENTRY_KIND_FEE: _ClassVar[EntryKind]

class HoldState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    HOLD_STATE_UNSPECIFIED: _ClassVar[HoldState]
    HOLD_STATE_OPEN: _ClassVar[HoldState]
    HOLD_STATE_CLOSED: _ClassVar[HoldState]

class WithdrawalState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    WITHDRAWAL_STATE_UNSPECIFIED: _ClassVar[WithdrawalState]
    WITHDRAWAL_STATE_PENDING: _ClassVar[WithdrawalState]
    WITHDRAWAL_STATE_COMPLETED: _ClassVar[WithdrawalState]
    WITHDRAWAL_STATE_FAILED: _ClassVar[WithdrawalState]
ENTRY_KIND_UNSPECIFIED: EntryKind
ENTRY_KIND_DEPOSIT: EntryKind
ENTRY_KIND_WITHDRAWAL: EntryKind
ENTRY_KIND_HOLD: EntryKind
ENTRY_KIND_RELEASE: EntryKind
ENTRY_KIND_TRADE: EntryKind
ENTRY_KIND_FEE: EntryKind
HOLD_STATE_UNSPECIFIED: HoldState
HOLD_STATE_OPEN: HoldState
HOLD_STATE_CLOSED: HoldState
WITHDRAWAL_STATE_UNSPECIFIED: WithdrawalState
WITHDRAWAL_STATE_PENDING: WithdrawalState
WITHDRAWAL_STATE_COMPLETED: WithdrawalState
WITHDRAWAL_STATE_FAILED: WithdrawalState

class Balance(_message.Message):
    __slots__ = ("asset", "available", "held", "total")
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    HELD_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    asset: str
    available: str
    held: str
    total: str
    def __init__(self, asset: _Optional[str] = ..., available: _Optional[str] = ..., held: _Optional[str] = ..., total: _Optional[str] = ...) -> None: ...

class Entry(_message.Message):
    __slots__ = ("transfer", "account", "asset", "amount", "kind", "create_time")
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    transfer: str
    account: str
    asset: str
    amount: str
    kind: EntryKind
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, transfer: _Optional[str] = ..., account: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., kind: _Optional[_Union[EntryKind, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Posting(_message.Message):
    __slots__ = ("account", "asset", "amount", "hold", "kind")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    HOLD_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    account: str
    asset: str
    amount: str
    hold: str
    kind: EntryKind
    def __init__(self, account: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., hold: _Optional[str] = ..., kind: _Optional[_Union[EntryKind, str]] = ...) -> None: ...

class Transfer(_message.Message):
    __slots__ = ("name", "postings", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    POSTINGS_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    postings: _containers.RepeatedCompositeFieldContainer[Posting]
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., postings: _Optional[_Iterable[_Union[Posting, _Mapping]]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Hold(_message.Message):
    __slots__ = ("name", "account", "asset", "amount", "remaining", "state")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    account: str
    asset: str
    amount: str
    remaining: str
    state: HoldState
    def __init__(self, name: _Optional[str] = ..., account: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., remaining: _Optional[str] = ..., state: _Optional[_Union[HoldState, str]] = ...) -> None: ...

class Withdrawal(_message.Message):
    __slots__ = ("name", "asset", "amount", "destination", "state", "create_time", "update_time", "tx_reference", "failure_reason")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    TX_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    FAILURE_REASON_FIELD_NUMBER: _ClassVar[int]
    name: str
    asset: str
    amount: str
    destination: str
    state: WithdrawalState
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    tx_reference: str
    failure_reason: str
    def __init__(self, name: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., destination: _Optional[str] = ..., state: _Optional[_Union[WithdrawalState, str]] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., tx_reference: _Optional[str] = ..., failure_reason: _Optional[str] = ...) -> None: ...
