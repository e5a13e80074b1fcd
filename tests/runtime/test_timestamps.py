"""Instants between the domains and google.protobuf.Timestamp, exact to the unit each holds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, strategies as st

from services.runtime.timestamps import nanos, nanos_of, timestamp, timestamp_of_nanos

MOMENTS = st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(2200, 1, 1),
                       timezones=st.just(UTC))


@given(MOMENTS)
def test_a_datetime_survives_the_round_trip_through_a_timestamp(moment: datetime) -> None:
    assert timestamp(moment).ToDatetime(tzinfo=UTC) == moment


@given(MOMENTS)
def test_a_datetime_and_its_nanoseconds_name_the_same_timestamp(moment: datetime) -> None:
    assert timestamp_of_nanos(nanos(moment)) == timestamp(moment)


@given(st.integers(min_value=0, max_value=2**62))
def test_nanoseconds_survive_the_round_trip_through_a_timestamp(ns: int) -> None:
    assert nanos_of(timestamp_of_nanos(ns)) == ns


def test_nanoseconds_count_from_the_epoch_without_rounding() -> None:
    moment = datetime(2026, 12, 6, tzinfo=UTC) + timedelta(microseconds=1)
    assert nanos(moment) == 1_796_515_200 * 1_000_000_000 + 1_000
