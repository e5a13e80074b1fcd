"""A hold group on PostgreSQL is BEGIN, one statement that reads (and locks) what it needs, one
that writes what it changed, and COMMIT (services/wallet/hold_group_sql.py); on either
database the store ends a group as the domain's rules say it must."""

from __future__ import annotations

import asyncio
import itertools
from functools import partial
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.runtime.database import create_engine
from services.runtime.migrate import upgrade
from services.runtime.transactions import Transactions
from services.wallet.domain import DEFAULT_ASSETS, Balance, Hold, HoldStatus, Transfer, TransferKind, WalletReason
from services.wallet.domain.hold_groups import HoldCommand, HoldGroupEffects, PlaceHold, ReleaseHold, apply_hold_group
from services.wallet.domain.postings import deposit_legs, legs_to_postings
from services.wallet.hold_group_sql import read_group, write_group
from services.wallet.store import WalletStore

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "wallet" / "migrations"
AT = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
USDC = DEFAULT_ASSETS["USDC"]
ALICE, BOB = "accounts/alice", "accounts/bob"


@asynccontextmanager
async def _store_on(url: str) -> AsyncIterator[WalletStore]:
    """Keeping its connections, as the service's runtime does: on PostgreSQL its writes run on asyncpg."""
    await upgrade(url, MIGRATIONS)
    engine = create_engine(url)
    tx = Transactions(engine, keep_connections=True)
    try:
        yield WalletStore(engine, DEFAULT_ASSETS, tx)
    finally:
        await tx.close()
        await engine.dispose()


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[WalletStore]:
    async with _store_on(database_url) as on_either:
        yield on_either


@pytest.fixture
async def postgres_store(postgres_url: str) -> AsyncIterator[WalletStore]:
    async with _store_on(postgres_url) as on_postgresql:
        yield on_postgresql


async def deposit(store: WalletStore, account: str, units: int, transfer_id: str) -> None:
    postings = legs_to_postings(deposit_legs(account, USDC, Decimal(units).scaleb(-USDC.precision)), DEFAULT_ASSETS)
    transfer = Transfer(transfer_id, TransferKind.DEPOSIT, postings, AT)
    await store.tx.write(lambda session: store.post_transfer(
        session, transfer, ("DEPOSIT",) * len(postings), replay_reason=WalletReason.DEPOSIT_EXISTS_WITH_DIFFERENT_PARAMS,
        id_field="request_id", id_value=transfer_id))


def place(hold_id: str, units: int, account: str = ALICE) -> PlaceHold:
    return PlaceHold(Hold(hold_id, account, "USDC", units, AT))


async def group(store: WalletStore, commands: list[HoldCommand]) -> list[Any]:
    return await store.tx.write(lambda session: store.apply_hold_group(session, commands))


async def balance(store: WalletStore, account: str = ALICE) -> Balance:
    return await store.tx.read(lambda session: store.balance(session, account, "USDC"))


