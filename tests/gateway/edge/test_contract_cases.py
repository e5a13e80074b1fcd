"""The contract cases of tests/gateway/edge/cases/*.yaml, each one HTTP exchange with the live edge.

A case: method, path (with its query), auth (a token kind), headers, body (JSON) or raw (bytes)
or raw_size (a body of that many bytes); expect: status or reached, body (a subset: dicts by
key, lists item by item in any order), headers ("*" = present with any value), headers_not
(must not equal), headers_absent.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import orjson
import pytest
import yaml

CASES = [case for file in sorted((Path(__file__).parent / "cases").glob("*.yaml"))
         for case in yaml.safe_load(file.read_text())]
EDGE_DOMAIN = "gateway.clearmesh"


def token_for(kind: str, mint: Callable[..., str], secret: str) -> str | None:
    now = int(time.time())
    claims = {"sub": "alice", "roles": ["trader"], "iss": "clearmesh", "aud": "clearmesh", "iat": now, "exp": now + 600}
    match kind:
        case "none":
            return None
        case "trader":
            return mint("alice", ("trader",))
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
        return isinstance(actual, list) and all(any(contains(a, e) for a in actual) for e in expected)
    return bool(actual == expected)


def error_domains(body: Any) -> set[str]:
    details = body.get("details", []) if isinstance(body, dict) else []
    return {d.get("domain", "") for d in details if isinstance(d, dict) and "domain" in d}


@pytest.fixture(scope="module")
def client(edge: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge, timeout=10) as http:
        yield http


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_contract_case(case: dict[str, Any], client: httpx.Client, stack: Any) -> None:
    headers = {key: str(value) for key, value in (case.get("headers") or {}).items()}
    token = token_for(case.get("auth", "trader"), stack.token, stack.settings.secret())
    if token is not None:
        headers.setdefault("authorization", f"Bearer {token}")
    content: bytes | None = None
    if "body" in case:
        content = orjson.dumps(case["body"])
        headers.setdefault("content-type", "application/json")
    elif "raw" in case:
        content = case["raw"].encode()
    elif "raw_size" in case:
        content = b" " * case["raw_size"]
    response = client.request(case["method"], case["path"], headers=headers, content=content)
    expect = case["expect"]
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
