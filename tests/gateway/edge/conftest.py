"""The edge tests run against one live stack (tests/testkit/stack.py), started once per session."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from tests.testkit.stack import Stack, session_stack


stack, edge = session_stack("edge-stack")


@pytest.fixture(scope="session")
def auth(stack: Stack) -> Callable[..., dict[str, str]]:
    def header(account: str = "alice", roles: tuple[str, ...] = ("trader",)) -> dict[str, str]:
        return {"authorization": f"Bearer {stack.token(account, roles)}"}

    return header
