"""(HTTP method, raw path) → (Route, path bindings), with everything precompiled.

Routes are indexed by HTTP method and first literal segment; within a bucket they are
tried most-specific first (literal > ``*`` > ``**``, verb templates first), so
``/v1/shelves/special`` beats ``/v1/shelves/{shelf}`` regardless of proto order.
A path that matches only under other HTTP methods yields MethodNotAllowed (405 /
UNIMPLEMENTED, as grpc-gateway's routing errors); no match at all yields RouteNotFound
(404 / NOT_FOUND, Envoy ``reject_unknown_method``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.transcode.errors import MethodNotAllowed, RouteNotFound
from gateway.transcode.rules import Route

_ANY_FIRST = ""  # bucket key for templates that start with a wildcard


@dataclass(frozen=True, slots=True)
class RouteMatch:
    route: Route
    bindings: dict[str, str]


def _first_part(raw_path: str) -> str:
    end = raw_path.find("/", 1)
    first = raw_path[1:] if end < 0 else raw_path[1:end]
    colon = first.find(":")
    return first if colon < 0 else first[:colon]


class Router:
    def __init__(self, routes: Iterable[Route]) -> None:
        buckets: dict[str, dict[str, list[Route]]] = defaultdict(lambda: defaultdict(list))
        for route in routes:
            buckets[route.http_method][route.template.first_literal or _ANY_FIRST].append(route)
        self._buckets: dict[str, dict[str, tuple[Route, ...]]] = {
            method: {key: tuple(sorted(rs, key=lambda r: r.template.specificity)) for key, rs in by_first.items()}
            for method, by_first in buckets.items()
        }

    def _match_in(self, http_method: str, raw_path: str, first: str) -> RouteMatch | None:
        by_first = self._buckets.get(http_method)
        if by_first is None:
            return None
        for key in (first, _ANY_FIRST):
            for route in by_first.get(key, ()):
                bindings = route.template.match(raw_path)
                if bindings is not None:
                    return RouteMatch(route, bindings)
        return None

    def match(self, http_method: str, raw_path: str) -> RouteMatch:
        """Resolve a request; raises RouteNotFound or MethodNotAllowed.

        ``raw_path`` excludes the query string and is still percent-encoded.
        """
        method = http_method.upper()
        first = _first_part(raw_path)
        found = self._match_in(method, raw_path, first)
        if found is not None:
            return found
        allowed = tuple(
            sorted(other for other in self._buckets if other != method and self._match_in(other, raw_path, first))
        )
        if allowed:
            raise MethodNotAllowed(
                "METHOD_NOT_ALLOWED", f"Method {method} is not allowed for {raw_path}", allowed_methods=allowed
            )
        raise RouteNotFound("ROUTE_NOT_FOUND", f"No HTTP binding for {method} {raw_path}")
