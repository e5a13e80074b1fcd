"""The market→shard map: every process computes the same owner for a market, from the shard
addresses alone; a Matching process knows its shard from a number or its StatefulSet pod name;
each shard keeps its own storage, and one shard is what a single Matching always was."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from services.runtime.settings import Settings
from services.runtime.shards import ShardMap, shard_of, shard_ordinal

market_ids = st.from_regex(r"[A-Z]{2,6}-[A-Z]{3,5}", fullmatch=True)


@given(market_ids, st.integers(min_value=1, max_value=64))
def test_a_market_has_one_owner_among_the_shards(market: str, count: int) -> None:
    assert 0 <= shard_of(market, count) < count


@given(market_ids, st.integers(min_value=1, max_value=64))
def test_the_owner_is_the_same_by_id_or_by_resource_name(market: str, count: int) -> None:
    assert shard_of(market, count) == shard_of(f"markets/{market}", count)


def test_the_rule_is_fixed_across_releases() -> None:
    # SHA-256 of the id, first 8 bytes big-endian, modulo the count: a change here moves
    # markets away from their journals, so these values are pinned.
    assert [shard_of(market, 5) for market in ("BTC-USDC", "GRID-USDC", "SOL-USDC")] == [1, 0, 2]


def test_markets_spread_over_the_shards() -> None:
    owners = {shard_of(f"M{index}-USDC", 5) for index in range(200)}

    assert owners == {0, 1, 2, 3, 4}


def test_one_shard_owns_every_market() -> None:
    assert ShardMap(("matching:50051",)).address_of("ANY-USDC") == "matching:50051"


@pytest.mark.parametrize(("value", "shard"), [("0", 0), ("3", 3), ("matching-2", 2), ("matching-12", 12)])
def test_a_shard_is_a_number_or_a_pod_name(value: str, shard: int) -> None:
    assert shard_ordinal(value) == shard
    assert Settings(CLEARMESH_MATCHING_SHARD=value).matching_shard == shard


def test_a_shard_name_without_an_ordinal_is_refused() -> None:
    with pytest.raises(ValidationError):
        Settings(CLEARMESH_MATCHING_SHARD="matching")


def test_without_shards_matching_is_one_shard_at_its_address() -> None:
    settings = Settings(CLEARMESH_MATCHING_ADDR="10.0.0.7:50052")

    assert settings.matching_shard_map() == ShardMap(("10.0.0.7:50052",))


def test_the_shards_are_listed_in_order() -> None:
    settings = Settings(CLEARMESH_MATCHING_SHARDS="matching-0.matching:50051, matching-1.matching:50051")

    assert settings.matching_shard_map().addresses == ("matching-0.matching:50051", "matching-1.matching:50051")


def test_each_shard_keeps_its_own_storage_and_shard_0_keeps_matchings(tmp_path: Path) -> None:
    sqlite = Settings(CLEARMESH_DATA_DIR=tmp_path, CLEARMESH_MATCHING_SHARD="1")
    postgres = Settings(DATABASE_URL="postgresql+asyncpg://u@h/db")

    assert sqlite.database_url_for("matching").endswith("/matching_shard_1.db")
    assert sqlite.database_url_for("matching", 0).endswith("/matching.db")
    assert sqlite.database_url_for("wallet").endswith("/wallet.db")
    assert postgres.database_url_for("matching", 2).endswith("schema=matching_shard_2")
    assert postgres.database_url_for("matching").endswith("schema=matching")
