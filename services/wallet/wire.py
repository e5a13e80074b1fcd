"""Translation between the Wallet's stored records and its protobuf messages."""

from __future__ import annotations

from clearmesh.wallet.v1 import wallet_pb2
from services.runtime.timestamps import timestamp
from services.wallet.domain import AssetCatalog, Balance, HoldStatus, format_units
from services.wallet.store import JournalEntry, PostedTransfer, WithdrawalRecord

TRANSFERS = "transfers"
HOLDS = "holds"
# A Transfer's fields, as a read mask names them.
TRANSFER_FIELDS = ("name", "postings", "create_time")


def entry_kind(kind: str) -> str:
    # The enum value's name: protobuf constructors take names (an unknown one raises ValueError).
    return f"ENTRY_KIND_{kind}"


class Wire:
    """Formats amounts at each asset's precision, so equal amounts always print the same."""

    def __init__(self, assets: AssetCatalog) -> None:
        self.assets = assets

    def amount(self, asset: str, units: int) -> str:
        return format_units(self.assets[asset], units)

    def balance(self, asset: str, balance: Balance) -> wallet_pb2.Balance:
        return wallet_pb2.Balance(
            asset=asset, available=self.amount(asset, balance.available),
            held=self.amount(asset, balance.held), total=self.amount(asset, balance.total))

    def hold(self, status: HoldStatus) -> wallet_pb2.Hold:
        hold = status.hold
        return wallet_pb2.Hold(
            name=f"{HOLDS}/{hold.hold_id}", account=hold.account, asset=hold.asset,
            amount=self.amount(hold.asset, hold.units),
            remaining=self.amount(hold.asset, status.remaining_units),
            state=wallet_pb2.HOLD_STATE_OPEN if status.is_open else wallet_pb2.HOLD_STATE_CLOSED)

    def transfer(self, posted: PostedTransfer, fields: frozenset[str] | None = None) -> wallet_pb2.Transfer:
        """The transfer's message with `fields` only (None: every field): a field left out is
        not formatted at all, which is the point of asking for fewer."""
        transfer = posted.transfer
        message = wallet_pb2.Transfer()
        if fields is None or "name" in fields:
            message.name = f"{TRANSFERS}/{transfer.transfer_id}"
        if fields is None or "postings" in fields:
            message.postings.extend(
                wallet_pb2.Posting(
                    account=posting.account, asset=posting.asset,
                    amount=self.amount(posting.asset, posting.units),
                    hold=f"{HOLDS}/{posting.hold_id}" if posting.hold_id is not None else "",
                    kind=entry_kind(kind))
                for posting, kind in zip(transfer.postings, posted.entry_kinds, strict=True))
        if fields is None or "create_time" in fields:
            message.create_time.CopyFrom(timestamp(transfer.create_time))
        return message

    def entry(self, journal: JournalEntry) -> wallet_pb2.Entry:
        entry = journal.entry
        return wallet_pb2.Entry(
            transfer=f"{TRANSFERS}/{entry.transfer_id}", account=entry.account, asset=entry.asset,
            amount=self.amount(entry.asset, entry.units), kind=entry_kind(journal.entry_kind),
            create_time=timestamp(entry.create_time))

    def withdrawal(self, record: WithdrawalRecord) -> wallet_pb2.Withdrawal:
        withdrawal = record.withdrawal
        return wallet_pb2.Withdrawal(
            name=withdrawal.name, asset=withdrawal.asset, amount=self.amount(withdrawal.asset, withdrawal.units),
            destination=withdrawal.destination,
            state=f"WITHDRAWAL_STATE_{withdrawal.state}",
            create_time=timestamp(withdrawal.create_time), update_time=timestamp(withdrawal.update_time),
            tx_reference=record.tx_reference or "", failure_reason=withdrawal.failure_reason or "")
