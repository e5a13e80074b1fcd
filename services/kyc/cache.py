"""An optional Redis cache of each account's KYC standing (state and tier, never PII).

Eligibility is asked before every order and withdrawal, so the standing is cached per account
with a TTL; the decision itself is not, since amounts vary. Every transition invalidates the
account's entry after it commits. Redis is an accelerator only: when it fails, the answer
comes from the database.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from collections.abc import Mapping, Sequence
from typing import Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError

from services.kyc.domain import ApplicantState, KycStanding, Tier

log = logging.getLogger("clearmesh.kyc.cache")

# What the cache holds for an account with no applicant (so repeated checks of unverified
# accounts, the common case for KYC_REQUIRED, stay off the database too).
_NO_APPLICANT = "NONE"


@dataclass(frozen=True, slots=True)
class Cached:
    """A cache hit; `standing` None means the account is known to have no applicant."""

    standing: KycStanding | None


class StandingCache(Protocol):
    async def get(self, account: str) -> Cached | None: ...
    async def get_many(self, accounts: Sequence[str]) -> dict[str, Cached]: ...
    async def put(self, account: str, standing: KycStanding | None) -> None: ...
    async def put_many(self, standings: Mapping[str, KycStanding | None]) -> None: ...
    async def invalidate(self, account: str) -> None: ...
    async def close(self) -> None: ...


class NoCache:
    """Without REDIS_URL: every check reads the database."""

    async def get(self, account: str) -> Cached | None:
        return None

    async def get_many(self, accounts: Sequence[str]) -> dict[str, Cached]:
        """The hits among `accounts` (each asked with `get`: a subclass's answers count)."""
        found = {}
        for account in accounts:
            cached = await self.get(account)
            if cached is not None:
                found[account] = cached
        return found

    async def put(self, account: str, standing: KycStanding | None) -> None:
        return None

    async def put_many(self, standings: Mapping[str, KycStanding | None]) -> None:
        for account, standing in standings.items():
            await self.put(account, standing)

    async def invalidate(self, account: str) -> None:
        return None

    async def close(self) -> None:
        return None


def _encode(standing: KycStanding | None) -> str:
    return _NO_APPLICANT if standing is None else f"{standing.state.value}:{int(standing.tier)}"


def _decode(value: str) -> KycStanding | None:
    if value == _NO_APPLICANT:
        return None
    state, tier = value.split(":")
    return KycStanding(ApplicantState(state), Tier(int(tier)))


class RedisStandingCache:
    KEY_PREFIX = "clearmesh:kyc:standing:"

    def __init__(self, redis: Redis, ttl_seconds: int) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    @classmethod
    def from_url(cls, url: str, ttl_seconds: int) -> RedisStandingCache:
        return cls(Redis.from_url(url, decode_responses=True, socket_timeout=1.0), ttl_seconds)

    def key(self, account: str) -> str:
        return self.KEY_PREFIX + account

    async def get(self, account: str) -> Cached | None:
        try:
            value = await self._redis.get(self.key(account))
        except RedisError as error:
            log.warning("kyc cache unavailable; reading the database", extra={"fields": {"error": type(error).__name__}})
            return None
        if value is None:
            return None
        return Cached(_decode(value.decode() if isinstance(value, bytes) else value))

    async def get_many(self, accounts: Sequence[str]) -> dict[str, Cached]:
        """The hits among `accounts`, in one round trip (MGET)."""
        unique = sorted(set(accounts))
        try:
            values = await self._redis.mget([self.key(account) for account in unique])
        except RedisError as error:
            log.warning("kyc cache unavailable; reading the database", extra={"fields": {"error": type(error).__name__}})
            return {}
        return {account: Cached(_decode(value.decode() if isinstance(value, bytes) else value))
                for account, value in zip(unique, values, strict=True) if value is not None}

    async def put(self, account: str, standing: KycStanding | None) -> None:
        try:
            await self._redis.set(self.key(account), _encode(standing), ex=self._ttl)
        except RedisError as error:
            log.warning("kyc cache unavailable; not cached", extra={"fields": {"error": type(error).__name__}})

    async def put_many(self, standings: Mapping[str, KycStanding | None]) -> None:
        """Every standing cached, in one round trip (a pipeline, not a transaction)."""
        try:
            async with self._redis.pipeline(transaction=False) as pipe:
                for account, standing in standings.items():
                    pipe.set(self.key(account), _encode(standing), ex=self._ttl)
                await pipe.execute()
        except RedisError as error:
            log.warning("kyc cache unavailable; not cached", extra={"fields": {"error": type(error).__name__}})

    async def invalidate(self, account: str) -> None:
        # A failure here leaves a stale entry for at most the TTL; the write itself has committed.
        try:
            await self._redis.delete(self.key(account))
        except RedisError as error:
            log.warning("kyc cache invalidation failed", extra={"fields": {"error": type(error).__name__}})

    async def close(self) -> None:
        await self._redis.aclose()
