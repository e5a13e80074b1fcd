"""One object that holds everything loaded from a descriptor set, for the HTTP adapter."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import message

from gateway.transcode.request import QueryInput, RequestBuilder
from gateway.transcode.response import ResponseEncoder
from gateway.transcode.router import Router
from gateway.transcode.rules import Route, RuleSet, load_rules


@dataclass(frozen=True, slots=True)
class TranscodedRequest:
    route: Route
    request: message.Message


class Transcoder:
    """Route an HTTP request and build its gRPC request; encode replies.

    All descriptor work happens in the constructor. ``transcode`` raises the typed errors of
    ``gateway.transcode.errors``; turn them into a response with ``status.error_json``.
    """

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.router = Router(rules.routes)
        self.requests = RequestBuilder(rules.routes, rules.pool)
        self.responses = ResponseEncoder(rules.pool)

    @classmethod
    def from_descriptor_set(cls, descriptor_set: bytes, *, services: frozenset[str] | None = None) -> Transcoder:
        return cls(load_rules(descriptor_set, services=services))

    def transcode(self, http_method: str, raw_path: str, query: QueryInput = "", body: bytes = b"") -> TranscodedRequest:
        matched = self.router.match(http_method, raw_path)
        return TranscodedRequest(matched.route, self.requests.build(matched.route, matched.bindings, query, body))
