"""Many transfers posted as one: the effect of posting them one after another, all or nothing.

Settlement posts every trade; one transaction per batch of trades (PostTransfers) locks and
writes each touched balance row once, however many of the batch's transfers touch it. The
`system/fees` row, credited by every trade, is the one that matters: per transfer it would
serialize every settlement writer on it. Entries stay one per posting, so the journal reads
exactly as if the transfers had been posted singly, in the batch's order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.runtime.errors import DomainError
from services.wallet.domain.balances import Balance, BalanceKey
from services.wallet.domain.holds import HoldStatus
from services.wallet.domain.postings import Posting, consumed_by_hold
from services.wallet.domain.transitions import TransferEffects, apply_postings

MAX_TRANSFERS_PER_BATCH = 1000


def transfer_field(index: int) -> str:
    """How a batch's request names its `index`th transfer in a field path."""
    return f"transfers[{index}]"


def in_transfer(error: DomainError, index: int) -> DomainError:
    """`error`, raised by the batch's `index`th transfer, retold so the caller can find it:
    its field paths under `transfers[index].` and the index in its metadata."""
    field = transfer_field(index)
    return type(error)(
        error.reason, f"{field}: {error.message}",
        metadata=error.metadata | {"transferIndex": str(index)},
        violations=[(f"{field}.{name}", description) for name, description in error.violations],
    )


def apply_transfers(
    transfers: Mapping[int, Sequence[Posting]],
    balances: Mapping[BalanceKey, Balance],
    holds: Mapping[str, HoldStatus],
) -> TransferEffects:
    """The effect of posting `transfers` (balanced postings, by their index in the batch) in
    order; raises the first transfer's error, retold by `in_transfer`, without partial effects.

    `balances` must hold every touched key (missing ones count as zero), `holds` every named
    hold. A later transfer sees what the earlier ones did: two fills of one order consume its
    hold in turn, and the floors (no user below zero) hold after every transfer, not only at the end.
    """
    new_balances: dict[BalanceKey, Balance] = {}
    new_holds: dict[str, HoldStatus] = {}
    current_balances = {**balances}
    current_holds = {**holds}
    for index, postings in transfers.items():
        try:
            effects = apply_postings(postings, current_balances, current_holds)
        except DomainError as error:
            raise in_transfer(error, index) from None
        current_balances.update(effects.balances)
        current_holds.update(effects.holds)
        new_balances.update(effects.balances)
        new_holds.update(effects.holds)
    return TransferEffects(new_balances, new_holds)


def consumed_holds(
    transfers: Mapping[int, Sequence[Posting]],
    holds: Mapping[str, HoldStatus],
) -> dict[str, HoldStatus] | None:
    """The new status of every hold `transfers` consume from, as `apply_transfers` will find
    them, if every consumption fits its hold; None otherwise (`apply_transfers` then raises
    the batch's first error, in order). A hold's new status depends on the holds alone, not
    on the balances: the store writes it before it locks the balance rows, which every
    settlement batch shares (`system/fees`), so the writing is not done while they wait."""
    current = {**holds}
    changed: dict[str, HoldStatus] = {}
    for postings in transfers.values():
        for hold_id, units in consumed_by_hold(postings).items():
            status = current.get(hold_id)
            if status is None or units > status.remaining_units:
                return None
            current[hold_id] = changed[hold_id] = status.consume(units)
    return changed
