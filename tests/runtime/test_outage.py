"""An exception that says a store cannot be reached becomes UNAVAILABLE (retry later), found
anywhere in its chain; any other exception stays what it is (INTERNAL)."""

from __future__ import annotations

import asyncpg
import pytest
import redis.exceptions
import sqlalchemy.exc

from services.runtime.status import STORE_UNAVAILABLE, outage


def raised_from(cause: BaseException) -> BaseException:
    try:
        try:
            raise cause
        except BaseException as inner:
            raise RuntimeError("while reading the ledger") from inner
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize("error", [
    ConnectionRefusedError(111, "refused"), ConnectionResetError(104, "reset"), TimeoutError(),
    asyncpg.exceptions.ConnectionDoesNotExistError("closed in the middle of operation"),
    sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection")),
    redis.exceptions.ConnectionError("Connection refused"),
    raised_from(ConnectionResetError(104, "reset")),
])
def test_an_unreachable_store_is_unavailable(error: BaseException) -> None:
    mapped = outage(error)

    assert mapped is not None
    assert (mapped.code, mapped.reason) == ("UNAVAILABLE", STORE_UNAVAILABLE)


@pytest.mark.parametrize("error", [KeyError("a bug"), ValueError("bad"), FileNotFoundError("no such file"),
                                   sqlalchemy.exc.IntegrityError("INSERT", {}, Exception("duplicate key"))])
def test_other_failures_are_not_called_an_outage(error: BaseException) -> None:
    assert outage(error) is None
