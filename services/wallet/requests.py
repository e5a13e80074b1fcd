"""Validation of every Wallet request: each bad field named at once, before anything is read or
written. Parsing yields plain typed commands; the domain's validators do the field checks."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TypeVar

from clearmesh.wallet.v1 import wallet_pb2, wallet_service_pb2 as pb
from services.runtime.errors import InvalidArgument
from services.runtime.validation import REQUEST_ID, REQUEST_ID_RULE, Violations
from services.wallet.domain import (
    Asset,
    AssetCatalog,
    Posting,
    SystemAccount,
    WalletReason,
    check_balanced,
    parse_units,
    require_user_account,
    to_units,
    validate_account,
)
from services.wallet.domain.batches import MAX_TRANSFERS_PER_BATCH, transfer_field
from services.wallet.domain.identifiers import validate_client_id, validate_id
from services.wallet.wire import HOLDS, TRANSFER_FIELDS, TRANSFERS

T = TypeVar("T")

_SIGNED_DECIMAL = re.compile(r"-?[0-9]{1,40}(\.[0-9]{1,40})?")
_WITHDRAWAL_NAME = re.compile(r"(accounts/[^/]+)/withdrawals/([^/]+)")
MAX_REASON = 1024
MAX_TX_REFERENCE = 256
# What a caller may label a posting of PostTransfer; deposits and withdrawals are the Wallet's own.
_POSTING_KINDS = {wallet_pb2.ENTRY_KIND_TRADE: "TRADE", wallet_pb2.ENTRY_KIND_FEE: "FEE"}
_TRANSFER_PREFIX, _HOLD_PREFIX = f"{TRANSFERS}/", f"{HOLDS}/"


class Checks(Violations):
    """Violations that also run the domain's validators, keeping their specific reason when
    every problem has the same one (e.g. AMOUNT_TOO_PRECISE)."""

    def __init__(self) -> None:
        super().__init__()
        self.reasons: set[str] = set()

    def run(self, check: Callable[[], T], *, prefix: str = "") -> T | None:
        """`check()`, or None with its violations added (their fields under `prefix`)."""
        try:
            return check()
        except InvalidArgument as error:
            self.items.extend((prefix + field, description) for field, description in error.violations)
            self.reasons.add(error.reason)
            return None

    def add(self, field: str, description: str, reason: str = "INVALID_ARGUMENT") -> None:
        super().add(field, description)
        self.reasons.add(reason)

    def raise_if_any(self, message: str = "the request is invalid", *, reason: str | None = None) -> None:
        if self.items:
            if reason is None:
                reason = next(iter(self.reasons)) if len(self.reasons) == 1 else "INVALID_ARGUMENT"
            raise InvalidArgument(reason, message, violations=self.items)

    def request_id(self, value: str, *, required: bool, field: str = "request_id") -> str | None:
        # The runtime's one rule, with the Wallet's reason for a malformed id.
        if value and not REQUEST_ID.fullmatch(value):
            self.add(field, REQUEST_ID_RULE, WalletReason.INVALID_ID)
            return None
        return super().request_id(value, required=required, field=field)

    def prefixed_id(self, field: str, value: str, collection: str) -> str | None:
        """The id in `collection/{id}`; the id may itself contain slashes (trade names)."""
        prefix = collection + "/"
        if not value.startswith(prefix):
            self.add(field, f"must look like {collection}/{{id}}", WalletReason.INVALID_ID)
            return None
        return self.run(lambda: validate_client_id(value[len(prefix):], field=field))

    def text(self, field: str, value: str, limit: int, *, required: bool) -> str | None:
        if not value:
            if required:
                self.add(field, "is required")
            return None
        if len(value) > limit or not value.isprintable():
            self.add(field, f"must be at most {limit} printable characters")
            return None
        return value


def _asset(checks: Checks, assets: AssetCatalog, code: str, field: str = "asset") -> Asset | None:
    if not checks.require(field, code):
        return None
    return checks.run(lambda: assets.resolve(code, field=field))


def _units(checks: Checks, asset: Asset | None, text: str, field: str = "amount") -> int | None:
    if not checks.require(field, text) or asset is None:
        return None
    return checks.run(lambda: parse_units(asset, text, field=field))


def _user_account(checks: Checks, account: str) -> str | None:
    if not checks.require("account", account):
        return None
    return checks.run(lambda: require_user_account(account))


@dataclass(frozen=True, slots=True)
class MoveFunds:
    """Deposit, Withdraw and PlaceHold: an amount of an asset for a user account."""

    account: str
    asset: Asset
    units: int


def _funds(checks: Checks, assets: AssetCatalog, account: str, asset: str, amount: str) -> MoveFunds | None:
    """The account, asset and amount a funds-moving request carries; None when any is bad (its
    violation recorded in `checks`)."""
    account_name = _user_account(checks, account)
    found = _asset(checks, assets, asset)
    units = _units(checks, found, amount)
    return MoveFunds(account_name, found, units) if account_name and found and units else None


@dataclass(frozen=True, slots=True)
class DepositCommand:
    funds: MoveFunds
    request_id: str


def parse_deposit(request: pb.DepositRequest, assets: AssetCatalog) -> DepositCommand:
    checks = Checks()
    funds = _funds(checks, assets, request.account, request.asset, request.amount)
    request_id = checks.request_id(request.request_id, required=True)
    checks.raise_if_any()
    assert funds and request_id
    return DepositCommand(funds, request_id)


@dataclass(frozen=True, slots=True)
class WithdrawCommand:
    funds: MoveFunds
    destination: str
    request_id: str


def parse_withdraw(request: pb.WithdrawRequest, assets: AssetCatalog) -> WithdrawCommand:
    checks = Checks()
    funds = _funds(checks, assets, request.account, request.asset, request.amount)
    destination = None
    if checks.require("destination", request.destination):
        destination = checks.run(lambda: validate_id(request.destination, field="destination"))
    request_id = checks.request_id(request.request_id, required=True)
    checks.raise_if_any()
    assert funds and destination and request_id
    return WithdrawCommand(funds, destination, request_id)


@dataclass(frozen=True, slots=True)
class PlaceHoldCommand:
    hold_id: str
    funds: MoveFunds


def parse_place_hold(request: pb.PlaceHoldRequest, assets: AssetCatalog) -> PlaceHoldCommand:
    checks = Checks()
    hold_id = checks.prefixed_id("hold", request.hold, HOLDS) if checks.require("hold", request.hold) else None
    funds = _funds(checks, assets, request.account, request.asset, request.amount)
    checks.raise_if_any()
    assert hold_id and funds
    return PlaceHoldCommand(hold_id, funds)


@dataclass(frozen=True, slots=True)
class ReleaseHoldCommand:
    hold_id: str
    # Checked against the hold's asset once the hold is found; None releases all that remains.
    amount: Decimal | None
    request_id: str | None


def parse_release_hold(request: pb.ReleaseHoldRequest) -> ReleaseHoldCommand:
    checks = Checks()
    hold_id = checks.prefixed_id("hold", request.hold, HOLDS) if checks.require("hold", request.hold) else None
    amount = checks.decimal("amount", request.amount) if request.amount else None
    request_id = checks.request_id(request.request_id, required=False)
    checks.raise_if_any()
    assert hold_id
    return ReleaseHoldCommand(hold_id, amount, request_id)


@dataclass(frozen=True, slots=True)
class PostTransferCommand:
    transfer_id: str
    postings: tuple[Posting, ...]
    entry_kinds: tuple[str, ...]


def parse_post_transfer(request: pb.PostTransferRequest, assets: AssetCatalog) -> PostTransferCommand:
    checks = Checks()
    command = _transfer(checks, assets, request, "")
    checks.raise_if_any("invalid transfer")
    if command is None:
        raise AssertionError("a transfer without violations parses")  # pragma: no cover
    return command


def parse_post_transfers(request: pb.PostTransfersRequest, assets: AssetCatalog) -> list[PostTransferCommand]:
    """Every transfer of the batch, or INVALID_ARGUMENT naming each bad field as
    `transfers[i].…` (the whole batch is refused: nothing is written)."""
    checks = Checks()
    if checks.require("transfers", list(request.transfers)) and len(request.transfers) > MAX_TRANSFERS_PER_BATCH:
        checks.add("transfers", f"must hold at most {MAX_TRANSFERS_PER_BATCH} transfers", WalletReason.BATCH_TOO_LARGE)
        checks.raise_if_any("too many transfers")
    for path in request.read_mask.paths:
        if path not in TRANSFER_FIELDS:
            checks.add("read_mask", f"{path!r} is not a field of Transfer (one of {', '.join(TRANSFER_FIELDS)})")
    commands: list[PostTransferCommand] = []
    first_index: dict[str, int] = {}
    for index, wire in enumerate(request.transfers):
        field = transfer_field(index)
        command = _transfer(checks, assets, wire, f"{field}.")
        if command is None:
            continue
        earlier = first_index.setdefault(command.transfer_id, index)
        if earlier != index:
            checks.add(f"{field}.transfer", f"repeats {transfer_field(earlier)}.transfer",
                       WalletReason.DUPLICATE_TRANSFER)
        commands.append(command)
    checks.raise_if_any("invalid transfers")
    return commands


def transfer_fields(request: pb.PostTransfersRequest) -> frozenset[str] | None:
    """The Transfer fields the caller asked to be answered (`read_mask`, checked by
    `parse_post_transfers`); None: every field."""
    return frozenset(request.read_mask.paths) if request.read_mask.paths else None


def _transfer(checks: Checks, assets: AssetCatalog, request: pb.PostTransferRequest,
              prefix: str) -> PostTransferCommand | None:
    """One transfer's command, or None with its violations (field paths under `prefix`) added."""
    valid = _valid_transfer(assets, request)
    if valid is not None:
        return valid
    before = len(checks.items)
    transfer_id = None
    if checks.require(f"{prefix}transfer", request.transfer):
        transfer_id = checks.prefixed_id(f"{prefix}transfer", request.transfer, TRANSFERS)
    checks.require(f"{prefix}postings", list(request.postings))
    postings: list[Posting] = []
    kinds: list[str] = []
    for index, wire in enumerate(request.postings):
        parsed = _posting(checks, assets, wire, f"{prefix}postings[{index}]")
        if parsed is not None:
            postings.append(parsed[0])
            kinds.append(parsed[1])
    if len(checks.items) == before:
        checks.run(lambda: check_balanced(postings), prefix=prefix)
    if len(checks.items) > before or transfer_id is None:
        return None
    return PostTransferCommand(transfer_id, tuple(postings), tuple(kinds))


