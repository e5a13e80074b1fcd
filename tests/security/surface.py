"""The whole RPC surface, read from the descriptors, and a request for each RPC aimed at one
account's resources: the input of the authorization matrix.

Nothing here lists RPCs by hand. Every method of every service the platform starts is a row;
its access rule is the contract's `clearmesh.type.v1.access` option; its resource fields are
found as the OpenAPI document finds them (the HTTP template's variable pattern, or the
`google.api.resource` pattern a field is named after: `account` → `accounts/{account}`); its
other required fields take a sample by field name. A new RPC therefore enters the matrix by
itself, and fails it loudly when it needs a resource or a sample the matrix does not know.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from google.protobuf import descriptor, json_format, message, message_factory

from clearmesh.kyc.v1 import kyc_pb2
from clearmesh.matching.v1 import matching_pb2
from clearmesh.order.v1 import order_pb2
from clearmesh.type.v1 import trading_pb2
from clearmesh.wallet.v1 import wallet_pb2
from gateway.descriptor import load_descriptor_set
from gateway.transcode import Route, Transcoder
from gateway.transcode.enforced import Enforced, is_required
from google.type import date_pb2
from services.registry import SERVICE_NAMES, load_spec
from services.runtime.auth import AccessRule, access_rules

FieldDescriptor = descriptor.FieldDescriptor
RULES = Transcoder.from_descriptor_set(load_descriptor_set()).rules
ENFORCED = Enforced(RULES.files)
ROUTES: dict[str, Route] = {route.grpc_path: route for route in RULES.routes if route.binding_index == 0}


@dataclass(frozen=True)
class Rpc:
    path: str  # /pkg.Service/Method
    service: str  # the service that serves it (kyc, wallet, ...)
    method: descriptor.MethodDescriptor
    rule: AccessRule
    route: Route | None  # its primary HTTP binding; None for an internal RPC

    @property
    def label(self) -> str:
        return self.path.rsplit(".", 1)[1]

    @property
    def request_type(self) -> type[message.Message]:
        return message_factory.GetMessageClass(self.method.input_type)

    @property
    def response_type(self) -> type[message.Message]:
        return message_factory.GetMessageClass(self.method.output_type)

    @property
    def server_streaming(self) -> bool:
        return bool(self.method.server_streaming)


def surface() -> list[Rpc]:
    """Every RPC of every service `clearmesh up` starts, internal ones included."""
    rpcs: list[Rpc] = []
    for name in SERVICE_NAMES:
        service = load_spec(name).descriptor
        rules = access_rules([service])
        for method in service.methods:
            path = f"/{service.full_name}/{method.name}"
            rpcs.append(Rpc(path, name, method, rules.get(path, AccessRule()), ROUTES.get(path)))
    return rpcs


class NoSample(LookupError):
    """A required field the matrix cannot fill: teach `SAMPLES` (or the world) about it."""


def _wildcards(pattern: str) -> str:
    return re.sub(r"\{[^}]+\}", "*", pattern)


def _fresh() -> str:
    return uuid.uuid4().hex


# A valid value for a field, by its name (or a message, by its full name), for the fields
# that are not resource names. Callables give a fresh value per request.
SAMPLES: dict[str, Any] = {
    "request_id": _fresh,
    "asset": "USDC",
    "amount": "1",
    "destination": "0xfeedbeef",
    "reason": "hostile probe",
    "tier": 1,
    "decision": 1,  # REVIEW_DECISION_APPROVE
    "action": 1,  # ELIGIBILITY_ACTION_PLACE_ORDER
    "side": trading_pb2.SIDE_BUY,
    "type": trading_pb2.ORDER_TYPE_LIMIT,
    "price": "1",
    "quantity": "0.0001",
    "market_id": lambda: f"H{uuid.uuid4().hex[:8].upper()}-USDC",
    "clearmesh.kyc.v1.Applicant": lambda: kyc_pb2.Applicant(
        legal_name="Eve Example", country="NL", address="2 Canal Street, Amsterdam",
        date_of_birth=date_pb2.Date(year=1991, month=5, day=3)),
    "clearmesh.kyc.v1.Document": lambda: kyc_pb2.Document(
        type=kyc_pb2.DOCUMENT_TYPE_PASSPORT, issuing_country="NL", number=f"NX{uuid.uuid4().hex[:10].upper()}",
        sha256="cd" * 32, size_bytes=100_000),
    "clearmesh.matching.v1.Market": lambda: matching_pb2.Market(
        base_asset="GRID", quote_asset="USDC", tick_size="0.001", lot_size="0.001",
        mode=matching_pb2.MARKET_MODE_CONTINUOUS),
    "clearmesh.order.v1.Order": lambda: order_pb2.Order(
        market="markets/BTC-USDC", side=trading_pb2.SIDE_BUY, type=trading_pb2.ORDER_TYPE_LIMIT,
        price="1", quantity="0.0001"),
}


# Repeated legs that must balance: a debit of the target's account and a credit of the fee account.
_LEGS: dict[str, Callable[[str], list[message.Message]]] = {
    "clearmesh.wallet.v1.PostTransferRequest.postings": lambda account: [
        wallet_pb2.Posting(account=account, asset="USDC", amount="-0.01"),
        wallet_pb2.Posting(account="system/fees", asset="USDC", amount="0.01")],
}


@dataclass(frozen=True)
class Aimed:
    """A request and the resources of the target account it names."""

    request: message.Message
    owned: tuple[str, ...]  # the target's resource names the request carries


class Resources:
    """Pattern (`orders/*`) → a resource name of the target account, and which are its own."""

    def __init__(self, names: Mapping[str, str | Callable[[], str]], owned: frozenset[str]) -> None:
        self.names = dict(names)
        self.owned = owned

    def name_for(self, pattern: str, rpc: Rpc, field: str) -> str:
        key = _wildcards(pattern)
        if key not in self.names:
            raise NoSample(f"{rpc.label}.{field} names `{pattern}`: the matrix's world has no such resource")
        value = self.names[key]
        return value() if callable(value) else value


def aimed_request(rpc: Rpc, resources: Resources) -> Aimed:
    """`rpc`'s request filled so that every resource it names belongs to the target."""
    bound = {v.field_path: v.pattern for v in rpc.route.template.variables} if rpc.route else {}
    owned: list[str] = []

    def fill(target: message.Message, top: bool) -> None:
        for field in target.DESCRIPTOR.fields:
            value = _value(field, top)
            if value is None:
                continue
            if field.is_repeated:
                getattr(target, field.name).extend(value if isinstance(value, list) else [value])
            elif field.message_type is not None:
                getattr(target, field.name).CopyFrom(value)
            else:
                setattr(target, field.name, value)

    def _value(field: Any, top: bool) -> Any:  # a FieldDescriptor (or its upb twin)
        pattern = bound.get(field.name) if top else None
        pattern = pattern or ENFORCED.reference_pattern(field)
        if pattern and field.type == FieldDescriptor.TYPE_STRING and (is_required(field) or _wildcards(pattern) in resources.owned):
            name = resources.name_for(pattern, rpc, field.name)
            if _wildcards(pattern) in resources.owned:
                owned.append(name)
            return name
        if field.full_name in _LEGS:
            account = resources.name_for("accounts/*", rpc, field.name)
            owned.append(account)
            return _LEGS[field.full_name](account)
        sample = SAMPLES.get(field.message_type.full_name if field.message_type else field.name)
        if sample is None and field.message_type is not None and is_required(field):
            nested = message_factory.GetMessageClass(field.message_type)()
            fill(nested, False)
            return nested
        if sample is None:
            if is_required(field):
                raise NoSample(f"{rpc.label}: required field {field.full_name} has no sample")
            return None
        if not is_required(field) and field.message_type is None and field.name not in _OPTIONAL_SAMPLED:
            return None
        return sample() if callable(sample) else sample

    request = rpc.request_type()
    fill(request, True)
    return Aimed(request, tuple(owned))


