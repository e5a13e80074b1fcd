"""The docs a user reads say what the code says (the public surface, the settings) and point at
nothing outside the repository."""

from __future__ import annotations

import os
import re
from pathlib import Path

from services.runtime.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SURFACE = {tuple(line.split("\t")) for line in (Path(__file__).parent / "public_surface.tsv").read_text().splitlines()
           if line and not line.startswith("#")}
# Folders that are not the project's own text: the environment, generated code, caches.
SKIPPED_DIRS = {".git", ".venv", "gen", "build", ".clearmesh", ".hypothesis", ".pytest_cache", "__pycache__",
                ".mypy_cache", ".ruff_cache", "node_modules"}
# Design notes the team keeps beside the clone; users never have them. Spelt in pieces so this
# file does not name them itself.
OUTSIDE = ("../" + "shared", "shared/" + "design", "MESH-" + "CONVENTIONS", "ARCHITECTURE" + ".md",
           "REFERENCE" + ".md")


def _docs_surface() -> set[tuple[str, ...]]:
    """The rows of docs/architecture.md's public-surface table, in the tsv's shape."""
    rows: set[tuple[str, ...]] = set()
    for line in (ROOT / "docs" / "architecture.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if not line.startswith("| ") or not cells[0].endswith("Service"):
            continue
        service, rpc, http, body = cells[:4]
        if http.startswith("internal"):
            rows.add((service, rpc, "internal", "-", "-"))
            continue
        match = re.match(r"`(GET|POST) (\S+)`", http)
        assert match, f"unreadable HTTP cell for {service}.{rpc}: {http}"
        rows.add((service, rpc, match.group(1).lower(), match.group(2), "-" if body == "—" else body.strip("`")))
    return rows


def test_the_public_surface_in_the_docs_is_the_contracts_table() -> None:
    documented = _docs_surface()
    assert sorted(SURFACE - documented) == [], "rows missing from docs/architecture.md"
    assert sorted(documented - SURFACE) == [], "rows in docs/architecture.md that the contracts lack"


def test_no_file_points_at_the_design_notes_beside_the_clone() -> None:
    pointing = []
    for folder, dirs, files in os.walk(ROOT):
        dirs[:] = [name for name in dirs if name not in SKIPPED_DIRS]
        for name in files:
            path = Path(folder) / name
            if path.suffix not in {".md", ".py", ".toml", ".yaml", ".yml", ".tsv", ".cfg", ".txt"} \
                    and name != "Makefile":
                continue
            relative = path.relative_to(ROOT)
            if path == Path(__file__):
                continue
            text = path.read_text(errors="replace")
            pointing += [f"{relative}: {needle}" for needle in OUTSIDE if needle in text]
    assert pointing == []


def test_the_readme_names_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    names = [field.validation_alias if isinstance(field.validation_alias, str) else name.upper()
             for name, field in Settings.model_fields.items()]
    assert [name for name in names if f"`{name}`" not in readme] == []
