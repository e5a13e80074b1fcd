"""(HTTP method, path) → route and bindings, 404 and 405."""

from __future__ import annotations

import dataclasses

import pytest

from gateway.transcode import MethodNotAllowed, RouteNotFound, RuleSet
from gateway.transcode.router import Router
from gateway.transcode.template import parse_template


@pytest.fixture(scope="module")
def router(rules: RuleSet) -> Router:
    return Router(rules.routes)


@pytest.mark.parametrize(
    ("method", "path", "rpc", "bindings"),
    [
        ("GET", "/v1/shelves/s/books/b", "GetBook", {"name": "shelves/s/books/b"}),
        ("GET", "/v1/archives/a/books/b", "GetBook", {"name": "archives/a/books/b"}),
        ("GET", "/v1/shelves/s/books", "ListBooks", {"parent": "shelves/s"}),
        ("POST", "/v1/shelves/s/books", "CreateBook", {"parent": "shelves/s"}),
        ("PATCH", "/v1/shelves/s/books/b", "UpdateBook", {"book.name": "shelves/s/books/b"}),
        ("DELETE", "/v1/shelves/s/books/b", "DeleteBook", {"name": "shelves/s/books/b"}),
        ("POST", "/v1/shelves/s/books/b:cancel", "CancelBook", {"name": "shelves/s/books/b"}),
        ("GET", "/v1/shelves/s", "GetShelf", {"shelf": "s"}),
        ("GET", "/v1/files/etc/a.txt", "ReadFile", {"path": "etc/a.txt"}),
        ("GET", "/v1/shelves/s/books:watch", "WatchBooks", {"parent": "shelves/s"}),
        ("post", "/v1/echo", "Echo", {}),
    ],
)
def test_each_binding_is_reachable(router: Router, method: str, path: str, rpc: str, bindings: dict[str, str]) -> None:
    found = router.match(method, path)
    assert (found.route.method_name, found.bindings) == (rpc, bindings)


def test_verb_route_wins_over_plain_wildcard_route(router: Router) -> None:
    assert router.match("GET", "/v1/shelves/s/books:watch").route.method_name == "WatchBooks"


def test_unknown_path_is_not_found(router: Router) -> None:
    with pytest.raises(RouteNotFound) as caught:
        router.match("GET", "/v2/nothing")
    assert (caught.value.http_status, caught.value.grpc_code.value[0]) == (404, 5)


def test_known_path_with_wrong_method_is_method_not_allowed(router: Router) -> None:
    with pytest.raises(MethodNotAllowed) as caught:
        router.match("PUT", "/v1/shelves/s/books/b")
    assert caught.value.allowed_methods == ("DELETE", "GET", "PATCH")
    assert (caught.value.http_status, caught.value.grpc_code.value[0]) == (405, 12)


def test_literal_template_beats_wildcard_regardless_of_order(rules: RuleSet) -> None:
    get_shelf = next(r for r in rules.routes if r.method_name == "GetShelf")
    special = dataclasses.replace(get_shelf, method_name="Special", template=parse_template("/v1/shelves/special"))
    router = Router([get_shelf, special])
    assert router.match("GET", "/v1/shelves/special").route.method_name == "Special"
    assert router.match("GET", "/v1/shelves/other").route.method_name == "GetShelf"


def test_template_starting_with_variable_is_still_found(rules: RuleSet) -> None:
    get_shelf = next(r for r in rules.routes if r.method_name == "GetShelf")
    leading = dataclasses.replace(get_shelf, template=parse_template("/{shelf}/info"))
    assert Router([leading]).match("GET", "/s9/info").bindings == {"shelf": "s9"}
