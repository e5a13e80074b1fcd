"""A sanctions list and fuzzy name matching against it (parsed from text; reading files is the
caller's job, see services.kyc.data)."""

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field

from rapidfuzz import fuzz, process

from services.kyc.domain.names import normalize_name

# Similarity (0-100, rapidfuzz Indel ratio on the normalized token-sorted names) at or above which
# a name is a "close match". 90 allows about one typo in ten letters ("Jon Smith" ~ "John Smith"
# scores 94.7) while names sharing only a token or two stay far below it; see the tests for the
# false-positive rate measured on random names.
DEFAULT_MATCH_THRESHOLD = 90.0


@dataclass(frozen=True, slots=True)
class SanctionsEntry:
    entry_id: str
    name: str = field(repr=False)
    aliases: tuple[str, ...] = field(default=(), repr=False)
    program: str = ""

    @property
    def all_names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)


@dataclass(frozen=True, slots=True)
class SanctionsMatch:
    entry_id: str
    program: str
    score: float
    matched_name: str = field(repr=False)  # near-identical to the screened name: keep out of logs


class SanctionsList:
    """Listed names, normalized once so screening one applicant is a single vectorised scan."""

    def __init__(self, entries: Iterable[SanctionsEntry]) -> None:
        self._entries = tuple(entries)
        # One row per (entry, name or alias); parallel lists so rapidfuzz can index back.
        self._owners: list[SanctionsEntry] = []
        self._listed_names: list[str] = []
        self._normalized: list[str] = []
        for entry in self._entries:
            for listed_name in entry.all_names:
                normalized = normalize_name(listed_name)
                if normalized:
                    self._owners.append(entry)
                    self._listed_names.append(listed_name)
                    self._normalized.append(normalized)
        # Subset matching ("Ivana Testerova" inside "Ivana Maria Testerova") only between names of
        # two or more tokens: a one-word alias such as "Ali" would otherwise flag every Ali.
        self._multi_token_rows = [i for i, name in enumerate(self._normalized) if " " in name]
        self._multi_token_names = [self._normalized[i] for i in self._multi_token_rows]

    @classmethod
    def from_csv(cls, text: str) -> "SanctionsList":
        """Columns entry_id,name,aliases,program; aliases separated by ';'; '#' lines are comments."""
        lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
        reader = csv.DictReader(io.StringIO("\n".join(lines)))
        entries = []
        for row in reader:
            entry_id = (row.get("entry_id") or "").strip()
            name = (row.get("name") or "").strip()
            if not entry_id or not name:
                raise ValueError(f"sanctions list row {reader.line_num} needs entry_id and name")
            aliases = tuple(a.strip() for a in (row.get("aliases") or "").split(";") if a.strip())
            entries.append(SanctionsEntry(entry_id, name, aliases, (row.get("program") or "").strip()))
        return cls(entries)

    def __len__(self) -> int:
        return len(self._entries)

    def best_match(self, name: str, threshold: float = DEFAULT_MATCH_THRESHOLD) -> SanctionsMatch | None:
        """The closest listed name scoring at least `threshold`, or None."""
        query = normalize_name(name)
        if not query:
            return None
        candidates = []
        whole = process.extractOne(query, self._normalized, scorer=fuzz.ratio, score_cutoff=threshold)
        if whole is not None:
            candidates.append((whole[1], whole[2]))
        if " " in query and self._multi_token_names:
            subset = process.extractOne(
                query, self._multi_token_names, scorer=fuzz.token_set_ratio, score_cutoff=threshold
            )
            if subset is not None:
                candidates.append((subset[1], self._multi_token_rows[subset[2]]))
        if not candidates:
            return None
        score, row = max(candidates)
        owner = self._owners[row]
        return SanctionsMatch(owner.entry_id, owner.program, float(score), self._listed_names[row])
