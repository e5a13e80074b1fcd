"""Random sequences of ledger commands keep every ledger promise after every step.

Hypothesis drives deposits, holds, releases, trades, withdrawals and replays against the
in-memory Ledger. A command may fail only for the reason the test predicts from the state
it sees, and a failure or a replay leaves the state exactly as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import datetime, timedelta, UTC
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from services.runtime.errors import AlreadyExists, DomainError
from services.wallet.domain import (
    DEFAULT_ASSETS,
    SystemAccount,
    WalletReason,
    WithdrawalState,
    build_trade_legs,
    check_balanced,
    check_consistency,
    from_units,
    may_go_negative,
)
from tests.wallet.domain.ledger_model import Ledger

USERS = ["accounts/u0", "accounts/u1", "accounts/u2"]
BASE, QUOTE = DEFAULT_ASSETS["GRID"], DEFAULT_ASSETS["USDC"]
ASSETS = [BASE.code, QUOTE.code]
START = datetime(2026, 1, 1, tzinfo=UTC)

users = st.sampled_from(USERS)
assets = st.sampled_from(ASSETS)
# Small minor-unit amounts so holds, trades and shortfalls all happen often.
units = st.integers(min_value=1, max_value=5_000)


def amount(asset: str, minor_units: int) -> Decimal:
    return from_units(DEFAULT_ASSETS[asset], minor_units)


def snapshot(ledger: Ledger) -> tuple[Any, ...]:
    return (
        ledger.all_balances(), ledger.holds(), ledger.entries(), ledger.transfers(), ledger.withdrawals(),
    )


class LedgerMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.ledger = Ledger()
        self.clock = START
        self.ids = 0
        self.deposited: dict[str, int] = defaultdict(int)  # independent of the ledger
        # Successful id-keyed commands and their first result: a replay must repeat it.
        self.replayable: list[tuple[Callable[[], object], object]] = []
        # The same ids with a changed payload: each must be refused.
        self.conflicting: list[Callable[[], object]] = []

    # ----------------------------------------------------------------- helpers

    def next_id(self, prefix: str) -> str:
        self.ids += 1
        return f"{prefix}-{self.ids}"

    def tick(self) -> datetime:
        self.clock += timedelta(seconds=1)
        return self.clock

    def open_holds(self, asset: str) -> list[str]:
        return [
            status.hold.hold_id for status in self.ledger.holds()
            if status.is_open and status.hold.asset == asset and not status.hold.hold_id.startswith("withdrawals/")
        ]

    def expect(self, call: Callable[[], object], failure: WalletReason | None) -> object | None:
        """Run `call`; it must fail with `failure` (state untouched) or succeed if None."""
        before = snapshot(self.ledger)
        try:
            result = call()
        except DomainError as exc:
            assert exc.reason == failure, f"unexpected {exc.reason}: {exc.message}"
            assert snapshot(self.ledger) == before
            return None
        assert failure is None, f"expected {failure}"
        return result

    def expect_keyed(self, call: Callable[[], object], failure: WalletReason | None) -> object | None:
        """`expect` for a command carrying an idempotency key: remember it for replays."""
        result = self.expect(call, failure)
        if result is not None:
            self.replayable.append((call, result))
        return result

    # ------------------------------------------------------------------- rules

    @rule(user=users, asset=assets, minor=units)
    def deposit(self, user: str, asset: str, minor: int) -> None:
        request_id, at = self.next_id("dep"), self.tick()
        self.expect_keyed(lambda: self.ledger.deposit(request_id, user, asset, amount(asset, minor), at=at), None)
        self.deposited[asset] += minor
        self.conflicting.append(lambda: self.ledger.deposit(request_id, user, asset, amount(asset, minor + 1), at=at))

    @rule(user=users, asset=assets, minor=units)
    def place_hold(self, user: str, asset: str, minor: int) -> None:
        hold_id, at = self.next_id("order"), self.tick()
        enough = self.ledger.balance(user, asset).available >= minor
        placed = self.expect_keyed(
            lambda: self.ledger.place_hold(hold_id, user, asset, amount(asset, minor), at=at),
            None if enough else WalletReason.INSUFFICIENT_FUNDS,
        )
        if placed is not None:
            self.conflicting.append(
                lambda: self.ledger.place_hold(hold_id, user, asset, amount(asset, minor + 1), at=at)
            )

    @rule(data=st.data(), asset=assets, release_all=st.booleans(), minor=units)
    def release_hold(self, data: st.DataObject, asset: str, release_all: bool, minor: int) -> None:
        holds = self.open_holds(asset)
        if not holds:
            return
        hold_id = data.draw(st.sampled_from(holds))
        remaining = self.ledger.hold(hold_id).remaining_units
        if release_all:
            self.expect(lambda: self.ledger.release_hold(hold_id), None)
            return
        release_id = self.next_id("release")
        self.expect_keyed(
            lambda: self.ledger.release_hold(hold_id, amount(asset, minor), release_id=release_id),
            None if minor <= remaining else WalletReason.HOLD_EXCEEDED,
        )

    @rule(data=st.data(), quantity=units, price=st.integers(1, 3), fee=st.integers(0, 20))
    def trade(self, data: st.DataObject, quantity: int, price: int, fee: int) -> None:
        buy_holds, sell_holds = self.open_holds(QUOTE.code), self.open_holds(BASE.code)
        if not buy_holds or not sell_holds:
            return
        buy = self.ledger.hold(data.draw(st.sampled_from(buy_holds))).hold
        sell = self.ledger.hold(data.draw(st.sampled_from(sell_holds))).hold
        if buy.account == sell.account:
            return  # self-trades are prevented upstream
        # Price in USDC minor units per GRID minor unit keeps the quote amount exact.
        quote_units = quantity * price
        seller_fee = min(fee, quote_units)
        legs = build_trade_legs(
            buyer=buy.account, seller=sell.account, base=BASE, quote=QUOTE,
            quantity=amount(BASE.code, quantity), quote_amount=amount(QUOTE.code, quote_units),
            buyer_fee=amount(QUOTE.code, fee), seller_fee=amount(QUOTE.code, seller_fee),
            buyer_hold_id=buy.hold_id, seller_hold_id=sell.hold_id,
        )
        fits = (
            quote_units + fee <= self.ledger.hold(buy.hold_id).remaining_units
            and quantity <= self.ledger.hold(sell.hold_id).remaining_units
        )
        trade_id, at = self.next_id("markets/GRID-USDC/trades"), self.tick()
        posted = self.expect_keyed(
            lambda: self.ledger.post_transfer(trade_id, legs, at=at), None if fits else WalletReason.HOLD_EXCEEDED
        )
        if posted is not None:
            self.conflicting.append(lambda: self.ledger.post_transfer(trade_id, legs[:-1], at=at))

    @rule(user=users, asset=assets, minor=units)
    def request_withdrawal(self, user: str, asset: str, minor: int) -> None:
        request_id, at = self.next_id("wd"), self.tick()
        enough = self.ledger.balance(user, asset).available >= minor
        requested = self.expect_keyed(
            lambda: self.ledger.request_withdrawal(request_id, user, asset, amount(asset, minor), "dest", at=at),
            None if enough else WalletReason.INSUFFICIENT_FUNDS,
        )
        if requested is not None:
            self.conflicting.append(
                lambda: self.ledger.request_withdrawal(request_id, user, asset, amount(asset, minor), "other", at=at)
            )

    @precondition(lambda self: any(w.state is WithdrawalState.PENDING for w in self.ledger.withdrawals()))
    @rule(data=st.data(), complete=st.booleans())
    def resolve_withdrawal(self, data: st.DataObject, complete: bool) -> None:
        pending = [w.withdrawal_id for w in self.ledger.withdrawals() if w.state is WithdrawalState.PENDING]
        withdrawal_id, at = data.draw(st.sampled_from(pending)), self.tick()
        if complete:
            self.expect(lambda: self.ledger.complete_withdrawal(withdrawal_id, at=at), None)
        else:
            self.expect(lambda: self.ledger.fail_withdrawal(withdrawal_id, "rejected", at=at), None)
        # Resolving twice is refused whichever way it was resolved.
        self.expect(
            lambda: self.ledger.fail_withdrawal(withdrawal_id, "again", at=at), WalletReason.WITHDRAWAL_NOT_PENDING
        )

    @precondition(lambda self: bool(self.replayable))
    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        call, first_result = data.draw(st.sampled_from(self.replayable))
        before = snapshot(self.ledger)
        assert call() == first_result
        assert snapshot(self.ledger) == before

    @precondition(lambda self: bool(self.conflicting))
    @rule(data=st.data())
    def conflicting_replay(self, data: st.DataObject) -> None:
        call = data.draw(st.sampled_from(self.conflicting))
        before = snapshot(self.ledger)
        try:
            call()
        except AlreadyExists:
            assert snapshot(self.ledger) == before
        else:
            raise AssertionError("reusing an id with a different payload must be refused")

    # -------------------------------------------------------------- invariants

    @invariant()
    def every_transfer_balances(self) -> None:
        for transfer in self.ledger.transfers():
            check_balanced(transfer.postings)

    @invariant()
    def the_ledger_sums_to_zero_per_asset(self) -> None:
        sums: dict[str, int] = defaultdict(int)
        for (_, asset), balance in self.ledger.all_balances().items():
            sums[asset] += balance.total
        assert all(total == 0 for total in sums.values()), sums

    @invariant()
    def deposits_in_transit_mirror_what_was_deposited(self) -> None:
        for asset in ASSETS:
            assert -self.ledger.balance(SystemAccount.DEPOSITS_IN_TRANSIT, asset).total == self.deposited[asset]

    @invariant()
    def no_liability_account_has_negative_available(self) -> None:
        for (account, asset), balance in self.ledger.all_balances().items():
            if not may_go_negative(account):
                assert balance.available >= 0, (account, asset, balance)
                assert balance.held >= 0

    @invariant()
    def held_equals_the_open_holds(self) -> None:
        held: dict[tuple[str, str], int] = defaultdict(int)
        for status in self.ledger.holds():
            assert 0 <= status.remaining_units <= status.hold.units
            held[(status.hold.account, status.hold.asset)] += status.remaining_units
        for key, balance in self.ledger.all_balances().items():
            assert balance.held == held.get(key, 0), key

    @invariant()
    def balances_are_derived_from_the_entries(self) -> None:
        report = check_consistency(self.ledger.entries(), self.ledger.holds(), self.ledger.all_balances())
        assert report.ok, report


LedgerMachine.TestCase.settings = settings(
    max_examples=120, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
TestLedgerMachine = LedgerMachine.TestCase