def _valid_transfer(assets: AssetCatalog, request: pb.PostTransferRequest) -> PostTransferCommand | None:
    """The command of a transfer that breaks no rule; None as soon as it breaks one (then
    `_transfer` checks it again, naming every violation). The same rules as `_transfer` and
    `_posting`, without the field paths and checks they build for each posting: Settlement
    sends up to a thousand six-posting transfers per PostTransfers, nearly always valid."""
    try:
        name = request.transfer
        if not name.startswith(_TRANSFER_PREFIX):
            return None
        transfer_id = validate_client_id(name[len(_TRANSFER_PREFIX):], field="transfer")
        postings: list[Posting] = []
        kinds: list[str] = []
        for wire in request.postings:
            asset = assets.by_code.get(wire.asset)
            amount = wire.amount
            if asset is None or not _SIGNED_DECIMAL.fullmatch(amount):
                return None
            units = to_units(asset, Decimal(amount))
            hold_id = None
            if hold := wire.hold:
                if units > 0 or not hold.startswith(_HOLD_PREFIX):
                    return None
                hold_id = validate_client_id(hold[len(_HOLD_PREFIX):], field="hold")
            if wire.kind == wallet_pb2.ENTRY_KIND_UNSPECIFIED:
                kind = "FEE" if wire.account == SystemAccount.FEES else "TRADE"
            elif (known := _POSTING_KINDS.get(wire.kind)) is not None:
                kind = known
            else:
                return None
            if units == 0:
                return None
            postings.append(Posting(validate_account(wire.account), asset.code, units, hold_id))
            kinds.append(kind)
        if not postings:
            return None
        check_balanced(postings)
    except InvalidArgument:
        return None
    return PostTransferCommand(transfer_id, tuple(postings), tuple(kinds))


