"""Batching decisions: when a batch goes, and how a refused batch is narrowed down."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from services.settlement.domain.batching import BatchLimits, halves, is_transient

LIMITS = BatchLimits(max_count=500, max_wait_secs=0.005)


def test_a_full_batch_goes_at_once() -> None:
    assert LIMITS.ready(500, 0.0)


def test_a_partial_batch_waits_for_the_linger() -> None:
    assert not LIMITS.ready(3, 0.001)
    assert LIMITS.wait_left(0.001) == pytest.approx(0.004)


def test_a_partial_batch_goes_once_its_oldest_has_waited() -> None:
    assert LIMITS.ready(3, 0.005)


def test_an_empty_batch_never_goes() -> None:
    assert not LIMITS.ready(0, 10.0)


@pytest.mark.parametrize("code", ["UNAVAILABLE", "DEADLINE_EXCEEDED", "ABORTED", "RESOURCE_EXHAUSTED"])
def test_a_down_or_busy_wallet_is_transient(code: str) -> None:
    assert is_transient(code)


@pytest.mark.parametrize("code", ["FAILED_PRECONDITION", "INVALID_ARGUMENT", "NOT_FOUND", "ALREADY_EXISTS"])
def test_a_refused_trade_is_not_transient(code: str) -> None:
    assert not is_transient(code)


@given(st.lists(st.integers(), min_size=2, max_size=1000))
def test_halves_split_a_batch_into_two_non_empty_parts_in_order(batch: list[int]) -> None:
    first, second = halves(batch)

    assert first and second and [*first, *second] == batch


@given(st.lists(st.booleans(), min_size=1, max_size=64))
def test_bisecting_isolates_exactly_the_bad_items(bad: list[bool]) -> None:
    """What the poster does with a batch the Wallet refuses whole when any item is bad."""
    posted: list[int] = []
    failed: list[int] = []

    def post(batch: list[int]) -> None:
        if not any(bad[i] for i in batch):
            posted.extend(batch)
        elif len(batch) == 1:
            failed.extend(batch)
        else:
            for part in halves(batch):
                post(list(part))

    post(list(range(len(bad))))

    assert sorted(failed) == [i for i, is_bad in enumerate(bad) if is_bad]
    assert sorted(posted) == [i for i, is_bad in enumerate(bad) if not is_bad]


def test_limits_refuse_an_empty_batch_size() -> None:
    with pytest.raises(ValueError):
        BatchLimits(max_count=0, max_wait_secs=1.0)
