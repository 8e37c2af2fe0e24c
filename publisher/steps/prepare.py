"""What every flow does first: the targets read (pull and push proven), the payload, the bases resolved.

Everything that can be refused without building is refused here, in seconds.
"""

from __future__ import annotations

from pathlib import Path

from publisher.image.platform import Platform
from publisher.image.reference import parse_repository
from publisher.local import artifacts
from publisher.local.layers import file_digest
from publisher.release.events import TagRetired
from publisher.release.plan import Plan
from publisher.holdings.bases import BasePlatforms, Bases, check_platforms, from_bases, platforms_found
from publisher.steps.run import Run
from publisher.holdings.repository import Repository, read_all, retired_all


def read_targets(run: Run, plan: Plan) -> tuple[list[Repository], dict]:
    """The target repositories (none with --no-push) and what each planned tag holds there now."""
    targets = [Repository(ref, run.hosts[parse_repository(ref).host])
               for ref in plan.repositories] if run.options.push else []
    with run.progress.phase("read", len(targets)) as tick:
        states = read_all(targets, plan, run.network, tick, push=True)
    if not run.options.stage:  # a retired tag is said once, by the job that moves tags
        for ref, retired in retired_all(targets, plan, run.network).items():
            for tag, d in retired.items():
                run.progress.notice(TagRetired(ref, tag, d.why))
    return targets, states


def fetch_payload(run: Run, plan: Plan, platforms: list[Platform]) -> dict[Platform, Path]:
    """Platform → the folder holding the binaries every image of that platform carries, checked by running them."""
    version, declared = plan.payload_version, plan.payload
    if run.options.artifacts:
        binaries = artifacts.from_directory(run.options.artifacts, platforms, declared.files)
    else:
        binaries = artifacts.fetch_wheels(declared, version, platforms, run.options.cache)
    artifacts.check_runs(binaries, version, declared)
    return binaries


def payload_files(plan: Plan, binaries: dict[Platform, Path]) -> dict[Platform, dict[str, str]]:
    """Platform → each of the payload's files → its digest, in the matrix's order: read once, for the inputs
    digest (release/inputs.payload_digest) and the attestations alike."""
    return {p: {n: file_digest(folder / n) for n in plan.payload.files} for p, folder in binaries.items()}


def resolve_bases(run: Run, plan: Plan) -> Bases:
    """Every base at one digest, with every planned platform: proven before anything is built (the primary's
    too, when it has one: it is made whenever a derived image is built)."""
    declared = {v.variant.base for v in plan.made if v.variant.base and v.variant.platforms}  # a stage may make none of one
    bases = Bases(declared, run.options.base_mirror, run.options.cache, run.hosts)
    bases.resolve(run.network)
    check_platforms(bases, plan, run.network)
    return bases


def base_platforms(run: Run, plan: Plan, bases: Bases) -> dict[str, tuple[Platform, ...]]:
    """Each `platforms: from-base` variant → the platforms its base's index has, each said once."""
    if not any(v.variant.platforms_from_base for v in plan.variants):
        return {}
    found = from_bases(bases, plan, run.network)
    for v in plan.variants:
        if v.variant.name in found:
            run.progress.log(f"{v.variant.name}: platforms from base {v.variant.base}: {', '.join(map(str, found[v.variant.name]))}")
    return found


def stage_platforms(run: Run, plan: Plan, bases: Bases) -> dict[str, BasePlatforms]:
    """As `base_platforms`, for a stage: a from-base variant whose base has none of this stage's platforms
    stays in the plan with no platform (the stages of the platforms it has make it), and that is said,
    as for a variant whose own `platforms` list has none of them (kept so by options.compute_plan)."""
    found = platforms_found(bases, plan, run.network)
    for v in plan.variants:
        mine = found.get(v.variant.name)
        if not v.variant.platforms:
            run.progress.log(f"{v.variant.name}: its platforms have none of {', '.join(map(str, plan.platforms))}; "
                             "not staged here, the join expects its own platforms")
        elif mine and mine.has:
            run.progress.log(f"{v.variant.name}: platforms from base {v.variant.base}: {', '.join(map(str, mine.has))}")
        elif mine:
            run.progress.log(f"{v.variant.name}: platforms from base {v.variant.base}: none of {', '.join(map(str, mine.lacks))}; "
                             "not staged here, the join expects the platforms its base has")
    return found
