"""Building the gRPC request from path, query and body (docs/conventions.md: Paths, bodies and query strings; JSON)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import pytest
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.transcode import BadRequest, Transcoder


def _build(transcoder: Transcoder, method: str, path: str, query: str = "", body: bytes = b"") -> Any:
    # Any: a message of the test contracts' runtime-built types, which have no stubs.
    return transcoder.transcode(method, path, query, body).request


def _reason(transcoder: Transcoder, method: str, path: str, query: str = "", body: bytes = b"") -> str:
    with pytest.raises(BadRequest) as caught:
        _build(transcoder, method, path, query, body)
    assert caught.value.http_status == 400 and caught.value.violations
    return caught.value.reason


# ---- path bindings -----------------------------------------------------------------------


def test_path_variable_sets_its_field(transcoder: Transcoder) -> None:
    assert _build(transcoder, "GET", "/v1/shelves/s1/books/b1").name == "shelves/s1/books/b1"


def test_nested_path_variable_sets_the_nested_field(transcoder: Transcoder) -> None:
    request = _build(transcoder, "PATCH", "/v1/shelves/s/books/b", body=b'{"title": "Dune"}')
    assert (request.book.name, request.book.title) == ("shelves/s/books/b", "Dune")


def test_percent_decoded_single_segment_reaches_the_field(transcoder: Transcoder) -> None:
    assert _build(transcoder, "GET", "/v1/shelves/a%20b").shelf == "a b"


# ---- body ----------------------------------------------------------------------------------


def test_body_star_fills_the_whole_message(transcoder: Transcoder) -> None:
    request = _build(transcoder, "POST", "/v1/shelves/s/books/b:cancel", body=b'{"reason": "late", "requestId": "r1"}')
    assert (request.name, request.reason, request.request_id) == ("shelves/s/books/b", "late", "r1")


@pytest.mark.parametrize("body", [
    b'{"reason": "late", "requestId": "r1"}',
    b'{"request_id": "r1", "requestId": "r2", "reason": ""}',  # both spellings: the last one wins
    b'{"reason": "\\u00fcber \\u2713", "requestId": "\\ud83d\\ude00"}',
    b'{"reason": null, "requestId": "r1"}',  # not all strings: json_format's path
    b'{"reason": 5}',
    b'{"reason": "x", "unknown": "y"}',
    b'{"reason": "\\udc00"}',
])
def test_a_string_body_sets_what_json_format_sets(transcoder: Transcoder, body: bytes) -> None:
    # The attribute-write path for string-only bodies against json_format on the same input:
    # the same message, or the same refusal.
    route = transcoder.router.match("POST", "/v1/shelves/s/books/b:cancel").route
    input_type: Any = route.input_type  # a runtime-built type: mypy knows no fields of it
    expected = input_type(name="shelves/s/books/b")
    try:
        json_format.Parse(body, expected)
    except json_format.ParseError:
        assert _reason(transcoder, "POST", "/v1/shelves/s/books/b:cancel", body=body) in (
            "INVALID_FIELD_VALUE", "INVALID_JSON")
        return
    assert _build(transcoder, "POST", "/v1/shelves/s/books/b:cancel", body=body) == expected


def test_body_star_accepts_proto_and_json_names(transcoder: Transcoder) -> None:
    request = _build(transcoder, "POST", "/v1/echo", body=b'{"int64_value": "5", "int32Value": 6}')
    assert (request.int64_value, request.int32_value) == (5, 6)


def test_body_field_fills_only_that_field(transcoder: Transcoder) -> None:
    request = _build(
        transcoder, "POST", "/v1/shelves/s/books", "requestId=r9", b'{"title": "T", "pageCount": "300"}'
    )
    assert (request.parent, request.book.title, request.book.page_count, request.request_id) == (
        "shelves/s",
        "T",
        300,
        "r9",
    )


def test_empty_body_with_body_star_is_an_empty_message(transcoder: Transcoder) -> None:
    assert _build(transcoder, "POST", "/v1/echo").ByteSize() == 0


def test_unknown_body_field_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "POST", "/v1/echo", body=b'{"nope": 1}') == "INVALID_FIELD_VALUE"


def test_unknown_field_inside_body_field_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "POST", "/v1/shelves/s/books", body=b'{"colour": "red"}') == "INVALID_FIELD_VALUE"


def test_malformed_json_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "POST", "/v1/echo", body=b'{"text": ') == "INVALID_JSON"


def test_body_star_must_be_an_object(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "POST", "/v1/echo", body=b"[1]") == "INVALID_JSON"


def test_body_on_a_binding_without_body_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "GET", "/v1/shelves/s1", body=b'{"shelf": "x"}') == "BODY_NOT_ALLOWED"


def test_wrong_value_type_in_body_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "POST", "/v1/echo", body=b'{"int32Value": "many"}') == "INVALID_FIELD_VALUE"


# ---- collisions ----------------------------------------------------------------------------


def test_path_field_repeated_in_body_star_is_a_collision(transcoder: Transcoder) -> None:
    body = b'{"name": "shelves/x/books/y"}'
    assert _reason(transcoder, "POST", "/v1/shelves/s/books/b:cancel", body=body) == "PATH_BODY_COLLISION"


def test_path_field_repeated_under_its_json_name_is_a_collision(transcoder: Transcoder) -> None:
    body = b'{"name": "shelves/x/books/y", "title": "T"}'
    assert _reason(transcoder, "PATCH", "/v1/shelves/s/books/b", body=body) == "PATH_BODY_COLLISION"


def test_null_for_a_path_field_in_the_body_is_no_collision(transcoder: Transcoder) -> None:
    request = _build(transcoder, "PATCH", "/v1/shelves/s/books/b", body=b'{"name": null, "title": "T"}')
    assert request.book.name == "shelves/s/books/b"


# ---- query parameters ----------------------------------------------------------------------


def _list(transcoder: Transcoder, query: str) -> Any:
    return _build(transcoder, "GET", "/v1/shelves/s/books", query)


def test_scalar_query_parameters(transcoder: Transcoder) -> None:
    request = _list(transcoder, "pageSize=20&page_token=abc&minScore=1.5&afterId=18446744073709551615")
    assert (request.page_size, request.page_token, request.min_score, request.after_id) == (
        20,
        "abc",
        1.5,
        2**64 - 1,
    )


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("1", True), ("False", False), ("0", False)])
def test_bool_query_parameter_spellings(transcoder: Transcoder, text: str, expected: bool) -> None:
    assert _list(transcoder, f"includeArchived={text}").include_archived is expected


def test_repeated_query_parameter_by_repetition(transcoder: Transcoder) -> None:
    assert list(_list(transcoder, "tags=a&tags=b&tags=a").tags) == ["a", "b", "a"]


def test_enum_query_parameter_by_name_or_number(transcoder: Transcoder) -> None:
    request = _list(transcoder, "genre=GENRE_SCIENCE&genres=GENRE_FICTION&genres=2")
    assert (request.genre, list(request.genres)) == (2, [1, 2])


def test_unknown_enum_name_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "GET", "/v1/shelves/s/books", "genre=GENRE_POETRY") == "INVALID_FIELD_VALUE"


def test_nested_message_query_parameters(transcoder: Transcoder) -> None:
    request = _list(transcoder, "filter.authorName=Le%20Guin&filter.pages.low=10&releasedOn.year=2026")
    assert (request.filter.author_name, request.filter.pages.low, request.released_on.year) == ("Le Guin", 10, 2026)


def test_well_known_types_in_their_json_string_form(transcoder: Transcoder) -> None:
    query = "publishedAfter=2026-01-01T00:00:00Z&maxAge=1.5s&minRating=4&inPrint=false&readMask=title,authorName"
    request = _list(transcoder, query)
    assert request.published_after.ToJsonString() == "2026-01-01T00:00:00Z"
    assert (request.max_age.seconds, request.max_age.nanos) == (1, 500_000_000)
    assert (request.min_rating.value, request.HasField("in_print"), request.in_print.value) == (4, True, False)
    assert list(request.read_mask.paths) == ["title", "author_name"]


def test_bytes_query_parameter_is_base64(transcoder: Transcoder) -> None:
    assert _list(transcoder, "cursor=aGk%3D").cursor == b"hi"


def test_unknown_query_parameter_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "GET", "/v1/shelves/s/books", "colour=red") == "UNKNOWN_QUERY_PARAMETER"


def test_unknown_nested_query_parameter_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "GET", "/v1/shelves/s/books", "filter.colour=red") == "UNKNOWN_QUERY_PARAMETER"


def test_query_parameters_are_refused_with_body_star(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "POST", "/v1/echo", "text=hi") == "QUERY_NOT_ALLOWED"


def test_query_parameter_for_a_path_field_is_a_collision(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "GET", "/v1/shelves/s/books", "parent=shelves/t") == "QUERY_PATH_COLLISION"


def test_query_parameter_inside_the_body_field_is_a_collision(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "POST", "/v1/shelves/s/books", "book.title=T") == "QUERY_BODY_COLLISION"


@pytest.mark.parametrize("query", ["labels=a", "filters.authorName=x", "filter=x"])
def test_maps_repeated_messages_and_bare_messages_are_not_query_parameters(transcoder: Transcoder, query: str) -> None:
    assert _reason(transcoder, "GET", "/v1/shelves/s/books", query) == "INVALID_QUERY_PARAMETER"


def test_singular_query_parameter_given_twice_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "GET", "/v1/shelves/s/books", "pageSize=1&pageSize=2") == "INVALID_QUERY_PARAMETER"


def test_invalid_boolean_is_rejected(transcoder: Transcoder) -> None:
    assert _reason(transcoder, "GET", "/v1/shelves/s/books", "includeArchived=yes") == "INVALID_FIELD_VALUE"


def test_violation_names_the_offending_parameter(transcoder: Transcoder) -> None:
    with pytest.raises(BadRequest) as caught:
        _list(transcoder, "pageSize=lots")
    assert [field for field, _ in caught.value.violations] == ["pageSize"]


def test_pre_parsed_query_pairs_are_accepted(transcoder: Transcoder) -> None:
    request: Any = transcoder.transcode("GET", "/v1/shelves/s/books", [("tags", "a&b")]).request
    assert list(request.tags) == ["a&b"]


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=20)


@settings(max_examples=60, deadline=None)
@given(page_size=st.integers(-(2**31), 2**31 - 1), token=_text, tags=st.lists(_text, max_size=4))
def test_encoded_query_values_round_trip(transcoder: Transcoder, page_size: int, token: str, tags: list[str]) -> None:
    query = urlencode([("pageSize", str(page_size)), ("pageToken", token), *(("tags", t) for t in tags)])
    request = _list(transcoder, query)
    assert (request.page_size, request.page_token, list(request.tags)) == (page_size, token, tags)
