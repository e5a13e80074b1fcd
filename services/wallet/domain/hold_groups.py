"""A group of PlaceHold and ReleaseHold commands applied in one go, each with its own outcome.

The Order service places one hold per order and releases what is left when the order ends;
committing each alone costs a transaction (an fsync) per order. A group commit writes many in
one transaction, but one refused command (INSUFFICIENT_FUNDS, HOLD_NOT_FOUND, ...) must not
fail the others. So the rules run here, in order, over the rows the group touches, and every
command gets its own outcome: what it would have answered alone, given the commands before it.
A refused command changes nothing; the store writes only what the accepted ones changed —
with one exception, the tombstone: a release of a hold id that was never placed is refused
(NOT_FOUND, nothing was held) but remembers the id as released, so a PlaceHold of that id that
arrives later (a late or retried one, overtaken by the release of its rejected order) is
refused (FAILED_PRECONDITION HOLD_RELEASED) instead of holding money nothing would release.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass
from decimal import Decimal

from services.runtime.errors import DomainError, FailedPrecondition, NotFound
from services.wallet.domain.assets import AssetCatalog, to_units
from services.wallet.domain.balances import Balance, BalanceKey
from services.wallet.domain.holds import Hold, HoldStatus
from services.wallet.domain.idempotency import check_replay
from services.wallet.domain.reasons import WalletReason
from services.wallet.domain.transitions import apply_place_hold, apply_release


@dataclass(frozen=True, slots=True)
class PlaceHold:
    hold: Hold


@dataclass(frozen=True, slots=True)
class ReleaseHold:
    hold_id: str
    amount: Decimal | None  # None releases all that remains; else checked at the hold's precision


HoldCommand = PlaceHold | ReleaseHold
Outcome = HoldStatus | DomainError


@dataclass(frozen=True, slots=True)
class HoldGroupEffects:
    outcomes: list[Outcome]  # one per command, in order: the hold as it answers, or its error
    placed: list[HoldStatus]  # holds new in this group, as they end it
    changed: list[HoldStatus]  # holds that existed before the group, as they end it
    balances: dict[BalanceKey, Balance]  # every balance the group changed
    tombstones: list[str]  # hold ids released before any hold was placed under them, new in this group


def balance_key_of(command: HoldCommand, holds: Mapping[str, HoldStatus]) -> BalanceKey | None:
    """The balance row a command touches, if it can touch one: a release of a hold that is
    neither stored nor placed earlier in the group will be NOT_FOUND."""
    if isinstance(command, PlaceHold):
        return command.hold.account, command.hold.asset
    status = holds.get(command.hold_id)
    return None if status is None else (status.hold.account, status.hold.asset)


def apply_hold_group(
    commands: Sequence[HoldCommand],
    holds: Mapping[str, HoldStatus],
    balances: Mapping[BalanceKey, Balance],
    assets: AssetCatalog,
    released: Set[str] = frozenset(),
) -> HoldGroupEffects:
    """Apply `commands` in order. `holds`: the stored holds they name; `balances`: the stored
    rows they touch (a missing row is an account never funded: zero); `released`: the stored
    tombstones among the ids they name."""
    current_holds = {**holds}
    tombstones: list[str] = []
    current_released = set(released)
    current_balances = {**balances}
    placed: set[str] = set()
    changed_balances: set[BalanceKey] = set()
    outcomes: list[Outcome] = []
    for command in commands:
        try:
            if isinstance(command, PlaceHold):
                hold = command.hold
                existing = current_holds.get(hold.hold_id)
                if existing is not None:
                    check_replay(WalletReason.HOLD_EXISTS_WITH_DIFFERENT_PARAMS, "hold_id", hold.hold_id,
                                 existing.hold.replay_params(), hold.replay_params())
                    outcomes.append(existing)
                    continue
                if hold.hold_id in current_released:
                    raise FailedPrecondition(WalletReason.HOLD_RELEASED,
                                             f"hold {hold.hold_id} was released before it was placed",
                                             metadata={"holdId": hold.hold_id})
                key = (hold.account, hold.asset)
                current_balances[key] = apply_place_hold(hold, current_balances.get(key, Balance()))
                status = current_holds[hold.hold_id] = HoldStatus(hold, consumed_units=0, released_units=0)
                placed.add(hold.hold_id)
            else:
                found = current_holds.get(command.hold_id)
                if found is None:
                    if command.hold_id not in current_released:
                        current_released.add(command.hold_id)
                        tombstones.append(command.hold_id)
                    raise NotFound(WalletReason.HOLD_NOT_FOUND, f"hold {command.hold_id} not found",
                                   metadata={"holdId": command.hold_id})
                key = (found.hold.account, found.hold.asset)
                units = None if command.amount is None else to_units(assets[found.hold.asset], command.amount)
                status, current_balances[key], _ = apply_release(found, units, current_balances.get(key, Balance()))
                current_holds[command.hold_id] = status
        except DomainError as error:
            outcomes.append(error)
            continue
        changed_balances.add(key)
        outcomes.append(status)
    return HoldGroupEffects(
        outcomes,
        placed=[current_holds[hold_id] for hold_id in sorted(placed)],
        changed=[status for hold_id, status in sorted(current_holds.items())
                 if hold_id not in placed and status != holds[hold_id]],
        balances={key: current_balances[key] for key in sorted(changed_balances)},
        tombstones=tombstones,
    )
