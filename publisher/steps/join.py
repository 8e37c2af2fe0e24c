"""The join: stage records in, one index per variant out, tagged and verified; nothing built.

It accepts the records only when they are this release's and this plan's stages, cover every
planned (variant, platform) once, all passed, agree on each base, and every staged manifest is in
every repository. The indexes it writes are byte for byte what a one-machine publish writes.
"""

from __future__ import annotations

from publisher.image.platform import Platform
from publisher.errors import PublisherError
from publisher.release import resolved
from publisher.release import records as policy
from publisher.release.plan import Plan
from publisher.release.records import StagedImage, StageRecord
from publisher.release.resolved import Resolved
from publisher.steps.run import Run
from publisher.steps.stage import missing_manifests
from publisher.holdings.repository import Repository


def accept(run: Run, plan: Plan, records: dict[str, StageRecord],
           targets: list[Repository]) -> dict[tuple[str, Platform], StagedImage]:
    """(variant, platform) → what its stage pushed; refuses any set of records the join cannot use.

    `targets` is never empty: a join without pushing is refused with the other flags.
    """
    problems = policy.join_problems(plan, records, run.options.attestations)
    if problems:
        raise PublisherError(*problems)
    staged = policy.by_variant(records)
    missing = [f"{repo.ref}: {i.variant} {i.platform}: manifest {d} is not there; run its stage again"
               for repo, i, d in missing_manifests(plan, targets, staged.values())]
    if missing:
        raise PublisherError(*missing)
    return staged


def from_records(run: Run, plan: Plan, records: dict[str, StageRecord],
                 staged: dict[tuple[str, Platform], StagedImage]) -> Resolved:
    """What the join publishes: each `platforms: from-base` variant at the platforms its stages found on its
    base (each said once), and each variant's annotations from what its stages were made of, as a
    one-machine publish writes them.

    The records say it (checked by `accept`): the join reads no base, so it needs no credentials for the
    bases' registries and holds to the base digest the images were made on, even if the base moved since.
    """
    platforms = policy.joined_platforms(plan, records)
    for v in plan.variants:
        if v.variant.platforms_from_base:
            run.progress.log(f"{v.variant.name}: platforms from base {v.variant.base}: {', '.join(map(str, platforms[v.variant.name]))} "
                             "(as its stages found)")
    return resolved.join(plan, platforms, staged)
