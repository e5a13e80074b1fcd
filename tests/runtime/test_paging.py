"""AIP-158 page sizes and tokens."""

from __future__ import annotations

import pytest

from services.runtime.errors import InvalidArgument
from services.runtime.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, encode_token, read_page


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
