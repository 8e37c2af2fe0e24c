"""The publish job: build everything, prove everything, then push, tag and verify."""

from __future__ import annotations

import json
import os
import shlex
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from publisher import artifacts, canonical, inputs, oci, smoke
from publisher.assemble import assemble_all
from publisher.bases import Bases
from publisher.build import build_all, mirrored
from publisher.engine import Engine
from publisher.errors import PublishFailed
from publisher.oci import Blob, Image
from publisher.plan import CREATED, Plan
from publisher.progress import Progress
from publisher.push import Publication, Repository, connect, push, refuse_conflicts
from publisher.reference import parse_repository
from publisher.retry import Policy
from publisher.tagging import HELD, decide
from publisher.tags import is_floating


NETWORK_JOBS = 8
RECORD_FORMAT = 3  # bump when what an image record holds changes, so old records are not reused


@dataclass(frozen=True)
class Options:
    root: Path  # the matrix's folder: Dockerfiles are read from here
    cache: Path  # wheels, binaries, compressed layers
    artifacts: Path | None = None  # --artifacts DIR instead of the uv wheels
    base_mirror: str | None = None
    push: bool = True  # False: stop once every image is built and smoke-tested
    force: bool = False  # overwrite exact tags holding other content
    downgrade: bool = False  # move floating tags that point at a newer release
    policy: Policy = field(default_factory=Policy)
    timeout: float = 60.0
    build_cache: bool = True  # False: BuildKit builds everything again
    jobs: int = field(default_factory=lambda: os.cpu_count() or 2)  # builds, smoke tests, exports at once


@dataclass
class Result:
    counts: Counter
    digests: dict[str, str]  # variant → index digest; empty when nothing was pushed


def publish(plan: Plan, options: Options, progress: Progress) -> Result:
    registries = connect(plan.repositories, options.policy, options.timeout) if options.push else {}
    refs = {v.variant.base: mirrored(v.variant.base, options.base_mirror) or v.variant.base for v in plan.variants if v.variant.base}
    bases = Bases(refs, options.cache, options.timeout, options.policy)
    network = ThreadPoolExecutor(NETWORK_JOBS)  # registry round-trips wait on the network, not the CPU
    try:
        return _publish(plan, options, progress, registries, bases, network)
    finally:
        network.shutdown(cancel_futures=True)
        bases.close()
        for registry in registries.values():
            registry.close()


def _publish(plan: Plan, options: Options, progress: Progress, registries: dict, bases: Bases, network) -> Result:
    counts: Counter = Counter()
    repositories = [Repository(ref, registries[parse_repository(ref).host], counts) for ref in plan.repositories]
    # Read first: an unreachable or refusing registry fails in seconds, not after the builds.
    with progress.phase("read", len(repositories)) as tick:
        states = {repo.ref: _read(repo, plan, network, tick) for repo in repositories}
    platforms = sorted({p for v in plan.variants for p in v.variant.platforms})
    binaries = _binaries(plan.release.text, platforms, options)
    resolved = bases.resolve(network)
    notes = _annotations(plan, binaries, resolved) if options.push else {}
    if notes and options.build_cache and _up_to_date(plan, states, notes):
        progress.log("every tag already holds what this release would publish, made from the same inputs: nothing to build")
        counts["tags unchanged"] = counts["tags verified"] = len(plan.tags) * len(repositories)
        first = states[repositories[0].ref]
        return Result(counts, {v.variant.name: first[v.tags[0]].digest for v in plan.variants})
    engine, built, images = _prove(plan, options, progress, binaries, bases, counts, network)
    if not options.push:
        return Result(counts, {})
    exported = [(v, p) for v in plan.variants for p in v.variant.platforms if (v.variant.name, p) in built]
    with progress.phase("export", len(exported)) as tick:
        images.update(_export(engine, exported, built, binaries, options, tick))
    publications = [_publication(v, images, notes.get(v.variant.name, v.labels)) for v in plan.variants]
    _release(plan, options, progress, repositories, publications, states, network)
    return Result(counts, {p.name: p.digest for p in publications})


