"""The KYC gRPC adapter: parse (requests.py) → authorize ownership → domain transition → store →
pb2 (wire.py).

Which roles and services may call each RPC is declared in the contract and enforced by the
runtime; this adapter decides ownership (an applicant belongs to the account that created
it). Every transition commits with its audit events and its request-log record in one
transaction, then invalidates the account's cached standing.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC
from typing import Any, TypeVar
from uuid import uuid4

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.kyc.v1 import kyc_pb2, kyc_service_pb2, kyc_service_pb2_grpc
from services.kyc import requests, wire
from services.kyc.cache import StandingCache
from services.kyc.config import KycConfig
from services.kyc.domain import (
    Applicant,
    KycReason,
    KycStanding,
    check_eligibility,
    create_applicant,
    review_applicant,
    submit_document,
)
from services.kyc.standings import Standings
from services.kyc.store import KycStore
from services.runtime import idempotency
from services.runtime.auth import Principal, current_principal
from services.runtime.batches import check_batch, item_status
from services.runtime.clock import Clock
from services.runtime.errors import NotFound, PermissionDenied
from services.runtime.transactions import Transactions

SERVICE = kyc_service_pb2.DESCRIPTOR.services_by_name["KycService"]

M = TypeVar("M", bound=Message)
T = TypeVar("T")


def _not_found() -> NotFound:
    return NotFound(KycReason.APPLICANT_NOT_FOUND, "no such applicant")


def _not_owned() -> PermissionDenied:
    # The same answer whether the applicant is someone else's or does not exist (AIP-193).
    return PermissionDenied(KycReason.APPLICANT_NOT_OWNED, "the applicant does not belong to the caller")


def _readable(principal: Principal, applicant: Applicant | None) -> Applicant:
    """Owners read their own applicant; operators read any."""
    if principal.is_operator:
        if applicant is None:
            raise _not_found()
        return applicant
    if applicant is None or not principal.owns(applicant.account_id):
        raise _not_owned()
    return applicant


def _uuid() -> str:
    return str(uuid4())


def _attempt(work: Callable[..., T], *args: Any) -> T | Exception:
    """`work`'s answer, or the exception it raised (a batch's item answers it as its status)."""
    try:
        return work(*args)
    except Exception as error:  # noqa: BLE001 - mapped per item by runtime/batches.item_status
        return error


@dataclass(frozen=True)
class KycServicer(kyc_service_pb2_grpc.KycServiceServicer):
    store: KycStore
    tx: Transactions
    cache: StandingCache
    standings: Standings
    config: KycConfig
    clock: Clock
    new_id: Callable[[], str] = _uuid

    async def _mutate(self, method: str, request_id: str, request: Message, response_type: type[M],
                      write: Callable[[AsyncSession], Awaitable[M]]) -> M:
        """One transaction: a remembered answer for a retried request_id, or the write and its
        answer. The caller then drops the account's cached standing: after the commit, so no
        reader can re-cache the standing the transaction replaced."""
        return await idempotency.once(self.tx, self.clock, idempotency.method_name(SERVICE, method),
                                      request_id, request, response_type, write)

    async def CreateApplicant(self, request: kyc_service_pb2.CreateApplicantRequest,
                              context: Any) -> kyc_pb2.Applicant:
        account = current_principal().account_name
        now = self.clock.now()
        command = requests.parse_create_applicant(request, now.astimezone(UTC).date())

        async def write(session: AsyncSession) -> kyc_pb2.Applicant:
            existing = await self.store.applicant_for_account(session, account)
            created = create_applicant(applicant_id=self.new_id(), account_id=account, request=command.applicant,
                                       existing=existing, actor=account, now=now)
            await self.store.insert(session, created)
            return wire.applicant_pb(created.applicant)

        created = await self._mutate("CreateApplicant", command.request_id, request, kyc_pb2.Applicant, write)
        await self.cache.invalidate(account)
        return created

    async def GetApplicant(self, request: kyc_service_pb2.GetApplicantRequest, context: Any) -> kyc_pb2.Applicant:
        applicant_id = requests.applicant_id("name", request.name)
        async with self.tx.reading() as session:
            applicant = await self.store.applicant(session, applicant_id)
        return wire.applicant_pb(_readable(current_principal(), applicant))

    async def SubmitDocument(self, request: kyc_service_pb2.SubmitDocumentRequest, context: Any) -> kyc_pb2.Document:
        caller = current_principal().account_name
        command = requests.parse_submit_document(request)
        config = self.config

        async def write(session: AsyncSession) -> kyc_pb2.Document:
            applicant = await self.store.applicant(session, command.applicant_id)
            if applicant is None or applicant.account_id != caller:
                raise _not_owned()
            submitted = submit_document(
                applicant, caller_account_id=caller, document_id=self.new_id(), request=command.change,
                hasher=config.hasher, sanctions=config.sanctions, policy=config.policy, now=self.clock.now())
            await self.store.save(session, applicant, submitted)
            return wire.document_pb(command.applicant_id, submitted.applicant.documents[-1])

        document = await self._mutate("SubmitDocument", command.request_id, request, kyc_pb2.Document, write)
        await self.cache.invalidate(caller)  # screening may have rejected the applicant
        return document

    async def ReviewApplicant(self, request: kyc_service_pb2.ReviewApplicantRequest,
                              context: Any) -> kyc_pb2.Applicant:
        operator = current_principal().account_name
        command = requests.parse_review_applicant(request)

        async def write(session: AsyncSession) -> kyc_pb2.Applicant:
            applicant = await self.store.applicant(session, command.applicant_id)
            if applicant is None:
                raise _not_found()
            reviewed = review_applicant(applicant, request=command.change, actor=operator, now=self.clock.now())
            await self.store.save(session, applicant, reviewed)
            return wire.applicant_pb(reviewed.applicant)

        reviewed = await self._mutate("ReviewApplicant", command.request_id, request, kyc_pb2.Applicant, write)
        await self.cache.invalidate(reviewed.account)
        return reviewed

    async def CheckEligibility(self, request: kyc_service_pb2.CheckEligibilityRequest,
                               context: Any) -> kyc_service_pb2.CheckEligibilityResponse:
        return await self._check_eligibility(request)

    async def CheckEligibilities(self, request: kyc_service_pb2.CheckEligibilitiesRequest,
                                 context: Any) -> kyc_service_pb2.CheckEligibilitiesResponse:
        """Each check as CheckEligibility would answer it, all at once: one call instead of one
        per placement; each refusal is that check's alone (as runtime/batches.py maps it).

        Worked through as one batch, not as a task per check (`answer_each`): the checks are
        parsed, their accounts' standings read together (one statement for the misses), and
        each decided; the per-check task, futures and coalescing cost more CPU than the check."""
        check_batch("checks", request.checks)
        principal = current_principal()
        queries = [_attempt(self._query, check, principal) for check in request.checks]
        accounts = [query.account for query in queries if isinstance(query, requests.CheckEligibility)]
        standings: dict[str, KycStanding | None] | Exception = {}
        if accounts:
            try:
                standings = await self.standings.get_many(accounts)
            except Exception as error:  # noqa: BLE001 - every check that needed it is answered with it
                standings = error
        results = []
        for query in queries:
            answer: kyc_service_pb2.CheckEligibilityResponse | Exception
            if isinstance(query, Exception):
                answer = query
            elif isinstance(standings, Exception):
                answer = standings
            else:
                answer = _attempt(self._decide, query, standings[query.account])
            results.append(kyc_service_pb2.CheckEligibilityResult(error=item_status(answer))
                           if isinstance(answer, Exception) else kyc_service_pb2.CheckEligibilityResult(eligibility=answer))
        return kyc_service_pb2.CheckEligibilitiesResponse(results=results)

    async def _check_eligibility(self, request: kyc_service_pb2.CheckEligibilityRequest
                                 ) -> kyc_service_pb2.CheckEligibilityResponse:
        query = self._query(request, current_principal())
        return self._decide(query, await self.standings.get(query.account))

    @staticmethod
    def _query(request: kyc_service_pb2.CheckEligibilityRequest, principal: Principal) -> requests.CheckEligibility:
        query = requests.parse_check_eligibility(request)
        # Order and Wallet ask about any account (the contract admits only them); people, their own.
        if principal.service is None and not principal.owns(query.account):
            raise PermissionDenied(KycReason.ACCOUNT_NOT_OWNED, "an account may check only its own eligibility")
        return query

    def _decide(self, query: requests.CheckEligibility, standing: KycStanding | None
                ) -> kyc_service_pb2.CheckEligibilityResponse:
        decision = check_eligibility(standing, action=query.action, asset=query.asset, amount=query.amount,
                                     used_24h=query.used_24h, tiers=self.config.tiers)
        return wire.eligibility_pb(decision, query.amount)

    async def ListAuditEvents(self, request: kyc_service_pb2.ListAuditEventsRequest,
                              context: Any) -> kyc_service_pb2.ListAuditEventsResponse:
        query = requests.parse_list_audit_events(request)
        page = query.page
        async with self.tx.reading() as session:
            if not await self.store.exists(session, query.applicant_id):
                raise _not_found()
            events = await self.store.audit_events(session, query.applicant_id, after_revision=page.after_number,
                                                    limit=page.size + 1)
        shown, token = page.cut(events, lambda event: str(event.revision))
        return kyc_service_pb2.ListAuditEventsResponse(
            audit_events=[wire.audit_event_pb(event) for event in shown], next_page_token=token)
