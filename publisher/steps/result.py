"""What a publish leaves for later CI steps, written to --result FILE (the document: release/result).

Shape: {"repositories": {"<repository>": {"<tag>": {"digest": "sha256:...", ...}}}}; empty when
nothing was pushed (--no-push). Fields are only ever added.
"""

from __future__ import annotations

import json
from pathlib import Path

EMPTY = {"repositories": {}}


def write(path: Path, document: dict | None) -> None:
    path.write_text(json.dumps(document or EMPTY, indent=2) + "\n", encoding="utf-8")
