"""The kyc service as the runtime starts it. Its RPCs answer UNIMPLEMENTED until built."""

from clearmesh.kyc.v1 import kyc_service_pb2, kyc_service_pb2_grpc
from services.runtime.server import contract_spec

SPEC = contract_spec("kyc", kyc_service_pb2, kyc_service_pb2_grpc, "KycService")
