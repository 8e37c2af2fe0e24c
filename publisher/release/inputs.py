"""What a variant's images are made of: six parts, each recorded on its index, and their one digest.

A tag whose index records the same inputs holds what this release publishes (release/rerun): the run
that pushed it made, smoke-tested and verified exactly that content, so nothing is made again.

The parts (docs/publishing.md): the Dockerfile, the base digest, the payload's files (per platform),
the labels but `created` and `revision`, the platforms, and what the attestations share
(`image/attest.context_digest`, NO_ATTESTATIONS with --no-attestations). The commit an image names, and
its time, are not inputs: they say which commit made the variant what it is (release/revisions).
Every index records each part, under `dev.publisher.inputs.<part>` (the base under
`org.opencontainers.image.base.digest`), and their digest under `dev.publisher.inputs`: what it hashes,
and how, changes only with FORMAT. An index of format 4 recorded the digest alone (`format_4`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from publisher.image import oci
from publisher.image.attest import format_4_digest
from publisher.image.platform import Platform
from publisher.release.plan import CREATED, OCI, REVISION, VariantPlan

INPUTS = "dev.publisher.inputs"
BASE_DIGEST = OCI + "base.digest"
FORMAT = 5  # bump when what publisher makes of the same inputs changes
# 4: attestations in the index; 5: each part recorded, the commit and its time no longer inputs
NOT_INPUTS = (CREATED, REVISION)  # labels that name the commit that made a variant, not what it is made of
NOT_READ = "not read"  # a dry-run's base it could not read: the base is then left out of the comparison


@dataclass(frozen=True)
class Parts:
    """What one variant's images are made of, part by part, as its index records them."""

    dockerfile: str  # the digest of its rendered Dockerfile
    base: str | None  # its base's digest; None: FROM scratch
    payload: str | None  # one digest of the payload's files of each of its platforms; None: not known (a dry-run)
    labels: str  # one digest of its labels but NOT_INPUTS
    platforms: str  # its platforms, `linux/amd64,linux/arm64`
    attestations: str  # what its attestations share (image/attest.context_digest), one value for its platforms

    @property
    def digest(self) -> str | None:
        """The inputs digest, `dev.publisher.inputs`; None while a part is not known."""
        if self.payload is None:
            return None
        return oci.digest(oci.canonical({"format": FORMAT, **{f.name: getattr(self, f.name) for f in fields(self)}}))

    def annotations(self) -> dict[str, str]:
        """The index's annotations that record them (the base's is the OCI one)."""
        found = {INPUTS: self.digest, BASE_DIGEST: self.base,
                 **{f"{INPUTS}.{f.name}": getattr(self, f.name) for f in fields(self) if f.name != "base"}}
        return {key: value for key, value in found.items() if value is not None}

    def differing(self, other: Parts, base: bool = True) -> list[str]:
        """The names of the parts `other` has otherwise (the base only with `base`; the payload only where
        both know it; the payload not when the platforms differ, as it follows from them)."""
        return [f.name for f in fields(self)
                if getattr(self, f.name) != getattr(other, f.name)
                and (base or f.name != "base") and not (f.name == "base" and NOT_READ in (self.base, other.base))
                and not (f.name == "payload" and (None in (self.payload, other.payload) or self.platforms != other.platforms))]


def parts(v: VariantPlan, base_digest: str | None, payload: Mapping[Platform, str] | None,
          context: Mapping[Platform, str], platforms: tuple[Platform, ...]) -> Parts:
    """`payload`: Platform → the digest of its payload's files (`payload_digest`), None when not fetched;
    `context`: Platform → the attestation context's digest."""
    contexts = {context[p] for p in platforms}
    return Parts(
        dockerfile=oci.digest(v.dockerfile_text.encode()),
        base=base_digest,
        payload=None if payload is None else oci.digest(oci.canonical({str(p): payload[p] for p in platforms})),
        labels=labels_digest(v.labels),
        platforms=",".join(str(p) for p in platforms),
        attestations=contexts.pop() if len(contexts) == 1 else oci.digest(oci.canonical({str(p): context[p] for p in platforms})),
    )


def labels_digest(labels: Mapping[str, str]) -> str:
    return oci.digest(oci.canonical({k: v for k, v in labels.items() if k not in NOT_INPUTS}))


def payload_digest(files: Mapping[str, str]) -> str:
    """One digest of the payload's files (file name → its digest, in the matrix's order): what every
    image of one platform carries."""
    return oci.digest("".join(files.values()).encode())


def annotations(v: VariantPlan, made_of: Parts) -> dict[str, str]:
    """An index's annotations: the variant's labels, then what it is made of."""
    return {**v.labels, **made_of.annotations()}


def recorded(annotations: Mapping[str, str]) -> Parts | None:
    """The parts an index records (format 5 and later); None for an older index, or one publisher did not make."""
    found = {f.name: annotations.get(f"{INPUTS}.{f.name}") for f in fields(Parts) if f.name != "base"}
    if None in found.values():
        return None
    return Parts(base=annotations.get(BASE_DIGEST), **found)


@dataclass(frozen=True)
class Format4:
    """What inputs format 4 hashed, to recognise an index it recorded: the Dockerfile, the labels (with the
    publish's `created` and `revision`), the platforms, the base and, per platform, the payload's digest
    folded with the attestation context's (whose fields held that time and revision too)."""

    context: Mapping | None  # the attestation context's fields (image/attest.Context.shared); None: no attestations
    payload: Mapping[Platform, str]  # Platform → the payload's digest


def format_4(v: VariantPlan, then: Mapping[str, str], base_digest: str | None, was: Format4,
             platforms: tuple[Platform, ...]) -> str:
    """The inputs digest format 4 gave `v` made on `base_digest`, by a publish whose labels were `then`'s
    (an index's annotations: its created time and revision)."""
    labels = {**{k: x for k, x in v.labels.items() if k not in NOT_INPUTS}, **{k: then[k] for k in NOT_INPUTS if k in then}}
    context = format_4_digest(was.context, then.get(CREATED), then.get(REVISION))
    return oci.digest(oci.canonical({
        "format": 4,
        "dockerfile": v.dockerfile_text,
        "labels": dict(sorted(labels.items())),
        "platforms": [str(p) for p in platforms],
        "base": base_digest,
        "binaries": {str(p): oci.digest(f"{was.payload[p]}\n{context}".encode()) for p in platforms},
    }))
