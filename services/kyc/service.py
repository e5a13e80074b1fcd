"""The kyc service as the runtime starts it: applicants, documents, screening, review, tiers."""

from pathlib import Path

from clearmesh.kyc.v1 import kyc_service_pb2, kyc_service_pb2_grpc
from services.kyc.api import KycServicer
from services.kyc.cache import NoCache, RedisStandingCache, StandingCache
from services.kyc.config import load_config
from services.kyc.standings import Standings
from services.kyc.store import KycStore
from services.runtime.server import ServiceRuntime, contract_spec


async def build(runtime: ServiceRuntime) -> KycServicer:
    settings = runtime.settings
    config = load_config(settings)
    cache: StandingCache = (RedisStandingCache.from_url(settings.redis_url, settings.kyc_cache_ttl_secs)
                            if settings.redis_url else NoCache())
    runtime.on_close(cache.close)
    store = KycStore(config.cipher)
    return KycServicer(store, runtime.transactions, cache, Standings(store, runtime.transactions, cache), config,
                       runtime.clock)


SPEC = contract_spec("kyc", kyc_service_pb2, kyc_service_pb2_grpc, "KycService", build=build,
                     migrations=Path(__file__).resolve().parent / "migrations")
