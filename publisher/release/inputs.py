"""What a variant's published content depends on, as one digest stored in its index's annotations.

A rerun whose every tag already holds an index with the same inputs has nothing to build
(release/rerun): the run that pushed it built, smoke-tested and verified exactly that content.

Besides the variant's Dockerfile, labels, platforms and base digest, it takes two things per platform,
each under its own name: `payload`, the digest of the payload's files (`payload_digest`), and `context`,
the digest of the attestation context, what every attestation of the publish shares
(`image/attest.context_digest`, NO_ATTESTATIONS with --no-attestations). Every published index records
the inputs digest: what it hashes, and how, changes only with FORMAT.
"""

from __future__ import annotations

from collections.abc import Mapping

from publisher.image import oci
from publisher.image.platform import Platform
from publisher.release.decisions import Current
from publisher.release.plan import VariantPlan

INPUTS = "dev.publisher.inputs"
BASE_DIGEST = "org.opencontainers.image.base.digest"
FORMAT = 4  # bump when what publisher makes of the same inputs changes (4: attestations in the index)


def payload_digest(files: Mapping[str, str]) -> str:
    """One digest of the payload's files (file name → its digest, in the matrix's order): what every
    image of one platform carries."""
    return oci.digest("".join(files.values()).encode())


def inputs_digest(v: VariantPlan, base_digest: str | None, payload: Mapping[Platform, str],
                  context: Mapping[Platform, str], platforms: tuple[Platform, ...]) -> str:
    """Dockerfile, labels, platforms (as resolved: release/resolved), the base as resolved now, and for each
    platform the payload's digest (`payload`) and the attestation context's (`context`)."""
    return oci.digest(oci.canonical({
        "format": FORMAT,
        "dockerfile": v.dockerfile_text,
        "labels": v.labels,
        "platforms": [str(p) for p in platforms],
        "base": base_digest,
        # The key and the way payload and context are folded are those of the first published indexes.
        "binaries": {str(p): oci.digest(f"{payload[p]}\n{context[p]}".encode()) for p in platforms},
    }))


def annotations(v: VariantPlan, base_digest: str | None, payload: Mapping[Platform, str],
                context: Mapping[Platform, str], platforms: tuple[Platform, ...]) -> dict[str, str]:
    extra = {INPUTS: inputs_digest(v, base_digest, payload, context, platforms)}
    if base_digest:
        extra[BASE_DIGEST] = base_digest
    return {**v.labels, **extra}


def as_published(v: VariantPlan, current: Current, payload: Mapping[Platform, str], context: Mapping[Platform, str],
                 platforms: tuple[Platform, ...]) -> bool:
    """The tag holds what `v` makes of these inputs on the base its index records: an exact tag a base
    refresh left with the content first published, not content made from other inputs."""
    return bool(current.inputs) and current.inputs == inputs_digest(v, current.base_digest, payload, context, platforms)
