"""The port through which settlements reach the Wallet: post a batch of trade transfers.

`Wallet.PostTransfers` posts a whole batch in one database transaction, or nothing; each
transfer is idempotent by its id (the trade's name), so a batch posted again (after a lost
answer or a crash before POSTED was recorded) moves nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import grpc
from google.protobuf.field_mask_pb2 import FieldMask

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as wallet_pb, wallet_service_pb2_grpc as wallet_grpc
from services.runtime.status import peer_error
from services.wallet.domain import AssetCatalog, Posting, SystemAccount, format_units

WALLET_TIMEOUT_SECS = 10.0
WALLET_UNAVAILABLE = "WALLET_UNAVAILABLE"
# PostTransfers takes at most this many transfers per call.
MAX_TRANSFERS_PER_CALL = 1000
_FEE, _TRADE = wallet_pb2.ENTRY_KIND_FEE, wallet_pb2.ENTRY_KIND_TRADE
# Only that the batch was posted matters here: the Wallet answers each transfer's name alone,
# not the postings we sent it (for 500 trades, 3 000 postings formatted, sent and parsed back).
_NAMES_ONLY = FieldMask(paths=["name"])


@dataclass(frozen=True, slots=True)
class TradeTransfer:
    transfer_id: str
    postings: tuple[Posting, ...]


class WalletLedger:
    def __init__(self, channel: Callable[[], grpc.aio.Channel], assets: AssetCatalog,
                 timeout: float = WALLET_TIMEOUT_SECS) -> None:
        self._channel = channel
        self._assets = assets
        self._timeout = timeout

    async def post(self, transfers: Sequence[TradeTransfer]) -> None:
        """All of `transfers` posted (or already posted earlier); otherwise the Wallet's refusal
        as the typed error it was, or Unavailable (`WALLET_UNAVAILABLE`) without an answer."""
        if len(transfers) > MAX_TRANSFERS_PER_CALL:
            raise ValueError(f"at most {MAX_TRANSFERS_PER_CALL} transfers per batch")
        requests = [self._request(transfer) for transfer in transfers]
        stub = wallet_grpc.WalletServiceStub(self._channel())
        try:
            await stub.PostTransfers(wallet_pb.PostTransfersRequest(transfers=requests, read_mask=_NAMES_ONLY),
                                     timeout=self._timeout)
        except grpc.aio.AioRpcError as error:
            raise peer_error(error, "wallet", WALLET_UNAVAILABLE) from None

    def _request(self, transfer: TradeTransfer) -> wallet_pb.PostTransferRequest:
        return wallet_pb.PostTransferRequest(
            transfer=f"transfers/{transfer.transfer_id}",
            postings=[wallet_pb2.Posting(
                account=posting.account, asset=posting.asset,
                amount=format_units(self._assets[posting.asset], posting.units),
                hold=f"holds/{posting.hold_id}" if posting.hold_id is not None else "",
                kind=_FEE if posting.account == SystemAccount.FEES else _TRADE)
                for posting in transfer.postings])

