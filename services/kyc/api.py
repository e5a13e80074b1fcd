"""The KYC gRPC adapter: validate → authorize ownership → domain transition → store → pb2.

Which roles and services may call each RPC is declared in the contract and enforced by the
runtime; this adapter decides ownership (an applicant belongs to the account that created
it). Every transition commits with its audit events and its request-log record in one
transaction, then invalidates the account's cached standing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC
from decimal import Decimal
from typing import Any, TypeVar
from uuid import uuid4

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2, kyc_service_pb2_grpc
from services.kyc import wire
from services.kyc.cache import StandingCache
from services.kyc.config import KycConfig
from services.kyc.domain import (
    Applicant,
    KycStanding,
    check_eligibility,
    create_applicant,
    review_applicant,
    submit_document,
)
from services.kyc.domain import reasons
from services.kyc.domain.validation import valid_document, valid_profile, valid_review
from services.kyc.store import KycStore
from services.runtime.auth import Principal, current_principal
from services.runtime.clock import Clock
from services.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from services.runtime import idempotency
from services.runtime.transactions import Transactions
from services.runtime.paging import encode_token, read_page
from services.runtime.validation import Violations

SERVICE = kyc_service_pb2.DESCRIPTOR.services_by_name["KycService"]
APPLICANT_NOT_FOUND = "APPLICANT_NOT_FOUND"
ACCOUNT_NOT_OWNED = "ACCOUNT_NOT_OWNED"

M = TypeVar("M", bound=Message)
T = TypeVar("T")


def _applicant_id(field: str, name: str) -> str:
    violations = Violations()
    applicant_id = violations.resource_name(field, name, wire.APPLICANTS)
    violations.raise_if_any(f"{field} must name an applicant")
    assert applicant_id is not None
    return applicant_id


def _check_request_id(request_id: str) -> None:
    violations = Violations()
    violations.request_id(request_id, required=False)
    violations.raise_if_any()


def _prefixed(prefix: str, validate: Callable[[], T]) -> T:
    """The domain names profile fields bare (`legal_name`); the request nests them in `applicant`."""
    try:
        return validate()
    except InvalidArgument as error:
        error.violations = [(prefix + field, description) for field, description in error.violations]
        raise


def _not_owned() -> PermissionDenied:
    # The same answer whether the applicant is someone else's or does not exist (AIP-193).
    return PermissionDenied(reasons.APPLICANT_NOT_OWNED, "the applicant does not belong to the caller")


def _readable(principal: Principal, applicant: Applicant | None) -> Applicant:
    """Owners read their own applicant; operators read any."""
    if principal.is_operator:
        if applicant is None:
            raise NotFound(APPLICANT_NOT_FOUND, "no such applicant")
        return applicant
    if applicant is None or not principal.owns(applicant.account_id):
        raise _not_owned()
    return applicant


class KycServicer(kyc_service_pb2_grpc.KycServiceServicer):
    def __init__(self, store: KycStore, tx: Transactions, cache: StandingCache,
                 config: KycConfig, clock: Clock, new_id: Callable[[], str] = lambda: str(uuid4())) -> None:
        self._store = store
        self._tx = tx
        self._cache = cache
        self._config = config
        self._clock = clock
        self._new_id = new_id

    async def _mutate(self, method: str, request: Any, response_type: type[M],
                      write: Callable[[AsyncSession], Awaitable[M]]) -> M:
        """One transaction: a remembered answer for a retried request_id, or the write and its
        answer. The caller then drops the account's cached standing: after the commit, so no
        reader can re-cache the standing the transaction replaced."""
        _check_request_id(request.request_id)
        return await idempotency.once(self._tx, self._clock, idempotency.method_name(SERVICE, method),
                                      request.request_id, request, response_type, write)

    async def CreateApplicant(self, request: kyc_service_pb2.CreateApplicantRequest,
                              context: Any) -> kyc_pb2.Applicant:
        account = current_principal().account_name
        applicant_input = wire.applicant_input(request.applicant)
        now = self._clock.now()
        _prefixed("applicant.", lambda: valid_profile(applicant_input, now.astimezone(UTC).date()))

        async def write(session: AsyncSession) -> kyc_pb2.Applicant:
            existing = await self._store.applicant_for_account(session, account)
            created = _prefixed("applicant.", lambda: create_applicant(
                applicant_id=self._new_id(), account_id=account, request=applicant_input,
                existing=existing, actor=account, now=now))
            await self._store.insert(session, created)
            return wire.applicant_pb(created.applicant)

        created = await self._mutate("CreateApplicant", request, kyc_pb2.Applicant, write)
        await self._cache.invalidate(account)
        return created

    async def GetApplicant(self, request: kyc_service_pb2.GetApplicantRequest, context: Any) -> kyc_pb2.Applicant:
        applicant_id = _applicant_id("name", request.name)
        async with self._tx.reading() as session:
            applicant = await self._store.applicant(session, applicant_id)
        return wire.applicant_pb(_readable(current_principal(), applicant))

    async def SubmitDocument(self, request: kyc_service_pb2.SubmitDocumentRequest, context: Any) -> kyc_pb2.Document:
        caller = current_principal().account_name
        applicant_id = _applicant_id("parent", request.parent)
        document_input = wire.document_input(request.document)
        valid_document(document_input)
        config = self._config

        async def write(session: AsyncSession) -> kyc_pb2.Document:
            applicant = await self._store.applicant(session, applicant_id)
            if applicant is None or applicant.account_id != caller:
                raise _not_owned()
            submitted = submit_document(
                applicant, caller_account_id=caller, document_id=self._new_id(), request=document_input,
                hasher=config.hasher, sanctions=config.sanctions, policy=config.policy, now=self._clock.now())
            await self._store.save(session, applicant, submitted)
            return wire.document_pb(applicant_id, submitted.applicant.documents[-1])

        document = await self._mutate("SubmitDocument", request, kyc_pb2.Document, write)
        await self._cache.invalidate(caller)  # screening may have rejected the applicant
        return document

    async def ReviewApplicant(self, request: kyc_service_pb2.ReviewApplicantRequest,
                              context: Any) -> kyc_pb2.Applicant:
        operator = current_principal().account_name
        applicant_id = _applicant_id("name", request.name)
        review = wire.review_input(request)
        valid_review(review)

        async def write(session: AsyncSession) -> kyc_pb2.Applicant:
            applicant = await self._store.applicant(session, applicant_id)
            if applicant is None:
                raise NotFound(APPLICANT_NOT_FOUND, "no such applicant")
            reviewed = review_applicant(applicant, request=review, actor=operator, now=self._clock.now())
            await self._store.save(session, applicant, reviewed)
            return wire.applicant_pb(reviewed.applicant)

        reviewed = await self._mutate("ReviewApplicant", request, kyc_pb2.Applicant, write)
        await self._cache.invalidate(reviewed.account)
        return reviewed

    async def CheckEligibility(self, request: kyc_service_pb2.CheckEligibilityRequest,
                               context: Any) -> kyc_service_pb2.CheckEligibilityResponse:
        violations = Violations()
        violations.resource_name("account", request.account, "accounts")
        amount = None
        if violations.require("amount", request.amount):
            amount = violations.decimal("amount", request.amount)
        used = Decimal(0)  # the contract: empty means zero
        if request.used_amount:
            parsed_used = violations.decimal("used_amount", request.used_amount, positive=False)
            if parsed_used is not None and parsed_used < 0:
                violations.add("used_amount", "must not be negative")
            elif parsed_used is not None:
                used = parsed_used
        violations.raise_if_any("the eligibility request has invalid fields",
                                reason=reasons.INVALID_ELIGIBILITY_REQUEST)
        assert amount is not None

        principal = current_principal()
        # Order and Wallet ask about any account (the contract admits only them); people, their own.
        if principal.service is None and not principal.owns(request.account):
            raise PermissionDenied(ACCOUNT_NOT_OWNED, "an account may check only its own eligibility")

        decision = check_eligibility(
            await self._standing(request.account), action=wire.eligibility_action(request.action),
            asset=request.asset, amount=amount, used_24h=used, tiers=self._config.tiers)
        return wire.eligibility_pb(decision, amount)

    async def _standing(self, account: str) -> KycStanding | None:
        cached = await self._cache.get(account)
        if cached is not None:
            return cached.standing
        async with self._tx.reading() as session:
            standing = await self._store.standing(session, account)
        await self._cache.put(account, standing)
        return standing

    async def ListAuditEvents(self, request: kyc_service_pb2.ListAuditEventsRequest,
                              context: Any) -> kyc_service_pb2.ListAuditEventsResponse:
        applicant_id = _applicant_id("parent", request.parent)
        page = read_page(request.page_size, request.page_token, request.parent)
        after_revision = page.after_number
        async with self._tx.reading() as session:
            if not await self._store.exists(session, applicant_id):
                raise NotFound(APPLICANT_NOT_FOUND, "no such applicant")
            events = await self._store.audit_events(session, applicant_id, after_revision=after_revision,
                                                    limit=page.size + 1)
        shown = events[:page.size]
        more = len(events) > page.size
        return kyc_service_pb2.ListAuditEventsResponse(
            audit_events=[wire.audit_event_pb(event) for event in shown],
            next_page_token=encode_token(str(shown[-1].revision), request.parent) if more else "")

