"""Rate limits per subject: 429 + Retry-After over budget, anonymous callers by address,
and one shared budget across edge replicas through Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import httpx
import pytest

from gateway.edge.errors import RateLimited
from gateway.edge.ratelimit import LocalWindow, RateLimiter


def _limited_edge(stack, **overrides) -> str:
    return stack.start_edge(stack.upstream_settings(rate_limit_per_minute=3, rate_limit_burst=3, **overrides))[0]


def test_over_budget_answers_429_with_retry_after_and_a_status_body(stack, auth: Callable[..., dict[str, str]]) -> None:
    url = _limited_edge(stack)
    headers = auth("carol")
    answers = [httpx.get(f"{url}/v1/settlements/s-1", headers=headers) for _ in range(4)]
    assert [a.status_code for a in answers] == [403, 403, 403, 429]
    refused = answers[-1]
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.json()["code"] == 8
    assert refused.json()["details"][0]["reason"] == "RATE_LIMITED"


def test_each_subject_has_its_own_budget(stack, auth: Callable[..., dict[str, str]]) -> None:
    url = _limited_edge(stack)
    for _ in range(3):
        httpx.get(f"{url}/v1/settlements/s-1", headers=auth("dave"))
    assert httpx.get(f"{url}/v1/settlements/s-1", headers=auth("erin")).status_code == 403


def test_anonymous_callers_are_limited_by_address_even_when_refused(stack) -> None:
    url = _limited_edge(stack)
    statuses = [httpx.get(f"{url}/v1/markets").status_code for _ in range(4)]
    assert statuses == [401, 401, 401, 429]


def test_health_and_metrics_are_not_limited(stack) -> None:
    url = _limited_edge(stack)
    statuses = {httpx.get(f"{url}/healthz").status_code for _ in range(5)}
    assert statuses == {200}


def _away_from_a_minute_boundary() -> None:
    """limits' sliding-window counter rounds the weighted count down, which lets one extra hit
    through right after a window turns over; start where no window turns during the test."""
    while time.time() % 60 > 55:
        time.sleep(0.5)


@pytest.mark.redis
def test_replicas_share_one_budget_through_redis(stack, auth: Callable[..., dict[str, str]], redis_url: str) -> None:
    _away_from_a_minute_boundary()
    first = _limited_edge(stack, redis_url=redis_url)
    second = _limited_edge(stack, redis_url=redis_url)
    headers = auth(f"frank-{uuid.uuid4().hex[:8]}")  # a fresh subject: Redis outlives test runs
    statuses = [httpx.get(f"{url}/v1/settlements/s-1", headers=headers).status_code
                for url in (first, second, first, second)]
    assert statuses == [403, 403, 403, 429]


async def test_an_unreachable_redis_degrades_to_the_local_budget() -> None:
    limiter = RateLimiter(per_minute=2, burst=2, redis_url="redis://127.0.0.1:1/0")
    await limiter.admit("gina")
    await limiter.admit("gina")
    with pytest.raises(RateLimited):
        await limiter.admit("gina")


def test_a_window_admits_its_amount_then_says_how_long_to_wait() -> None:
    window = LocalWindow(amount=3, seconds=60)
    assert [window.hit("h", 600.0 + i) for i in range(3)] == [None, None, None]
    assert window.hit("h", 610.0) == pytest.approx(50.0)  # the next fixed window starts at 660


def test_the_previous_window_counts_by_how_much_it_still_overlaps() -> None:
    window = LocalWindow(amount=4, seconds=60)
    for _ in range(4):
        window.hit("h", 659.0)
    # At 675 a quarter of the next window has passed: 4 × 0.75 = 3 still count, so one fits.
    assert window.hit("h", 675.0) is None
    assert window.hit("h", 675.0) is not None


def test_a_window_two_periods_idle_starts_empty() -> None:
    window = LocalWindow(amount=1, seconds=60)
    assert window.hit("h", 600.0) is None
    assert window.hit("h", 601.0) is not None
    assert window.hit("h", 721.0) is None


def test_subjects_are_counted_apart() -> None:
    window = LocalWindow(amount=1, seconds=1)
    assert window.hit("a", 5.0) is None
    assert window.hit("b", 5.0) is None


def test_a_budget_holds_across_a_window_boundary() -> None:
    window = LocalWindow(amount=3, seconds=60)
    for _ in range(3):
        window.hit("h", 659.9)
    assert window.hit("h", 660.1) is not None