def _prove(plan: Plan, options: Options, progress: Progress, binaries: dict, bases: Bases, counts: Counter,
           network) -> tuple[Engine, dict, dict]:
    """Make every image and smoke-test it: nothing leaves this machine unless all of it passes.

    Returns the engine, (variant, platform) → image ID of what BuildKit built (to export), and
    (variant, platform) → Image of what was assembled (ready to push).
    """
    engine = Engine(progress.log)
    progress.log(f"builder: {engine.builder.name}")
    recipes = {v.variant.name: v.recipe for v in plan.variants}  # each Dockerfile read once
    derived = [(v, p, recipes[v.variant.name]) for v in plan.variants if not v.variant.primary for p in v.variant.platforms]
    assembled = [(v, p, r) for v, p, r in derived if r]
    to_build = [(v, p) for v, p, r in derived if not r]
    with progress.phase("build", len(to_build) + len(binaries)) as tick:
        built = build_all(engine, plan, options.root, binaries, options.base_mirror, to_build, options.jobs, tick,
                          options.build_cache)
    made = {}
    if assembled:
        with progress.phase("assemble", len(assembled)) as tick:
            made = assemble_all(engine, bases, assembled, binaries, options.cache, options.jobs, network, tick)
    counts["images built"], counts["images assembled"] = len(built), len(made)
    with progress.phase("smoke-test", len(built) + len(made)) as tick:
        _smoke_all(engine, plan, {**built, **{key: name for key, (_, name) in made.items()}}, counts, options.jobs, tick)
    return engine, built, {key: image for key, (image, _) in made.items()}


def _release(plan: Plan, options: Options, progress: Progress, repositories: list[Repository],
             publications: list[Publication], states: dict, network) -> None:
    """Decide every tag, refuse conflicts, then push content, tags and verify."""
    for p in publications:
        progress.log(f"{p.name}: {p.digest}")
    decisions = _decide(plan, publications, states, options)
    refuse_conflicts(decisions, publications)
    for (ref, tag), d in decisions.items():
        if d.status == HELD or d.why:
            progress.log(f"{ref}:{tag}: {d.status}: {d.why}")
    with progress.phase("push", 1) as tick:
        push(repositories, publications, decisions, lambda tag: is_floating(tag, plan.release), network)
        tick("content, tags, verification")


def _read(repo: Repository, plan: Plan, network, tick) -> dict:
    state = repo.read(plan.tags, network)
    tick(repo.ref)
    return state


def _decide(plan: Plan, publications: list[Publication], states: dict, options: Options) -> dict:
    decisions = {}
    for ref, current in states.items():
        for p in publications:
            for tag in p.tags:
                now = current[tag]
                decisions[ref, tag] = decide(is_floating(tag, plan.release), now, now.digest == p.digest,
                                             plan.release, options.force, options.downgrade)
    return decisions


def _binaries(version: str, platforms: list[str], options: Options) -> dict[str, Path]:
    if options.artifacts:
        binaries = artifacts.from_directory(options.artifacts, platforms)
    else:
        binaries = artifacts.fetch_wheels(version, platforms, options.cache)
    artifacts.check_runs(binaries, version)
    return binaries


def _smoke_all(engine: Engine, plan: Plan, built: dict, counts: Counter, jobs: int, tick) -> None:
    variants = {v.variant.name: v for v in (plan.primary, *plan.variants)}

    def one(item):
        (name, platform), image_id = item
        result = _smoke(engine, variants[name], platform, image_id, plan.release.text)
        tick(f"{name} {platform}")
        return result

    with ThreadPoolExecutor(jobs) as pool:
        results = list(pool.map(one, built.items()))
    failures = [line for lines, _ in results for line in lines]
    counts["smoke tests run"] += sum(n for _, n in results)
    if failures:
        raise PublishFailed("publisher: smoke tests failed; nothing was pushed:", *failures)


