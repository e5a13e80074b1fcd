"""Holds: funds set aside from available for an order or a withdrawal until resolved.

A hold is placed once (its id is the order id, or derived from the withdrawal), then
consumed by transfers and/or released, never beyond its amount in total (TigerBeetle's
"resolves at most once", generalised to partial fills).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Hold:
    hold_id: str
    account: str
    asset: str
    units: int
    create_time: datetime

    def replay_params(self) -> dict[str, object]:
        """What placing this hold's id again must repeat to be a replay."""
        return {"account": self.account, "asset": self.asset, "amount": self.units}


@dataclass(frozen=True, slots=True)
class HoldStatus:
    hold: Hold
    consumed_units: int
    released_units: int

    @property
    def remaining_units(self) -> int:
        return self.hold.units - self.consumed_units - self.released_units

    @property
    def is_open(self) -> bool:
        return self.remaining_units > 0

    def consume(self, units: int) -> HoldStatus:
        return HoldStatus(self.hold, self.consumed_units + units, self.released_units)

    def release(self, units: int) -> HoldStatus:
        return HoldStatus(self.hold, self.consumed_units, self.released_units + units)


@dataclass(frozen=True, slots=True)
class HoldRelease:
    """The result of one release: what to persist and what to answer."""

    hold_id: str
    account: str
    asset: str
    released_units: int
    remaining_units: int
