"""The KYC service's configuration, read once at start-up from the typed settings.

Keys left unset get the embedded default: generated once and kept (mode 0600) in the data
directory, like the JWT secret, so a restarted service can still decrypt what it stored.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from cryptography.fernet import Fernet

from services.kyc.data import SAMPLE_SANCTIONS_PATH, load_sanctions_list
from services.kyc.domain import (
    DEFAULT_TIER_TABLE,
    DocumentNumberHasher,
    PiiCipher,
    SanctionsList,
    ScreeningPolicy,
    TierTable,
)
from services.runtime.settings import Settings, ensure_secret_file

log = logging.getLogger("clearmesh.kyc")

PII_KEY_FILE = "kyc_pii_key"
HASH_KEY_FILE = "kyc_hash_key"


@dataclass(frozen=True)
class KycConfig:
    cipher: PiiCipher
    hasher: DocumentNumberHasher
    sanctions: SanctionsList
    policy: ScreeningPolicy
    tiers: TierTable


def load_config(settings: Settings) -> KycConfig:
    if settings.kyc_pii_keys is not None:
        pii_keys = settings.kyc_pii_keys.get_secret_value()
    else:
        pii_keys = ensure_secret_file(settings, PII_KEY_FILE, lambda: Fernet.generate_key().decode("ascii"))
    if settings.kyc_hash_key is not None:
        hash_key = settings.kyc_hash_key.get_secret_value()
    else:
        hash_key = ensure_secret_file(settings, HASH_KEY_FILE, lambda: secrets.token_urlsafe(48))
    if settings.kyc_sanctions_path is None:
        log.warning("screening against the fictional sample sanctions list; set CLEARMESH_KYC_SANCTIONS_PATH")
    return KycConfig(
        cipher=PiiCipher.from_setting(pii_keys),
        hasher=DocumentNumberHasher.from_setting(hash_key),
        sanctions=load_sanctions_list(settings.kyc_sanctions_path or SAMPLE_SANCTIONS_PATH),
        policy=ScreeningPolicy.parse(settings.kyc_screening_policy) if settings.kyc_screening_policy else ScreeningPolicy(),
        tiers=TierTable.parse(settings.kyc_tiers) if settings.kyc_tiers else DEFAULT_TIER_TABLE,
    )
