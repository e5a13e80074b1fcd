"""The order service as the runtime starts it. Its RPCs answer UNIMPLEMENTED until built."""

from clearmesh.order.v1 import order_service_pb2, order_service_pb2_grpc
from services.runtime.server import contract_spec

SPEC = contract_spec("order", order_service_pb2, order_service_pb2_grpc, "OrderService")
