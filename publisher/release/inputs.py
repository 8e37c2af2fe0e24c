"""What a variant's published content depends on, as one digest stored in its index's annotations.

A rerun whose every tag already holds an index with the same inputs has nothing to build: the
run that pushed it built, smoke-tested and verified exactly that content.
"""

from __future__ import annotations

from publisher.image import oci
from publisher.image.platform import Platform
from publisher.release.decisions import Current
from publisher.release.plan import VariantPlan

INPUTS = "dev.publisher.inputs"
BASE_DIGEST = "org.opencontainers.image.base.digest"
FORMAT = 4  # bump when what publisher makes of the same inputs changes (4: attestations in the index)


def inputs_digest(v: VariantPlan, base_digest: str | None, binaries: dict[Platform, str],
                  platforms: tuple[Platform, ...]) -> str:
    """Dockerfile, labels, platforms (as resolved: release/resolved), the base as resolved now, and the
    payload files' digests."""
    return oci.digest(oci.canonical({
        "format": FORMAT,
        "dockerfile": v.dockerfile_text,
        "labels": v.labels,
        "platforms": [str(p) for p in platforms],
        "base": base_digest,
        "binaries": {str(p): binaries[p] for p in platforms},
    }))


def annotations(v: VariantPlan, base_digest: str | None, binaries: dict[Platform, str],
                platforms: tuple[Platform, ...]) -> dict[str, str]:
    extra = {INPUTS: inputs_digest(v, base_digest, binaries, platforms)}
    if base_digest:
        extra[BASE_DIGEST] = base_digest
    return {**v.labels, **extra}


def as_published(v: VariantPlan, current: Current, binaries: dict[Platform, str],
                 platforms: tuple[Platform, ...]) -> bool:
    """The tag holds what `v` makes of these inputs on the base its index records: an exact tag a base
    refresh left with the content first published, not content made from other inputs."""
    return bool(current.inputs) and current.inputs == inputs_digest(v, current.base_digest, binaries, platforms)
