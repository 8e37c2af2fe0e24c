"""A stage: some platforms made, smoke-tested and pushed by digest on this runner; a record of it in a folder.

No index and no tag: the join does that, once every stage is in. A rerun of a finished stage finds
its record, the same inputs, and every manifest in every repository, and does nothing.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from publisher.errors import PublishFailed
from publisher.image import oci
from publisher.local.records import save_record, saved_record
from publisher.release.records import StagedImage, StagedVariant, StageRecord, made_from, plan_identity
from publisher.release.plan import Plan, VariantPlan
from publisher.holdings.bases import BasePlatforms
from publisher.release.resolved import Resolved
from publisher.steps.run import Run
from publisher.holdings.repository import Repository


def staged_already(resolved: Resolved, targets: list[Repository], path: Path,
                   variants: tuple[StagedVariant, ...]) -> StageRecord | None:
    """The record there, when it is this stage's, its images made from what they would be now
    (`records.made_from`), and every repository holds its manifests; else None.

    `variants`: what each variant is staged for now.
    """
    record = saved_record(path)
    if record is None:
        return None
    if record.plan != plan_identity(resolved.plan) or record.variants != variants or any(i.failures for i in record.images):
        return None
    if {(i.variant, i.platform): i.made_from for i in record.images} != made_from(resolved) or not targets:
        return None
    return None if missing_manifests(resolved.plan, targets, record.images) else record


def missing_manifests(plan: Plan, targets: list[Repository], images) -> list[tuple[Repository, StagedImage, str]]:
    """(repository, staged image, digest) for each staged manifest, or its attestation manifest, not there:
    what a stage's rerun and the join check alike."""
    wanted = [(repo, i, d) for repo in targets for i in images if plan.publishes(i.variant, repo.ref)
              for d in (i.manifest, i.attestation.get("digest")) if d]  # the image, and its attestation manifest
    return [(repo, i, d) for repo, i, d in wanted if repo.registry.head_manifest(repo.name.digest(d)) != d]


def staged_variants(resolved: Resolved, found: dict[str, BasePlatforms]) -> tuple[StagedVariant, ...]:
    """Each variant with the platforms this stage makes of it; a from-base one also with those its base lacks."""
    return tuple(StagedVariant(name, r.platforms, r.base_digest, found[name].lacks if name in found else ())
                 for name, r in resolved.variants.items())


def write_record(path: Path, run: Run, resolved: Resolved, images: dict, variants: tuple[StagedVariant, ...],
                 failures: list[str] = (), attestations: dict | None = None) -> None:
    """`images`: (variant, platform) → Image made (none when the stage failed before exporting);
    `attestations`: (variant, platform) → its AttestationManifest, pushed with it."""
    plan = resolved.plan
    plans = {v.variant.name: v for v in plan.variants}
    staged = []
    for (name, platform), made in made_from(resolved).items():
        image = images.get((name, platform))
        mine = tuple(line for line in failures if line.startswith(f"{name} {platform}:"))
        staged.append(StagedImage(
            name, platform, image.digest if image else "", len(image.manifest) if image else 0,
            _config_digest(image), image.platform_entry() if image else {}, made.base_digest, made.payload, made.context,
            _smoke_tests(plans[name]) if not failures else (), mine or tuple(failures[:1]),
            attestations[name, platform].index_entry() if attestations and (name, platform) in attestations else {},
        ))
    record = StageRecord(plan.release.text, plan_identity(plan), tuple(staged), variants=variants,
                         attestations=run.options.attestations)
    save_record(path, record)


@contextmanager
def failures_recorded(path: Path, run: Run, resolved: Resolved, variants: tuple[StagedVariant, ...]):
    """Around making and smoke-testing: a failure is written down as a failed record, then raised."""
    try:
        yield
    except PublishFailed as error:
        write_record(path, run, resolved, {}, variants, list(error.lines[1:]))
        raise


def _smoke_tests(v: VariantPlan) -> tuple[str, ...]:
    return tuple(" ".join(test.run) for test in v.variant.smoke) + ("config",)


def _config_digest(image) -> str:
    return oci.digest(image.config) if image else ""
