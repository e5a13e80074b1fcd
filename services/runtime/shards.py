"""Which Matching shard owns a market, and the channels to reach it.

Each market has exactly one writer: the shard that owns it. The map is a setting every process
reads alike — CLEARMESH_MATCHING_SHARDS, the shards' addresses in shard order (empty: one shard
at CLEARMESH_MATCHING_ADDR) — and the rule is a stable hash of the market's id, the same in
every process and every release:

    shard = first 8 bytes of SHA-256(market id), big-endian, modulo the number of shards

So every caller computes the owner itself, with nothing to look up. Changing the number of
shards moves markets to other shards; their journals do not move by themselves, which is why
a Matching process refuses to start on a journal holding a market it does not own
(services/matching/exchange.py) rather than serve an empty book for it.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass

import grpc

MARKET_PREFIX = "markets/"
_ORDINAL = re.compile(r"^(?:.*-)?(\d+)$")


def market_id(market: str) -> str:
    """`markets/BTC-USDC` or `BTC-USDC` → `BTC-USDC`."""
    return market.removeprefix(MARKET_PREFIX)


def shard_of(market: str, count: int) -> int:
    """The shard (0 … count-1) that owns `market`."""
    if count < 1:
        raise ValueError("there is at least one shard")
    digest = hashlib.sha256(market_id(market).encode()).digest()
    return int.from_bytes(digest[:8], "big") % count


def shard_ordinal(value: str | int) -> int:
    """A shard number from `2` or a StatefulSet pod's name `matching-2` (its ordinal)."""
    if isinstance(value, int):
        return value
    found = _ORDINAL.match(value.strip())
    if found is None:
        raise ValueError(f"a shard is a number or a name ending in -NUMBER, not {value!r}")
    return int(found.group(1))


@dataclass(frozen=True)
class ShardMap:
    """The shards' addresses, in shard order."""

    addresses: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.addresses:
            raise ValueError("there is at least one shard")

    @property
    def count(self) -> int:
        return len(self.addresses)

    def shard_of(self, market: str) -> int:
        return shard_of(market, self.count)

    def address_of(self, market: str) -> str:
        return self.addresses[self.shard_of(market)]


class MatchingShards:
    """Channels to the Matching shards: the owner of a market, one shard by number, or every
    shard (to list the markets, or follow every market's stream)."""

    def __init__(self, shards: ShardMap, dial: Callable[[str], grpc.aio.Channel]) -> None:
        self.map = shards
        self._dial = dial

    def of(self, market: str) -> grpc.aio.Channel:
        """The channel to the shard that owns `market`."""
        return self._dial(self.map.address_of(market))

    def at(self, shard: int) -> grpc.aio.Channel:
        """The channel to shard number `shard`."""
        return self._dial(self.map.addresses[shard])

    def every(self) -> list[grpc.aio.Channel]:
        """One channel per shard, in shard order."""
        return [self._dial(address) for address in self.map.addresses]
