"""A run's samples and the figures made of them (pure: no I/O, no clock)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from services.load.pacing import kept_up


def percentile(values: list[float], share: float) -> float:
    """Nearest-rank percentile (the smallest value with at least `share` of them at or below
    it); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


@dataclass
class Samples:
    """What a run saw, call by call."""

    # every PlaceOrder, answered or not: from when it was due in a paced run, else from its
    # send; a paced run's actions due but never sent count with what they had waited at its end
    place_ms: list[float] = field(default_factory=list)
    place_codes: Counter[str] = field(default_factory=Counter)
    cancel_codes: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)  # of the orders placed, as answered
    crossing: int = 0  # orders placed that were meant to trade at once
    lag_ms: list[float] = field(default_factory=list)  # trade → its settlement posted, sampled
    lag_given_up: int = 0  # trades followed but not settled in time
    lag_errors: Counter[str] = field(default_factory=Counter)  # the lag probe's failed calls
    accepted: dict[str, str] = field(default_factory=dict)  # order name → state answered
    behind: int = 0  # paced: actions due before the run ended that no worker had sent

    @property
    def placed(self) -> int:
        return self.place_codes["OK"]


def figures(samples: Samples, elapsed_secs: float, transport: str, offered_per_sec: float = 0.0) -> dict[str, Any]:
    """The run's figures; `place_per_sec` counts PlaceOrder calls answered OK. With an offered
    rate (actions a second, paced) also the rate achieved (actions answered, whatever their
    code) and whether it kept up (services/load/pacing.py); latency is then from each call's
    due time."""
    calls = sum(samples.place_codes.values())
    actions = calls + sum(samples.cancel_codes.values())
    achieved = round(actions / elapsed_secs, 1) if elapsed_secs > 0 else 0.0
    return {
        "transport": transport,
        "seconds": round(elapsed_secs, 2),
        "offered_per_sec": offered_per_sec,
        "actions_per_sec": achieved,
        "behind": samples.behind,
        "kept_up": kept_up(offered_per_sec, achieved) if offered_per_sec > 0 else None,
        "latency_from": "due time" if offered_per_sec > 0 else "send",
        "place_calls": calls,
        "placed": samples.placed,
        "place_per_sec": round(samples.placed / elapsed_secs, 1) if elapsed_secs > 0 else 0.0,
        "place_p50_ms": round(percentile(samples.place_ms, 0.50), 2),
        "place_p95_ms": round(percentile(samples.place_ms, 0.95), 2),
        "place_p99_ms": round(percentile(samples.place_ms, 0.99), 2),
        "settlement_lag_p50_ms": round(percentile(samples.lag_ms, 0.50), 1),
        "settlement_lag_p99_ms": round(percentile(samples.lag_ms, 0.99), 1),
        "lag_samples": len(samples.lag_ms),
        "lag_given_up": samples.lag_given_up,
        "lag_errors": dict(sorted(samples.lag_errors.items())),
        "crossing_share": round(samples.crossing / calls, 3) if calls else 0.0,
        "cancels": sum(samples.cancel_codes.values()),
        "place_errors": {code: count for code, count in sorted(samples.place_codes.items()) if code != "OK"},
        "cancel_errors": {code: count for code, count in sorted(samples.cancel_codes.items()) if code != "OK"},
        "states": dict(sorted(samples.states.items())),
    }


def pace_line(result: dict[str, Any]) -> str:
    """How a paced run's offered rate was met; a closed loop's says it has none."""
    if not result["offered_per_sec"]:
        return "as fast as it answers (closed loop): latency from each send, queue included"
    verdict = "kept up" if result["kept_up"] else "DID NOT KEEP UP"
    return (f"offered {result['offered_per_sec']} actions/s, achieved {result['actions_per_sec']}/s: {verdict}; "
            f"latency from each call's due time ({result['behind']} due and never sent, counted with their wait)")


def summary_lines(result: dict[str, Any]) -> list[str]:
    """The human lines printed before the JSON one."""
    return [
        f"{result['transport']}: {result['placed']} orders placed in {result['seconds']} s = "
        f"{result['place_per_sec']} PlaceOrder/s ({result['place_calls']} calls, {result['cancels']} cancels, "
        f"{result['crossing_share']:.0%} crossing)",
        pace_line(result),
        f"PlaceOrder latency p50 {result['place_p50_ms']} ms, p95 {result['place_p95_ms']} ms, "
        f"p99 {result['place_p99_ms']} ms",
        f"settlement lag p50 {result['settlement_lag_p50_ms']} ms, p99 {result['settlement_lag_p99_ms']} ms "
        f"({result['lag_samples']} trades sampled, {result['lag_given_up']} not settled in time, "
        f"probe errors {result['lag_errors'] or 'none'})",
        f"errors: place {result['place_errors'] or 'none'}, cancel {result['cancel_errors'] or 'none'}; "
        f"states answered {result['states']}",
    ]
