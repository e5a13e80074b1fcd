"""(HTTP method, raw path) → (Route, path bindings), with everything precompiled.

Routes are indexed by HTTP method, first literal segment and segment count (templates
ending in ``**`` by method and first literal only); within a bucket they are
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
from typing import TypeVar

from gateway.transcode.errors import MethodNotAllowed, RouteNotFound
from gateway.transcode.rules import Route

_ANY_FIRST = ""  # bucket key for templates that start with a wildcard
K = TypeVar("K")


def _freeze(buckets: dict[str, dict[K, list[Route]]]) -> dict[str, dict[K, tuple[Route, ...]]]:
    """Buckets as tuples, most specific template first."""
    return {
        method: {key: tuple(sorted(rs, key=lambda r: r.template.specificity)) for key, rs in by_key.items()}
        for method, by_key in buckets.items()
    }


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
        fixed: dict[str, dict[tuple[str, int], list[Route]]] = defaultdict(lambda: defaultdict(list))
        deep: dict[str, dict[str, list[Route]]] = defaultdict(lambda: defaultdict(list))
        for route in routes:
            template = route.template
            first = template.first_literal or _ANY_FIRST
            if template.has_deep_wildcard:
                deep[route.http_method][first].append(route)
            else:
                fixed[route.http_method][(first, len(template.segments))].append(route)
        self._fixed = _freeze(fixed)
        self._deep = _freeze(deep)
        self._methods = frozenset(self._fixed) | frozenset(self._deep)

    def _match_in(self, http_method: str, raw_path: str, first: str) -> RouteMatch | None:
        # A verb never contains '/', so the segment count is known before any template is tried.
        count = raw_path.count("/")
        fixed = self._fixed.get(http_method, {})
        deep = self._deep.get(http_method, {})
        for candidates in (
            fixed.get((first, count), ()),
            fixed.get((_ANY_FIRST, count), ()),
            deep.get(first, ()),
            deep.get(_ANY_FIRST, ()),
        ):
            for route in candidates:
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
            sorted(other for other in self._methods if other != method and self._match_in(other, raw_path, first))
        )
        if allowed:
            raise MethodNotAllowed(
                "METHOD_NOT_ALLOWED", f"Method {method} is not allowed for {raw_path}", allowed_methods=allowed
            )
        raise RouteNotFound("ROUTE_NOT_FOUND", f"No HTTP binding for {method} {raw_path}")
