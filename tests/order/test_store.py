"""OrderStore's one-statement answer on PostgreSQL: Matching's answer and the response
remembered for its request_id are written together, or neither is."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from decimal import Decimal

import pytest
from clearmesh.order.v1 import order_service_pb2 as pb

from services.order import wire
from services.order.domain.enums import OrderState
from services.order.domain.orders import Order
from services.order.lifecycle import PLACE_ORDER
from services.order.service import SPEC
from services.order.store import OrderStore
from services.runtime import idempotency, migrate
from services.runtime.database import create_engine
from services.runtime.transactions import Transactions
from tests.testkit.orders import pending_order

ORDER_ID = "0b7f6c1e-0000-4000-8000-000000000001"
REQUEST = pb.PlaceOrderRequest(request_id=f"request-{ORDER_ID}")


@pytest.fixture
async def tx(postgres_url: str) -> AsyncIterator[Transactions]:
    await migrate.upgrade(postgres_url, SPEC.migrations)
    engine = create_engine(postgres_url)
    transactions = Transactions(engine)
    await transactions.write(lambda session: OrderStore().insert(session, pending_order(ORDER_ID)))
    try:
        yield transactions
    finally:
        await engine.dispose()


async def _answer(tx: Transactions, before: Order) -> tuple[bool, Order]:
    """`before` answered OPEN at sequence 3, written with its remembered response: whether the
    row took it, and the answer."""
    after = before.answered(OrderState.OPEN, Decimal(0), "", "", 3, before.update_time)
    entry = idempotency.entry(PLACE_ORDER, before.request_id, REQUEST, wire.order_message(after), after.update_time)
    took = await tx.write_alone(lambda connection: OrderStore().save_answer_remembered(connection, before, after, entry))
    return took, after


async def _stored(tx: Transactions) -> tuple[Order | None, bytes | None]:
    async def read(session: object) -> tuple[Order | None, bytes | None]:
        order = await OrderStore().get(session, ORDER_ID)  # type: ignore[arg-type]
        return order, await idempotency.recall(session, PLACE_ORDER, REQUEST.request_id, REQUEST)  # type: ignore[arg-type]

    return await tx.read(read)


async def test_an_answer_to_the_order_as_stored_is_written_with_its_remembered_response(tx: Transactions) -> None:
    took, after = await _answer(tx, pending_order(ORDER_ID))
    order, remembered = await _stored(tx)
    assert took and order is not None
    assert (order.state, order.state_sequence, order.fill_sequence) == (OrderState.OPEN, 3, 3)
    assert remembered == wire.order_message(after).SerializeToString()


async def test_an_answer_to_an_order_that_moved_since_writes_and_remembers_nothing(tx: Transactions) -> None:
    moved = replace(pending_order(ORDER_ID), state_sequence=5, state=OrderState.OPEN)
    await tx.write(lambda session: OrderStore().save(session, moved))

    took, _ = await _answer(tx, pending_order(ORDER_ID))
    order, remembered = await _stored(tx)
    assert not took
    assert (order is not None and order.state_sequence, remembered) == (5, None)
