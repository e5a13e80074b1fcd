"""The load's figures: nearest-rank percentiles, throughput from the calls answered OK, and
errors counted by their code."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.load.report import Samples, figures, percentile, summary_lines


def test_percentile_is_the_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert percentile(values, 0.50) == 50.0
    assert percentile(values, 0.99) == 99.0
    assert percentile(values, 1.0) == 100.0
    assert percentile([3.0, 1.0, 2.0], 0.5) == 2.0


def test_percentile_of_nothing_is_zero() -> None:
    assert percentile([], 0.99) == 0.0


@given(st.lists(st.floats(0, 1e6, allow_nan=False), min_size=1), st.floats(0.01, 1.0))
def test_a_percentile_is_one_of_the_values_with_at_least_that_share_at_or_below_it(values: list[float], share: float) -> None:
    found = percentile(values, share)
    assert found in values
    assert sum(v <= found for v in values) >= share * len(values)


def test_throughput_counts_only_the_calls_answered_ok() -> None:
    samples = Samples(place_ms=[5.0] * 10, place_codes=Counter({"OK": 8, "UNAVAILABLE": 2}),
                      states=Counter({"ORDER_STATE_OPEN": 8}), crossing=3)
    result = figures(samples, 2.0, "grpc")
    assert result["place_per_sec"] == 4.0
    assert result["place_calls"] == 10
    assert result["place_errors"] == {"UNAVAILABLE": 2}
    assert result["crossing_share"] == pytest.approx(0.3)


def test_the_summary_names_throughput_latency_and_lag() -> None:
    samples = Samples(place_ms=[1.0, 2.0], place_codes=Counter({"OK": 2}), lag_ms=[100.0, 300.0])
    text = "\n".join(summary_lines(figures(samples, 1.0, "rest")))
    assert "2.0 PlaceOrder/s" in text and "p99 2.0 ms" in text and "lag p50 100.0 ms, p99 300.0 ms" in text


def test_the_lag_figures_say_why_trades_went_unsampled() -> None:
    samples = Samples(lag_given_up=2, lag_errors=Counter({"GetSettlement UNAVAILABLE": 3}))
    result = figures(samples, 1.0, "grpc")
    assert result["lag_samples"] == 0
    assert result["lag_given_up"] == 2
    assert result["lag_errors"] == {"GetSettlement UNAVAILABLE": 3}
    assert "2 not settled in time, probe errors {'GetSettlement UNAVAILABLE': 3}" in "\n".join(summary_lines(result))


def test_a_closed_loop_run_has_no_verdict_on_a_rate_and_times_from_the_send() -> None:
    result = figures(Samples(place_ms=[5.0], place_codes=Counter({"OK": 1})), 1.0, "grpc")
    assert result["kept_up"] is None and result["latency_from"] == "send"
    assert "closed loop" in summary_lines(result)[1]


def test_a_paced_run_that_fell_short_of_its_rate_says_so_in_its_lines() -> None:
    samples = Samples(place_ms=[5.0] * 40, place_codes=Counter({"OK": 40}), behind=0)
    result = figures(samples, 1.0, "grpc", offered_per_sec=100.0)
    assert result["kept_up"] is False and result["latency_from"] == "due time"
    assert "offered 100.0 actions/s, achieved 40.0/s" in summary_lines(result)[1]
    assert "DID NOT KEEP UP" in summary_lines(result)[1]
