"""The open-loop schedule: call k is due at start + k / rate, each call is handed out once and
in order whichever client asks, nothing is due at or after the end, and what was due but not
taken counts as behind, with what it had waited. A paced run kept up only when it answered
(nearly) the rate offered."""

from __future__ import annotations

import math

import pytest

from services.load.pacing import KEPT_UP_SHARE, Schedule, kept_up


def test_call_k_is_due_k_intervals_after_the_start() -> None:
    schedule = Schedule(rate=500.0, start=10.0)
    assert [schedule.due(k) for k in range(3)] == [10.0, 10.002, 10.004]


def test_each_call_is_handed_out_once_in_order() -> None:
    schedule = Schedule(rate=4.0, start=0.0)
    assert [schedule.take() for _ in range(4)] == [0.0, 0.25, 0.5, 0.75]
    assert schedule.taken == 4


def test_no_call_is_due_at_or_after_the_end() -> None:
    schedule = Schedule(rate=4.0, start=0.0, end=1.0)
    taken = [schedule.take() for _ in range(6)]
    assert taken == [0.0, 0.25, 0.5, 0.75, None, None]
    assert schedule.taken == 4


@pytest.mark.parametrize(("moment", "due"), [(-0.1, 0), (0.0, 1), (0.24, 1), (0.25, 2), (0.9, 4), (5.0, 4)])
def test_the_calls_due_by_a_moment_stop_at_the_end(moment: float, due: int) -> None:
    assert Schedule(rate=4.0, start=0.0, end=1.0).due_by(moment) == due


def test_an_endless_schedule_keeps_counting() -> None:
    assert Schedule(rate=4.0, start=0.0).due_by(100.0) == 401
    assert Schedule(rate=4.0, start=0.0).end == math.inf


def test_calls_due_and_not_taken_are_behind() -> None:
    schedule = Schedule(rate=10.0, start=0.0)
    schedule.take()
    schedule.take()
    assert schedule.behind(0.55) == 4  # calls 0..5 were due; 2 taken
    assert schedule.behind(0.05) == 0  # taken ahead of time is not behind


def test_a_schedule_needs_a_rate() -> None:
    with pytest.raises(ValueError, match="rate"):
        Schedule(rate=0.0, start=0.0)


def test_the_calls_left_untaken_count_with_what_they_had_waited() -> None:
    schedule = Schedule(rate=10.0, start=0.0, end=1.0)
    for _ in range(7):
        schedule.take()
    assert schedule.waits_ms(1.5) == pytest.approx([800.0, 700.0, 600.0])  # calls 7, 8, 9: due 0.7..0.9 s
    assert schedule.waits_ms(0.5) == []  # taken ahead of time: nothing waits


def test_a_run_kept_up_when_it_delivered_the_rate_offered() -> None:
    assert kept_up(500.0, 500.0)
    assert kept_up(500.0, KEPT_UP_SHARE * 500.0)


def test_a_run_that_answered_less_than_it_was_offered_did_not_keep_up() -> None:
    assert not kept_up(500.0, 400.0)