def _posting(checks: Checks, assets: AssetCatalog, wire: wallet_pb2.Posting, field: str) -> tuple[Posting, str] | None:
    before = len(checks.items)
    account = None
    if checks.require(f"{field}.account", wire.account):
        account = checks.run(lambda: validate_account(wire.account, field=f"{field}.account"))
    asset = _asset(checks, assets, wire.asset, f"{field}.asset")
    units = None
    if checks.require(f"{field}.amount", wire.amount):
        if not _SIGNED_DECIMAL.fullmatch(wire.amount):
            checks.add(f"{field}.amount", "must be a signed decimal string such as -12.5", WalletReason.INVALID_AMOUNT)
        elif asset is not None:
            units = checks.run(lambda: to_units(asset, Decimal(wire.amount), field=f"{field}.amount"))
            if units == 0:
                checks.add(f"{field}.amount", "must not be zero", WalletReason.AMOUNT_NOT_POSITIVE)
    hold_id = None
    if wire.hold:
        hold_id = checks.prefixed_id(f"{field}.hold", wire.hold, HOLDS)
        if units is not None and units > 0:
            checks.add(f"{field}.hold", "only a debit (negative amount) may name a hold", WalletReason.INVALID_TRANSFER)
    kind = _POSTING_KINDS.get(wire.kind)
    if wire.kind == wallet_pb2.ENTRY_KIND_UNSPECIFIED:
        kind = "FEE" if wire.account == SystemAccount.FEES else "TRADE"
    elif kind is None:
        checks.add(f"{field}.kind", "must be ENTRY_KIND_TRADE or ENTRY_KIND_FEE (or unspecified)")
    if len(checks.items) > before or account is None or asset is None or units is None or kind is None:
        return None
    return Posting(account, asset.code, units, hold_id), kind


