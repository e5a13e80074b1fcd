"""Parsing PostTransfers (services/wallet/requests.py): a valid transfer takes the quick path,
a broken one the full check, and both read a transfer the same way."""

from __future__ import annotations

import pytest

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb
from services.runtime.errors import InvalidArgument
from services.wallet.domain import DEFAULT_ASSETS, Posting
from services.wallet.requests import parse_post_transfers


def posting(account: str, amount: str, hold: str = "", kind: wallet_pb2.EntryKind = wallet_pb2.ENTRY_KIND_UNSPECIFIED,
            asset: str = "USDC") -> wallet_pb2.Posting:
    return wallet_pb2.Posting(account=account, asset=asset, amount=amount, hold=hold, kind=kind)


def batch(*postings: wallet_pb2.Posting) -> pb.PostTransfersRequest:
    return pb.PostTransfersRequest(transfers=[pb.PostTransferRequest(transfer="transfers/t1", postings=postings)])


def test_a_valid_transfer_parses_to_its_postings_and_kinds() -> None:
    [command] = parse_post_transfers(batch(
        posting("accounts/buyer", "-1.5", hold="holds/h1"),
        posting("accounts/seller", "1.49"),
        posting("system/fees", "0.01"),
    ), DEFAULT_ASSETS)

    assert command.transfer_id == "t1"
    assert command.postings == (Posting("accounts/buyer", "USDC", -1_500_000, "h1"),
                                Posting("accounts/seller", "USDC", 1_490_000, None),
                                Posting("system/fees", "USDC", 10_000, None))
    assert command.entry_kinds == ("TRADE", "TRADE", "FEE")


def test_a_labelled_kind_is_kept() -> None:
    [command] = parse_post_transfers(batch(
        posting("accounts/buyer", "-1", kind=wallet_pb2.ENTRY_KIND_FEE),
        posting("system/fees", "1", kind=wallet_pb2.ENTRY_KIND_TRADE),
    ), DEFAULT_ASSETS)

    assert command.entry_kinds == ("FEE", "TRADE")


@pytest.mark.parametrize(("bad", "field"), [
    (posting("accounts/seller", "1", hold="holds/h2"), "transfers[0].postings[1].hold"),
    (posting("accounts/seller", "1.0000001"), "transfers[0].postings[1].amount"),
    (posting("nobody", "1"), "transfers[0].postings[1].account"),
    (posting("accounts/seller", "1", asset="XYZ"), "transfers[0].postings[1].asset"),
    (posting("accounts/seller", "1", kind=wallet_pb2.ENTRY_KIND_DEPOSIT), "transfers[0].postings[1].kind"),
])
def test_a_broken_posting_after_a_valid_one_is_named(bad: wallet_pb2.Posting, field: str) -> None:
    with pytest.raises(InvalidArgument) as caught:
        parse_post_transfers(batch(posting("accounts/buyer", "-1", hold="holds/h1"), bad), DEFAULT_ASSETS)

    assert field in {name for name, _ in caught.value.violations}
