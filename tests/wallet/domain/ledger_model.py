"""The in-memory ledger: the tests' reference model of the Wallet's state machine.

It keeps balances, holds, transfers, entries and withdrawals in dictionaries and runs every
command through the same pure rules the SQL store uses (`transitions`, `postings`,
`idempotency`). Each command validates first and changes nothing when it raises; it returns
the record(s) a store would persist and the RPC would answer. Replaying a command with the
same id and payload returns the first result and changes nothing.

Failed commands do not burn their id (unlike TigerBeetle's `id_already_failed`): an order
whose hold failed for INSUFFICIENT_FUNDS may be retried after a deposit.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from services.runtime.errors import InvalidArgument, NotFound
from services.wallet.domain.accounts import require_user_account
from services.wallet.domain.assets import DEFAULT_ASSETS, AssetCatalog, from_units, to_units
from services.wallet.domain.balances import Balance, BalanceKey
from services.wallet.domain.holds import Hold, HoldRelease, HoldStatus
from services.wallet.domain.identifiers import (
    deposit_transfer_id,
    validate_client_id,
    validate_id,
    withdrawal_hold_id,
    withdrawal_name,
    withdrawal_transfer_id,
)
from services.wallet.domain.idempotency import check_replay
from services.wallet.domain.postings import (
    Entry,
    Leg,
    Posting,
    Transfer,
    TransferKind,
    deposit_legs,
    legs_to_postings,
    transfer_entries,
    withdrawal_legs,
)
from services.wallet.domain.reasons import WalletReason
from services.wallet.domain.transitions import apply_place_hold, apply_postings, apply_release
from services.wallet.domain.withdrawals import Withdrawal, WithdrawalState


@dataclass(frozen=True, slots=True)
class WithdrawalOutcome:
    withdrawal: Withdrawal
    transfer: Transfer | None = None  # on completion
    release: HoldRelease | None = None  # on failure


@dataclass(frozen=True, slots=True)
class _ReleaseRecord:
    fingerprint: dict[str, object]
    result: HoldRelease


class Ledger:
    def __init__(self, assets: AssetCatalog = DEFAULT_ASSETS) -> None:
        self.assets = assets
        self._balances: dict[BalanceKey, Balance] = {}
        self._holds: dict[str, HoldStatus] = {}
        self._releases: dict[str, _ReleaseRecord] = {}
        self._transfers: dict[str, Transfer] = {}
        self._entries: list[Entry] = []
        self._withdrawals: dict[str, Withdrawal] = {}
        # The Withdraw response as first given, which a replay repeats even after resolution.
        self._withdrawal_requests: dict[str, Withdrawal] = {}

    # ----------------------------------------------------------------- queries

    def balance(self, account: str, asset: str) -> Balance:
        return self._balances.get((account, asset), Balance())

    def balances(self, account: str) -> dict[str, Balance]:
        """Every asset the account has touched; an unknown account simply has none."""
        return {asset: bal for (owner, asset), bal in sorted(self._balances.items()) if owner == account}

    def all_balances(self) -> dict[BalanceKey, Balance]:
        return dict(self._balances)

    def hold(self, hold_id: str) -> HoldStatus:
        status = self._holds.get(hold_id)
        if status is None:
            raise NotFound(WalletReason.HOLD_NOT_FOUND, f"hold {hold_id} not found", metadata={"holdId": hold_id})
        return status

    def holds(self) -> list[HoldStatus]:
        return list(self._holds.values())

    def transfer(self, transfer_id: str) -> Transfer | None:
        return self._transfers.get(transfer_id)

    def transfers(self) -> list[Transfer]:
        return list(self._transfers.values())

    def entries(self, account: str | None = None) -> list[Entry]:
        return [entry for entry in self._entries if account is None or entry.account == account]

    def withdrawals(self) -> list[Withdrawal]:
        return list(self._withdrawals.values())

    def withdrawal(self, withdrawal_id: str) -> Withdrawal:
        withdrawal = self._withdrawals.get(withdrawal_id)
        if withdrawal is None:
            raise NotFound(
                WalletReason.WITHDRAWAL_NOT_FOUND, f"withdrawal {withdrawal_id} not found",
                metadata={"withdrawal": withdrawal_id},
            )
        return withdrawal

    # ---------------------------------------------------------------- commands

    def place_hold(self, hold_id: str, account: str, asset: str, amount: Decimal, *, at: datetime) -> Hold:
        """Set `amount` aside from available; idempotent by `hold_id` (the order id)."""
        return self._place_hold(validate_client_id(hold_id, field="hold_id"), account, asset, amount, at=at)

    def _place_hold(self, hold_id: str, account: str, asset: str, amount: Decimal, *, at: datetime) -> Hold:
        hold = Hold(hold_id, require_user_account(account), asset, self._positive_units(asset, amount), at)
        existing = self._holds.get(hold_id)
        if existing is not None:
            check_replay(
                WalletReason.HOLD_EXISTS_WITH_DIFFERENT_PARAMS, "hold_id", hold_id,
                _hold_params(existing.hold), _hold_params(hold),
            )
            return existing.hold
        key = (account, asset)
        self._balances[key] = apply_place_hold(hold, self.balance(account, asset))
        self._holds[hold_id] = HoldStatus(hold, consumed_units=0, released_units=0)
        return hold

    def release_hold(
        self, hold_id: str, amount: Decimal | None = None, *, release_id: str | None = None
    ) -> HoldRelease:
        """Return `amount` (None: all that is left) of a hold to available.

        Without `release_id`, releasing everything is naturally idempotent (a repeat
        releases nothing) but a partial release is not; give a `release_id` to make a
        partial release safe to retry.
        """
        status = self.hold(validate_id(hold_id, field="hold_id"))
        units = None if amount is None else self._positive_units(status.hold.asset, amount)
        fingerprint: dict[str, object] = {"hold_id": hold_id, "amount": units}
        if release_id is not None:
            validate_id(release_id, field="release_id")
            record = self._releases.get(release_id)
            if record is not None:
                check_replay(
                    WalletReason.RELEASE_EXISTS_WITH_DIFFERENT_PARAMS, "release_id", release_id,
                    record.fingerprint, fingerprint,
                )
                return record.result
        hold = status.hold
        new_status, new_balance, release = apply_release(status, units, self.balance(hold.account, hold.asset))
        self._holds[hold_id] = new_status
        self._balances[(hold.account, hold.asset)] = new_balance
        if release_id is not None:
            self._releases[release_id] = _ReleaseRecord(fingerprint, release)
        return release

    def post_transfer(
        self, transfer_id: str, legs: Sequence[Leg], *, at: datetime, kind: TransferKind = TransferKind.TRADE
    ) -> Transfer:
        """Post a linked chain of legs atomically; idempotent by `transfer_id` (the trade id)."""
        validate_client_id(transfer_id, field="transfer_id")
        for index, leg in enumerate(legs):
            # Withdrawal holds are resolved only by completing or failing the withdrawal.
            if leg.hold_id is not None:
                validate_client_id(leg.hold_id, field=f"legs[{index}].hold_id")
        postings = legs_to_postings(legs, self.assets)
        existing = self._transfers.get(transfer_id)
        if existing is not None:
            check_replay(
                WalletReason.TRANSFER_EXISTS_WITH_DIFFERENT_POSTINGS, "transfer_id", transfer_id,
                _transfer_params(existing.kind, existing.postings), _transfer_params(kind, postings),
            )
            return existing
        return self._commit(Transfer(transfer_id, kind, postings, at))

    def deposit(self, request_id: str, account: str, asset: str, amount: Decimal, *, at: datetime) -> Transfer:
        """Credit a user from deposits-in-transit (operator action); idempotent by request_id."""
        validate_id(request_id, field="request_id")
        require_user_account(account)
        resolved = self.assets.resolve(asset)
        self._positive_units(asset, amount)  # reported against `amount`, not `legs[0].amount`
        transfer_id = deposit_transfer_id(request_id)
        postings = legs_to_postings(deposit_legs(account, resolved, amount), self.assets)
        existing = self._transfers.get(transfer_id)
        if existing is not None:
            check_replay(
                WalletReason.DEPOSIT_EXISTS_WITH_DIFFERENT_PARAMS, "request_id", request_id,
                _transfer_params(existing.kind, existing.postings),
                _transfer_params(TransferKind.DEPOSIT, postings),
            )
            return existing
        return self._commit(Transfer(transfer_id, TransferKind.DEPOSIT, postings, at))

    def request_withdrawal(
        self, request_id: str, account: str, asset: str, amount: Decimal, destination: str, *, at: datetime
    ) -> Withdrawal:
        """Hold `amount` and open a PENDING withdrawal; idempotent by request_id."""
        validate_id(request_id, field="request_id")
        validate_id(destination, field="destination")
        require_user_account(account)
        units = self._positive_units(asset, amount)
        hold_id = withdrawal_hold_id(request_id)
        requested = Withdrawal(
            request_id, withdrawal_name(account, request_id), account, asset, units, destination,
            hold_id, WithdrawalState.PENDING, at, at,
        )
        existing = self._withdrawal_requests.get(request_id)
        if existing is not None:
            check_replay(
                WalletReason.WITHDRAWAL_EXISTS_WITH_DIFFERENT_PARAMS, "request_id", request_id,
                _withdrawal_params(existing), _withdrawal_params(requested),
            )
            return existing
        self._place_hold(hold_id, account, asset, amount, at=at)
        self._withdrawals[request_id] = requested
        self._withdrawal_requests[request_id] = requested
        return requested

    def complete_withdrawal(self, withdrawal_id: str, *, at: datetime) -> WithdrawalOutcome:
        """The payout went out: post the held amount to withdrawals-in-transit."""
        withdrawal = self.withdrawal(withdrawal_id)
        completed = withdrawal.completed(at)
        asset = self.assets.resolve(withdrawal.asset)
        amount = from_units(asset, withdrawal.units)
        legs = withdrawal_legs(withdrawal.account, asset, amount, withdrawal.hold_id)
        transfer = self._commit(
            Transfer(
                withdrawal_transfer_id(withdrawal_id), TransferKind.WITHDRAWAL,
                legs_to_postings(legs, self.assets), at,
            )
        )
        self._withdrawals[withdrawal_id] = completed
        return WithdrawalOutcome(completed, transfer=transfer)

    def fail_withdrawal(self, withdrawal_id: str, reason: str, *, at: datetime) -> WithdrawalOutcome:
        """The payout did not go out: give the held amount back to the user."""
        failed = self.withdrawal(withdrawal_id).failed(at, reason)
        release = self.release_hold(failed.hold_id)
        self._withdrawals[withdrawal_id] = failed
        return WithdrawalOutcome(failed, release=release)

    # ----------------------------------------------------------------- helpers

    def _commit(self, transfer: Transfer) -> Transfer:
        effects = apply_postings(transfer.postings, self._balances, self._holds)
        self._balances.update(effects.balances)
        self._holds.update(effects.holds)
        self._transfers[transfer.transfer_id] = transfer
        self._entries.extend(transfer_entries(transfer, first_sequence=len(self._entries) + 1))
        return transfer

    def _positive_units(self, asset_code: str, amount: Decimal) -> int:
        units = to_units(self.assets.resolve(asset_code), amount)
        if units <= 0:
            raise InvalidArgument(
                WalletReason.AMOUNT_NOT_POSITIVE, f"amount must be greater than zero, got {amount}",
                violations=[("amount", "must be greater than zero")],
            )
        return units


def _hold_params(hold: Hold) -> dict[str, object]:
    return {"account": hold.account, "asset": hold.asset, "amount": hold.units}


def _transfer_params(kind: TransferKind, postings: Sequence[Posting]) -> dict[str, object]:
    return {"kind": kind, "postings": tuple(postings)}


def _withdrawal_params(withdrawal: Withdrawal) -> dict[str, object]:
    return {
        "account": withdrawal.account, "asset": withdrawal.asset,
        "amount": withdrawal.units, "destination": withdrawal.destination,
    }

