"""The contract cases of tests/gateway/edge/cases/*.yaml, each one HTTP exchange with the live edge.

A case: method, path (with its query), auth (a token kind), account (the trader token's
subject, "alice" unless named), caller (the account the case's own request is sent as when it
is not the one the setup ran as: another trader's view), headers, body (JSON) or raw (bytes) or raw_size (a body of that
many bytes); setup: requests made first, each of which must succeed (2xx), with capture
({variable: top-level body field}) to keep a value the server chose, such as an applicant's
name; `$variable` in a path or body is replaced by it (`$account` is the case's account);
expect: status or reached, body (a subset: dicts by key, lists item by item in any order, and
an empty list means empty), headers ("*" = present with any value), headers_not (must not
equal), headers_absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from string import Template
from typing import Any

import httpx
import jwt
import orjson
import pytest
import yaml

from services.runtime.settings import ensure_jwt_secret

CASES = [case for file in sorted((Path(__file__).parent / "cases").glob("*.yaml"))
         for case in yaml.safe_load(file.read_text())]
EDGE_DOMAIN = "gateway.clearmesh"


def token_for(kind: str, mint: Callable[..., str], secret: str, account: str = "alice") -> str | None:
    now = int(time.time())
    claims = {"sub": account, "roles": ["trader"], "iss": "clearmesh", "aud": "clearmesh", "iat": now, "exp": now + 600}
    match kind:
        case "none":
            return None
        case "trader":
            return mint(account, ("trader",))
        case "operator":
            return mint("ops", ("operator",))
        case "garbage":
            return "not-a-jwt"
        case "expired":
            return jwt.encode({**claims, "iat": now - 7200, "exp": now - 3600}, secret, algorithm="HS256")
        case "alg-none":
            return jwt.encode(claims, "", algorithm="none")
        case "wrong-audience":
            return jwt.encode({**claims, "aud": "someone-else"}, secret, algorithm="HS256")
    raise ValueError(f"unknown auth kind {kind!r}")


def contains(actual: Any, expected: Any) -> bool:
    if isinstance(expected, dict):
        return isinstance(actual, dict) and all(k in actual and contains(actual[k], v) for k, v in expected.items())
    if isinstance(expected, list):
        if not expected:  # otherwise `[]` would match any list
            return actual == []
        return isinstance(actual, list) and all(any(contains(a, e) for a in actual) for e in expected)
    return bool(actual == expected)


def substitute(value: Any, variables: dict[str, str]) -> Any:
    """`$variable` in every string of a path or body; an unknown one is a KeyError, not a guess."""
    if isinstance(value, str):
        return Template(value).substitute(variables)
    if isinstance(value, dict):
        return {key: substitute(item, variables) for key, item in value.items()}
    if isinstance(value, list):
        return [substitute(item, variables) for item in value]
    return value


def error_domains(body: Any) -> set[str]:
    details = body.get("details", []) if isinstance(body, dict) else []
    return {d.get("domain", "") for d in details if isinstance(d, dict) and "domain" in d}


@pytest.fixture(scope="module")
def client(edge: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge, timeout=10) as http:
        yield http


def send(client: httpx.Client, stack: Any, request: dict[str, Any], account: str,
         variables: dict[str, str]) -> httpx.Response:
    headers = {key: str(value) for key, value in (request.get("headers") or {}).items()}
    token = token_for(request.get("auth", "trader"), stack.token, ensure_jwt_secret(stack.settings), account)
    if token is not None:
        headers.setdefault("authorization", f"Bearer {token}")
    content: bytes | None = None
    if "body" in request:
        content = orjson.dumps(substitute(request["body"], variables))
        headers.setdefault("content-type", "application/json")
    elif "raw" in request:
        content = request["raw"].encode()
    elif "raw_size" in request:
        content = b" " * request["raw_size"]
    return client.request(request["method"], substitute(request["path"], variables), headers=headers,
                          content=content)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_contract_case(case: dict[str, Any], client: httpx.Client, stack: Any) -> None:
    account = case.get("account", "alice")
    variables = {"account": account}
    for step in case.get("setup") or ():
        done = send(client, stack, step, account, variables)
        assert done.is_success, f"setup {step['method']} {step['path']}: {done.text}"
        variables.update({name: done.json()[field] for name, field in (step.get("capture") or {}).items()})
    response = send(client, stack, case, case.get("caller", account), variables)
    expect = substitute(case["expect"], variables)
    body = response.json() if response.headers.get("content-type", "").startswith("application/json") else None

    if expect.get("reached"):
        assert EDGE_DOMAIN not in error_domains(body), f"refused by the edge itself: {response.text}"
    if "status" in expect:
        assert response.status_code == expect["status"], response.text
    if "body" in expect:
        assert contains(body, expect["body"]), response.text
    for name, value in (expect.get("headers") or {}).items():
        assert name in response.headers, f"missing header {name}"
        if value != "*":
            assert response.headers[name] == value
    for name, value in (expect.get("headers_not") or {}).items():
        assert response.headers.get(name) != value
    for name in expect.get("headers_absent") or ():
        assert name not in response.headers
