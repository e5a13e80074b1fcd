"""A batch of transfers posts as if each were posted in turn, all or nothing, naming the one that fails."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.runtime.errors import DomainError, FailedPrecondition
from services.wallet.domain import (
    Balance,
    BalanceKey,
    Hold,
    HoldStatus,
    Posting,
    SystemAccount,
    WalletReason,
    apply_postings,
    may_go_negative,
)
from services.wallet.domain.batches import apply_transfers, consumed_holds

AT = datetime(2026, 1, 1, tzinfo=UTC)
USERS = ["accounts/u0", "accounts/u1", "accounts/u2"]
FEES = SystemAccount.FEES


def trade(buyer: str, seller: str, quote: int, base: int, fee: int) -> tuple[Posting, ...]:
    """The buyer pays quote and fee out of its USDC hold; the seller gives base out of its GRID hold."""
    postings = [Posting(buyer, "USDC", -quote, f"buy-{buyer}"), Posting(seller, "USDC", quote)]
    if fee:
        postings += [Posting(buyer, "USDC", -fee, f"buy-{buyer}"), Posting(FEES, "USDC", fee)]
    return (*postings, Posting(seller, "GRID", -base, f"sell-{seller}"), Posting(buyer, "GRID", base))


def funded(units: int = 100) -> tuple[dict[BalanceKey, Balance], dict[str, HoldStatus]]:
    """Each user holds `units` of USDC and of GRID for its orders, all of it held."""
    balances = {(user, asset): Balance(units, units) for user in USERS for asset in ("USDC", "GRID")}
    holds = {f"{side}-{user}": HoldStatus(Hold(f"{side}-{user}", user, asset, units, AT), 0, 0)
             for user in USERS for side, asset in (("buy", "USDC"), ("sell", "GRID"))}
    return balances, holds


def test_the_fee_account_is_credited_the_sum_of_the_fee_legs() -> None:
    balances, holds = funded()
    effects = apply_transfers({0: trade(USERS[0], USERS[1], 10, 1, 2), 1: trade(USERS[2], USERS[1], 10, 1, 3)},
                              balances, holds)
    assert effects.balances[(FEES, "USDC")] == Balance(5, 0)


def test_a_later_transfer_sees_the_hold_an_earlier_one_consumed() -> None:
    balances, holds = funded(10)
    with pytest.raises(FailedPrecondition) as caught:
        apply_transfers({0: trade(USERS[0], USERS[1], 6, 1, 0), 1: trade(USERS[0], USERS[2], 6, 1, 0)},
                        balances, holds)
    assert caught.value.reason == WalletReason.HOLD_EXCEEDED
    assert caught.value.metadata["transferIndex"] == "1"


def test_an_error_is_named_by_the_index_the_caller_gave() -> None:
    balances, holds = funded()
    bad = (Posting(USERS[0], "USDC", -5), Posting(USERS[1], "USDC", 5))  # USERS[0] has nothing available
    with pytest.raises(DomainError) as caught:
        apply_transfers({7: trade(USERS[0], USERS[1], 1, 1, 0), 9: bad}, balances, holds)
    assert caught.value.reason == WalletReason.INSUFFICIENT_FUNDS
    assert caught.value.metadata["transferIndex"] == "9"
    assert str(caught.value).startswith("transfers[9]: ")


def sequential(transfers: Sequence[Sequence[Posting]], balances: Mapping[BalanceKey, Balance],
               holds: Mapping[str, HoldStatus]) -> tuple[dict[BalanceKey, Balance], dict[str, HoldStatus]] | str:
    """Each transfer posted alone, in turn: the state after all, or the first error's reason."""
    current_balances, current_holds = dict(balances), dict(holds)
    for postings in transfers:
        try:
            effects = apply_postings(postings, current_balances, current_holds)
        except DomainError as error:
            return error.reason
        current_balances.update(effects.balances)
        current_holds.update(effects.holds)
    return current_balances, current_holds


users = st.sampled_from(USERS)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(users, users, st.integers(1, 40), st.integers(1, 40), st.integers(0, 5)),
                min_size=1, max_size=12))
def test_any_batch_posts_as_its_transfers_would_in_turn_or_not_at_all(
    specs: list[tuple[str, str, int, int, int]],
) -> None:
    balances, holds = funded()
    transfers = [trade(*spec) for spec in specs]
    expected = sequential(transfers, balances, holds)
    try:
        effects = apply_transfers(dict(enumerate(transfers)), balances, holds)
    except DomainError as error:
        assert error.reason == expected
        return
    assert not isinstance(expected, str)
    after = {**balances, **effects.balances}
    assert after == expected[0]
    assert {**holds, **effects.holds} == expected[1]
    # The ledger stays balanced per asset and no one who may not go negative is below zero.
    sums: dict[str, int] = defaultdict(int)
    for (account, asset), balance in after.items():
        sums[asset] += balance.total - balances.get((account, asset), Balance()).total
        assert balance.available >= 0 or may_go_negative(account)
    assert set(sums.values()) == {0}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(users, users, st.integers(1, 40), st.integers(1, 40), st.integers(0, 5)),
                min_size=1, max_size=12))
def test_the_holds_written_before_the_balances_are_the_ones_the_batch_leaves(
    specs: list[tuple[str, str, int, int, int]],
) -> None:
    balances, holds = funded()
    transfers = dict(enumerate(trade(*spec) for spec in specs))
    early = consumed_holds(transfers, holds)
    try:
        effects = apply_transfers(transfers, balances, holds)
    except DomainError:
        return  # the transaction rolls back whatever was written early
    assert early == effects.holds


def test_no_holds_are_computed_early_for_a_batch_that_overdraws_one() -> None:
    _, holds = funded(units=15)

    assert consumed_holds({0: trade(USERS[0], USERS[1], 10, 1, 0), 1: trade(USERS[0], USERS[2], 10, 1, 0)},
                          holds) is None
