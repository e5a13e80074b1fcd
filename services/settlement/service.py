"""The settlement service as the runtime starts it. Its RPCs answer UNIMPLEMENTED until built."""

from clearmesh.settlement.v1 import settlement_service_pb2, settlement_service_pb2_grpc
from services.runtime.server import contract_spec

SPEC = contract_spec("settlement", settlement_service_pb2, settlement_service_pb2_grpc, "SettlementService")