@pytest.fixture
def sent(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The first word of every statement asyncpg sends from here on (BEGIN, WITH, SELECT, ...)."""
    words: list[str] = []

    def recording(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        async def record(self: asyncpg.Connection, query: str, *args: Any, **kwargs: Any) -> Any:
            words.append(query.split(None, 1)[0].upper())
            return await method(self, query, *args, **kwargs)
        return record

    for name in ("execute", "executemany", "fetch"):
        monkeypatch.setattr(asyncpg.Connection, name, recording(getattr(asyncpg.Connection, name)))
    return words


async def test_a_group_that_places_and_releases_is_four_statements_on_postgresql(
        postgres_store: WalletStore, sent: list[str]) -> None:
    await deposit(postgres_store, ALICE, 10, "d1")
    await group(postgres_store, [place("o1", 4)])
    sent.clear()

    outcomes = await group(postgres_store, [place("o2", 3), ReleaseHold("o1", None), ReleaseHold("never", None)])

    assert sent == ["BEGIN", "WITH", "WITH", "COMMIT"]
    assert [type(outcome).__name__ for outcome in outcomes] == ["HoldStatus", "HoldStatus", "NotFound"]


async def test_a_group_that_changes_nothing_sends_no_write(postgres_store: WalletStore, sent: list[str]) -> None:
    await deposit(postgres_store, ALICE, 10, "d1")
    sent.clear()

    outcomes = await group(postgres_store, [place("o1", 11)])

    assert sent == ["BEGIN", "WITH", "COMMIT"]
    assert type(outcomes[0]).__name__ == "FailedPrecondition"


async def test_the_group_s_statements_are_planned_once_per_connection(postgres_store: WalletStore) -> None:
    # On generic plans (runtime/database.py): PostgreSQL would otherwise plan both anew every time.
    await deposit(postgres_store, ALICE, 100, "d1")
    for n in range(8):
        await postgres_store.tx.write(partial(
            postgres_store.apply_hold_group, commands=[place(f"o{n}", 1), ReleaseHold(f"o{n}", None)]))

    async def plans(session: Any) -> list[Any]:  # on the writer's kept connection, where they ran
        return list(await session.direct_driver.connection.fetch(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE (statement LIKE '%locked_holds AS MATERIALIZED%' OR statement LIKE '%WITH tombstones AS%')"
            " AND statement NOT LIKE '%pg_prepared_statements%'"))

    found = await postgres_store.tx.write(plans)
    assert [(row["generic_plans"], row["custom_plans"]) for row in found] == [(8, 0), (8, 0)]


async def test_the_read_locks_the_named_holds_and_their_balances_before_anything_is_written(
        postgres_store: WalletStore, postgres_url: str) -> None:
    await deposit(postgres_store, ALICE, 10, "d1")
    await deposit(postgres_store, BOB, 10, "d2")
    await group(postgres_store, [place("o1", 4)])
    other = await asyncpg.connect(postgres_url.replace("postgresql+asyncpg://", "postgresql://", 1))
    locked: list[str] = []

    async def read_then_probe(session: AsyncSession) -> None:
        # A release of o1 (whose balance is Alice's, known only from the stored hold) and a hold on Bob's.
        await read_group(session, ["o1", "o2"], {(BOB, "USDC")})
        for what, sql in (("o1", "SELECT 1 FROM wallet_holds WHERE hold_id = 'o1' FOR UPDATE NOWAIT"),
                          ("alice", f"SELECT 1 FROM wallet_balances WHERE account = '{ALICE}' FOR UPDATE NOWAIT"),
                          ("bob", f"SELECT 1 FROM wallet_balances WHERE account = '{BOB}' FOR UPDATE NOWAIT")):
            try:
                await other.execute(sql)
            except asyncpg.LockNotAvailableError:
                locked.append(what)

    try:
        await postgres_store.tx.write(read_then_probe)
    finally:
        await other.close()

    assert locked == ["o1", "alice", "bob"]


async def test_a_group_in_a_session_of_sqlalchemy_s_own_ends_the_same(store: WalletStore, database_url: str) -> None:
    # A store with Transactions of its own (as tests and tools have): its writes are ORM
    # sessions, whose first statement goes through SQLAlchemy (it sends the BEGIN with it).
    await deposit(store, ALICE, 10, "d1")
    engine = create_engine(database_url)
    own = WalletStore(engine, DEFAULT_ASSETS)
    try:
        await group(own, [place("o1", 4)])
        outcomes = await group(own, [place("o2", 3), ReleaseHold("o1", None), place("o3", 9)])
    finally:
        await engine.dispose()

    assert [type(outcome).__name__ for outcome in outcomes] == ["HoldStatus", "HoldStatus", "FailedPrecondition"]
    assert await balance(store) == Balance(10, 3)


async def test_a_write_that_fails_in_any_part_writes_none_of_it(postgres_store: WalletStore) -> None:
    await deposit(postgres_store, ALICE, 10, "d1")
    await group(postgres_store, [ReleaseHold("gone", None)])  # its tombstone is stored
    effects = HoldGroupEffects(outcomes=[], placed=[HoldStatus(Hold("o1", ALICE, "USDC", 4, AT), 0, 0)], changed=[],
                               balances={(ALICE, "USDC"): Balance(10, 4)}, tombstones=["gone"])

    with pytest.raises(IntegrityError):
        await postgres_store.tx.write(lambda session: write_group(session, effects))

    assert await balance(postgres_store) == Balance(10, 0)
    assert await postgres_store.tx.read(lambda session: postgres_store.hold(session, "o1")) is None


async def test_a_group_that_fails_in_the_database_writes_nothing(store: WalletStore,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    await deposit(store, ALICE, 10, "d1")

    async def failing(session: AsyncSession) -> list[Any]:
        await store.apply_hold_group(session, [place("o1", 4), ReleaseHold("never", None)])
        raise DBAPIError("COMMIT", (), RuntimeError("the database went away"))

    with pytest.raises(DBAPIError):
        await store.tx.write(failing)

    assert await balance(store) == Balance(10, 0)
    assert isinstance((await group(store, [place("never", 1)]))[0], HoldStatus)  # no tombstone was kept
    assert await balance(store) == Balance(10, 1)


# ------------------------------------------------------- the store as the domain says

commands = st.lists(st.one_of(
    st.builds(lambda i, units, account: place(f"o{i}", units, account),
              st.integers(0, 5), st.integers(1, 6), st.sampled_from([ALICE, BOB])),
    st.builds(lambda i, units: ReleaseHold(f"o{i}", None if units is None else Decimal(units).scaleb(-6)),
              st.integers(0, 5), st.one_of(st.none(), st.integers(1, 3))),
), min_size=1, max_size=8)

_examples = itertools.count()


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(commands, min_size=1, max_size=3))
async def test_groups_stored_end_as_the_domain_s_rules_say_and_never_overdraw(
        store: WalletStore, groups: list[list[HoldCommand]]) -> None:
    # Every example on accounts and hold ids of its own, in the one database of the test.
    number = next(_examples)
    example = f"x{number}-"
    accounts = {ALICE: f"{ALICE}{number}", BOB: f"{BOB}{number}"}
    await deposit(store, accounts[ALICE], 12, f"{example}alice")
    await deposit(store, accounts[BOB], 5, f"{example}bob")
    holds: dict[str, HoldStatus] = {}
    released: set[str] = set()
    balances = {(accounts[ALICE], "USDC"): Balance(12, 0), (accounts[BOB], "USDC"): Balance(5, 0)}

    for commands_of_group in groups:
        renamed = [_renamed(command, example, accounts) for command in commands_of_group]
        expected = apply_hold_group(renamed, holds, balances, DEFAULT_ASSETS, released)
        outcomes = await group(store, renamed)

        assert [_comparable(outcome) for outcome in outcomes] == [_comparable(o) for o in expected.outcomes]
        holds.update({status.hold.hold_id: status for status in expected.placed + expected.changed})
        released.update(expected.tombstones)
        balances.update(expected.balances)

    for (account, _), expected_balance in balances.items():
        stored = await balance(store, account)
        assert stored == expected_balance
        assert stored.available >= 0 and stored.held >= 0
    assert (await store.consistency_report()).ok


def _renamed(command: HoldCommand, example: str, accounts: dict[str, str]) -> HoldCommand:
    if isinstance(command, PlaceHold):
        hold = command.hold
        return PlaceHold(Hold(example + hold.hold_id, accounts[hold.account], hold.asset, hold.units, hold.create_time))
    return ReleaseHold(example + command.hold_id, command.amount)


def _comparable(outcome: Any) -> Any:
    return outcome if isinstance(outcome, HoldStatus) else (type(outcome).__name__, str(outcome))


async def test_concurrent_groups_on_one_account_never_overdraw_it(store: WalletStore) -> None:
    await deposit(store, ALICE, 20, "d1")
    # Six groups at once: on PostgreSQL each on a connection of its own (as several Wallet
    # processes would be), ordered by their locks; on SQLite by the one writer.
    results = await asyncio.gather(*(group(store, [place(f"o{n}-{i}", 1) for i in range(5)]) for n in range(6)))

    placed = sum(isinstance(outcome, HoldStatus) for outcomes in results for outcome in outcomes)
    assert placed == 20
    assert await balance(store) == Balance(20, 20)
