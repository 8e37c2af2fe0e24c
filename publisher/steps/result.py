"""What a publish leaves for later CI steps: per repository and tag, the index digest it holds now.

Shape: {"repositories": {"<repository>": {"<tag>": {"digest": "sha256:..."}}}}; empty when nothing was
pushed (--no-push). Fields are only ever added.
"""

from __future__ import annotations

import json
from pathlib import Path

from publisher.release.plan import Plan


def document(plan: Plan, digests: dict[str, str]) -> dict:
    """digests: variant → the index digest its tags hold (empty when nothing was pushed)."""
    if not digests:
        return {"repositories": {}}
    return {"repositories": {repo: {tag: {"digest": digests[v.variant.name]} for v in plan.variants_in(repo) for tag in v.tags}
                             for repo in plan.repositories}}


def write(path: Path, plan: Plan, digests: dict[str, str]) -> None:
    path.write_text(json.dumps(document(plan, digests), indent=2) + "\n", encoding="utf-8")
