"""Reply → HTTP body: JSON mapping pins, response_body, NDJSON and SSE framing."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from google.protobuf import message, message_factory

from gateway.transcode import Route, RuleSet, Transcoder, status_json
from gateway.transcode.response import ndjson_error, sse_error


def _route(rules: RuleSet, method_name: str) -> Route:
    return next(r for r in rules.routes if r.method_name == method_name)


@pytest.fixture(scope="module")
def echo(rules: RuleSet) -> Route:
    return _route(rules, "Echo")


def _kitchen(rules: RuleSet, **fields: object) -> Any:
    # Any: a message of the test contracts' runtime-built types, which have no stubs.
    return message_factory.GetMessageClass(rules.pool.FindMessageTypeByName("gwtest.v1.Kitchen"))(**fields)


def _reply(route: Route, **fields: object) -> message.Message:
    output_type: Any = route.output_type  # a runtime-built type: mypy knows no fields of it
    return output_type(**fields)


def _encode(transcoder: Transcoder, route: Route, reply: message.Message) -> dict:
    return orjson.loads(transcoder.responses.unary(route, reply))


def test_zero_values_are_emitted(transcoder: Transcoder, rules: RuleSet, echo: Route) -> None:
    document = _encode(transcoder, echo, _kitchen(rules))
    assert {k: document[k] for k in ("text", "int32Value", "boolValue", "genre", "numbers", "counts")} == {
        "text": "",
        "int32Value": 0,
        "boolValue": False,
        "genre": "GENRE_UNSPECIFIED",
        "numbers": [],
        "counts": {},
    }


def test_unset_message_fields_are_omitted(transcoder: Transcoder, rules: RuleSet, echo: Route) -> None:
    document = _encode(transcoder, echo, _kitchen(rules))
    assert not {"time", "range", "maybeText", "date"} & document.keys()


def test_int64_family_is_a_string(transcoder: Transcoder, rules: RuleSet, echo: Route) -> None:
    document = _encode(transcoder, echo, _kitchen(rules, int64_value=2**62, uint64_value=7, numbers=[1, 2]))
    assert (document["int64Value"], document["uint64Value"], document["numbers"]) == (str(2**62), "7", ["1", "2"])


def test_field_names_are_lower_camel(transcoder: Transcoder, rules: RuleSet, echo: Route) -> None:
    assert "int32Value" in _encode(transcoder, echo, _kitchen(rules)) and "int32_value" not in _encode(
        transcoder, echo, _kitchen(rules)
    )


def test_enum_is_its_name(transcoder: Transcoder, rules: RuleSet, echo: Route) -> None:
    assert _encode(transcoder, echo, _kitchen(rules, genre=2))["genre"] == "GENRE_SCIENCE"


def test_well_known_types_use_their_string_forms(transcoder: Transcoder, rules: RuleSet, echo: Route) -> None:
    reply = _kitchen(rules)
    reply.time.FromJsonString("2026-03-01T12:00:00.250Z")
    reply.duration.FromJsonString("90s")
    reply.maybe_text.value = ""
    reply.mask.paths.extend(["int64_value", "range.low"])
    document = _encode(transcoder, echo, reply)
    assert (document["time"], document["duration"], document["maybeText"], document["mask"]) == (
        "2026-03-01T12:00:00.250Z",
        "90s",
        "",
        "int64Value,range.low",
    )


def test_bytes_are_base64_and_maps_are_objects(transcoder: Transcoder, rules: RuleSet, echo: Route) -> None:
    document = _encode(transcoder, echo, _kitchen(rules, bytes_value=b"hi", counts={"a": 3}))
    assert (document["bytesValue"], document["counts"]) == ("aGk=", {"a": "3"})


def test_set_oneof_member_is_emitted_alone(transcoder: Transcoder, rules: RuleSet, echo: Route) -> None:
    document = _encode(transcoder, echo, _kitchen(rules, right=0))
    assert document["right"] == 0 and "left" not in document


def test_response_body_narrows_the_reply_to_one_field(transcoder: Transcoder, rules: RuleSet) -> None:
    read_file = _route(rules, "ReadFile")
    reply = _reply(read_file, path="a.txt", content=b"data")
    assert orjson.loads(transcoder.responses.unary(read_file, reply)) == "ZGF0YQ=="


def test_ndjson_is_one_bare_message_per_line(transcoder: Transcoder, rules: RuleSet) -> None:
    watch = _route(rules, "WatchBooks")
    lines = b"".join(
        transcoder.responses.ndjson_message(watch, _reply(watch, kind=kind)) for kind in ("added", "removed")
    )
    assert lines.endswith(b"\n") and [orjson.loads(line)["kind"] for line in lines.splitlines()] == ["added", "removed"]
    assert "result" not in orjson.loads(lines.splitlines()[0])


def test_ndjson_error_line_wraps_the_status(rules: RuleSet) -> None:
    line = ndjson_error(status_json(14, "matching unavailable"))
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert orjson.loads(line) == {"error": {"code": 14, "message": "matching unavailable", "details": []}}


def test_sse_frames_messages_as_data_events(transcoder: Transcoder, rules: RuleSet) -> None:
    watch = _route(rules, "WatchBooks")
    frame = transcoder.responses.sse_message(watch, _reply(watch, kind="added"))
    assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
    assert orjson.loads(frame[len(b"data: ") : -2])["kind"] == "added"


def test_sse_error_is_a_named_event_carrying_the_status() -> None:
    frame = sse_error(status_json(4, "deadline"))
    event, data = frame.rstrip(b"\n").split(b"\n")
    assert event == b"event: error" and orjson.loads(data.removeprefix(b"data: "))["code"] == 4
