"""Put the repository's CHANGELOG.md into the site as changelog.md (one copy, no retyping)."""

from pathlib import Path

import mkdocs_gen_files

ROOT = Path(__file__).resolve().parents[2]
with mkdocs_gen_files.open("changelog.md", "w") as fh:
    fh.write((ROOT / "CHANGELOG.md").read_text(encoding="utf-8"))
