"""A group of hold commands: each gets what it would alone, after the ones before it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from services.runtime.errors import AlreadyExists, FailedPrecondition, NotFound
from services.wallet.domain import DEFAULT_ASSETS, Balance, BalanceKey, Hold, HoldStatus
from services.wallet.domain.hold_groups import (
    HoldCommand,
    HoldGroupEffects,
    PlaceHold,
    ReleaseHold,
    apply_hold_group,
)

AT = datetime(2026, 1, 1, tzinfo=UTC)
ALICE, BOB = "accounts/alice", "accounts/bob"


def hold(hold_id: str, units: int, account: str = ALICE) -> PlaceHold:
    return PlaceHold(Hold(hold_id, account, "USDC", units, AT))


def group(commands: Sequence[HoldCommand], balances: dict[BalanceKey, Balance] | None = None,
          holds: dict[str, HoldStatus] | None = None) -> HoldGroupEffects:
    return apply_hold_group(commands, holds or {}, balances or {(ALICE, "USDC"): Balance(10, 0)}, DEFAULT_ASSETS)


def test_a_refused_hold_leaves_its_funds_to_the_next() -> None:
    effects = group([hold("big", 11), hold("small", 10)])

    assert isinstance(effects.outcomes[0], FailedPrecondition)
    assert effects.outcomes[1] == HoldStatus(hold("small", 10).hold, 0, 0)
    assert effects.balances == {(ALICE, "USDC"): Balance(10, 10)}
    assert [status.hold.hold_id for status in effects.placed] == ["small"]


def test_a_hold_on_an_account_never_funded_is_insufficient_funds_and_writes_no_balance() -> None:
    effects = group([hold("o1", 1, account=BOB)])

    assert isinstance(effects.outcomes[0], FailedPrecondition)
    assert effects.balances == {}
    assert effects.placed == []


def test_a_hold_placed_again_in_the_group_is_answered_as_placed() -> None:
    effects = group([hold("o1", 4), hold("o1", 4)])

    assert effects.outcomes[0] == effects.outcomes[1]
    assert effects.balances == {(ALICE, "USDC"): Balance(10, 4)}


def test_a_hold_id_reused_with_another_amount_is_already_exists() -> None:
    effects = group([hold("o1", 4), hold("o1", 5)])

    assert isinstance(effects.outcomes[1], AlreadyExists)
    assert effects.balances == {(ALICE, "USDC"): Balance(10, 4)}


def test_a_hold_placed_and_released_in_one_group_is_stored_closed() -> None:
    effects = group([hold("o1", 4), ReleaseHold("o1", None)])

    assert effects.placed == [HoldStatus(hold("o1", 4).hold, 0, 4)]
    assert effects.balances == {(ALICE, "USDC"): Balance(10, 0)}


def test_a_partial_release_of_a_stored_hold_changes_it_at_its_asset_precision() -> None:
    stored = HoldStatus(hold("o1", 4_000_000).hold, 0, 0)
    effects = group([ReleaseHold("o1", Decimal("1.5"))], {(ALICE, "USDC"): Balance(10_000_000, 4_000_000)},
                    {"o1": stored})

    assert effects.changed == [HoldStatus(stored.hold, 0, 1_500_000)]
    assert effects.balances == {(ALICE, "USDC"): Balance(10_000_000, 2_500_000)}


def test_releasing_an_unknown_hold_is_not_found_and_the_others_apply() -> None:
    effects = group([ReleaseHold("nope", None), hold("o1", 1)])

    assert isinstance(effects.outcomes[0], NotFound)
    assert isinstance(effects.outcomes[1], HoldStatus)


def test_a_hold_placed_after_its_id_was_released_unplaced_is_refused_as_released() -> None:
    effects = group([ReleaseHold("o1", None), hold("o1", 1)])

    assert isinstance(effects.outcomes[0], NotFound)
    assert isinstance(effects.outcomes[1], FailedPrecondition)
    assert effects.outcomes[1].reason == "HOLD_RELEASED"
    assert effects.tombstones == ["o1"]
    assert effects.placed == [] and effects.balances == {}


def test_a_stored_tombstone_refuses_the_hold_and_is_not_written_again() -> None:
    effects = apply_hold_group([hold("o1", 1), ReleaseHold("o1", None)], {}, {(ALICE, "USDC"): Balance(12, 0)},
                               DEFAULT_ASSETS, {"o1"})

    assert isinstance(effects.outcomes[0], FailedPrecondition)
    assert isinstance(effects.outcomes[1], NotFound)
    assert effects.tombstones == []


commands = st.lists(st.one_of(
    st.builds(lambda i, units, account: hold(f"o{i}", units, account),
              st.integers(0, 5), st.integers(1, 6), st.sampled_from([ALICE, BOB])),
    st.builds(lambda i, amount: ReleaseHold(f"o{i}", amount),
              st.integers(0, 5), st.one_of(st.none(), st.integers(1, 3).map(lambda u: Decimal(u).scaleb(-6)))),
), max_size=15)


@settings(max_examples=300, deadline=None)
@given(commands)
def test_a_group_answers_and_ends_as_its_commands_would_one_by_one(group_commands: list[HoldCommand]) -> None:
    balances: dict[BalanceKey, Balance] = {(ALICE, "USDC"): Balance(12, 0), (BOB, "USDC"): Balance(5, 0)}
    effects = apply_hold_group(group_commands, {}, balances, DEFAULT_ASSETS)

    holds: dict[str, HoldStatus] = {}
    released: list[str] = []
    one_by_one = dict(balances)
    for command, outcome in zip(group_commands, effects.outcomes, strict=True):
        alone = apply_hold_group([command], holds, one_by_one, DEFAULT_ASSETS, set(released))
        assert type(alone.outcomes[0]) is type(outcome)
        if isinstance(outcome, HoldStatus):
            assert alone.outcomes[0] == outcome
        one_by_one.update(alone.balances)
        holds.update({status.hold.hold_id: status for status in alone.placed + alone.changed})
        released.extend(alone.tombstones)
    assert {**balances, **effects.balances} == one_by_one
    assert {status.hold.hold_id: status for status in effects.placed} == holds
    assert effects.tombstones == released
    assert not set(released) & set(holds)  # no money is ever held under a released id
    assert all(balance.available >= 0 and balance.held >= 0 for balance in one_by_one.values())
