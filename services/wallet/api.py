"""The Wallet's gRPC adapter: validate → authorize ownership → store (domain rules) → pb2.

Idempotency, per RPC:
- Deposit, Withdraw: by `request_id`, through the runtime's request log in the same
  transaction as the write; a retry answers the first response, another request with the same
  id is ALREADY_EXISTS. Withdraw recalls before asking KYC, so a retry never spends the limit twice.
- PlaceHold: by hold id; PostTransfer: by transfer id; the same payload returns the first
  result, a different one ALREADY_EXISTS naming the differing fields.
- ReleaseHold: releasing everything is naturally idempotent; a partial release is idempotent
  when it carries a `request_id`.
- CompleteWithdrawal / FailWithdrawal: repeating the transition that already happened, with
  the same tx_reference / reason, answers the withdrawal as it is (a retry is not an error);
  the other transition, or different details, is FAILED_PRECONDITION WITHDRAWAL_NOT_PENDING.
  With a `request_id` the first response is also remembered and replayed byte for byte.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any, TypeVar

from google.protobuf.message import Message
from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb, wallet_service_pb2_grpc as pb_grpc
from services.runtime import idempotency
from services.runtime.auth import current_principal
from services.runtime.clock import Clock
from services.runtime.errors import Aborted, NotFound, PermissionDenied
from services.runtime.paging import encode_token, read_page
from services.wallet.domain import (
    Hold,
    Transfer,
    TransferKind,
    WalletReason,
    Withdrawal,
    WithdrawalState,
    deposit_legs,
    from_units,
    legs_to_postings,
    withdrawal_legs,
)
from services.wallet.domain.identifiers import (
    deposit_transfer_id,
    withdrawal_hold_id,
    withdrawal_name,
    withdrawal_transfer_id,
)
from services.wallet.kyc import WithdrawalLimits
from services.wallet.requests import (
    ResolveCommand,
    WithdrawCommand,
    parse_account,
    parse_entries_query,
    parse_complete,
    parse_deposit,
    parse_fail,
    parse_place_hold,
    parse_post_transfer,
    parse_release_hold,
    parse_withdraw,
    parse_withdrawal_name,
    release_units,
)
from services.wallet.store import WalletStore, WithdrawalRecord
from services.wallet.wire import Wire

M = TypeVar("M", bound=Message)

SERVICE = pb.DESCRIPTOR.services_by_name["WalletService"]
WITHDRAW = idempotency.method_name(SERVICE, "Withdraw")

WITHDRAWAL_WINDOW = timedelta(hours=24)
# A concurrent withdrawal of the same account and asset changed the 24 h usage between the
# KYC check and the write; check again with the new figure, a few times at most.
MAX_LIMIT_CHECKS = 3


def _may_read(account: str) -> None:
    principal = current_principal()
    if not (principal.is_operator or principal.owns(account)):
        raise PermissionDenied("NOT_ACCOUNT_OWNER", f"the caller may not see {account}", metadata={"account": account})


def _must_own(account: str) -> None:
    if not current_principal().owns(account):
        raise PermissionDenied("NOT_ACCOUNT_OWNER", f"only the owner may act on {account}", metadata={"account": account})


class WalletServicer(pb_grpc.WalletServiceServicer):
    def __init__(self, store: WalletStore, limits: WithdrawalLimits, clock: Clock) -> None:
        self.store = store
        self.assets = store.assets
        self.limits = limits
        self.clock = clock
        self.wire = Wire(store.assets)
        # Weak: a lock lives only while some withdrawal of that account and asset holds or awaits it.
        self._withdrawal_locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = (
            weakref.WeakValueDictionary())

    # ------------------------------------------------------------------ reads

    async def ListBalances(self, request: pb.ListBalancesRequest, context: Any) -> pb.ListBalancesResponse:
        account = parse_account(request.account)
        page = read_page(request.page_size, request.page_token, account)
        _may_read(account)
        rows = await self.store.tx.read(lambda session: self.store.list_balances(
            session, account, after_asset=page.cursor, limit=page.size + 1))
        shown = rows[:page.size]
        return pb.ListBalancesResponse(
            balances=[self.wire.balance(asset, balance) for asset, balance in shown],
            next_page_token=encode_token(shown[-1][0], account) if len(rows) > page.size else "")

    async def ListEntries(self, request: pb.ListEntriesRequest, context: Any) -> pb.ListEntriesResponse:
        account, asset = parse_entries_query(request.account, request.asset, self.assets)
        query = f"{account}|{asset or ''}"
        page = read_page(request.page_size, request.page_token, query)
        after = page.after_number
        _may_read(account)
        rows = await self.store.tx.read(lambda session: self.store.list_entries(
            session, account, asset=asset, after_sequence=after, limit=page.size + 1))
        shown = rows[:page.size]
        return pb.ListEntriesResponse(
            entries=[self.wire.entry(row) for row in shown],
            next_page_token=encode_token(str(shown[-1].entry.sequence), query) if len(rows) > page.size else "")

    async def GetWithdrawal(self, request: pb.GetWithdrawalRequest, context: Any) -> wallet_pb2.Withdrawal:
        ref = parse_withdrawal_name(request.name)
        _may_read(ref.account)
        record = await self.store.tx.read(lambda session: self.store.withdrawal(session, ref.withdrawal_id))
        if record is None or record.withdrawal.account != ref.account:
            raise _withdrawal_not_found(request.name)
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
            posted = await self.store.post_transfer(
                session, transfer, ("DEPOSIT",) * len(postings),
                replay_reason=WalletReason.DEPOSIT_EXISTS_WITH_DIFFERENT_PARAMS,
                id_field="request_id", id_value=command.request_id)
            balance = await self.store.balance(session, funds.account, funds.asset.code)
            return pb.DepositResponse(transfer=self.wire.transfer(posted),
                                      balance=self.wire.balance(funds.asset.code, balance))

        return await self._once("Deposit", command.request_id, request, pb.DepositResponse, deposit)

    async def Withdraw(self, request: pb.WithdrawRequest, context: Any) -> wallet_pb2.Withdrawal:
        command = parse_withdraw(request, self.assets)
        funds = command.funds
        _must_own(funds.account)
        remembered = await self.store.tx.read(
            lambda session: idempotency.recall(session, WITHDRAW, command.request_id, request))
        if remembered is not None:
            return wallet_pb2.Withdrawal.FromString(remembered)
        async with self._withdrawal_lock(funds.account, funds.asset.code):
            return await self._check_limits_and_open(request, command)

    async def _check_limits_and_open(self, request: pb.WithdrawRequest, command: WithdrawCommand) -> wallet_pb2.Withdrawal:
        funds = command.funds
        for _ in range(MAX_LIMIT_CHECKS):
            at = self.clock.now()
            used = await self.store.tx.read(lambda session: self.store.withdrawn_units_since(
                session, funds.account, funds.asset.code, at - WITHDRAWAL_WINDOW))  # noqa: B023 - awaited in this iteration
            await self.limits.check(funds.account, funds.asset, funds.units, used)
            answer = await self.store.tx.write(
                lambda session: self._open_withdrawal(session, request, command, used, at))  # noqa: B023 - awaited here
            if answer is not None:
                return answer
        raise Aborted("WITHDRAWAL_CONTENDED", "concurrent withdrawals kept changing the 24 h usage; retry",
                      metadata={"account": funds.account})

    def _withdrawal_lock(self, account: str, asset: str) -> asyncio.Lock:
        """Queues this process's withdrawals of one account and asset, so each asks KYC with the
        usage its predecessors left; the in-transaction re-check covers other processes."""
        lock = self._withdrawal_locks.get((account, asset))
        if lock is None:
            lock = self._withdrawal_locks[(account, asset)] = asyncio.Lock()
        return lock

    async def _open_withdrawal(
        self, session: AsyncSession, request: pb.WithdrawRequest, command: WithdrawCommand, used: int, at: Any,
    ) -> wallet_pb2.Withdrawal | None:
        """Hold the amount and open the withdrawal, unless the usage KYC judged is no longer current."""
        remembered = await idempotency.recall(session, WITHDRAW, command.request_id, request)
        if remembered is not None:
            return wallet_pb2.Withdrawal.FromString(remembered)
        funds = command.funds
        # The balance row lock serializes this account's withdrawals of this asset.
        await self.store.lock_balances(session, [(funds.account, funds.asset.code)])
        if await self.store.withdrawn_units_since(session, funds.account, funds.asset.code, at - WITHDRAWAL_WINDOW) != used:
            return None
        hold = Hold(withdrawal_hold_id(command.request_id), funds.account, funds.asset.code, funds.units, at)
        await self.store.place_hold(session, hold)
        withdrawal = Withdrawal(
            command.request_id, withdrawal_name(funds.account, command.request_id), funds.account,
            funds.asset.code, funds.units, command.destination, hold.hold_id, WithdrawalState.PENDING, at, at)
        await self.store.insert_withdrawal(session, withdrawal)
        answer = self.wire.withdrawal(WithdrawalRecord(withdrawal, None))
        await idempotency.remember(session, WITHDRAW, command.request_id, request, answer, at)
        return answer

    async def CompleteWithdrawal(self, request: pb.CompleteWithdrawalRequest, context: Any) -> wallet_pb2.Withdrawal:
        command = parse_complete(request)
        at = self.clock.now()

        async def complete(session: AsyncSession) -> wallet_pb2.Withdrawal:
            record = await self._locked_withdrawal(session, command, request.name)
            if _repeats(record, WithdrawalState.COMPLETED, command.detail):
                return self.wire.withdrawal(record)
            withdrawal = record.withdrawal
            completed = withdrawal.completed(at)  # WITHDRAWAL_NOT_PENDING unless pending
            asset = self.assets[withdrawal.asset]
            legs = withdrawal_legs(withdrawal.account, asset, from_units(asset, withdrawal.units), withdrawal.hold_id)
            postings = legs_to_postings(legs, self.assets)
            transfer = Transfer(withdrawal_transfer_id(withdrawal.withdrawal_id), TransferKind.WITHDRAWAL, postings, at)
            await self.store.post_transfer(
                session, transfer, ("WITHDRAWAL",) * len(postings),
                replay_reason=WalletReason.TRANSFER_EXISTS_WITH_DIFFERENT_POSTINGS,
                id_field="name", id_value=request.name)
            resolved = WithdrawalRecord(completed, command.detail)
            await self.store.resolve_withdrawal(session, resolved)
            return self.wire.withdrawal(resolved)

        return await self._once("CompleteWithdrawal", command.request_id, request,
                                         wallet_pb2.Withdrawal, complete)

    async def FailWithdrawal(self, request: pb.FailWithdrawalRequest, context: Any) -> wallet_pb2.Withdrawal:
        command = parse_fail(request)
        at = self.clock.now()

        async def fail(session: AsyncSession) -> wallet_pb2.Withdrawal:
            record = await self._locked_withdrawal(session, command, request.name)
            if _repeats(record, WithdrawalState.FAILED, command.detail):
                return self.wire.withdrawal(record)
            failed = record.withdrawal.failed(at, command.detail or "")  # WITHDRAWAL_NOT_PENDING unless pending
            await self.store.release_hold(session, failed.hold_id, None)
            resolved = WithdrawalRecord(failed, record.tx_reference)
            await self.store.resolve_withdrawal(session, resolved)
            return self.wire.withdrawal(resolved)

        return await self._once("FailWithdrawal", command.request_id, request,
                                         wallet_pb2.Withdrawal, fail)

    async def _locked_withdrawal(self, session: AsyncSession, command: ResolveCommand, name: str) -> WithdrawalRecord:
        record = await self.store.withdrawal(session, command.ref.withdrawal_id, lock=True)
        if record is None or record.withdrawal.account != command.ref.account:
            raise _withdrawal_not_found(name)
        return record

    # ------------------------------------------------------ holds and transfers

    async def PlaceHold(self, request: pb.PlaceHoldRequest, context: Any) -> wallet_pb2.Hold:
        command = parse_place_hold(request, self.assets)
        funds = command.funds
        hold = Hold(command.hold_id, funds.account, funds.asset.code, funds.units, self.clock.now())
        status = await self.store.tx.write(lambda session: self.store.place_hold(session, hold))
        return self.wire.hold(status)

    async def ReleaseHold(self, request: pb.ReleaseHoldRequest, context: Any) -> wallet_pb2.Hold:
        command = parse_release_hold(request)

        async def release(session: AsyncSession) -> wallet_pb2.Hold:
            found = await self.store.hold(session, command.hold_id)
            if found is None:
                raise NotFound(WalletReason.HOLD_NOT_FOUND, f"{request.hold} not found",
                               metadata={"holdId": command.hold_id})
            units = release_units(command, self.assets[found.hold.asset])  # the hold's precision
            status, _ = await self.store.release_hold(session, command.hold_id, units)
            return self.wire.hold(status)

        return await self._once("ReleaseHold", command.request_id, request, wallet_pb2.Hold, release)

    async def PostTransfer(self, request: pb.PostTransferRequest, context: Any) -> wallet_pb2.Transfer:
        command = parse_post_transfer(request, self.assets)
        transfer = Transfer(command.transfer_id, TransferKind.TRADE, command.postings, self.clock.now())
        posted = await self.store.tx.write(lambda session: self.store.post_transfer(
            session, transfer, command.entry_kinds,
            replay_reason=WalletReason.TRANSFER_EXISTS_WITH_DIFFERENT_POSTINGS,
            id_field="transfer", id_value=request.transfer))
        return self.wire.transfer(posted)

    # ---------------------------------------------------------------- helpers

    async def _once(
        self, method: str, request_id: str | None, request: Message, answer_type: type[M],
        work: Callable[[AsyncSession], Awaitable[M]],
    ) -> M:
        """`work` and its answer in the request log, in one transaction; a retry gets the first answer."""
        return await idempotency.once(self.store.tx, self.clock, idempotency.method_name(SERVICE, method),
                                      request_id, request, answer_type, work)


def _repeats(record: WithdrawalRecord, state: WithdrawalState, detail: str | None) -> bool:
    """Whether this resolution already happened with the same details (a harmless retry)."""
    withdrawal = record.withdrawal
    if withdrawal.state is not state:
        return False
    already = record.tx_reference if state is WithdrawalState.COMPLETED else withdrawal.failure_reason
    return (already or None) == (detail or None)



def _withdrawal_not_found(name: str) -> NotFound:
    return NotFound(WalletReason.WITHDRAWAL_NOT_FOUND, f"{name} not found", metadata={"withdrawal": name})
