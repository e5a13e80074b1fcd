"""Loading google.api.http bindings from any FileDescriptorSet."""

from __future__ import annotations

import pytest
from google.api import annotations_pb2, http_pb2
from google.protobuf import descriptor_pb2, message_factory

from gateway.transcode import RuleError, RuleSet, load_rules

ECHO_PROTO = "gwtest/v1/echo.proto"


def _with_rule(descriptor_set: bytes, method: str, rule: http_pb2.HttpRule, *, client_streaming: bool = False) -> bytes:
    file_set = descriptor_pb2.FileDescriptorSet.FromString(descriptor_set)
    file_proto = next(f for f in file_set.file if f.name == ECHO_PROTO)
    method_proto = next(m for s in file_proto.service for m in s.method if m.name == method)
    method_proto.options.Extensions[annotations_pb2.http].CopyFrom(rule)  # type: ignore[index]  # .pyi: extension as FieldDescriptor
    method_proto.client_streaming = client_streaming
    return file_set.SerializeToString()


def _bindings(rules: RuleSet) -> list[tuple[str, str, str]]:
    return [(r.grpc_path, r.http_method, r.template.source) for r in rules.routes]


def test_every_binding_becomes_one_route(rules: RuleSet) -> None:
    assert ("/gwtest.v1.LibraryService/GetBook", "GET", "/v1/{name=shelves/*/books/*}") in _bindings(rules)
    assert len(_bindings(rules)) == len(set(_bindings(rules))) == 11


def test_additional_bindings_are_routes_of_the_same_method(rules: RuleSet) -> None:
    get_book = [r for r in rules.routes if r.method_name == "GetBook"]
    assert [(r.binding_index, r.template.source) for r in get_book] == [
        (0, "/v1/{name=shelves/*/books/*}"),
        (1, "/v1/{name=archives/*/books/*}"),
    ]


def test_route_carries_body_response_body_and_message_classes(rules: RuleSet) -> None:
    create = next(r for r in rules.routes if r.method_name == "CreateBook")
    read = next(r for r in rules.routes if r.method_name == "ReadFile")
    assert create.body == "book" and create.response_body == ""
    assert create.input_type.DESCRIPTOR.full_name == "gwtest.v1.CreateBookRequest"
    assert create.output_type.DESCRIPTOR.full_name == "gwtest.v1.Book"
    assert read.response_body == "content"


def test_server_streaming_flag_is_kept(rules: RuleSet) -> None:
    streaming = {r.method_name for r in rules.routes if r.server_streaming}
    assert streaming == {"WatchBooks"}


def test_methods_without_http_option_are_listed_as_grpc_only(rules: RuleSet) -> None:
    assert rules.unbound_methods == ("/gwtest.v1.LibraryService/Ping",)


def test_services_filter_limits_exposure(descriptor_set: bytes) -> None:
    only_echo = load_rules(descriptor_set, services=frozenset({"gwtest.v1.EchoService"}))
    assert {r.service_name for r in only_echo.routes} == {"gwtest.v1.EchoService"}


def test_custom_pattern_uses_its_kind_as_method(descriptor_set: bytes) -> None:
    rule = http_pb2.HttpRule(custom=http_pb2.CustomHttpPattern(kind="search", path="/v1/ping"))
    rules = load_rules(_with_rule(descriptor_set, "Ping", rule))
    assert ("/gwtest.v1.LibraryService/Ping", "SEARCH", "/v1/ping") in _bindings(rules)


@pytest.mark.parametrize(
    "rule",
    [
        http_pb2.HttpRule(get="/v1/{nope=pings/*}"),
        http_pb2.HttpRule(get="/v1/{name"),
        http_pb2.HttpRule(post="/v1/ping", body="missing"),
        http_pb2.HttpRule(get="/v1/ping", response_body="missing"),
        http_pb2.HttpRule(body="*"),
    ],
    ids=["unknown path field", "bad template", "unknown body field", "unknown response field", "no pattern"],
)
def test_unservable_bindings_fail_at_load(descriptor_set: bytes, rule: http_pb2.HttpRule) -> None:
    with pytest.raises(RuleError):
        load_rules(_with_rule(descriptor_set, "Ping", rule))


def test_repeated_field_cannot_be_path_bound(descriptor_set: bytes) -> None:
    with pytest.raises(RuleError):
        load_rules(_with_rule(descriptor_set, "ListBooks", http_pb2.HttpRule(get="/v1/{tags}")))


def test_message_field_cannot_be_path_bound(descriptor_set: bytes) -> None:
    with pytest.raises(RuleError):
        load_rules(_with_rule(descriptor_set, "ListBooks", http_pb2.HttpRule(get="/v1/{filter}")))


def test_client_streaming_rpc_cannot_be_bound(descriptor_set: bytes) -> None:
    rule = http_pb2.HttpRule(post="/v1/ping", body="*")
    with pytest.raises(RuleError):
        load_rules(_with_rule(descriptor_set, "Ping", rule, client_streaming=True))


def test_messages_live_in_a_private_pool(rules: RuleSet) -> None:
    book = message_factory.GetMessageClass(rules.pool.FindMessageTypeByName("gwtest.v1.Book"))
    assert book.DESCRIPTOR.file.pool is rules.pool
