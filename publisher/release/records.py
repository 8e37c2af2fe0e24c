"""Stage records: what one staged platform made and proved, and what a join accepts of them.

A stage (one CI runner, some platforms) makes and smoke-tests its images and pushes them by digest;
its record says, for each (variant, platform), the manifest pushed and what it was made from. The
join builds nothing: it accepts a set of records only when they are of this release and this plan,
cover every planned (variant, platform) exactly once, all passed, and agree on each base's digest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

from publisher.image import oci
from publisher.release.plan import Plan

FORMAT = 2  # bump when what a record holds changes: a join refuses records of another format (2: attestations)


@dataclass(frozen=True)
class StagedImage:
    variant: str
    platform: str
    manifest: str  # the platform manifest's digest, pushed to every repository
    size: int
    config: str  # its config's digest
    entry: dict  # its platform as the index lists it (os, architecture, variant, ...)
    base: str | None  # the base's digest as the stage resolved it
    payload: str  # the digest of the payload binaries the image carries
    smoke: tuple[str, ...] = ()  # the smoke tests that passed
    failures: tuple[str, ...] = ()  # what failed, if anything: such a record is refused
    attestation: dict = field(default_factory=dict)  # its attestation manifest's index entry, pushed by the stage

    def child(self) -> oci.Child:
        return oci.Child(self.manifest, self.size, self.entry)


@dataclass(frozen=True)
class StageRecord:
    release: str
    plan: str  # plan_identity(): the same matrix, template, labels and tags
    images: tuple[StagedImage, ...] = field(default_factory=tuple)
    format: int = FORMAT

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @staticmethod
    def from_json(data: bytes) -> StageRecord:
        document = json.loads(data)
        images = tuple(StagedImage(**{**i, "smoke": tuple(i["smoke"]), "failures": tuple(i["failures"])})
                       for i in document["images"])
        return StageRecord(document["release"], document["plan"], images, document["format"])


def plan_identity(plan: Plan) -> str:
    """What every stage of one release must share, whatever platforms it made and wherever it pushed.

    Not the platforms (each stage has its own), nor the repositories: the join checks that every
    staged manifest is in every repository it tags.
    """
    return oci.digest(oci.canonical({
        "release": plan.release.text,
        "variants": [{"name": v.variant.name, "tags": list(v.tags), "labels": v.labels,
                      "dockerfile": v.dockerfile_text} for v in (plan.primary, *plan.variants)],
    }))


def check(plan: Plan, records: dict[str, StageRecord]) -> list[str]:
    """Problems with these records (name → record) for a join of `plan`; empty when they are its stages."""
    problems, seen = [], {}
    for name, record in records.items():
        if record.format != FORMAT or record.release != plan.release.text or record.plan != plan_identity(plan):
            problems.append(f"{name}: a stage of another release or plan (release {record.release}); "
                            "stage again with this matrix and --version, or leave it out")
            continue
        for image in record.images:
            key = (image.variant, image.platform)
            if image.failures:
                problems.append(f"{name}: {image.variant} {image.platform} failed in its stage: {image.failures[0]}")
            if key in seen:
                problems.append(f"{name}: {image.variant} {image.platform} is staged twice (also in {seen[key]}); "
                                "keep one record of it")
            seen.setdefault(key, name)
    planned = [(v.variant.name, p) for v in plan.variants for p in v.variant.platforms]
    problems += [f"{variant} {platform}: no stage record holds it; stage --platform {platform} and join again"
                 for variant, platform in planned if (variant, platform) not in seen]
    problems += [f"{seen[key]}: {key[0]} {key[1]} is not in the plan; stage with the same matrix and selections"
                 for key in seen if key not in planned]
    return problems + _base_agreement(records)


def _base_agreement(records: dict[str, StageRecord]) -> list[str]:
    """One variant's images must stand on one base digest: its index records a single one."""
    bases: dict[str, set[str | None]] = {}
    for record in records.values():
        for image in record.images:
            bases.setdefault(image.variant, set()).add(image.base)
    return [f"{variant}: its stages used different digests of its base ({', '.join(sorted(map(str, found)))}); "
            "the base moved between stages: stage every platform again" for variant, found in bases.items()
            if len(found) > 1]


def by_variant(records: dict[str, StageRecord]) -> dict[tuple[str, str], StagedImage]:
    return {(i.variant, i.platform): i for record in records.values() for i in record.images}
