"""The account's standing (state and tier) is cached in Redis when REDIS_URL is set; every
transition invalidates it. Without Redis, or with Redis down, answers come from the database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from redis.asyncio import Redis

from clearmesh.kyc.v1 import kyc_service_pb2 as pb
from services.kyc.cache import RedisStandingCache

Kyc = Any
ORDER = pb.ELIGIBILITY_ACTION_PLACE_ORDER


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest.fixture
async def cached_kyc(kyc_service: Any, settings: Any, redis_url: str) -> AsyncIterator[Kyc]:
    async with kyc_service(settings.model_copy(update={"redis_url": redis_url})) as kyc:
        yield kyc


@pytest.fixture
def account() -> str:
    """Unique per test: the Redis database outlives the test."""
    return f"acct-{uuid.uuid4().hex[:12]}"


def _key(account: str) -> str:
    return RedisStandingCache.KEY_PREFIX + f"accounts/{account}"


async def test_a_check_caches_the_standing_without_personal_data(cached_kyc: Kyc, redis: Redis, account: str) -> None:
    await cached_kyc.approved(account, tier=1)
    await cached_kyc.check(account, ORDER, "1")
    assert await redis.get(_key(account)) == "APPROVED:1"
    assert 0 < await redis.ttl(_key(account)) <= 60


async def test_checks_answer_from_the_cached_standing(cached_kyc: Kyc, redis: Redis, account: str) -> None:
    # No applicant exists; only the cache says tier 2, so an allowed answer proves it was read.
    await redis.set(_key(account), "APPROVED:2", ex=60)
    check = await cached_kyc.check(account, ORDER, "20000")
    assert (check.allowed, check.tier) == (True, 2)


async def test_a_review_invalidates_the_cache_so_the_next_check_sees_the_new_tier(cached_kyc: Kyc, redis: Redis,
                                                                                 account: str) -> None:
    approved = await cached_kyc.approved(account, tier=1)
    assert (await cached_kyc.check(account, ORDER, "20000")).reason == "KYC_LIMIT_EXCEEDED"

    await cached_kyc.review(approved.name, pb.REVIEW_DECISION_APPROVE, tier=2)

    assert await redis.get(_key(account)) is None
    check = await cached_kyc.check(account, ORDER, "20000")
    assert (check.allowed, check.tier) == (True, 2)


async def test_an_unverified_account_is_cached_and_creating_its_applicant_invalidates_it(
        cached_kyc: Kyc, redis: Redis, account: str) -> None:
    await cached_kyc.check(account, ORDER, "1")
    assert await redis.get(_key(account)) == "NONE"
    await cached_kyc.create(account)
    assert await redis.get(_key(account)) is None


async def test_without_redis_a_review_is_seen_by_the_next_check(kyc: Kyc) -> None:
    approved = await kyc.approved("alice", tier=1)
    assert (await kyc.check("alice", ORDER, "20000")).allowed is False
    await kyc.review(approved.name, pb.REVIEW_DECISION_APPROVE, tier=2)
    assert (await kyc.check("alice", ORDER, "20000")).allowed is True


async def test_with_redis_unreachable_checks_read_the_database(kyc_service: Any, settings: Any) -> None:
    unreachable = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with kyc_service(unreachable) as kyc:
        await kyc.approved("alice", tier=2)
        check = await kyc.check("alice", ORDER, "20000")
    assert (check.allowed, check.tier) == (True, 2)


async def _check_batch(kyc: Kyc, *accounts: str) -> list[pb.CheckEligibilityResponse]:
    answer = await kyc.stub.CheckEligibilities(pb.CheckEligibilitiesRequest(checks=[
        pb.CheckEligibilityRequest(account=f"accounts/{account}", action=ORDER, asset="USDC", amount="20000")
        for account in accounts]), metadata=kyc.bearer(service="order"))
    return [result.eligibility for result in answer.results]


async def test_a_batch_caches_every_standing_it_read(cached_kyc: Kyc, redis: Redis, account: str) -> None:
    await cached_kyc.approved(account, tier=1)
    stranger = f"{account}-stranger"
    await _check_batch(cached_kyc, account, stranger)
    assert await redis.get(_key(account)) == "APPROVED:1"
    assert await redis.get(_key(stranger)) == "NONE"


async def test_a_batch_answers_from_the_cached_standings(cached_kyc: Kyc, redis: Redis, account: str) -> None:
    # No applicants exist; only the cache says tier 2, so allowed answers prove it was read.
    await redis.set(_key(account), "APPROVED:2", ex=60)
    await redis.set(_key(f"{account}-b"), "APPROVED:2", ex=60)
    answers = await _check_batch(cached_kyc, account, f"{account}-b", f"{account}-none")
    assert [(answer.allowed, answer.tier) for answer in answers] == [(True, 2), (True, 2), (False, 0)]


async def test_with_redis_unreachable_a_batch_reads_the_database(kyc_service: Any, settings: Any) -> None:
    unreachable = settings.model_copy(update={"redis_url": "redis://127.0.0.1:1/0"})
    async with kyc_service(unreachable) as kyc:
        await kyc.approved("alice", tier=2)
        answers = await _check_batch(kyc, "alice")
    assert [(answer.allowed, answer.tier) for answer in answers] == [(True, 2)]
