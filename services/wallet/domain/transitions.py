"""The state changes behind each ledger command, as pure functions over the rows they touch.

The in-memory `Ledger` and the SQL store both load the affected balances and holds (the
store under row locks), call these, and write back what they return; so the rules that
keep balances non-negative and holds within their amount exist once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.wallet.domain.balances import Balance, BalanceKey, check_floor
from services.wallet.domain.holds import Hold, HoldRelease, HoldStatus
from services.wallet.domain.postings import Posting, consumed_by_hold
from services.wallet.domain.reasons import WalletReason


@dataclass(frozen=True, slots=True)
class TransferEffects:
    balances: dict[BalanceKey, Balance]  # new value of every balance the transfer touches
    holds: dict[str, HoldStatus]  # new status of every hold it consumes from


def touched_balance_keys(postings: Sequence[Posting]) -> list[BalanceKey]:
    """The rows to lock, in a stable order (sorted) so concurrent transfers cannot deadlock."""
    return sorted({(posting.account, posting.asset) for posting in postings})


def apply_postings(
    postings: Sequence[Posting],
    balances: Mapping[BalanceKey, Balance],
    holds: Mapping[str, HoldStatus],
) -> TransferEffects:
    """All-or-nothing effect of a balanced transfer; raises without partial effects.

    `balances` must hold every touched key (missing keys count as zero: created on first
    use); `holds` every hold the postings name.
    """
    new_holds: dict[str, HoldStatus] = {}
    for hold_id, units in consumed_by_hold(postings).items():
        status = holds.get(hold_id)
        if status is None:
            raise NotFound(WalletReason.HOLD_NOT_FOUND, f"hold {hold_id} not found", metadata={"holdId": hold_id})
        _check_hold_matches(status.hold, postings)
        _check_within_hold(status, units)
        new_holds[hold_id] = status.consume(units)

    new_balances = {key: balances.get(key, Balance()) for key in touched_balance_keys(postings)}
    for posting in postings:
        key = (posting.account, posting.asset)
        new_balances[key] = new_balances[key].post(posting)
    for (account, asset), balance in new_balances.items():
        check_floor(account, asset, balance)
    return TransferEffects(new_balances, new_holds)


def apply_place_hold(hold: Hold, balance: Balance) -> Balance:
    """Move `hold.units` from available to held, or raise INSUFFICIENT_FUNDS."""
    new_balance = balance.hold(hold.units)
    check_floor(hold.account, hold.asset, new_balance, needed=hold.units)
    return new_balance


def apply_release(
    status: HoldStatus, units: int | None, balance: Balance
) -> tuple[HoldStatus, Balance, HoldRelease]:
    """Release `units` (None: everything left) of a hold back to available."""
    released = status.remaining_units if units is None else units
    _check_within_hold(status, released)
    new_status = status.release(released)
    hold = status.hold
    return (
        new_status,
        balance.release(released),
        HoldRelease(hold.hold_id, hold.account, hold.asset, released, new_status.remaining_units),
    )


def _check_hold_matches(hold: Hold, postings: Sequence[Posting]) -> None:
    for posting in postings:
        if posting.hold_id == hold.hold_id and (posting.account, posting.asset) != (hold.account, hold.asset):
            raise InvalidArgument(
                WalletReason.HOLD_MISMATCH,
                f"hold {hold.hold_id} holds {hold.asset} of {hold.account}, "
                f"not {posting.asset} of {posting.account}",
                metadata={"holdId": hold.hold_id},
                violations=[("legs", f"hold {hold.hold_id} belongs to {hold.account} in {hold.asset}")],
            )


def _check_within_hold(status: HoldStatus, units: int) -> None:
    if units > status.remaining_units:
        raise FailedPrecondition(
            WalletReason.HOLD_EXCEEDED,
            f"hold {status.hold.hold_id} has {status.remaining_units} minor units left, {units} requested",
            metadata={
                "holdId": status.hold.hold_id,
                "remaining": str(status.remaining_units),
                "requested": str(units),
            },
        )
