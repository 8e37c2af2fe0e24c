"""What a publish leaves in each repository, as the `--result` JSON document. Pure.

For CI jobs after the publish (artifact attestations of each index digest, release notes): per
repository and tag, `digest` (the index digest it holds now), `platforms` (each platform's manifest
digest), `status`, and `moved_from`: for a tag that moved, the digest it held before; `meanwhile`: for a
floating tag a newer release took while this publish ran (status `held`, `digest` that release's index), its
version, else null.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from publisher.image.platform import Platform, platform_of
from publisher.release.decisions import HELD, MOVES, Decision
from publisher.release.plan import Plan

EMPTY = {"repositories": {}}  # the document when nothing was pushed (--no-push)


@dataclass(frozen=True)
class Published:
    index: str  # the index digest
    platforms: dict[Platform, str]  # platform → its manifest digest


def platforms_of(index: bytes) -> dict[Platform, str]:
    """Platform → manifest digest, from an index; its attestation manifests (unknown/unknown) left out."""
    found = {}
    for entry in json.loads(index).get("manifests", []):
        platform = platform_of(entry.get("platform") or {})
        if not platform.unknown:
            found[platform] = entry["digest"]
    return found


def document(plan: Plan, published: dict[str, dict[str, Published]], decisions: dict[tuple[str, str], Decision]) -> dict:
    """`published`: repository → tag → what it holds now (a variant may skip a repository). `decisions`: as
    made (empty when nothing was to be done: every tag stayed)."""
    repositories = {}
    for ref, held in published.items():
        tags = {}
        for v in plan.variants_in(ref):
            for tag in (t for t in v.tags if t in held):
                d = decisions.get((ref, tag))
                moved = d is not None and d.status == MOVES
                if d is not None and d.status == HELD:  # still what it held: another, newer release
                    tags[tag] = {"digest": d.current.digest, "variant": v.variant.name, "platforms": None,
                                 "status": HELD, "moved_from": None,
                                 "meanwhile": d.current.version if d.meanwhile else None}
                    continue
                tags[tag] = {"digest": held[tag].index, "variant": v.variant.name,
                             "platforms": {str(p): d for p, d in held[tag].platforms.items()},
                             "status": d.status if d else "stays",
                             "moved_from": d.current.digest if moved else None, "meanwhile": None}
        repositories[ref] = tags
    return {"version": plan.release.text, "repositories": repositories}
