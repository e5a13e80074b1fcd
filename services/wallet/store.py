"""The Wallet's SQL store: persists what the pure domain rules decide, under row locks.

Every mutating method takes the session of a write transaction (`store.tx.write`), so the
adapter can put a command and its request-log record in one commit. The methods load the
rows a command touches (locked: see `transactions`), call the domain's pure transitions
(`apply_hold_group`, `apply_transfers`, `apply_postings`, `check_replay`) and write back what
they return; the rules themselves live only in the domain.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, select, tuple_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.runtime.bulk import insert_rows, update_rows
from services.runtime.database import stored_utc
from services.runtime.errors import DomainError
from services.runtime.padded_in import Names, PaddedIn
from services.runtime.direct_statements import DirectStatement
from services.runtime.transactions import Transactions
from services.wallet import tables
from services.wallet.domain import (
    AssetCatalog,
    Balance,
    BalanceKey,
    ConsistencyReport,
    Entry,
    Hold,
    HoldStatus,
    Posting,
    Transfer,
    TransferKind,
    WalletReason,
    Withdrawal,
    WithdrawalState,
    apply_postings,
    check_consistency,
    check_replay,
    consumed_by_hold,
    is_user_account,
    touched_balance_keys,
)
from services.wallet.domain.batches import apply_transfers, consumed_holds, in_transfer
from services.wallet.domain.hold_groups import (
    HoldCommand,
    Outcome,
    PlaceHold,
    ReleaseHold,
    apply_hold_group,
    balance_key_of,
)
from services.wallet.domain.identifiers import withdrawal_name
from services.wallet.hold_group_sql import changes_nothing, read_group, write_group


# The statements every hold group runs on SQLite (each PlaceHold and ReleaseHold; on PostgreSQL
# a group is two statements of its own, hold_group_sql.py), built once with bind
# parameters: built per call with literal lists, their construction and cache key cost more
# CPU than executing them, on the serial path of every placement (docs/order-path.md). Their
# IN lists are padded to a power of two (runtime/padded_in.py), so that each is compiled once
# and, on SQLite on the loop's thread, runs on the driver (runtime/direct_statements.py): through
# SQLAlchemy's execution and its ORM session, the statements of a hold group cost more CPU
# than the rest of the Wallet's work for it.
H, B = tables.holds, tables.balances


def _ids(names: Names) -> list[Any]:
    return [bindparam(name) for name, in names]


def _balances(names: Names) -> Any:
    keys = [tuple_(bindparam(account), bindparam(asset)) for account, asset in names]
    return select(B).where(tuple_(B.c.account, B.c.asset).in_(keys)).order_by(B.c.account, B.c.asset)


_BALANCES = PaddedIn(_balances, width=2)
_BALANCES_LOCKED = PaddedIn(lambda names: _balances(names).with_for_update(), width=2)
_LOCK_HOLDS = PaddedIn(lambda names: select(H).where(H.c.hold_id.in_(_ids(names))).order_by(H.c.hold_id)
                       .with_for_update())
_RELEASED = PaddedIn(lambda names: select(tables.released_hold_ids.c.hold_id)
                     .where(tables.released_hold_ids.c.hold_id.in_(_ids(names))))
_INSERT_HOLDS = DirectStatement(H.insert())
_INSERT_TOMBSTONES = DirectStatement(tables.released_hold_ids.insert())


@dataclass(frozen=True, slots=True)
class JournalEntry:
    entry: Entry
    entry_kind: str  # EntryKind without its prefix: DEPOSIT, WITHDRAWAL, TRADE, FEE


@dataclass(frozen=True, slots=True)
class PostedTransfer:
    transfer: Transfer
    entry_kinds: tuple[str, ...]  # one per posting


@dataclass(frozen=True, slots=True)
class WithdrawalRecord:
    withdrawal: Withdrawal
    tx_reference: str | None


class AssetPrecisionChanged(RuntimeError):
    """The configured precision of an asset differs from the one its amounts are stored in."""


class WalletStore:
    def __init__(self, engine: AsyncEngine, assets: AssetCatalog, tx: Transactions | None = None) -> None:
        """`tx`: the service runtime's transactions on `engine` (which keep SQLite's connections
        between calls, so that a hold group runs on the driver: see the statements above); by
        default a `Transactions` of its own (a reader of the store, as tests and tools are)."""
        self.tx = tx if tx is not None else Transactions(engine)
        self.assets = assets
        self._insert: Callable[[Any], Any] = sqlite_insert if self.tx.is_sqlite else postgresql_insert

    # ------------------------------------------------------------- start-up

    async def pin_assets(self) -> None:
        """Record each configured asset's precision; refuse to start if one changed."""

        async def work(session: AsyncSession) -> None:
            stored = {row.code: row.precision for row in await session.execute(select(tables.assets))}
            for asset in self.assets.values():
                if asset.code in stored and stored[asset.code] != asset.precision:
                    raise AssetPrecisionChanged(
                        f"{asset.code} is configured with precision {asset.precision} but stored "
                        f"with {stored[asset.code]}; amounts are kept in minor units, so it cannot change")
            new = [{"code": a.code, "precision": a.precision} for a in self.assets.values() if a.code not in stored]
            if new:
                await session.execute(self._insert(tables.assets).values(new).on_conflict_do_nothing())

        await self.tx.write(work)

    # ------------------------------------------------------------- balances

    async def _select_balances(
        self, session: AsyncSession, keys: Sequence[BalanceKey], *, lock: bool
    ) -> dict[BalanceKey, Balance]:
        if not keys:
            return {}
        statement, params = (_BALANCES_LOCKED if lock else _BALANCES).of(keys)
        return {(row.account, row.asset): Balance(row.total, row.held)
                for row in (await statement.run(session, params)).rows}

    async def lock_balances(self, session: AsyncSession, keys: Sequence[BalanceKey]) -> dict[BalanceKey, Balance]:
        """Lock the balance rows of `keys` in sorted order, creating missing ones (and accounts) at zero."""
        keys = sorted(set(keys))
        found = await self._select_balances(session, keys, lock=True)
        missing = [key for key in keys if key not in found]
        if not missing:
            return found
        names = sorted({account for account, _ in missing})
        await session.execute(self._insert(tables.accounts).values(
            [{"name": name, "kind": "USER" if is_user_account(name) else "SYSTEM"} for name in names]
        ).on_conflict_do_nothing())
        await session.execute(self._insert(tables.balances).values(
            [{"account": account, "asset": asset, "total": 0, "held": 0} for account, asset in missing]
        ).on_conflict_do_nothing())
        return await self._select_balances(session, keys, lock=True)

    async def _write_balances(self, session: AsyncSession, changed: Mapping[BalanceKey, Balance]) -> None:
        await update_rows(session, tables.balances, ("account", "asset"), [
            {"account": account, "asset": asset, "total": balance.total, "held": balance.held}
            for (account, asset), balance in sorted(changed.items())
        ])

    async def balance(self, session: AsyncSession, account: str, asset: str) -> Balance:
        return (await self._select_balances(session, [(account, asset)], lock=False)).get((account, asset), Balance())

    async def list_balances(
        self, session: AsyncSession, account: str, *, after_asset: str | None, limit: int
    ) -> list[tuple[str, Balance]]:
        query = select(tables.balances).where(tables.balances.c.account == account)
        if after_asset is not None:
            query = query.where(tables.balances.c.asset > after_asset)
        query = query.order_by(tables.balances.c.asset).limit(limit)
        return [(row.asset, Balance(row.total, row.held)) for row in await session.execute(query)]

    # ---------------------------------------------------------------- holds

    async def _lock_holds(self, session: AsyncSession, hold_ids: Sequence[str]) -> dict[str, HoldStatus]:
        if not hold_ids:
            return {}
        statement, params = _LOCK_HOLDS.of(sorted(set(hold_ids)))
        return {row.hold_id: _hold_status(row) for row in (await statement.run(session, params)).rows}

    async def _released_hold_ids(self, session: AsyncSession, hold_ids: Sequence[str]) -> set[str]:
        """The tombstones among `hold_ids`: ids released before any hold was placed under them."""
        if not hold_ids:
            return set()
        statement, params = _RELEASED.of(sorted(set(hold_ids)))
        return {row.hold_id for row in (await statement.run(session, params)).rows}

    async def release_unplaced(self, session: AsyncSession, hold_id: str) -> bool:
        """Tombstone `hold_id` if no hold was placed under it (False); True if one has been since,
        which the caller then releases by the usual rules."""
        if await self._lock_holds(session, [hold_id]):
            return True
        effects = apply_hold_group([ReleaseHold(hold_id, None)], {}, {}, self.assets,
                                   await self._released_hold_ids(session, [hold_id]))
        if effects.tombstones:
            await _INSERT_TOMBSTONES.run_many(session, [{"hold_id": hold_id}])
        return False

    async def hold(self, session: AsyncSession, hold_id: str) -> HoldStatus | None:
        row = (await session.execute(select(tables.holds).where(tables.holds.c.hold_id == hold_id))).first()
        return None if row is None else _hold_status(row)

    async def apply_hold_group(self, session: AsyncSession, commands: Sequence[HoldCommand]) -> list[Outcome]:
        """PlaceHold and ReleaseHold commands in one transaction, each with its own outcome
        (`hold_groups`): the holds and balance rows they touch are locked once, in the usual
        order (holds, then balances), and written once."""
        hold_ids = [command.hold.hold_id if isinstance(command, PlaceHold) else command.hold_id
                    for command in commands]
        if not self.tx.is_sqlite:
            return await self._apply_hold_group_in_two(session, commands, hold_ids)
        statuses = await self._lock_holds(session, hold_ids)
        released = await self._released_hold_ids(session, hold_ids)
        keys = {key for command in commands if (key := balance_key_of(command, statuses)) is not None}
        # Rows are not created here: a missing one belongs to an account never funded, on which
        # a hold can only fail; a release's row exists since its hold was placed.
        found = await self._select_balances(session, sorted(keys), lock=True) if keys else {}
        effects = apply_hold_group(commands, statuses, found, self.assets, released)
        if effects.tombstones:
            await _INSERT_TOMBSTONES.run_many(session, [{"hold_id": hold_id} for hold_id in effects.tombstones])
        if effects.placed:
            await _INSERT_HOLDS.run_many(session, [
                {"hold_id": s.hold.hold_id, "account": s.hold.account, "asset": s.hold.asset, "units": s.hold.units,
                 "consumed_units": s.consumed_units, "released_units": s.released_units,
                 "create_time": s.hold.create_time}
                for s in effects.placed
            ])
        await self._write_holds(session, effects.changed)
        if effects.balances:
            await self._write_balances(session, effects.balances)
        return effects.outcomes

    async def _apply_hold_group_in_two(self, session: AsyncSession, commands: Sequence[HoldCommand],
                                       hold_ids: Sequence[str]) -> list[Outcome]:
        """`apply_hold_group` on PostgreSQL: its reads in one statement and its writes in another
        (hold_group_sql.py), four round trips with BEGIN and COMMIT where there were seven."""
        place_keys = {(command.hold.account, command.hold.asset) for command in commands
                      if isinstance(command, PlaceHold)}
        rows = await read_group(session, hold_ids, place_keys)
        effects = apply_hold_group(commands, rows.holds, rows.balances, self.assets, rows.released)
        if not changes_nothing(effects):
            await write_group(session, effects)
        return effects.outcomes

    async def apply_hold_command(self, session: AsyncSession, command: HoldCommand) -> HoldStatus:
        """One hold command alone, by the same rules as a group; its error is raised."""
        outcome = (await self.apply_hold_group(session, [command]))[0]
        if isinstance(outcome, DomainError):
            raise outcome
        return outcome

    async def _write_holds(self, session: AsyncSession, statuses: Sequence[HoldStatus]) -> None:
        await update_rows(session, tables.holds, ("hold_id",), [
            {"hold_id": s.hold.hold_id, "consumed_units": s.consumed_units, "released_units": s.released_units}
            for s in sorted(statuses, key=lambda s: s.hold.hold_id)
        ])

    # ------------------------------------------------------------ transfers

    async def posted_transfer(self, session: AsyncSession, transfer_id: str) -> PostedTransfer | None:
        return (await self.posted_transfers(session, [transfer_id])).get(transfer_id)

    async def posted_transfers(self, session: AsyncSession, transfer_ids: Sequence[str]) -> dict[str, PostedTransfer]:
        """The transfers among `transfer_ids` that were posted, by id."""
        heads = {row.transfer_id: row for row in await session.execute(
            select(tables.transfers).where(tables.transfers.c.transfer_id.in_(sorted(set(transfer_ids)))))}
        if not heads:
            return {}
        rows: dict[str, list[Any]] = {transfer_id: [] for transfer_id in heads}
        for row in await session.execute(
                select(tables.entries).where(tables.entries.c.transfer_id.in_(sorted(heads)))
                .order_by(tables.entries.c.transfer_id, tables.entries.c.position)):
            rows[row.transfer_id].append(row)
        return {
            transfer_id: PostedTransfer(
                Transfer(transfer_id, TransferKind(head.kind),
                         tuple(Posting(row.account, row.asset, row.units, row.hold_id) for row in rows[transfer_id]),
                         stored_utc(head.create_time)),
                tuple(row.kind for row in rows[transfer_id]),
            )
            for transfer_id, head in heads.items()
        }

    async def post_transfer(
        self, session: AsyncSession, transfer: Transfer, entry_kinds: Sequence[str],
        *, replay_reason: WalletReason, id_field: str, id_value: str,
    ) -> PostedTransfer:
        """Post a balanced transfer atomically; a replay with the same postings returns the first."""
        posted, _ = await self._post_transfer(session, transfer, entry_kinds, replay_reason=replay_reason,
                                              id_field=id_field, id_value=id_value)
        return posted

    async def post_transfer_for_balance(
        self, session: AsyncSession, transfer: Transfer, entry_kinds: Sequence[str], key: BalanceKey,
        *, replay_reason: WalletReason, id_field: str, id_value: str,
    ) -> tuple[PostedTransfer, Balance]:
        """`post_transfer`, and the balance of `key` after it: the one it wrote, read again only
        when the transfer was already posted (a Deposit answers with it; reading back a row
        this transaction just wrote was a statement, and a span, for nothing)."""
        posted, written = await self._post_transfer(session, transfer, entry_kinds, replay_reason=replay_reason,
                                                    id_field=id_field, id_value=id_value)
        if key in written:
            return posted, written[key]
        return posted, await self.balance(session, *key)

    async def _post_transfer(
        self, session: AsyncSession, transfer: Transfer, entry_kinds: Sequence[str],
        *, replay_reason: WalletReason, id_field: str, id_value: str,
    ) -> tuple[PostedTransfer, Mapping[BalanceKey, Balance]]:
        """The posted transfer and the balances it wrote (none when it was already posted)."""
        requested = PostedTransfer(transfer, tuple(entry_kinds))
        # The transfer row first, and in one statement with the replay check: inserted, the
        # transfer is new (a concurrent replay waits on its key, then finds it); not inserted,
        # it was posted before, and is read back to compare.
        inserted = await session.execute(self._insert(tables.transfers).values(
            transfer_id=transfer.transfer_id, kind=str(transfer.kind), create_time=transfer.create_time,
        ).on_conflict_do_nothing())
        if not inserted.rowcount:  # type: ignore[attr-defined]
            existing = await self.posted_transfer(session, transfer.transfer_id)
            if existing is None:  # pragma: no cover - the row that conflicted is committed, so read
                raise AssertionError(f"transfer {transfer.transfer_id} conflicted but cannot be read")
            check_replay(replay_reason, id_field, id_value, _transfer_params(existing), _transfer_params(requested))
            return existing, {}
        hold_ids = list(consumed_by_hold(transfer.postings))
        statuses = await self._lock_holds(session, hold_ids) if hold_ids else {}
        found = await self.lock_balances(session, touched_balance_keys(transfer.postings))
        effects = apply_postings(transfer.postings, found, statuses)
        await self._write_holds(session, list(effects.holds.values()))
        await self._write_balances(session, effects.balances)
        await self._insert_entries(session, [requested])
        return requested, effects.balances

    async def post_transfers(
        self, session: AsyncSession, batch: Sequence[PostedTransfer], *, names: Sequence[str],
    ) -> list[PostedTransfer]:
        """Post a batch of balanced transfers (distinct ids) atomically, each idempotent by its id
        as `post_transfer` (`names`: as the caller named them); every touched hold and balance
        row is locked and written once. Errors name the offending transfer by its index in
        `batch` (`batches.in_transfer`)."""
        existing = await self.posted_transfers(session, [posted.transfer.transfer_id for posted in batch])
        new: dict[int, PostedTransfer] = {}
        for index, requested in enumerate(batch):
            found = existing.get(requested.transfer.transfer_id)
            if found is None:
                new[index] = requested
                continue
            try:
                check_replay(WalletReason.TRANSFER_EXISTS_WITH_DIFFERENT_POSTINGS, "transfer", names[index],
                             _transfer_params(found), _transfer_params(requested))
            except DomainError as error:
                raise in_transfer(error, index) from None
        if new:
            # The transfer rows first: a concurrent replay waits on their keys, then finds them.
            # In id order, so two batches sharing ids wait for each other instead of deadlocking.
            await insert_rows(session, tables.transfers, [
                {"transfer_id": posted.transfer.transfer_id, "kind": str(posted.transfer.kind),
                 "create_time": posted.transfer.create_time}
                for posted in sorted(new.values(), key=lambda posted: posted.transfer.transfer_id)
            ])
            postings = [posting for posted in new.values() for posting in posted.transfer.postings]
            hold_ids = list(consumed_by_hold(postings))
            statuses = await self._lock_holds(session, hold_ids) if hold_ids else {}
            by_index = {index: posted.transfer.postings for index, posted in new.items()}
            # The holds are written before the balance rows are locked: another batch holding
            # those (`system/fees`, in every trade) is not kept waiting while they are written.
            # Should the rules below refuse the batch, the transaction and this write roll back.
            early = consumed_holds(by_index, statuses)
            if early:
                await self._write_holds(session, list(early.values()))
            found_balances = await self.lock_balances(session, touched_balance_keys(postings))
            effects = apply_transfers(by_index, found_balances, statuses)
            if effects.holds != early:  # defensive: `consumed_holds` fails only where apply_transfers raised
                await self._write_holds(session, list(effects.holds.values()))
            await self._write_balances(session, effects.balances)
            await self._insert_entries(session, list(new.values()))
        return [existing.get(posted.transfer.transfer_id, posted) for posted in batch]

    async def _insert_entries(self, session: AsyncSession, posted: Sequence[PostedTransfer]) -> None:
        """One journal entry per posting, in the transfers' order (their sequence numbers follow it)."""
        await insert_rows(session, tables.entries, [
            {"transfer_id": one.transfer.transfer_id, "position": position, "kind": kind,
             "account": posting.account, "asset": posting.asset, "units": posting.units,
             "hold_id": posting.hold_id, "create_time": one.transfer.create_time}
            for one in posted
            for position, (posting, kind) in enumerate(zip(one.transfer.postings, one.entry_kinds, strict=True))
        ])

    async def list_entries(
        self, session: AsyncSession, account: str, *, asset: str | None, after_sequence: int | None, limit: int
    ) -> list[JournalEntry]:
        query = (
            select(tables.entries, tables.transfers.c.kind.label("transfer_kind"))
            .join(tables.transfers, tables.transfers.c.transfer_id == tables.entries.c.transfer_id)
            .where(tables.entries.c.account == account)
        )
        if asset is not None:
            query = query.where(tables.entries.c.asset == asset)
        if after_sequence is not None:
            query = query.where(tables.entries.c.sequence > after_sequence)
        query = query.order_by(tables.entries.c.sequence).limit(limit)
        return [_journal_entry(row) for row in await session.execute(query)]

    # ---------------------------------------------------------- withdrawals

    async def insert_withdrawal(self, session: AsyncSession, withdrawal: Withdrawal) -> None:
        await session.execute(tables.withdrawals.insert().values(
            withdrawal_id=withdrawal.withdrawal_id, account=withdrawal.account, asset=withdrawal.asset,
            units=withdrawal.units, destination=withdrawal.destination, hold_id=withdrawal.hold_id,
            state=str(withdrawal.state), create_time=withdrawal.create_time,
            update_time=withdrawal.update_time))

    async def withdrawal(self, session: AsyncSession, withdrawal_id: str, *, lock: bool = False) -> WithdrawalRecord | None:
        query = select(tables.withdrawals).where(tables.withdrawals.c.withdrawal_id == withdrawal_id)
        if lock:
            query = query.with_for_update()
        row = (await session.execute(query)).first()
        return None if row is None else _withdrawal_record(row)

    async def resolve_withdrawal(self, session: AsyncSession, record: WithdrawalRecord) -> None:
        withdrawal = record.withdrawal
        await session.execute(
            update(tables.withdrawals).where(tables.withdrawals.c.withdrawal_id == withdrawal.withdrawal_id)
            .values(state=str(withdrawal.state), update_time=withdrawal.update_time,
                    tx_reference=record.tx_reference, failure_reason=withdrawal.failure_reason))

    async def withdrawn_units_since(self, session: AsyncSession, account: str, asset: str, since: datetime) -> int:
        """What the account withdrew (pending or completed) of `asset` since `since`."""
        query = select(func.coalesce(func.sum(tables.withdrawals.c.units), 0)).where(
            tables.withdrawals.c.account == account,
            tables.withdrawals.c.asset == asset,
            tables.withdrawals.c.create_time > since,
            tables.withdrawals.c.state != str(WithdrawalState.FAILED),
        )
        return int((await session.execute(query)).scalar_one())

    # --------------------------------------------------------------- metrics

    async def holds_outstanding(self) -> dict[str, tuple[int, int]]:
        """Asset → (holds with units neither consumed nor released, units they still hold)."""
        h = tables.holds
        left = h.c.units - h.c.consumed_units - h.c.released_units

        async def work(session: AsyncSession) -> dict[str, tuple[int, int]]:
            rows = await session.execute(select(h.c.asset, func.count(), func.sum(left)).where(left > 0)
                                         .group_by(h.c.asset))
            return {asset: (int(count), int(units or 0)) for asset, count, units in rows}

        return await self.tx.read(work)

    # ---------------------------------------------------------- consistency

    async def consistency_report(self) -> ConsistencyReport:
        """Recompute every balance from the journal and the holds and compare with the stored ones."""

        async def work(session: AsyncSession) -> ConsistencyReport:
            entry_rows = await session.execute(
                select(tables.entries, tables.transfers.c.kind.label("transfer_kind"))
                .join(tables.transfers, tables.transfers.c.transfer_id == tables.entries.c.transfer_id)
                .order_by(tables.entries.c.sequence))
            entries = [_journal_entry(row).entry for row in entry_rows]
            holds = [_hold_status(row) for row in await session.execute(select(tables.holds))]
            stored = {(row.account, row.asset): Balance(row.total, row.held)
                      for row in await session.execute(select(tables.balances))}
            return check_consistency(entries, holds, stored)

        return await self.tx.read(work)


def _hold_status(row: Any) -> HoldStatus:
    hold = Hold(row.hold_id, row.account, row.asset, row.units, stored_utc(row.create_time))
    return HoldStatus(hold, consumed_units=row.consumed_units, released_units=row.released_units)


def _journal_entry(row: Any) -> JournalEntry:
    entry = Entry(row.sequence, row.transfer_id, TransferKind(row.transfer_kind), row.account, row.asset,
                  row.units, row.hold_id, stored_utc(row.create_time))
    return JournalEntry(entry, row.kind)


def _withdrawal_record(row: Any) -> WithdrawalRecord:
    withdrawal = Withdrawal(
        row.withdrawal_id, withdrawal_name(row.account, row.withdrawal_id), row.account, row.asset, row.units,
        row.destination, row.hold_id, WithdrawalState(row.state), stored_utc(row.create_time),
        stored_utc(row.update_time), row.failure_reason,
    )
    return WithdrawalRecord(withdrawal, row.tx_reference)


def _transfer_params(posted: PostedTransfer) -> dict[str, object]:
    return {"kind": posted.transfer.kind, "postings": posted.transfer.postings, "kinds": posted.entry_kinds}
