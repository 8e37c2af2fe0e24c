"""Stage records: what one staged platform made and proved, and what a join accepts of them.

A stage (one CI runner, some platforms) makes and smoke-tests its images and pushes them by digest;
its record says, for each (variant, platform), the manifest pushed and what it was made from. The
join builds nothing: it accepts a set of records only when they are of this release and this plan,
cover every planned (variant, platform) exactly once, all passed, and agree on each base's digest.

A `platforms: from-base` variant is planned for the platforms its base has: each stage records, at
the base digest it resolved, which of its platforms the base lacks, and the join expects the rest.
The join trusts these answers as it trusts the staged digests, checked for agreement: the index at
one digest cannot change, so stages on one base digest cannot disagree about it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields

from publisher.image import oci
from publisher.image.platform import Platform, parse_platform
from publisher.release.plan import Plan, VariantPlan
from publisher.release.resolved import Resolved

# Bump when what a record holds changes: a join refuses records of another format, in one line.
# 2: attestations; 3: `variants`, the platforms each variant was staged for (from-base: those its base lacks);
# 4: each image's attestation context (`context`), and its `payload` the digest of the payload's files alone;
# the base's digest under its own name, `base_digest`.
FORMAT = 4


@dataclass(frozen=True)
class MadeFrom:
    """What a staged image is made from, beyond its variant's Dockerfile and labels: what a rerun of its
    stage compares, and what the join's inputs digest takes (release/inputs)."""

    base_digest: str | None
    payload: str  # the digest of the payload's files
    context: str  # the digest of the attestation context


@dataclass(frozen=True)
class StagedImage:
    variant: str
    platform: Platform
    manifest: str  # the platform manifest's digest, pushed to every repository
    size: int
    config: str  # its config's digest
    entry: dict  # its platform as the index lists it (os, architecture, variant, ...)
    base_digest: str | None  # the base's digest as the stage resolved it
    payload: str  # the digest of the payload's files the image carries (release/inputs.payload_digest)
    context: str  # the digest of its attestation context (image/attest.context_digest; NO_ATTESTATIONS without)
    smoke: tuple[str, ...] = ()  # the smoke tests that passed
    failures: tuple[str, ...] = ()  # what failed, if anything: such a record is refused
    attestation: dict = field(default_factory=dict)  # its attestation manifest's index entry, pushed by the stage

    def child(self) -> oci.Child:
        return oci.Child(self.manifest, self.size, self.entry)

    @property
    def made_from(self) -> MadeFrom:
        return MadeFrom(self.base_digest, self.payload, self.context)

    def document(self) -> dict:
        return {**_by_name(self), "platform": str(self.platform)}

    @staticmethod
    def from_document(image: dict) -> StagedImage:
        return StagedImage(**{**image, "platform": parse_platform(image["platform"]), "smoke": tuple(image["smoke"]),
                              "failures": tuple(image["failures"])})


@dataclass(frozen=True)
class StagedVariant:
    """One variant in one stage: the platforms it was staged for, and for `platforms: from-base`, the
    stage's platforms its base lacks (so not staged, by any stage)."""

    name: str
    platforms: tuple[Platform, ...]
    base_digest: str | None = None  # the base's digest as the stage resolved it
    lacks: tuple[Platform, ...] = ()

    def document(self) -> dict:
        return {**_by_name(self), "platforms": [str(p) for p in self.platforms], "lacks": [str(p) for p in self.lacks]}

    @staticmethod
    def from_document(variant: dict) -> StagedVariant:
        return StagedVariant(variant["name"], tuple(map(parse_platform, variant["platforms"])), variant["base_digest"],
                             tuple(map(parse_platform, variant["lacks"])))


@dataclass(frozen=True)
class StageRecord:
    release: str
    plan: str  # plan_identity(): the same matrix, template, labels and tags
    images: tuple[StagedImage, ...] = field(default_factory=tuple)
    format: int = FORMAT
    variants: tuple[StagedVariant, ...] = field(default_factory=tuple)
    attestations: bool = True  # False: staged with --no-attestations (records before this field: True)

    def to_json(self) -> bytes:
        """The record's JSON: its platforms as their text."""
        document = {**_by_name(self), "images": [i.document() for i in self.images],
                    "variants": [v.document() for v in self.variants]}
        return json.dumps(document, indent=1, sort_keys=True).encode()

    @staticmethod
    def from_json(data: bytes) -> StageRecord:
        """A record; one of another format is read as its format, release and plan only, for `check` to refuse."""
        document = json.loads(data)
        if document["format"] != FORMAT:
            return StageRecord(document["release"], document["plan"], format=document["format"])
        images = tuple(map(StagedImage.from_document, document["images"]))
        variants = tuple(map(StagedVariant.from_document, document["variants"]))
        return StageRecord(document["release"], document["plan"], images, document["format"], variants,
                           document.get("attestations", True))


def _by_name(value) -> dict:
    """A record's fields by name, one level deep (the caller writes its platforms as text)."""
    return {f.name: getattr(value, f.name) for f in fields(value)}


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


