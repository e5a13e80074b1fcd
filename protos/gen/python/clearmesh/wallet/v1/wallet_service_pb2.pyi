from clearmesh.type.v1 import access_pb2 as _access_pb2
from clearmesh.wallet.v1 import wallet_pb2 as _wallet_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListBalancesRequest(_message.Message):
    __slots__ = ("account", "page_size", "page_token")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    account: str
    page_size: int
    page_token: str
    def __init__(self, account: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListBalancesResponse(_message.Message):
    __slots__ = ("balances", "next_page_token")
    BALANCES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    balances: _containers.RepeatedCompositeFieldContainer[_wallet_pb2.Balance]
    next_page_token: str
    def __init__(self, balances: _Optional[_Iterable[_Union[_wallet_pb2.Balance, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class DepositRequest(_message.Message):
    __slots__ = ("account", "asset", "amount", "request_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    account: str
    asset: str
    amount: str
    request_id: str
    def __init__(self, account: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class DepositResponse(_message.Message):
    __slots__ = ("transfer", "balance")
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    BALANCE_FIELD_NUMBER: _ClassVar[int]
    transfer: _wallet_pb2.Transfer
    balance: _wallet_pb2.Balance
    def __init__(self, transfer: _Optional[_Union[_wallet_pb2.Transfer, _Mapping]] = ..., balance: _Optional[_Union[_wallet_pb2.Balance, _Mapping]] = ...) -> None: ...

class WithdrawRequest(_message.Message):
    __slots__ = ("account", "asset", "amount", "destination", "request_id")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    account: str
    asset: str
    amount: str
    destination: str
    request_id: str
    def __init__(self, account: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., destination: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class ListEntriesRequest(_message.Message):
    __slots__ = ("account", "page_size", "page_token", "asset")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    account: str
    page_size: int
    page_token: str
    asset: str
    def __init__(self, account: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., asset: _Optional[str] = ...) -> None: ...

class ListEntriesResponse(_message.Message):
    __slots__ = ("entries", "next_page_token")
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[_wallet_pb2.Entry]
    next_page_token: str
    def __init__(self, entries: _Optional[_Iterable[_Union[_wallet_pb2.Entry, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetWithdrawalRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CompleteWithdrawalRequest(_message.Message):
    __slots__ = ("name", "tx_reference", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TX_REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    tx_reference: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., tx_reference: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class FailWithdrawalRequest(_message.Message):
    __slots__ = ("name", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PlaceHoldRequest(_message.Message):
    __slots__ = ("hold", "account", "asset", "amount")
    HOLD_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    hold: str
    account: str
    asset: str
    amount: str
    def __init__(self, hold: _Optional[str] = ..., account: _Optional[str] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ...) -> None: ...

class PlaceHoldsRequest(_message.Message):
    __slots__ = ("holds",)
    HOLDS_FIELD_NUMBER: _ClassVar[int]
    holds: _containers.RepeatedCompositeFieldContainer[PlaceHoldRequest]
    def __init__(self, holds: _Optional[_Iterable[_Union[PlaceHoldRequest, _Mapping]]] = ...) -> None: ...

class PlaceHoldsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PlaceHoldResult]
    def __init__(self, results: _Optional[_Iterable[_Union[PlaceHoldResult, _Mapping]]] = ...) -> None: ...

class PlaceHoldResult(_message.Message):
    __slots__ = ("hold", "error")
    HOLD_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    hold: _wallet_pb2.Hold
    error: _status_pb2.Status
    def __init__(self, hold: _Optional[_Union[_wallet_pb2.Hold, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class ReleaseHoldRequest(_message.Message):
    __slots__ = ("hold", "amount", "request_id")
    HOLD_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    hold: str
    amount: str
    request_id: str
    def __init__(self, hold: _Optional[str] = ..., amount: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class PostTransferRequest(_message.Message):
    __slots__ = ("transfer", "postings")
    TRANSFER_FIELD_NUMBER: _ClassVar[int]
    POSTINGS_FIELD_NUMBER: _ClassVar[int]
    transfer: str
    postings: _containers.RepeatedCompositeFieldContainer[_wallet_pb2.Posting]
    def __init__(self, transfer: _Optional[str] = ..., postings: _Optional[_Iterable[_Union[_wallet_pb2.Posting, _Mapping]]] = ...) -> None: ...

class PostTransfersRequest(_message.Message):
    __slots__ = ("transfers", "read_mask")
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    READ_MASK_FIELD_NUMBER: _ClassVar[int]
    transfers: _containers.RepeatedCompositeFieldContainer[PostTransferRequest]
    read_mask: _field_mask_pb2.FieldMask
    def __init__(self, transfers: _Optional[_Iterable[_Union[PostTransferRequest, _Mapping]]] = ..., read_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class PostTransfersResponse(_message.Message):
    __slots__ = ("transfers",)
    TRANSFERS_FIELD_NUMBER: _ClassVar[int]
    transfers: _containers.RepeatedCompositeFieldContainer[_wallet_pb2.Transfer]
    def __init__(self, transfers: _Optional[_Iterable[_Union[_wallet_pb2.Transfer, _Mapping]]] = ...) -> None: ...
