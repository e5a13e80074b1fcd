"""The Wallet's gRPC adapter: validate → authorize ownership → store (domain rules) → pb2.

Idempotency, per RPC:
- Deposit, Withdraw: by `request_id`, through the runtime's request log in the same
  transaction as the write; a retry answers the first response, another request with the same
  id is ALREADY_EXISTS. Withdraw recalls before asking KYC, so a retry never spends the limit twice.
- PlaceHold: by hold id; PostTransfer and each transfer of PostTransfers: by transfer id; the
  same payload returns the first result, a different one ALREADY_EXISTS naming the differing
  fields (and, in a batch, the transfer's index).
- ReleaseHold: releasing everything is naturally idempotent; a partial release is idempotent
  when it carries a `request_id`. Releasing an id no hold was placed under answers NOT_FOUND
  and leaves a tombstone: a later PlaceHold of that id is FAILED_PRECONDITION HOLD_RELEASED.

PlaceHold, each hold of PlaceHolds and ReleaseHold (without a request_id) are group-committed
(`hold_writer.py`);
PostTransfers posts its batch in one transaction (`domain/batches.py`).
- CompleteWithdrawal / FailWithdrawal: repeating the transition that already happened, with
  the same tx_reference / reason, answers the withdrawal as it is (a retry is not an error);
  the other transition, or different details, is FAILED_PRECONDITION WITHDRAWAL_NOT_PENDING.
  With a `request_id` the first response is also remembered and replayed byte for byte.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from google.protobuf.message import Message
from google.rpc import status_pb2
from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb, wallet_service_pb2_grpc as pb_grpc
from services.runtime import idempotency
from services.runtime.auth import current_principal
from services.runtime.batches import check_batch, settle_each
from services.runtime.clock import Clock
from services.runtime.errors import NotFound, PermissionDenied
from services.runtime.paging import read_page
from services.wallet.domain import (
    Hold,
    HoldStatus,
    Transfer,
    TransferKind,
    WalletReason,
    deposit_legs,
    from_units,
    legs_to_postings,
)
from services.wallet.domain.hold_groups import HoldCommand, PlaceHold, ReleaseHold
from services.wallet.domain.identifiers import deposit_transfer_id
from services.wallet.hold_writer import HoldWriter
from services.wallet.kyc import WithdrawalLimits
from services.wallet.requests import (
    parse_account,
    parse_complete,
    parse_deposit,
    parse_entries_query,
    parse_fail,
    parse_place_hold,
    parse_post_transfer,
    parse_post_transfers,
    parse_release_hold,
    parse_withdraw,
    parse_withdrawal_name,
    transfer_fields,
)
from services.wallet.store import PostedTransfer, WalletStore
from services.wallet.wire import Wire
from services.wallet.withdrawals import SERVICE, WithdrawalDesk, withdrawal_not_found

M = TypeVar("M", bound=Message)


def _may_read(account: str) -> None:
    principal = current_principal()
    if not (principal.is_operator or principal.owns(account)):
        raise PermissionDenied("NOT_ACCOUNT_OWNER", f"the caller may not see {account}", metadata={"account": account})


def _must_own(account: str) -> None:
    if not current_principal().owns(account):
        raise PermissionDenied("NOT_ACCOUNT_OWNER", f"only the owner may act on {account}", metadata={"account": account})


class WalletServicer(pb_grpc.WalletServiceServicer):
    def __init__(self, store: WalletStore, holds: HoldWriter, limits: WithdrawalLimits, clock: Clock) -> None:
        self.store = store
        self.holds = holds
        self.assets = store.assets
        self.limits = limits
        self.clock = clock
        self.wire = Wire(store.assets)
        self.withdrawals = WithdrawalDesk(store, limits, clock, self.wire)

    # ------------------------------------------------------------------ reads

    async def ListBalances(self, request: pb.ListBalancesRequest, context: Any) -> pb.ListBalancesResponse:
        account = parse_account(request.account)
        page = read_page(request.page_size, request.page_token, account)
        _may_read(account)
        rows = await self.store.tx.read(lambda session: self.store.list_balances(
            session, account, after_asset=page.cursor, limit=page.size + 1))
        shown, token = page.cut(rows, lambda row: row[0])
        return pb.ListBalancesResponse(
            balances=[self.wire.balance(asset, balance) for asset, balance in shown], next_page_token=token)

    async def ListEntries(self, request: pb.ListEntriesRequest, context: Any) -> pb.ListEntriesResponse:
        account, asset = parse_entries_query(request.account, request.asset, self.assets)
        query = f"{account}|{asset or ''}"
        page = read_page(request.page_size, request.page_token, query)
        after = page.after_number
        _may_read(account)
        rows = await self.store.tx.read(lambda session: self.store.list_entries(
            session, account, asset=asset, after_sequence=after, limit=page.size + 1))
        shown, token = page.cut(rows, lambda row: str(row.entry.sequence))
        return pb.ListEntriesResponse(entries=[self.wire.entry(row) for row in shown], next_page_token=token)

    async def GetWithdrawal(self, request: pb.GetWithdrawalRequest, context: Any) -> wallet_pb2.Withdrawal:
        ref = parse_withdrawal_name(request.name)
        _may_read(ref.account)
        record = await self.store.tx.read(lambda session: self.store.withdrawal(session, ref.withdrawal_id))
        if record is None or record.withdrawal.account != ref.account:
            raise withdrawal_not_found(request.name)
        return self.wire.withdrawal(record)

    # ---------------------------------------------------- deposits, withdrawals

    async def Deposit(self, request: pb.DepositRequest, context: Any) -> pb.DepositResponse:
        command = parse_deposit(request, self.assets)
        funds = command.funds
        at = self.clock.now()
        legs = deposit_legs(funds.account, funds.asset, from_units(funds.asset, funds.units))
        postings = legs_to_postings(legs, self.assets)
        transfer = Transfer(deposit_transfer_id(command.request_id), TransferKind.DEPOSIT, postings, at)

        async def deposit(session: AsyncSession) -> pb.DepositResponse:
            posted, balance = await self.store.post_transfer_for_balance(
                session, transfer, ("DEPOSIT",) * len(postings), (funds.account, funds.asset.code),
                replay_reason=WalletReason.DEPOSIT_EXISTS_WITH_DIFFERENT_PARAMS,
                id_field="request_id", id_value=command.request_id)
            return pb.DepositResponse(transfer=self.wire.transfer(posted),
                                      balance=self.wire.balance(funds.asset.code, balance))

        return await self._once("Deposit", command.request_id, request, pb.DepositResponse, deposit)

    async def Withdraw(self, request: pb.WithdrawRequest, context: Any) -> wallet_pb2.Withdrawal:
        command = parse_withdraw(request, self.assets)
        _must_own(command.funds.account)
        return await self.withdrawals.open(request, command)

    async def CompleteWithdrawal(self, request: pb.CompleteWithdrawalRequest, context: Any) -> wallet_pb2.Withdrawal:
        return await self.withdrawals.complete(request, parse_complete(request))

    async def FailWithdrawal(self, request: pb.FailWithdrawalRequest, context: Any) -> wallet_pb2.Withdrawal:
        return await self.withdrawals.fail(request, parse_fail(request))

    # ------------------------------------------------------ holds and transfers

    async def PlaceHold(self, request: pb.PlaceHoldRequest, context: Any) -> wallet_pb2.Hold:
        return await self._place_hold(request)

    async def PlaceHolds(self, request: pb.PlaceHoldsRequest, context: Any) -> pb.PlaceHoldsResponse:
        """Each hold as PlaceHold would place it, all at once: they reach the hold writer in the
        same turn, so they share its group's transaction; each refusal is that hold's alone.
        Handed to the writer as futures (`settle_each`), not a task per hold."""
        check_batch("holds", request.holds)
        now = self.clock.now()
        placing: list[asyncio.Future[HoldStatus] | Exception] = []
        for hold in request.holds:
            try:
                placing.append(self.holds.submit(self._place_hold_command(hold, now)))
            except Exception as error:  # noqa: BLE001 - that hold's own refusal (runtime/batches.py)
                placing.append(error)
        answers = await settle_each(placing)
        return pb.PlaceHoldsResponse(results=[
            pb.PlaceHoldResult(error=answer) if isinstance(answer, status_pb2.Status)
            else pb.PlaceHoldResult(hold=self.wire.hold(answer)) for answer in answers])

    async def _place_hold(self, request: pb.PlaceHoldRequest) -> wallet_pb2.Hold:
        return self.wire.hold(await self.holds.apply(self._place_hold_command(request, self.clock.now())))

    def _place_hold_command(self, request: pb.PlaceHoldRequest, now: datetime) -> HoldCommand:
        command = parse_place_hold(request, self.assets)
        funds = command.funds
        return PlaceHold(Hold(command.hold_id, funds.account, funds.asset.code, funds.units, now))

    async def ReleaseHold(self, request: pb.ReleaseHoldRequest, context: Any) -> wallet_pb2.Hold:
        command = parse_release_hold(request)
        release = ReleaseHold(command.hold_id, command.amount)
        if command.request_id is None:
            return self.wire.hold(await self.holds.apply(release))

        # With a request_id the answer goes to the request log: a transaction of its own.
        async def remembered(session: AsyncSession) -> wallet_pb2.Hold:
            return self.wire.hold(await self.store.apply_hold_command(session, release))

        while True:
            try:
                return await self._once("ReleaseHold", command.request_id, request, wallet_pb2.Hold, remembered)
            except NotFound:
                # That transaction rolled back with its refusal: the id's tombstone is written by
                # one of its own, unless the hold was placed meanwhile (then it is released).
                if not await self.store.tx.write(lambda session: self.store.release_unplaced(session, release.hold_id)):
                    raise

    async def PostTransfer(self, request: pb.PostTransferRequest, context: Any) -> wallet_pb2.Transfer:
        command = parse_post_transfer(request, self.assets)
        transfer = Transfer(command.transfer_id, TransferKind.TRADE, command.postings, self.clock.now())
        posted = await self.store.tx.write(lambda session: self.store.post_transfer(
            session, transfer, command.entry_kinds,
            replay_reason=WalletReason.TRANSFER_EXISTS_WITH_DIFFERENT_POSTINGS,
            id_field="transfer", id_value=request.transfer))
        return self.wire.transfer(posted)

    async def PostTransfers(self, request: pb.PostTransfersRequest, context: Any) -> pb.PostTransfersResponse:
        commands = parse_post_transfers(request, self.assets)
        at = self.clock.now()
        batch = [PostedTransfer(Transfer(command.transfer_id, TransferKind.TRADE, command.postings, at),
                                command.entry_kinds) for command in commands]
        names = [transfer.transfer for transfer in request.transfers]
        posted = await self.store.tx.write(lambda session: self.store.post_transfers(session, batch, names=names))
        fields = transfer_fields(request)
        return pb.PostTransfersResponse(transfers=[self.wire.transfer(one, fields) for one in posted])

    # ---------------------------------------------------------------- helpers

    async def _once(
        self, method: str, request_id: str | None, request: Message, answer_type: type[M],
        work: Callable[[AsyncSession], Awaitable[M]],
    ) -> M:
        """`work` and its answer in the request log, in one transaction; a retry gets the first answer."""
        return await idempotency.once(self.store.tx, self.clock, idempotency.method_name(SERVICE, method),
                                      request_id, request, answer_type, work)