def _smoke(engine: Engine, v, platform: str, image_id: str, version: str) -> tuple[list[str], int]:
    """One image's config check and smoke tests: the failures, and how many tests ran."""
    failures = smoke.check_config(v.variant, platform, engine.inspect(image_id), v.labels)
    for test in v.variant.smoke:
        result = engine.run(image_id, list(test.run))
        why = smoke.judge(test, version, result.exit_code, result.stdout, result.stderr)
        if why:
            failures.append(f"{v.variant.name} {platform}: {shlex.join(test.run)}: {why}")
    return failures, len(v.variant.smoke)


def _export(engine: Engine, wanted: list, built: dict, binaries: dict, options: Options, tick) -> dict:
    """(variant, platform) → the pushable Image of each image BuildKit built."""

    def one(vp):
        v, platform = vp
        uv = None if v.variant.primary else binaries[platform]
        workdir = (v.variant.config.get("workdir") or "").strip("/") or None
        created = v.labels.get(CREATED)
        image = _image(engine, built[v.variant.name, platform], platform, options.cache, uv, workdir, created)
        tick(f"{v.variant.name} {platform}")
        return image

    with ThreadPoolExecutor(options.jobs) as pool:
        exported = list(pool.map(one, wanted))
    return dict(zip(((v.variant.name, p) for v, p in wanted), exported))


def _publication(v, images: dict, annotations: dict) -> Publication:
    mine = tuple(images[v.variant.name, p] for p in v.variant.platforms)
    return Publication(v.variant.name, mine, oci.index(list(mine), annotations), v.tags)


def _annotations(plan: Plan, binaries: dict[str, Path], resolved: dict[str, str]) -> dict[str, dict]:
    """Each variant's index annotations: its labels, its base's digest, the digest of its inputs."""
    uv = {p: oci.digest("".join(oci.file_digest(folder / n) for n in ("uv", "uvx")).encode()) for p, folder in binaries.items()}
    return {v.variant.name: inputs.annotations(v, resolved.get(v.variant.base), uv) for v in plan.variants}


def _up_to_date(plan: Plan, states: dict, notes: dict) -> bool:
    """Every tag of every repository holds one index per variant, made from the inputs it would be now."""
    for current in states.values():
        for v in plan.variants:
            want = notes[v.variant.name][inputs.INPUTS]
            held = [current[tag] for tag in v.tags]
            if held[0].digest is None or any(c.digest != held[0].digest or c.inputs != want for c in held):
                return False
    return True


def _image(engine: Engine, image_id: str, platform: str, cache: Path, uv: Path | None, workdir: str | None,
           created: str | None) -> Image:
    """The pushable form of a built image, made canonical (see canonical); once per image ID.

    `uv`: for a derived image, the binaries its last layer holds; `workdir`: the primary's folder.
    """
    record = cache / "images" / f"{image_id.split(':')[1]}.{RECORD_FORMAT}.json"
    if record.exists():
        saved = json.loads(record.read_text())
        layers = tuple(Blob(b["digest"], b["size"], Path(b["path"])) for b in saved["layers"])
        if all(b.path.exists() for b in layers):
            return Image(platform, bytes.fromhex(saved["config"]), layers)
    (cache / "blobs").mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="publisher-save-") as tmp:
        config, layer_tars = engine.save(image_id, Path(tmp))
        config, layer_tars = canonical.canonicalize(config, layer_tars, uv, workdir, cache / "blobs", created)
        layers = tuple(oci.compress_layer(tar, cache / "blobs") for tar in layer_tars)
    record.parent.mkdir(parents=True, exist_ok=True)
    saved = {"config": config.hex(), "layers": [{"digest": b.digest, "size": b.size, "path": str(b.path)} for b in layers]}
    partial = record.with_name(f"{record.name}.{os.getpid()}.partial")
    partial.write_text(json.dumps(saved))
    os.replace(partial, record)  # a publish killed here leaves no half-written record
    return Image(platform, config, layers)
