"""A batch item's status becomes the very error its unary call's status would have: callers'
except clauses cannot tell a coalesced call from a unary one."""

from __future__ import annotations

import grpc
import pytest
from google.rpc import status_pb2

from services.runtime import errors
from services.runtime.errors import DomainError
from services.runtime.status import peer_error, peer_item_error, to_status_proto


def _ended_with(status: status_pb2.Status) -> grpc.aio.AioRpcError:
    """A unary call's error carrying `status`, as grpc.aio hands it to the caller."""
    code = next(code for code in grpc.StatusCode if code.value[0] == status.code)
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(
        ("grpc-status-details-bin", status.SerializeToString())), details=status.message)


def _seen(error: DomainError) -> tuple[type, str, str, dict[str, str], list[tuple[str, str]]]:
    return type(error), error.reason, error.message, error.metadata, error.violations


@pytest.mark.parametrize("refusal", [
    errors.FailedPrecondition("INSUFFICIENT_FUNDS", "short", metadata={"asset": "USDC"}),
    errors.InvalidArgument("INVALID_ARGUMENT", "bad", violations=[("price", "is required")]),
    errors.AlreadyExists("ORDER_ID_REUSED", "reused", metadata={"fields": "quantity"}),
    errors.Unavailable("JOURNAL_UNAVAILABLE", "down"),
], ids=lambda refusal: refusal.reason)
def test_an_items_status_is_the_error_its_unary_call_would_raise(refusal: DomainError) -> None:
    status = to_status_proto(refusal)

    item = peer_item_error(status, "wallet", "WALLET_UNAVAILABLE")

    assert _seen(item) == _seen(peer_error(_ended_with(status), "wallet", "WALLET_UNAVAILABLE"))


def test_an_items_unavailable_status_is_the_callers_unavailable_reason() -> None:
    item = peer_item_error(to_status_proto(errors.Unavailable("JOURNAL_UNAVAILABLE", "down")),
                           "matching", "MATCHING_UNAVAILABLE")

    assert (type(item), item.reason) == (errors.Unavailable, "MATCHING_UNAVAILABLE")


def test_an_unavailable_peer_that_said_why_is_named_with_its_own_reason() -> None:
    said = to_status_proto(errors.Unavailable("STORE_UNAVAILABLE", "a database this call needs cannot be reached"))

    error = peer_error(_ended_with(said), "wallet", "WALLET_UNAVAILABLE")

    assert (error.reason, error.metadata) == (
        "WALLET_UNAVAILABLE", {"peerStatus": "UNAVAILABLE", "peerReason": "STORE_UNAVAILABLE"})
    assert "(STORE_UNAVAILABLE: a database this call needs cannot be reached)" in error.message


def test_a_peer_that_never_answered_is_named_by_its_status_alone() -> None:
    error = peer_error(grpc.aio.AioRpcError(grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(),
                                            details="connection refused"), "wallet", "WALLET_UNAVAILABLE")

    assert (error.reason, error.metadata) == ("WALLET_UNAVAILABLE", {"peerStatus": "UNAVAILABLE"})
    assert error.message == "the wallet service did not answer: UNAVAILABLE"
