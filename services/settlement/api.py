"""The Settlement gRPC adapter: parse → authorize → store / domain → wire.

Access: operators see every settlement; a trader sees the settlements of trades where they
are the buyer or the seller. A trader asking for any other name — someone else's or one that
does not exist — gets the same PERMISSION_DENIED `NOT_SETTLEMENT_PARTY`, so names reveal
nothing (AIP-193: permission before existence).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.settlement.v1 import settlement_pb2, settlement_service_pb2 as pb, settlement_service_pb2_grpc as pb_grpc
from services.runtime import idempotency
from services.runtime.auth import current_principal
from services.runtime.clock import Clock
from services.runtime.errors import FailedPrecondition, NotFound, PermissionDenied
from services.runtime.transactions import Transactions
from services.settlement.chain import Anchor
from services.settlement.domain.leaves import proof_of
from services.settlement.domain.reasons import SettlementReason
from services.settlement.domain.settlement import Settlement, charged
from services.settlement.domain.states import State, retried
from services.settlement.poster import Poster
from services.settlement.proofs import proof_message
from services.settlement.reconcile import Reconciler
from services.settlement.requests import parse_list, parse_name, parse_reconcile, parse_retry
from services.settlement.store import SettlementStore
from services.settlement.wire import Wire

SERVICE = pb.DESCRIPTOR.services_by_name["SettlementService"]
RETRY = idempotency.method_name(SERVICE, "RetrySettlement")
RECONCILE = idempotency.method_name(SERVICE, "Reconcile")


class SettlementServicer(pb_grpc.SettlementServiceServicer):
    def __init__(self, *, tx: Transactions, store: SettlementStore, clock: Clock, wire: Wire, poster: Poster,
                 reconciler: Reconciler, fee_rate: Decimal) -> None:
        self.tx = tx
        self.fee_rate = fee_rate
        self.store = store
        self.clock = clock
        self.wire = wire
        self.poster = poster
        self.reconciler = reconciler

    async def GetSettlement(self, request: pb.GetSettlementRequest, context: Any) -> settlement_pb2.Settlement:
        return self.wire.settlement(await self._visible(parse_name(request.name), request.name))

    async def ListSettlements(self, request: pb.ListSettlementsRequest, context: Any) -> pb.ListSettlementsResponse:
        principal = current_principal()
        party = None if principal.is_operator else principal.account_name
        query = parse_list(request, party)
        page = query.page
        after = page.after_number
        rows = await self.tx.read(lambda session: self.store.page(
            session, party=party, state=query.state, after_seq=after, limit=page.size + 1))
        shown, token = page.cut(rows, lambda row: str(row.seq))
        return pb.ListSettlementsResponse(
            settlements=[self.wire.settlement(row.settlement) for row in shown], next_page_token=token)

    async def GetSettlementProof(self, request: pb.GetSettlementProofRequest,
                                 context: Any) -> settlement_pb2.SettlementProof:
        settlement = await self._visible(parse_name(request.name), request.name)
        anchor = settlement.anchor
        if settlement.progress.state is not State.ANCHORED or anchor is None:
            raise FailedPrecondition(SettlementReason.SETTLEMENT_NOT_ANCHORED,
                                     f"{request.name} is {settlement.progress.state}; its proof exists once ANCHORED",
                                     metadata={"state": settlement.progress.state})
        members = await self.tx.read(lambda session: self.store.batch_members(session, anchor.batch_id))
        proof = proof_of(members, anchor.position, self.wire.assets)
        return proof_message(request.name, proof.leaf, proof.steps, proof.root, Anchor(anchor.signature, anchor.slot))

    async def RetrySettlement(self, request: pb.RetrySettlementRequest, context: Any) -> settlement_pb2.Settlement:
        command = parse_retry(request)

        async def retry(session: AsyncSession) -> settlement_pb2.Settlement:
            found = await self.store.get(session, command.settlement_id, lock=True)
            if found is None:
                raise _not_found(request.name)
            progress = retried(found.progress)  # SETTLEMENT_NOT_FAILED unless FAILED
            orders = (found.terms.buy_order, found.terms.sell_order)
            filled = await self.store.order_fills(session, orders)
            settlement, now_filled = charged(found, filled, self.wire.assets, self.fee_rate)
            now = self.clock.now()
            if settlement.charges != found.charges:
                await self.store.save_order_fills(session, filled, now_filled)
                await self.store.save_charges(session, settlement.settlement_id, settlement.charges)
            await self.store.save_progress(session, {found.settlement_id: progress}, now)
            return self.wire.settlement(replace(settlement, progress=progress, update_time=now))

        answer = await idempotency.once(self.tx, self.clock, RETRY, command.request_id, request,
                                        settlement_pb2.Settlement, retry)
        self.poster.wake()
        return answer

    async def Reconcile(self, request: pb.ReconcileRequest, context: Any) -> pb.ReconcileResponse:
        command = parse_reconcile(request)
        if command.request_id is not None:
            remembered = await self.tx.read(
                lambda session: idempotency.recall(session, RECONCILE, command.request_id or "", request))
            if remembered is not None:
                return pb.ReconcileResponse.FromString(remembered)
        # The comparison reads Matching's trades and the Wallet's fee account with the calling
        # operator's own token: it sees exactly what that operator may see, nothing more.
        operator = tuple((key, value) for key, value in context.invocation_metadata() if key == "authorization")
        report = await self.reconciler.run(command.market, operator)
        answer = pb.ReconcileResponse(checked_count=report.checked, mismatches=report.mismatches)
        if command.request_id is not None:
            # The comparison reads other services, so it runs outside a transaction; only its
            # answer is remembered (a concurrent twin's answer, if it committed first, wins).
            return await idempotency.once(self.tx, self.clock, RECONCILE, command.request_id, request,
                                          pb.ReconcileResponse, _answer(answer))
        return answer

    async def _visible(self, settlement_id: str, name: str) -> Settlement:
        principal = current_principal()
        found = await self.tx.read(lambda session: self.store.get(session, settlement_id))
        if principal.is_operator:
            if found is None:
                raise _not_found(name)
            return found
        if found is None or not found.involves(principal.account_name):
            raise PermissionDenied(SettlementReason.NOT_SETTLEMENT_PARTY,
                                   f"the caller is not a party to {name}", metadata={"settlement": name})
        return found


def _answer(answer: pb.ReconcileResponse) -> Callable[[AsyncSession], Awaitable[pb.ReconcileResponse]]:
    async def work(_session: AsyncSession) -> pb.ReconcileResponse:
        return answer

    return work


def _not_found(name: str) -> NotFound:
    return NotFound(SettlementReason.SETTLEMENT_NOT_FOUND, f"{name} not found", metadata={"settlement": name})
