"""The join: stage records in, one index per variant out, tagged and verified; nothing built.

It accepts the records only when they are this release's and this plan's stages, cover every
planned (variant, platform) once, all passed, agree on each base, and every staged manifest is in
every repository. The indexes it writes are byte for byte what a one-machine publish writes.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from publisher.errors import PublisherError
from publisher.release import inputs
from publisher.release import records as policy
from publisher.release.records import StagedImage, StageRecord
from publisher.steps.run import Run
from publisher.steps.stage import missing_manifests
from publisher.steps.state import Repository


def load(folders: list[Path]) -> dict[str, StageRecord]:
    """Every stage record in these folders, by file name; an unreadable one is refused by name."""
    found = {}
    for folder in folders:
        paths = sorted(folder.glob("stage-*.json")) if folder.is_dir() else []
        if not paths:
            raise PublisherError(f"publisher: --join {folder}: no stage record (stage-*.json) there; "
                                 "give the folders the stages wrote with --stage")
        for path in paths:
            try:
                found[str(path)] = StageRecord.from_json(path.read_bytes())
            except (OSError, ValueError, KeyError, TypeError):
                raise PublisherError(f"{path}: not a stage record publisher can read; stage again") from None
    return found


def accept(run: Run, records: dict[str, StageRecord], targets: list[Repository]) -> dict[tuple[str, str], StagedImage]:
    """(variant, platform) → what its stage pushed; refuses any set of records the join cannot use.

    `targets` is never empty: a join without pushing is refused with the other flags.
    """
    problems = policy.check(run.plan, records, run.options.attestations)
    if problems:
        raise PublisherError(*problems)
    staged = policy.by_variant(records)
    missing = [f"{repo.ref}: {i.variant} {i.platform}: manifest {d} is not there; run its stage again"
               for repo, i, d in missing_manifests(run, targets, staged.values())]
    if missing:
        raise PublisherError(*missing)
    return staged


def from_records(run: Run, records: dict[str, StageRecord]) -> Run:
    """The run with each `platforms: from-base` variant at the platforms its stages found on its base, each said once.

    The records say it (checked by `accept`): the join reads no base, so it needs no credentials for the
    bases' registries and holds to the base digest the images were made on, even if the base moved since.
    """
    plan = policy.joined_plan(run.plan, records)
    for v in plan.variants:
        if v.variant.platforms_from_base:
            run.progress.log(f"{v.variant.name}: platforms from base {v.variant.base}: {', '.join(v.variant.platforms)} "
                             "(as its stages found)")
    return replace(run, plan=plan)


def notes(run: Run, staged: dict[tuple[str, str], StagedImage]) -> dict[str, dict]:
    """Each variant's index annotations, from what its stages were made of: as a one-machine publish writes them."""
    result = {}
    for v in run.plan.variants:
        mine = [staged[v.variant.name, p] for p in v.variant.platforms]
        result[v.variant.name] = inputs.annotations(v, mine[0].base, {i.platform: i.payload for i in mine})
    return result
