"""The doubling wait between attempts (services/runtime/backoff.py)."""

from __future__ import annotations

from services.runtime.backoff import Backoff


def test_each_wait_doubles_the_one_before_up_to_the_most() -> None:
    backoff = Backoff(0.1, 0.5)

    assert [backoff.next_delay() for _ in range(5)] == [0.1, 0.2, 0.4, 0.5, 0.5]


def test_a_reset_starts_again_from_the_first_wait() -> None:
    backoff = Backoff(0.1, 5.0)
    backoff.next_delay()
    backoff.next_delay()

    backoff.reset()

    assert backoff.next_delay() == 0.1
