"""Standings: the standing an eligibility check needs, from the cache, else from the database,
where the misses of concurrent checks are read in one statement."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, cast

from services.kyc.cache import Cached, NoCache
from services.kyc.domain import ApplicantState, KycStanding, Tier
from services.kyc.standings import Standings

APPROVED = KycStanding(ApplicantState.APPROVED, Tier(2))
PENDING = KycStanding(ApplicantState.PENDING, Tier(0))


class Store:
    """The database's standings; records which accounts each read asked for."""

    def __init__(self, standings: dict[str, KycStanding]) -> None:
        self.standings_by_account = standings
        self.reads: list[list[str]] = []

    async def standings(self, session: Any, accounts: Iterable[str]) -> dict[str, KycStanding]:
        asked = sorted(set(accounts))
        self.reads.append(asked)
        return {account: self.standings_by_account[account] for account in asked if account in self.standings_by_account}


class Transactions:
    async def read_alone(self, work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await work(None)


class Cache(NoCache):
    def __init__(self, held: dict[str, KycStanding | None]) -> None:
        self.held = held

    async def get(self, account: str) -> Cached | None:
        return Cached(self.held[account]) if account in self.held else None

    async def put(self, account: str, standing: KycStanding | None) -> None:
        self.held[account] = standing


def standings(store: Store, cache: Cache | None = None) -> Standings:
    return Standings(cast(Any, store), cast(Any, Transactions()), cache or Cache({}))


async def test_concurrent_misses_are_read_in_one_statement_each_answered_its_own() -> None:
    store = Store({"accounts/alice": APPROVED, "accounts/bob": PENDING})
    reader = standings(store)

    answers = await asyncio.gather(*(reader.get(account) for account in (
        "accounts/alice", "accounts/bob", "accounts/nobody", "accounts/alice")))

    assert answers == [APPROVED, PENDING, None, APPROVED]
    assert store.reads == [["accounts/alice", "accounts/bob", "accounts/nobody"]]


async def test_a_cached_standing_is_not_read_and_a_read_one_is_cached() -> None:
    store = Store({"accounts/alice": APPROVED, "accounts/bob": PENDING})
    cache = Cache({"accounts/alice": APPROVED, "accounts/nobody": None})
    reader = standings(store, cache)

    answers = await asyncio.gather(*(reader.get(account) for account in (
        "accounts/alice", "accounts/nobody", "accounts/bob")))

    assert answers == [APPROVED, None, PENDING]
    assert store.reads == [["accounts/bob"]]
    assert cache.held["accounts/bob"] == PENDING


async def test_a_batch_of_accounts_is_read_once_for_its_misses_and_answered_by_account() -> None:
    store = Store({"accounts/alice": APPROVED, "accounts/bob": PENDING})
    cache = Cache({"accounts/alice": APPROVED})
    reader = standings(store, cache)

    answers = await reader.get_many(["accounts/bob", "accounts/alice", "accounts/nobody", "accounts/bob"])

    assert answers == {"accounts/alice": APPROVED, "accounts/bob": PENDING, "accounts/nobody": None}
    assert store.reads == [["accounts/bob", "accounts/nobody"]]
    assert cache.held == {"accounts/alice": APPROVED, "accounts/bob": PENDING, "accounts/nobody": None}


async def test_a_batch_all_in_the_cache_reads_nothing() -> None:
    store = Store({})
    reader = standings(store, Cache({"accounts/alice": APPROVED, "accounts/nobody": None}))

    assert await reader.get_many(["accounts/alice", "accounts/nobody"]) == {
        "accounts/alice": APPROVED, "accounts/nobody": None}
    assert store.reads == []
