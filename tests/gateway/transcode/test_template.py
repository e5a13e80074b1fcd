"""HttpRule path template grammar and matching (google/api/http.proto)."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.transcode.template import SegmentKind, TemplateSyntaxError, parse_template


def test_literal_template_matches_only_itself() -> None:
    template = parse_template("/v1/echo")
    assert template.match("/v1/echo") == {}
    assert template.match("/v1/echo/x") is None
    assert template.match("/v1/ech") is None


def test_short_variable_is_one_segment_wildcard() -> None:
    template = parse_template("/v1/shelves/{shelf}")
    assert template.variables[0].segments == parse_template("/v1/shelves/{shelf=*}").variables[0].segments
    assert template.match("/v1/shelves/s1") == {"shelf": "s1"}
    assert template.match("/v1/shelves/s1/books") is None


def test_multi_segment_variable_keeps_slashes() -> None:
    template = parse_template("/v1/{name=shelves/*/books/*}")
    assert template.match("/v1/shelves/s1/books/b2") == {"name": "shelves/s1/books/b2"}


def test_multi_segment_variable_requires_its_literals() -> None:
    template = parse_template("/v1/{name=shelves/*/books/*}")
    assert template.match("/v1/shelves/s1/papers/b2") is None


def test_nested_field_path_is_a_variable_name() -> None:
    template = parse_template("/v1/{book.name=shelves/*/books/*}")
    assert template.match("/v1/shelves/a/books/b") == {"book.name": "shelves/a/books/b"}


def test_deep_wildcard_matches_any_number_of_segments() -> None:
    template = parse_template("/v1/files/{path=**}")
    assert template.match("/v1/files/a/b/c.txt") == {"path": "a/b/c.txt"}
    assert template.match("/v1/files") == {"path": ""}


def test_deep_wildcard_must_be_last() -> None:
    with pytest.raises(TemplateSyntaxError):
        parse_template("/v1/{path=**}/tail")


def test_verb_is_required_and_stripped() -> None:
    template = parse_template("/v1/{name=shelves/*/books/*}:cancel")
    assert template.verb == "cancel"
    assert template.match("/v1/shelves/a/books/b:cancel") == {"name": "shelves/a/books/b"}
    assert template.match("/v1/shelves/a/books/b") is None
    assert template.match("/v1/shelves/a/books/b:undo") is None


def test_single_wildcard_never_matches_an_empty_segment() -> None:
    assert parse_template("/v1/shelves/{shelf}").match("/v1/shelves/") is None


@pytest.mark.parametrize(
    "source",
    ["v1/echo", "/v1/{name", "/v1/{name=}", "/v1/{a=x/{b}}", "/v1/{a}/{a}", "/v1/echo:", "/v1/{1x}", "/v1//x"],
)
def test_malformed_templates_are_rejected(source: str) -> None:
    with pytest.raises(TemplateSyntaxError):
        parse_template(source)


def test_parsed_segments_expose_kinds() -> None:
    template = parse_template("/v1/*/{x=**}")
    assert [s.kind for s in template.segments] == [SegmentKind.LITERAL, SegmentKind.SINGLE, SegmentKind.DEEP]


def test_single_segment_variable_is_fully_percent_decoded() -> None:
    assert parse_template("/v1/shelves/{shelf}").match("/v1/shelves/a%2Fb%20c") == {"shelf": "a/b c"}


def test_encoded_slash_does_not_split_segments() -> None:
    assert parse_template("/v1/{name=shelves/*}").match("/v1/shelves/a%2Fb") == {"name": "shelves/a%2Fb"}


def test_multi_segment_variable_decodes_all_but_encoded_slash() -> None:
    match = parse_template("/v1/{name=shelves/*/books/*}").match("/v1/shelves/a%20b/books/c%2fd%3A")
    assert match == {"name": "shelves/a b/books/c%2fd:"}


def test_literal_segments_compare_raw() -> None:
    assert parse_template("/v1/echo").match("/v1/%65cho") is None


def test_specificity_prefers_literals_over_wildcards() -> None:
    literal = parse_template("/v1/shelves/special")
    wildcard = parse_template("/v1/shelves/{shelf}")
    deep = parse_template("/v1/{rest=**}")
    assert sorted([deep, wildcard, literal], key=lambda t: t.specificity) == [literal, wildcard, deep]


_segment_text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1, max_size=12)


@settings(max_examples=80, deadline=None)
@given(_segment_text)
def test_single_segment_round_trips_any_text(text: str) -> None:
    assert parse_template("/v1/shelves/{shelf}").match("/v1/shelves/" + quote(text, safe="")) == {"shelf": text}


@settings(max_examples=80, deadline=None)
@given(st.lists(_segment_text.filter(lambda t: "%" not in t), min_size=1, max_size=4))
def test_deep_variable_round_trips_and_keeps_encoded_slashes(pieces: list[str]) -> None:
    raw = "/".join(quote(piece, safe="") for piece in pieces)
    expected = "/".join(piece.replace("/", "%2F") for piece in pieces)
    assert parse_template("/v1/files/{path=**}").match("/v1/files/" + raw) == {"path": expected}


def test_deep_wildcard_inside_a_variable_keeps_the_variables_literals() -> None:
    template = parse_template("/v1/{name=shelves/**}")
    assert template.match("/v1/shelves/a/b") == {"name": "shelves/a/b"}
    assert template.match("/v1/shelves") == {"name": "shelves"}
    assert template.match("/v1/racks/a") is None


def test_deep_wildcard_before_a_verb() -> None:
    assert parse_template("/v1/{path=**}:stat").match("/v1/a/b:stat") == {"path": "a/b"}