@dataclass(frozen=True, slots=True)
class WithdrawalRef:
    account: str
    withdrawal_id: str


def _withdrawal_ref(checks: Checks, name: str) -> WithdrawalRef | None:
    if not checks.require("name", name):
        return None
    match = _WITHDRAWAL_NAME.fullmatch(name)
    if match is None or checks.run(lambda: validate_account(match.group(1), field="name")) is None:
        if match is None:
            checks.add("name", "must look like accounts/{account}/withdrawals/{withdrawal}")
        return None
    return WithdrawalRef(match.group(1), match.group(2))


def parse_withdrawal_name(name: str) -> WithdrawalRef:
    checks = Checks()
    ref = _withdrawal_ref(checks, name)
    checks.raise_if_any()
    assert ref
    return ref


@dataclass(frozen=True, slots=True)
class ResolveCommand:
    ref: WithdrawalRef
    detail: str | None  # tx_reference on completion, reason on failure
    request_id: str | None


def parse_complete(request: pb.CompleteWithdrawalRequest) -> ResolveCommand:
    checks = Checks()
    ref = _withdrawal_ref(checks, request.name)
    tx_reference = checks.text("tx_reference", request.tx_reference, MAX_TX_REFERENCE, required=False)
    request_id = checks.request_id(request.request_id, required=False)
    checks.raise_if_any()
    assert ref
    return ResolveCommand(ref, tx_reference, request_id)


def parse_fail(request: pb.FailWithdrawalRequest) -> ResolveCommand:
    checks = Checks()
    ref = _withdrawal_ref(checks, request.name)
    reason = checks.text("reason", request.reason, MAX_REASON, required=True)
    request_id = checks.request_id(request.request_id, required=False)
    checks.raise_if_any()
    assert ref and reason
    return ResolveCommand(ref, reason, request_id)


def parse_account(account: str) -> str:
    """A user account, or (for operators) a system account such as `system/fees`."""
    checks = Checks()
    parsed = None
    if checks.require("account", account):
        parsed = checks.run(lambda: validate_account(account))
    checks.raise_if_any()
    assert parsed
    return parsed


def parse_entries_query(account: str, asset_code: str, assets: AssetCatalog) -> tuple[str, str | None]:
    """ListEntries' account and optional asset filter, both checked before either is refused."""
    checks = Checks()
    parsed = None
    if checks.require("account", account):
        parsed = checks.run(lambda: validate_account(account))
    asset = checks.run(lambda: assets.resolve(asset_code)) if asset_code else None
    checks.raise_if_any()
    assert parsed
    return parsed, asset.code if asset is not None else None
