"""Data files shipped with the KYC service, and the one place that reads them from disk."""

from pathlib import Path

from services.kyc.domain.sanctions import SanctionsList

# Fictional names only; the real list's path comes from settings.
SAMPLE_SANCTIONS_PATH = Path(__file__).with_name("sanctions_sample.csv")


def load_sanctions_list(path: str | Path = SAMPLE_SANCTIONS_PATH) -> SanctionsList:
    return SanctionsList.from_csv(Path(path).read_text(encoding="utf-8"))
