"""AIP-158 page sizes and tokens, and reading every page of a List call."""

from __future__ import annotations

import pytest
from clearmesh.matching.v1 import matching_service_pb2 as matching_pb

from services.runtime.errors import InvalidArgument
from services.runtime.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, encode_token, every_page, read_page


def test_zero_page_size_means_the_default() -> None:
    assert read_page(0, "").size == DEFAULT_PAGE_SIZE


def test_a_page_size_above_the_maximum_is_coerced_down() -> None:
    assert read_page(10 * MAX_PAGE_SIZE, "").size == MAX_PAGE_SIZE


def test_a_negative_page_size_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        read_page(-1, "")


def test_a_token_round_trips_its_cursor() -> None:
    assert read_page(10, encode_token("42", "market=x"), "market=x").cursor == "42"


def test_a_token_for_another_filter_is_invalid() -> None:
    with pytest.raises(InvalidArgument) as raised:
        read_page(10, encode_token("42", "market=x"), "market=y")
    assert raised.value.reason == "INVALID_PAGE_TOKEN"


def test_a_forged_token_is_invalid() -> None:
    with pytest.raises(InvalidArgument):
        read_page(10, "not-a-token!")


def test_a_numeric_cursor_reads_as_what_to_list_after() -> None:
    assert read_page(10, "").after_number == 0
    assert read_page(10, encode_token("42")).after_number == 42


def test_a_non_numeric_cursor_is_an_invalid_page_token() -> None:
    with pytest.raises(InvalidArgument) as raised:
        _ = read_page(10, encode_token("abc")).after_number
    assert raised.value.reason == "INVALID_PAGE_TOKEN"


async def test_every_page_follows_the_page_tokens_until_the_last_page() -> None:
    asked: list[str] = []

    async def list_markets(request: matching_pb.ListMarketsRequest) -> matching_pb.ListMarketsResponse:
        asked.append(request.page_token)
        following = {"": "t1", "t1": "t2", "t2": ""}[request.page_token]
        return matching_pb.ListMarketsResponse(next_page_token=following)

    pages = [page async for page in every_page(list_markets, matching_pb.ListMarketsRequest(page_size=2))]

    assert asked == ["", "t1", "t2"]
    assert [page.next_page_token for page in pages] == ["t1", "t2", ""]


def test_a_full_page_has_a_next_token_when_another_source_has_more() -> None:
    page = read_page(2, "")

    shown, token = page.cut(["a", "b"], lambda row: row, more=True)

    assert shown == ["a", "b"] and read_page(2, token).cursor == "b"


def test_a_full_page_is_the_last_when_nothing_follows() -> None:
    assert read_page(2, "").cut(["a", "b"], lambda row: row) == (["a", "b"], "")
