"""Between the domain's instants and `google.protobuf.Timestamp`, exactly.

Domains keep time either as aware datetimes (KYC, Wallet) or as integer nanoseconds since the
epoch (Matching's journal); both convert here with integer arithmetic only, so no float ever
rounds an instant.
"""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

NS_PER_SECOND = 1_000_000_000
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def timestamp(moment: datetime) -> Timestamp:
    """An aware datetime as a Timestamp (to the microsecond a datetime holds)."""
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def nanos(moment: datetime) -> int:
    """An aware datetime as integer nanoseconds since the epoch."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_SECOND + delta.microseconds * 1000


def timestamp_of_nanos(ns: int) -> Timestamp:
    """Nanoseconds since the epoch as a Timestamp."""
    seconds, rest = divmod(ns, NS_PER_SECOND)
    return Timestamp(seconds=seconds, nanos=rest)


def nanos_of(stamp: Timestamp) -> int:
    """A Timestamp as nanoseconds since the epoch."""
    return stamp.seconds * NS_PER_SECOND + stamp.nanos
