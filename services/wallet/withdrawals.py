"""Withdrawals: how the Wallet opens, completes and fails them (the RPCs' orchestration).

Withdraw asks KYC whether the account may withdraw this much today, sending what it already
withdrew in the rolling 24 h, then holds the amount and opens the withdrawal in one
transaction, unless that usage changed meanwhile (then it asks again). Completing posts the
held amount to withdrawals-in-transit; failing releases the hold. Idempotency as the adapter's
docstring says (services/wallet/api.py): the answers go to the request log, so this module
builds them (wire.py) inside the transaction that writes what they describe.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb
from services.runtime import idempotency
from services.runtime.clock import Clock
from services.runtime.errors import Aborted, NotFound
from services.wallet.domain import (
    Hold,
    Transfer,
    TransferKind,
    WalletReason,
    Withdrawal,
    WithdrawalState,
    from_units,
    legs_to_postings,
    withdrawal_legs,
)
from services.wallet.domain.hold_groups import PlaceHold, ReleaseHold
from services.wallet.domain.identifiers import (
    withdrawal_hold_id,
    withdrawal_name,
    withdrawal_transfer_id,
)
from services.wallet.kyc import WithdrawalLimits
from services.wallet.requests import ResolveCommand, WithdrawCommand
from services.wallet.store import WalletStore, WithdrawalRecord
from services.wallet.wire import Wire

SERVICE = pb.DESCRIPTOR.services_by_name["WalletService"]
WITHDRAW = idempotency.method_name(SERVICE, "Withdraw")

WITHDRAWAL_WINDOW = timedelta(hours=24)
# A concurrent withdrawal of the same account and asset changed the 24 h usage between the
# KYC check and the write; check again with the new figure, a few times at most.
MAX_LIMIT_CHECKS = 3


class WithdrawalDesk:
    def __init__(self, store: WalletStore, limits: WithdrawalLimits, clock: Clock, wire: Wire) -> None:
        self.store = store
        self.assets = store.assets
        self.limits = limits
        self.clock = clock
        self.wire = wire
        # Weak: a lock lives only while some withdrawal of that account and asset holds or awaits it.
        self._locks: weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock] = weakref.WeakValueDictionary()

    async def open(self, request: pb.WithdrawRequest, command: WithdrawCommand) -> wallet_pb2.Withdrawal:
        """Hold the amount and open a PENDING withdrawal, if KYC allows it; a retry (same
        request_id) answers the first response without asking KYC again."""
        funds = command.funds
        remembered = await self.store.tx.read(
            lambda session: idempotency.recall(session, WITHDRAW, command.request_id, request))
        if remembered is not None:
            return wallet_pb2.Withdrawal.FromString(remembered)
        async with self._lock(funds.account, funds.asset.code):
            return await self._check_limits_and_open(request, command)

    async def _check_limits_and_open(self, request: pb.WithdrawRequest, command: WithdrawCommand) -> wallet_pb2.Withdrawal:
        funds = command.funds
        for _ in range(MAX_LIMIT_CHECKS):
            at = self.clock.now()
            used = await self.store.tx.read(lambda session: self.store.withdrawn_units_since(
                session, funds.account, funds.asset.code, at - WITHDRAWAL_WINDOW))  # noqa: B023
            await self.limits.check(funds.account, funds.asset, funds.units, used)
            answer = await self.store.tx.write(
                lambda session: self._open_withdrawal(session, request, command, used, at))  # noqa: B023
            if answer is not None:
                return answer
        raise Aborted("WITHDRAWAL_CONTENDED", "concurrent withdrawals kept changing the 24 h usage; retry",
                      metadata={"account": funds.account})

    def _lock(self, account: str, asset: str) -> asyncio.Lock:
        """Queues this process's withdrawals of one account and asset, so each asks KYC with the
        usage its predecessors left; the in-transaction re-check covers other processes."""
        lock = self._locks.get((account, asset))
        if lock is None:
            lock = self._locks[(account, asset)] = asyncio.Lock()
        return lock

    async def _open_withdrawal(
        self, session: AsyncSession, request: pb.WithdrawRequest, command: WithdrawCommand, used: int, at: datetime,
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
        await self.store.apply_hold_command(session, PlaceHold(hold))  # INSUFFICIENT_FUNDS if short
        withdrawal = Withdrawal(
            command.request_id, withdrawal_name(funds.account, command.request_id), funds.account,
            funds.asset.code, funds.units, command.destination, hold.hold_id, WithdrawalState.PENDING, at, at)
        await self.store.insert_withdrawal(session, withdrawal)
        answer = self.wire.withdrawal(WithdrawalRecord(withdrawal, None))
        await idempotency.remember(session, WITHDRAW, command.request_id, request, answer, at)
        return answer

    async def complete(self, request: pb.CompleteWithdrawalRequest, command: ResolveCommand) -> wallet_pb2.Withdrawal:
        """The payout went out: post the held amount to withdrawals-in-transit."""
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

        return await self._once("CompleteWithdrawal", command.request_id, request, complete)

    async def fail(self, request: pb.FailWithdrawalRequest, command: ResolveCommand) -> wallet_pb2.Withdrawal:
        """The payout did not go out: give the held amount back to the account."""
        at = self.clock.now()

        async def fail(session: AsyncSession) -> wallet_pb2.Withdrawal:
            record = await self._locked_withdrawal(session, command, request.name)
            if _repeats(record, WithdrawalState.FAILED, command.detail):
                return self.wire.withdrawal(record)
            failed = record.withdrawal.failed(at, command.detail or "")  # WITHDRAWAL_NOT_PENDING unless pending
            await self.store.apply_hold_command(session, ReleaseHold(failed.hold_id, None))
            resolved = WithdrawalRecord(failed, record.tx_reference)
            await self.store.resolve_withdrawal(session, resolved)
            return self.wire.withdrawal(resolved)

        return await self._once("FailWithdrawal", command.request_id, request, fail)

    async def _locked_withdrawal(self, session: AsyncSession, command: ResolveCommand, name: str) -> WithdrawalRecord:
        record = await self.store.withdrawal(session, command.ref.withdrawal_id, lock=True)
        if record is None or record.withdrawal.account != command.ref.account:
            raise withdrawal_not_found(name)
        return record

    async def _once(
        self, method: str, request_id: str | None, request: pb.CompleteWithdrawalRequest | pb.FailWithdrawalRequest,
        work: Callable[[AsyncSession], Awaitable[wallet_pb2.Withdrawal]],
    ) -> wallet_pb2.Withdrawal:
        return await idempotency.once(self.store.tx, self.clock, idempotency.method_name(SERVICE, method),
                                      request_id, request, wallet_pb2.Withdrawal, work)


def _repeats(record: WithdrawalRecord, state: WithdrawalState, detail: str | None) -> bool:
    """Whether this resolution already happened with the same details (a harmless retry)."""
    withdrawal = record.withdrawal
    if withdrawal.state is not state:
        return False
    already = record.tx_reference if state is WithdrawalState.COMPLETED else withdrawal.failure_reason
    return (already or None) == (detail or None)


def withdrawal_not_found(name: str) -> NotFound:
    return NotFound(WalletReason.WITHDRAWAL_NOT_FOUND, f"{name} not found", metadata={"withdrawal": name})
