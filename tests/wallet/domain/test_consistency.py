"""The consistency check recomputes balances from entries and holds and spots any drift."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

import pytest

from services.wallet.domain import Balance, check_consistency, derive_balances
from tests.wallet.domain.ledger_model import Ledger

ALICE = "accounts/alice"


@pytest.fixture
def busy(ledger: Ledger, fund: Callable[[str, str, str], None], at: datetime) -> Ledger:
    fund(ALICE, "USDC", "100")
    ledger.place_hold("order-1", ALICE, "USDC", Decimal("30"), at=at)
    ledger.request_withdrawal("w1", ALICE, "USDC", Decimal("20"), "dest", at=at)
    ledger.complete_withdrawal("w1", at=at)
    return ledger


def test_balances_kept_by_the_ledger_match_those_derived_from_entries(busy: Ledger) -> None:
    assert derive_balances(busy.entries(), busy.holds()) == busy.all_balances()
    assert check_consistency(busy.entries(), busy.holds(), busy.all_balances()).ok


def test_a_stored_total_that_drifted_from_the_entries_is_reported(busy: Ledger) -> None:
    stored = busy.all_balances()
    stored[(ALICE, "USDC")] = replace(stored[(ALICE, "USDC")], total=stored[(ALICE, "USDC")].total + 1)
    report = check_consistency(busy.entries(), busy.holds(), stored)
    assert [(m.account, m.asset) for m in report.mismatches] == [(ALICE, "USDC")]
    assert report.mismatches[0].derived == busy.balance(ALICE, "USDC")


def test_a_held_amount_not_backed_by_open_holds_is_reported(busy: Ledger) -> None:
    stored = busy.all_balances()
    stored[(ALICE, "USDC")] = Balance(total=stored[(ALICE, "USDC")].total, held=0)
    assert not check_consistency(busy.entries(), busy.holds(), stored).ok


def test_an_entry_that_unbalances_its_transfer_is_reported(busy: Ledger) -> None:
    entries = busy.entries()
    entries[0] = replace(entries[0], units=entries[0].units + 5)
    report = check_consistency(entries, busy.holds(), derive_balances(entries, busy.holds()))
    assert report.unbalanced_transfers == {entries[0].transfer_id: {"USDC": 5}}
    assert report.unbalanced_assets == {"USDC": 5}


def test_a_negative_user_balance_is_reported(ledger: Ledger) -> None:
    stored = {(ALICE, "USDC"): Balance(total=-1)}
    assert check_consistency([], [], stored).negative_balances == [(ALICE, "USDC")]
