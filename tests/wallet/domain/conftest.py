"""Shared fixtures for the Wallet domain tests: a fresh ledger and a fixed clock reading."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, UTC
from decimal import Decimal

import pytest

from tests.wallet.domain.ledger_model import Ledger

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


@pytest.fixture
def at() -> datetime:
    return T0


Fund = Callable[[str, str, str], None]


@pytest.fixture
def fund(ledger: Ledger, at: datetime) -> Fund:
    """Deposit `amount` of `asset` to `account`, each call under a fresh request id."""
    count = iter(range(1, 1_000_000))

    def deposit(account: str, asset: str, amount: str) -> None:
        ledger.deposit(f"fund-{next(count)}", account, asset, Decimal(amount), at=at)

    return deposit
