"""The matching service as the runtime starts it. Its RPCs answer UNIMPLEMENTED until built."""

from clearmesh.matching.v1 import matching_service_pb2, matching_service_pb2_grpc
from services.runtime.server import contract_spec

SPEC = contract_spec("matching", matching_service_pb2, matching_service_pb2_grpc, "MatchingService")
