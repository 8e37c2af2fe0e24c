"""The publish, as its steps: read, resolve, make, smoke-test, export, then decide, push, tag and verify.

Nothing is tagged until everything is proven: every image is made and smoke-tested before the
first byte leaves this machine; content goes by digest, exact tags before floating ones, and the
registries are read back at the end.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from publisher.image import oci
from publisher.image.reference import parse_repository
from publisher.local import artifacts
from publisher.local.layers import file_digest
from publisher.options import Options
from publisher.progress import Progress
from publisher.release import inputs
from publisher.release.decisions import HELD
from publisher.release.plan import Plan
from publisher.release.tags import is_floating
from publisher.remote.hosts import Hosts
from publisher.remote.retry import RECOVERED
from publisher.steps.bases import Bases, check_platforms
from publisher.steps.build import mirrored
from publisher.steps.export import export_all
from publisher.steps.make import make_all
from publisher.steps.push import Publication, push, refuse_conflicts
from publisher.steps.run import Run
from publisher.steps.smoke import smoke_all
from publisher.steps.state import Repository, decide_all, read_all
from publisher.steps.verify import verify

NETWORK_JOBS = 8


@dataclass
class Result:
    counts: Counter
    digests: dict[str, str]  # variant → index digest; empty when nothing was pushed


def publish(plan: Plan, options: Options, progress: Progress) -> Result:
    network = ThreadPoolExecutor(NETWORK_JOBS)
    try:
        with Hosts(options.policy, options.timeout) as hosts:
            result = _steps(Run(plan, options, progress, hosts, network))
            result.counts[RECOVERED] = hosts.stats().get(RECOVERED, 0)  # in the summary when not 0
            return result
    finally:
        network.shutdown(cancel_futures=True)


def _steps(run: Run) -> Result:
    targets = [Repository(ref, run.hosts[parse_repository(ref).host], run.counts)
               for ref in run.plan.repositories] if run.options.push else []
    # Read first: what can be refused (pull, push, a base or its platform) is refused in seconds.
    with run.progress.phase("read", len(targets)) as tick:
        states = read_all(targets, run.plan, run.network, tick, push=True)
    binaries = _payload(run)
    bases = _bases(run)
    resolved = bases.resolve(run.network)
    check_platforms(bases, run.plan, run.network)
    notes = _annotations(run.plan, binaries, resolved) if targets else {}
    if notes and run.options.build_cache and _up_to_date(run.plan, states, notes):
        return _nothing_to_do(run, targets, states)
    made = make_all(run, binaries, bases)
    with run.progress.phase("smoke-test", len(made.in_engine())) as tick:
        smoke_all(run, made.engine, made.in_engine(), tick)
    if not targets:
        return Result(run.counts, {})
    with run.progress.phase("export", len(made.built)) as tick:
        images = {**{k: a.image for k, a in made.assembled.items()}, **export_all(run, made.engine, made.built, binaries, tick)}
    publications = [_publication(v, images, notes[v.variant.name]) for v in run.plan.variants]
    _release(run, targets, publications, states)
    return Result(run.counts, {p.name: p.digest for p in publications})


def _release(run: Run, targets: list[Repository], publications: list[Publication], states: dict) -> None:
    """Decide every tag, refuse conflicts, then push content and tags, and verify."""
    for p in publications:
        run.progress.log(f"{p.name}: {p.digest}")
    decisions = decide_all(run.plan, states, run.options.rules, {p.name: p.digest for p in publications})
    refuse_conflicts(decisions, publications)
    for (ref, tag), d in decisions.items():
        if d.status == HELD or d.why:
            (run.progress.notice if d.status == HELD else run.progress.log)(f"{ref}:{tag}: {d.status}: {d.why}")
    with run.progress.phase("push", 1) as tick:
        push(targets, publications, decisions, lambda tag: is_floating(tag, run.plan.release), run.network)
        verify(targets, publications, decisions, run.network)
        tick("content, tags, verification")


def _payload(run: Run) -> dict[str, Path]:
    """Platform → the folder holding the binaries every image of that platform carries, checked by running them."""
    version = run.plan.release.text
    if run.options.artifacts:
        binaries = artifacts.from_directory(run.options.artifacts, run.platforms)
    else:
        binaries = artifacts.fetch_wheels(version, run.platforms, run.options.cache)
    artifacts.check_runs(binaries, version)
    return binaries


def _bases(run: Run) -> Bases:
    refs = {v.variant.base: mirrored(v.variant.base, run.options.base_mirror) or v.variant.base
            for v in run.plan.variants if v.variant.base}
    return Bases(refs, run.options.cache, run.hosts)


def _publication(v, images: dict, annotations: dict) -> Publication:
    mine = tuple(images[v.variant.name, p] for p in v.variant.platforms)
    return Publication(v.variant.name, mine, oci.index(list(mine), annotations), v.tags)


def _annotations(plan: Plan, binaries: dict[str, Path], resolved: dict[str, str]) -> dict[str, dict]:
    """Each variant's index annotations: its labels, its base's digest, the digest of its inputs."""
    payload = {p: oci.digest("".join(file_digest(folder / n) for n in artifacts.BINARIES).encode())
               for p, folder in binaries.items()}
    return {v.variant.name: inputs.annotations(v, resolved.get(v.variant.base), payload) for v in plan.variants}


def _up_to_date(plan: Plan, states: dict, notes: dict) -> bool:
    """Every tag of every repository holds one index per variant, made from the inputs it would be now."""
    for current in states.values():
        for v in plan.variants:
            want = notes[v.variant.name][inputs.INPUTS]
            held = [current[tag] for tag in v.tags]
            if held[0].digest is None or any(c.digest != held[0].digest or c.inputs != want for c in held):
                return False
    return True


def _nothing_to_do(run: Run, targets: list[Repository], states: dict) -> Result:
    run.progress.log("every tag already holds what this release would publish, made from the same inputs: nothing to build")
    run.counts["tags unchanged"] = run.counts["tags verified"] = len(run.plan.tags) * len(targets)
    first = states[targets[0].ref]
    return Result(run.counts, {v.variant.name: first[v.tags[0]].digest for v in run.plan.variants})
