from clearmesh.kyc.v1 import kyc_pb2 as _kyc_pb2
from clearmesh.type.v1 import access_pb2 as _access_pb2
from google.api import annotations_pb2 as _annotations_pb2
from google.api import field_behavior_pb2 as _field_behavior_pb2
from google.rpc import status_pb2 as _status_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ReviewDecision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REVIEW_DECISION_UNSPECIFIED: _ClassVar[ReviewDecision]
    REVIEW_DECISION_APPROVE: _ClassVar[ReviewDecision]
    REVIEW_DECISION_REJECT: _ClassVar[ReviewDecision]

class EligibilityAction(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ELIGIBILITY_ACTION_UNSPECIFIED: _ClassVar[EligibilityAction]
    ELIGIBILITY_ACTION_PLACE_ORDER: _ClassVar[EligibilityAction]
    ELIGIBILITY_ACTION_WITHDRAW: _ClassVar[EligibilityAction]
REVIEW_DECISION_UNSPECIFIED: ReviewDecision
REVIEW_DECISION_APPROVE: ReviewDecision
REVIEW_DECISION_REJECT: ReviewDecision
ELIGIBILITY_ACTION_UNSPECIFIED: EligibilityAction
ELIGIBILITY_ACTION_PLACE_ORDER: EligibilityAction
ELIGIBILITY_ACTION_WITHDRAW: EligibilityAction

class CreateApplicantRequest(_message.Message):
    __slots__ = ("applicant", "request_id")
    APPLICANT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    applicant: _kyc_pb2.Applicant
    request_id: str
    def __init__(self, applicant: _Optional[_Union[_kyc_pb2.Applicant, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class GetApplicantRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class SubmitDocumentRequest(_message.Message):
    __slots__ = ("parent", "document", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    document: _kyc_pb2.Document
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., document: _Optional[_Union[_kyc_pb2.Document, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class ReviewApplicantRequest(_message.Message):
    __slots__ = ("name", "decision", "tier", "reason", "request_id")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    name: str
    decision: ReviewDecision
    tier: int
    reason: str
    request_id: str
    def __init__(self, name: _Optional[str] = ..., decision: _Optional[_Union[ReviewDecision, str]] = ..., tier: _Optional[int] = ..., reason: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CheckEligibilityRequest(_message.Message):
    __slots__ = ("account", "action", "asset", "amount", "used_amount")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ASSET_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    USED_AMOUNT_FIELD_NUMBER: _ClassVar[int]
    account: str
    action: EligibilityAction
    asset: str
    amount: str
    used_amount: str
    def __init__(self, account: _Optional[str] = ..., action: _Optional[_Union[EligibilityAction, str]] = ..., asset: _Optional[str] = ..., amount: _Optional[str] = ..., used_amount: _Optional[str] = ...) -> None: ...

class CheckEligibilityResponse(_message.Message):
    __slots__ = ("allowed", "tier", "reason", "remaining")
    ALLOWED_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    REMAINING_FIELD_NUMBER: _ClassVar[int]
    allowed: bool
    tier: int
    reason: str
    remaining: str
    def __init__(self, allowed: _Optional[bool] = ..., tier: _Optional[int] = ..., reason: _Optional[str] = ..., remaining: _Optional[str] = ...) -> None: ...

class CheckEligibilitiesRequest(_message.Message):
    __slots__ = ("checks",)
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    checks: _containers.RepeatedCompositeFieldContainer[CheckEligibilityRequest]
    def __init__(self, checks: _Optional[_Iterable[_Union[CheckEligibilityRequest, _Mapping]]] = ...) -> None: ...

class CheckEligibilitiesResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CheckEligibilityResult]
    def __init__(self, results: _Optional[_Iterable[_Union[CheckEligibilityResult, _Mapping]]] = ...) -> None: ...

class CheckEligibilityResult(_message.Message):
    __slots__ = ("eligibility", "error")
    ELIGIBILITY_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    eligibility: CheckEligibilityResponse
    error: _status_pb2.Status
    def __init__(self, eligibility: _Optional[_Union[CheckEligibilityResponse, _Mapping]] = ..., error: _Optional[_Union[_status_pb2.Status, _Mapping]] = ...) -> None: ...

class ListAuditEventsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListAuditEventsResponse(_message.Message):
    __slots__ = ("audit_events", "next_page_token")
    AUDIT_EVENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    audit_events: _containers.RepeatedCompositeFieldContainer[_kyc_pb2.AuditEvent]
    next_page_token: str
    def __init__(self, audit_events: _Optional[_Iterable[_Union[_kyc_pb2.AuditEvent, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
