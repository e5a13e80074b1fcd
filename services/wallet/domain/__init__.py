"""The Wallet's pure ledger domain: assets, accounts, postings, holds, withdrawals.

No I/O: the gRPC adapter parses requests with these types and the SQL store persists what
the pure functions return; `Ledger` is the in-memory reference model of both.
"""

from services.wallet.domain.accounts import (
    ASSET_SIDE_ACCOUNTS,
    SystemAccount,
    is_user_account,
    may_go_negative,
    require_user_account,
    user_account,
    validate_account,
)
from services.wallet.domain.assets import (
    DEFAULT_ASSET_CONFIG,
    DEFAULT_ASSETS,
    Asset,
    AssetCatalog,
    format_units,
    from_units,
    parse_amount,
    parse_asset_config,
    parse_units,
    to_units,
)
from services.wallet.domain.balances import Balance, BalanceKey, check_floor
from services.wallet.domain.consistency import ConsistencyReport, check_consistency, derive_balances
from services.wallet.domain.holds import Hold, HoldRelease, HoldStatus
from services.wallet.domain.idempotency import check_replay, differing_fields
from services.wallet.domain.ledger import Ledger, WithdrawalOutcome
from services.wallet.domain.postings import (
    Entry,
    Leg,
    Posting,
    Transfer,
    TransferKind,
    build_trade_legs,
    check_balanced,
    consumed_by_hold,
    deposit_legs,
    legs_to_postings,
    transfer_entries,
    withdrawal_legs,
)
from services.wallet.domain.reasons import WalletReason
from services.wallet.domain.transitions import (
    TransferEffects,
    apply_place_hold,
    apply_postings,
    apply_release,
    touched_balance_keys,
)
from services.wallet.domain.withdrawals import Withdrawal, WithdrawalState

__all__ = [
    "ASSET_SIDE_ACCOUNTS", "DEFAULT_ASSETS", "DEFAULT_ASSET_CONFIG", "Asset", "AssetCatalog", "Balance",
    "BalanceKey", "ConsistencyReport", "Entry", "Hold", "HoldRelease", "HoldStatus", "Ledger", "Leg",
    "Posting", "SystemAccount", "Transfer", "TransferEffects", "TransferKind", "WalletReason", "Withdrawal",
    "WithdrawalOutcome", "WithdrawalState", "apply_place_hold", "apply_postings", "apply_release",
    "build_trade_legs", "check_balanced", "check_consistency", "check_floor", "check_replay",
    "consumed_by_hold", "deposit_legs", "derive_balances", "differing_fields", "format_units", "from_units",
    "is_user_account", "legs_to_postings", "may_go_negative", "parse_amount", "parse_asset_config",
    "parse_units", "require_user_account", "to_units", "touched_balance_keys", "transfer_entries",
    "user_account", "validate_account", "withdrawal_legs",
]
