"""The compiled reply encoder against json_format, its reference: same JSON bytes (keys,
values and key order) or the same error, on random messages of every reply type."""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from google.protobuf import descriptor, message, message_factory, timestamp_pb2
from google.protobuf.json_format import SerializeToJsonError
from hypothesis import given, settings, strategies as st

from gateway.descriptor import load_descriptor_set
from gateway.transcode import RuleSet, load_rules
from gateway.transcode.encoder import ReplyEncoder

FieldDescriptor = descriptor.FieldDescriptor
_STRINGS = ("", "a", "accounts/bench", "ünïcødé ✓", "0.000001", "\u2028", '"quoted"\n')
_DOUBLES = (0.0, -0.0, 1.5, -2.25e300, 1e-310, float("nan"), float("inf"), float("-inf"))
_INTS = {
    FieldDescriptor.CPPTYPE_INT32: (0, 1, -1, 2**31 - 1, -(2**31)),
    FieldDescriptor.CPPTYPE_UINT32: (0, 1, 2**32 - 1),
    FieldDescriptor.CPPTYPE_INT64: (0, 1, -1, 2**53 + 1, 2**63 - 1, -(2**63)),
    FieldDescriptor.CPPTYPE_UINT64: (0, 7, 2**64 - 1),
}


@pytest.fixture(scope="module")
def clearmesh_rules() -> RuleSet:
    return load_rules(load_descriptor_set())


def reply_types(rules: RuleSet) -> list[descriptor.Descriptor]:
    """Every message type a reply can contain, from the routes' output types down."""
    seen: dict[str, descriptor.Descriptor] = {}
    pending: list[Any] = [route.output_type.DESCRIPTOR for route in rules.routes]  # either implementation's
    while pending:
        current = pending.pop()
        if current.full_name in seen:
            continue
        seen[current.full_name] = current
        pending.extend(f.message_type for f in current.fields if f.message_type is not None)
    return [seen[name] for name in sorted(seen)]


def _scalar(field: Any, rng: random.Random) -> Any:
    cpp = field.cpp_type
    if cpp == FieldDescriptor.CPPTYPE_ENUM:
        numbers = list(field.enum_type.values_by_number)
        if not field.enum_type.is_closed and rng.random() < 0.2:
            return 99  # an open enum keeps a number it does not know
        return rng.choice(numbers)
    if cpp == FieldDescriptor.CPPTYPE_STRING:
        if field.type == FieldDescriptor.TYPE_BYTES:
            return rng.randbytes(rng.randrange(0, 6))
        return rng.choice(_STRINGS)
    if cpp == FieldDescriptor.CPPTYPE_BOOL:
        return rng.random() < 0.5
    if cpp in (FieldDescriptor.CPPTYPE_DOUBLE, FieldDescriptor.CPPTYPE_FLOAT):
        return rng.choice(_DOUBLES)
    return rng.choice(_INTS[cpp])


def fill(target: Any, rng: random.Random, depth: int = 0) -> None:
    """Sets a random subset of ``target``'s fields (nested messages to depth 3)."""
    for field in target.DESCRIPTOR.fields:
        if rng.random() < 0.35:
            continue
        is_message = field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE
        if is_message and field.message_type.GetOptions().map_entry:
            mapping = getattr(target, field.name)
            key_field, value_field = field.message_type.fields_by_name["key"], field.message_type.fields_by_name["value"]
            for _ in range(rng.randrange(0, 3)):
                key = _scalar(key_field, rng)
                if value_field.cpp_type == FieldDescriptor.CPPTYPE_MESSAGE:
                    if depth < 3:
                        fill(mapping[key], rng, depth + 1)
                else:
                    mapping[key] = _scalar(value_field, rng)
        elif is_message:
            if depth >= 3:
                continue
            if field.is_repeated:
                for _ in range(rng.randrange(0, 3)):
                    fill(getattr(target, field.name).add(), rng, depth + 1)
            else:
                child = getattr(target, field.name)
                child.SetInParent()
                _fill_message(child, rng, depth + 1)
        elif field.is_repeated:
            getattr(target, field.name).extend(_scalar(field, rng) for _ in range(rng.randrange(0, 3)))
        else:
            setattr(target, field.name, _scalar(field, rng))


def _fill_message(child: Any, rng: random.Random, depth: int) -> None:
    name = child.DESCRIPTOR.full_name
    if name == "google.protobuf.Timestamp":
        # Mostly valid instants, sometimes one out of range: both sides must then fail alike.
        child.seconds = rng.choice((0, 1_700_000_000, -62135596800, 253402300799, 253402300800))
        child.nanos = rng.choice((0, 1_000_000, 123_456_000, 999_999_999, 5))
    elif name == "google.protobuf.Duration":
        child.seconds, child.nanos = rng.choice(((0, 0), (1, 500_000_000), (-3, -1), (315576000001, 0)))
    elif name == "google.protobuf.Any":
        if rng.random() < 0.5:
            child.Pack(timestamp_pb2.Timestamp(seconds=rng.choice((0, 1_700_000_000)), nanos=rng.choice((0, 5))))
    elif name == "google.protobuf.FieldMask":
        child.paths.extend(rng.sample(("a", "b.c", "display_name"), rng.randrange(0, 3)))
    else:
        fill(child, rng, depth)


def _json_or_error(convert: Any, value: message.Message) -> bytes | type[Exception]:
    try:
        return orjson.dumps(convert(value))
    except (SerializeToJsonError, ValueError, TypeError) as exc:
        return type(exc)


def _cases(rules: RuleSet, seed: int, per_type: int,
           extra: tuple[str, ...] = ()) -> Iterator[tuple[ReplyEncoder, message.Message]]:
    rng = random.Random(seed)
    encoder = ReplyEncoder(rules.pool)
    for message_type in [*reply_types(rules), *map(rules.pool.FindMessageTypeByName, extra)]:
        cls = message_factory.GetMessageClass(message_type)
        yield encoder, cls()  # the empty message: every default filled in
        for _ in range(per_type):
            sample = cls()
            _fill_message(sample, rng, 0)
            yield encoder, sample


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_every_clearmesh_reply_type_encodes_as_json_format_does(clearmesh_rules: RuleSet, seed: int) -> None:
    for encoder, sample in _cases(clearmesh_rules, seed, per_type=4):
        assert _json_or_error(encoder.encode, sample) == _json_or_error(encoder.reference, sample), sample


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_the_coverage_types_encode_as_json_format_does(rules: RuleSet, seed: int) -> None:
    # gwtest: Book (maps, wrappers, oneofs, recursion), Kitchen (floats: left to json_format)
    # and Pantry (every other field class, compiled).
    for encoder, sample in _cases(rules, seed, per_type=4, extra=("gwtest.v1.Pantry",)):
        assert _json_or_error(encoder.encode, sample) == _json_or_error(encoder.reference, sample), sample


def test_a_plan_is_compiled_for_the_reply_types(clearmesh_rules: RuleSet, rules: RuleSet) -> None:
    # Not only correct by falling back: these go through compiled plans.
    compiled = [(clearmesh_rules, t) for t in reply_types(clearmesh_rules)]
    compiled.append((rules, rules.pool.FindMessageTypeByName("gwtest.v1.Pantry")))
    for owner, message_type in compiled:
        if not message_type.full_name.startswith("google.protobuf."):
            encoder = ReplyEncoder(owner.pool)
            encoder.encode(message_factory.GetMessageClass(message_type)())
            assert encoder._plans[message_type.full_name] != encoder.reference, message_type.full_name

