"""The --result file: the document release/result makes of what a publish left in each repository, written.

It has the shape {"repositories": {"<repository>": {"<tag>": {"digest": "sha256:...", ...}}}}; empty when
nothing was pushed (--no-push). Fields are only ever added.
"""

from __future__ import annotations

import json
from pathlib import Path

from publisher.release.result import EMPTY


def write_result(path: Path, document: dict | None) -> None:
    """`document`: None when nothing was tagged."""
    path.write_text(json.dumps(document or EMPTY, indent=2) + "\n", encoding="utf-8")