def join_problems(plan: Plan, records: dict[str, StageRecord], attestations: bool = True) -> list[str]:
    """Problems with these records (name → record) for a join of `plan`; empty when they are its stages.

    `attestations`: the join's setting (False with --no-attestations); every stage must have had it."""
    problems, seen, valid = _attestation_agreement(records, attestations), {}, {}
    identity = plan_identity(plan)
    for name, record in records.items():
        if record.format != FORMAT:
            problems.append(f"{name}: a stage record of format {record.format}, and this publisher reads format {FORMAT}; "
                            "stage again with this publisher")
            continue
        if record.release != plan.release.text or record.plan != identity:
            problems.append(f"{name}: a stage of another release or plan (release {record.release}); "
                            "stage again with this matrix and --version, or leave it out")
            continue
        valid[name] = record
        for image in record.images:
            key = (image.variant, image.platform)
            if image.failures:
                problems.append(f"{name}: {image.variant} {image.platform} failed in its stage: {image.failures[0]}")
            if key in seen:
                problems.append(f"{name}: {image.variant} {image.platform} is staged twice (also in {seen[key]}); "
                                "keep one record of it")
            seen.setdefault(key, name)
    return problems + _coverage(plan, valid, seen) + _base_agreement(records)


def _coverage(plan: Plan, records: dict[str, StageRecord], seen: dict) -> list[str]:
    """Every planned (variant, platform) staged; a platform no stage made is one line, not one per variant."""
    expected = joined_platforms(plan, records)
    covered = _covered(records)
    planned = [(v.variant.name, p) for v in plan.variants for p in expected[v.variant.name]]
    absent = [p for p in plan.platforms if p not in covered]
    problems = [f"{p}: no stage record holds this platform; stage --platform {p} and join again" for p in absent]
    problems += [f"{variant} {platform}: no stage record holds it{_from_base_note(plan, variant)}; "
                 f"stage --platform {platform} and join again"
                 for variant, platform in planned if (variant, platform) not in seen and platform not in absent]
    problems += [f"{seen[key]}: {key[0]} {key[1]} is not in the plan; stage with the same matrix and selections"
                 for key in seen if key not in planned]
    return problems + _none_from_base(plan, expected, covered)


def joined_platforms(plan: Plan, records: dict[str, StageRecord]) -> dict[str, tuple[Platform, ...]]:
    """Variant → the platforms the join expects: its own, or for from-base, those no stage found its base lacks."""
    lacking = {(v.name, p) for r in records.values() for v in r.variants for p in v.lacks}
    return {v.variant.name: tuple(p for p in v.variant.platforms if (v.variant.name, p) not in lacking)
            for v in plan.variants}


def _none_from_base(plan: Plan, expected: dict, covered: set[Platform]) -> list[str]:
    """A from-base variant whose base has none of the staged platforms: refused, as on one machine."""
    return [f"{plan.source}:{v.variant.line}: variant '{v.variant.name}': platforms: from-base, and base {v.variant.base} "
            f"has none of {', '.join(map(str, v.variant.platforms))} (as its stages found); list its platforms or choose another base"
            for v in plan.variants if v.variant.platforms_from_base and not expected[v.variant.name]
            and all(p in covered for p in v.variant.platforms)]


def _from_base_note(plan: Plan, name: str) -> str:
    found = _planned(plan, name)
    return f", and its base {found.variant.base} has it (platforms: from-base)" if found and found.variant.platforms_from_base else ""


def _planned(plan: Plan, name: str) -> VariantPlan | None:
    return next((v for v in plan.variants if v.variant.name == name), None)


def _covered(records: dict[str, StageRecord]) -> set[Platform]:
    """The platforms some stage made or looked at."""
    return ({i.platform for r in records.values() for i in r.images}
            | {p for r in records.values() for v in r.variants for p in (*v.platforms, *v.lacks)})



def _attestation_agreement(records: dict[str, StageRecord], attestations: bool) -> list[str]:
    """One line naming every record staged with the other setting: a join cannot add or drop attestations."""
    other = sorted(name for name, record in records.items() if record.attestations != attestations)
    if not other:
        return []
    if attestations:
        why, fix = "staged with --no-attestations, and this join makes attestations", "join with --no-attestations, or stage again without it"
    else:
        why, fix = "staged with attestations, and this join is --no-attestations", "join without --no-attestations, or stage again with it"
    return [f"{', '.join(other)}: {why}; {fix}"]


def _base_agreement(records: dict[str, StageRecord]) -> list[str]:
    """One variant's images must stand on one base digest: its index records a single one."""
    bases: dict[str, set[str | None]] = {}
    for record in records.values():
        for image in record.images:
            bases.setdefault(image.variant, set()).add(image.base_digest)
        for variant in record.variants:  # a from-base variant a stage did not make still names its base
            if variant.lacks:
                bases.setdefault(variant.name, set()).add(variant.base_digest)
    return [f"{variant}: its stages used different digests of its base ({', '.join(sorted(map(str, found)))}); "
            "the base moved between stages: stage every platform again" for variant, found in bases.items()
            if len(found) > 1]


def made_from(resolved: Resolved) -> dict[tuple[str, Platform], MadeFrom]:
    """(variant, platform) → what a stage's images are made from, as the stage resolved it: what its record
    says of each image, and what a rerun of the stage compares."""
    return {(name, p): MadeFrom(r.base_digest, resolved.payload[p], resolved.context[p])
            for name, r in resolved.variants.items() for p in r.platforms}


def by_variant(records: dict[str, StageRecord]) -> dict[tuple[str, Platform], StagedImage]:
    return {(i.variant, i.platform): i for record in records.values() for i in record.images}
