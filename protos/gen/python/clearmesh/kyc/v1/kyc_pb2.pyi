import datetime

from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.api import resource_pb2 as _resource_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.type import date_pb2 as _date_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApplicantState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    APPLICANT_STATE_UNSPECIFIED: _ClassVar[ApplicantState]
    APPLICANT_STATE_PENDING: _ClassVar[ApplicantState]
    APPLICANT_STATE_IN_REVIEW: _ClassVar[ApplicantState]
    APPLICANT_STATE_APPROVED: _ClassVar[ApplicantState]
    APPLICANT_STATE_REJECTED: _ClassVar[ApplicantState]

class DocumentType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DOCUMENT_TYPE_UNSPECIFIED: _ClassVar[DocumentType]
    DOCUMENT_TYPE_PASSPORT: _ClassVar[DocumentType]
    DOCUMENT_TYPE_NATIONAL_ID: _ClassVar[DocumentType]
    DOCUMENT_TYPE_PROOF_OF_ADDRESS: _ClassVar[DocumentType]
APPLICANT_STATE_UNSPECIFIED: ApplicantState
APPLICANT_STATE_PENDING: ApplicantState
APPLICANT_STATE_IN_REVIEW: ApplicantState
APPLICANT_STATE_APPROVED: ApplicantState
APPLICANT_STATE_REJECTED: ApplicantState
DOCUMENT_TYPE_UNSPECIFIED: DocumentType
DOCUMENT_TYPE_PASSPORT: DocumentType
DOCUMENT_TYPE_NATIONAL_ID: DocumentType
DOCUMENT_TYPE_PROOF_OF_ADDRESS: DocumentType

class Applicant(_message.Message):
    __slots__ = ("name", "account", "legal_name", "date_of_birth", "country", "address", "state", "tier", "screening_flags", "reject_reason", "create_time", "update_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    LEGAL_NAME_FIELD_NUMBER: _ClassVar[int]
    DATE_OF_BIRTH_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    SCREENING_FLAGS_FIELD_NUMBER: _ClassVar[int]
    REJECT_REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    account: str
    legal_name: str
    date_of_birth: _date_pb2.Date
    country: str
    address: str
    state: ApplicantState
    tier: int
    screening_flags: _containers.RepeatedScalarFieldContainer[str]
    reject_reason: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., account: _Optional[str] = ..., legal_name: _Optional[str] = ..., date_of_birth: _Optional[_Union[_date_pb2.Date, _Mapping]] = ..., country: _Optional[str] = ..., address: _Optional[str] = ..., state: _Optional[_Union[ApplicantState, str]] = ..., tier: _Optional[int] = ..., screening_flags: _Optional[_Iterable[str]] = ..., reject_reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class Document(_message.Message):
    __slots__ = ("name", "type", "issuing_country", "number", "sha256", "size_bytes", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ISSUING_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: DocumentType
    issuing_country: str
    number: str
    sha256: str
    size_bytes: int
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., type: _Optional[_Union[DocumentType, str]] = ..., issuing_country: _Optional[str] = ..., number: _Optional[str] = ..., sha256: _Optional[str] = ..., size_bytes: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class AuditEvent(_message.Message):
    __slots__ = ("name", "actor", "from_state", "to_state", "reason", "create_time")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ACTOR_FIELD_NUMBER: _ClassVar[int]
    FROM_STATE_FIELD_NUMBER: _ClassVar[int]
    TO_STATE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    actor: str
    from_state: ApplicantState
    to_state: ApplicantState
    reason: str
    create_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., actor: _Optional[str] = ..., from_state: _Optional[_Union[ApplicantState, str]] = ..., to_state: _Optional[_Union[ApplicantState, str]] = ..., reason: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
