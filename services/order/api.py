"""The Order service's gRPC adapter: parse → authorize → lifecycle / store → messages.

Ownership: a trader sees and cancels only their own orders; another account's order answers
NOT_FOUND `ORDER_NOT_FOUND`, exactly as a missing one, so order ids leak nothing. Operators
see and cancel every order.
"""

from __future__ import annotations

from typing import Any

from clearmesh.order.v1 import order_pb2
from clearmesh.order.v1 import order_service_pb2 as pb
from clearmesh.order.v1 import order_service_pb2_grpc as pb_grpc

from services.order import wire
from services.order.domain.orders import Order
from services.order.domain.reasons import OrderReason
from services.order.lifecycle import Lifecycle
from services.order.requests import (
    parse_cancel_order,
    parse_list_orders,
    parse_order_name,
    parse_place_order,
)
from services.order.store import OrderStore
from services.runtime.auth import current_principal
from services.runtime.errors import NotFound, PermissionDenied
from services.runtime.paging import read_page
from services.runtime.transactions import Transactions


def _not_found(name: str) -> NotFound:
    return NotFound(OrderReason.ORDER_NOT_FOUND, f"{name} not found", metadata={"order": name})


class OrderServicer(pb_grpc.OrderServiceServicer):
    def __init__(self, tx: Transactions, store: OrderStore, lifecycle: Lifecycle) -> None:
        self.tx = tx
        self.store = store
        self.lifecycle = lifecycle

    async def PlaceOrder(self, request: pb.PlaceOrderRequest, context: Any) -> order_pb2.Order:
        command, violations = parse_place_order(request)
        principal = current_principal()
        if not principal.account:
            raise PermissionDenied(OrderReason.NOT_ACCOUNT_OWNER, "orders are placed by an account")
        return await self.lifecycle.place(principal.account_name, command, violations, request)

    async def GetOrder(self, request: pb.GetOrderRequest, context: Any) -> order_pb2.Order:
        return wire.order_message(await self._visible(request.name))

    async def CancelOrder(self, request: pb.CancelOrderRequest, context: Any) -> order_pb2.Order:
        command = parse_cancel_order(request)
        order = await self._visible(request.name, order_id=command.order_id)
        return await self.lifecycle.cancel(order, command.request_id, request)

    async def ListOrders(self, request: pb.ListOrdersRequest, context: Any) -> pb.ListOrdersResponse:
        query = parse_list_orders(request)
        principal = current_principal()
        if not principal.is_operator:
            if query.account is not None and not principal.owns(query.account):
                raise PermissionDenied(OrderReason.NOT_ACCOUNT_OWNER, f"the caller may not list {query.account}'s orders",
                                       metadata={"account": query.account})
            query = type(query)(query.market_id, query.states, principal.account_name)
        page = read_page(request.page_size, request.page_token, query.token_scope())
        after = page.after_number
        rows = await self.tx.read(lambda session: self.store.page(
            session, account=query.account, market=query.market_id, states=query.states,
            after_seq=after, limit=page.size + 1))
        shown, token = page.cut(rows, lambda row: str(row[0]))
        return pb.ListOrdersResponse(orders=[wire.order_message(order) for _, order in shown], next_page_token=token)

    async def _visible(self, name: str, *, order_id: str | None = None) -> Order:
        """The order, if the caller may see it; NOT_FOUND alike when it is missing or another's."""
        order_id = order_id or parse_order_name(name)
        principal = current_principal()
        order = await self.tx.read(lambda session: self.store.get(session, order_id))
        if order is None or not (principal.is_operator or principal.owns(order.account)):
            raise _not_found(name)
        return order