# Optional fields an RPC needs to be a valid call all the same (a limit order's price).
_OPTIONAL_SAMPLED = frozenset({"price", "quantity", "request_id", "tier"})


@dataclass(frozen=True)
class HttpCall:
    method: str
    path: str  # with the query string
    body: bytes | None


def http_call(route: Route, request: message.Message) -> HttpCall:
    """The REST call the edge transcodes into `request` (the inverse of the transcoder)."""
    as_json: dict[str, Any] = json_format.MessageToDict(request)
    path = route.template.source
    used: set[str] = set()
    for variable in route.template.variables:
        value = getattr(request, variable.field_path)
        path = re.sub(r"\{" + re.escape(variable.field_path) + r"(=[^}]*)?\}", value, path)
        used.add(request.DESCRIPTOR.fields_by_name[variable.field_path].json_name)
    body: bytes | None = None
    if route.body == "*":
        body = json.dumps({k: v for k, v in as_json.items() if k not in used}).encode()
        used = set(as_json)
    elif route.body:
        json_name = request.DESCRIPTOR.fields_by_name[route.body].json_name
        body = json.dumps(as_json.get(json_name, {})).encode()
        used.add(json_name)
    query = [(k, v) for k, v in as_json.items() if k not in used and not isinstance(v, (dict, list))]
    return HttpCall(route.http_method, path + (f"?{urlencode(query)}" if query else ""), body)


RPCS = surface()
