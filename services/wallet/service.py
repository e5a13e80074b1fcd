"""The wallet service as the runtime starts it. Its RPCs answer UNIMPLEMENTED until built."""

from clearmesh.wallet.v1 import wallet_service_pb2, wallet_service_pb2_grpc
from services.runtime.server import contract_spec

SPEC = contract_spec("wallet", wallet_service_pb2, wallet_service_pb2_grpc, "WalletService")
