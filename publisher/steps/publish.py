"""The publish, as its steps, on one machine or spread over runners (stage each platform, then join).

Nothing is tagged until everything is proven: every image is made and smoke-tested before the
first byte leaves this machine; content goes by digest, exact tags before floating ones, and the
registries are read back at the end. A stage stops after pushing its images by digest; the join
builds nothing and does the rest. Every image is attested (SBOM, provenance; not with --no-attestations)
before anything is pushed, and signed (--sign-key) after its content and before any tag. A refresh is the one-machine sequence cut to the variants whose
base moved since the release was published, and to their floating tags.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from publisher.image import oci
from publisher.image.attest import Context, context_digest
from publisher.local.records import check_stage_folder, load_records, record_path
from publisher.options import Options
from publisher.progress import Progress
from publisher.release import refresh, resolved, result
from publisher.release.events import (CallsRecovered, Event, ManifestSent, Sent, SmokeTested, Tagged, TagVerified,
                                      TagWritten)
from publisher.release.publication import publication
from publisher.release.rerun import up_to_date
from publisher.release.result import Published
from publisher.release.plan import Plan
from publisher.release.resolved import Resolved
from publisher.remote.hosts import Hosts
from publisher.remote.retry import RECOVERED
from publisher.steps import attest, join, sign, stage
from publisher.steps.export import export_all
from publisher.steps.make import Made, engine_for, make_all
from publisher.steps.prepare import (base_platforms, fetch_payload, payload_files, read_targets, resolve_bases,
                                     stage_platforms)
from publisher.steps.push import push_staged
from publisher.steps.run import Run
from publisher.steps.smoke import Smoking
from publisher.holdings.repository import Repository
from publisher.steps.ship import Shipped, ship

NETWORK_JOBS = 8


@dataclass
class Outcome:
    events: list[Event]  # what the publish did, for the summary line (report.tally counts them)
    digests: dict[str, str]  # variant → index digest; empty when nothing was pushed or tagged
    resolved: Resolved | None = None  # what was published, as resolved (a refresh's variants; platforms from bases)
    document: dict | None = None  # what --result writes (release.result); None when nothing was tagged
    made_with: str | None = None  # the engine, its store and the builder; None when nothing was made


def publish(plan: Plan, options: Options, progress: Progress) -> Outcome:
    network = ThreadPoolExecutor(NETWORK_JOBS)
    try:
        with Hosts(options.policy, options.timeout) as hosts:
            run = Run(options, progress, hosts, network)
            flow = _join if options.join else _one_stage if options.stage else _refresh if options.refresh else _one_machine
            outcome = flow(run, plan)
            outcome.events.append(CallsRecovered(hosts.stats().get(RECOVERED, 0)))  # in the summary when not 0
            return outcome
    finally:
        network.shutdown(cancel_futures=True)


def _one_machine(run: Run, plan: Plan) -> Outcome:
    targets, states = read_targets(run, plan)
    binaries = fetch_payload(run, plan, plan.platforms)
    files = payload_files(plan, binaries)
    bases = resolve_bases(run, plan)
    from_base = base_platforms(run, plan, bases)
    context = _context(run, plan, binaries, files)
    found = resolved.one_machine(plan, from_base, bases.of_variants(plan), files, context_digest(context))
    if targets and found.variants and run.options.build_cache and up_to_date(found, states):
        return _nothing_to_do(run, found, targets, states)
    return _released(run, found, targets, states, Making(binaries, bases, context))


def _refresh(run: Run, plan: Plan) -> Outcome:
    """The variants whose base moved since --version was published, remade; only their floating tags move."""
    targets, states = read_targets(run, plan)
    bases = resolve_bases(run, plan)
    from_base = base_platforms(run, plan, bases)
    stale = refresh.stale(plan, states, bases.of_variants(plan))
    if not stale:
        run.progress.log(f"every base is where {plan.release.text} was made from: nothing to refresh")
        return Outcome(_unchanged(plan, targets), {})
    run.progress.log(f"bases moved since {plan.release.text}: refreshing {', '.join(stale)}")
    cut = refresh.floating_only(plan, stale)
    binaries = fetch_payload(run, cut, sorted({p for ps in resolved.final_platforms(cut, from_base).values() for p in ps}))
    files = payload_files(cut, binaries)
    context = _context(run, cut, binaries, files)
    found = resolved.one_machine(cut, from_base, bases.of_variants(cut), files, context_digest(context))
    return _released(run, found, targets, states, Making(binaries, bases, context))


@dataclass(frozen=True)
class Making:
    """What the images are made of: the payload's files, the bases, what the attestations share."""

    binaries: dict  # platform → the folder of the payload's files
    bases: object  # holdings.bases.Bases
    context: Context | None  # None: no attestations


def _released(run: Run, found: Resolved, targets: list[Repository], states: dict, making: Making) -> Outcome:
    """Every image made, smoke-tested and attested, then pushed, signed, tagged and verified (with targets)."""
    with engine_for(run) as engine:
        proven = _made_and_proven(run, found, making.binaries, making.bases, engine)
        if not targets:
            return Outcome(proven.events, {}, made_with=proven.made.made_with)
        images = _pushable(run, found, proven.made, making.binaries)
    attested = _attested(run, found, making.context, images)
    publications = [publication(v, found[v.variant.name], images, images, made=attested) for v in found.plan.variants]
    shipped = ship(run, found, targets, publications, states)
    return _outcome(run, found, targets, publications, shipped, proven)


def _one_stage(run: Run, plan: Plan) -> Outcome:
    targets, _ = read_targets(run, plan)
    check_stage_folder(run.options.stage)
    path = record_path(run.options.stage, plan.platforms)  # named by the stage's platforms, before from-base cuts
    binaries = fetch_payload(run, plan, plan.platforms)
    files = payload_files(plan, binaries)
    bases = resolve_bases(run, plan)
    from_base = stage_platforms(run, plan, bases)
    context = _context(run, plan, binaries, files)
    found = resolved.stage(plan, {name: f.has for name, f in from_base.items()}, bases.of_variants(plan), files,
                           context_digest(context))
    variants = stage.staged_variants(found, from_base)
    done = stage.staged_already(found, targets, path, variants) if run.options.build_cache else None
    if done:
        run.progress.log(f"{path}: this stage is done, made from the same inputs: nothing to build")
        return Outcome([ManifestSent(t.ref, i.manifest, Sent.THERE) for t in targets for i in done.images], {})
    with engine_for(run) as engine:
        with stage.failures_recorded(path, run, found, variants):
            proven = _made_and_proven(run, found, binaries, bases, engine)
        images = _pushable(run, found, proven.made, binaries) if targets else {}
    attested = _attested(run, found, context, images) if targets else {}
    with run.progress.phase("push", 1) as tick:
        pushed = push_staged(targets, _by_target(found, targets, images), run.network, _by_target(found, targets, attested))
        tick("platform images and their attestations by digest")
    stage.write_record(path, run, found, images, variants, attestations=attested)
    run.progress.log(f"stage record: {path}")
    return Outcome(proven.events + pushed, {}, made_with=proven.made.made_with)


def _by_target(found: Resolved, targets: list[Repository], made: dict) -> dict[str, list]:
    """Repository → what of `made` ((variant, platform) → an image or its attestation) goes there."""
    return {t.ref: [m for (name, _), m in made.items() if found.plan.publishes(name, t.ref)] for t in targets}


def _join(run: Run, plan: Plan) -> Outcome:
    targets, states = read_targets(run, plan)
    records = load_records(run.options.join)
    staged = join.accept(run, plan, records, targets)
    found = join.from_records(run, plan, records, staged)
    if up_to_date(found, states, replay=True):
        return _nothing_to_do(run, found, targets, states)
    children = {key: image.child() for key, image in staged.items()}
    entries = {key: image.attestation for key, image in staged.items()}
    publications = [publication(v, found[v.variant.name], children, recorded=entries) for v in found.plan.variants]
    return _outcome(run, found, targets, publications, ship(run, found, targets, publications, states))


def _context(run: Run, plan: Plan, binaries: dict, files: dict) -> Context | None:
    """What every attestation shares; None with --no-attestations."""
    return attest.context(run, plan, binaries, files) if run.options.attestations else None


def _attested(run: Run, found: Resolved, context: Context | None, images: dict) -> dict:
    """(variant, platform) → its attestation manifest, made before anything is pushed; none without a context:
    nothing scanned, nothing attested."""
    if context is None:
        return {}
    with run.progress.phase("attest", len(images)) as tick:
        return attest.attest_all(run, found, context, images, tick)


def _outcome(run: Run, found: Resolved, targets: list[Repository], publications: list, shipped: Shipped,
             proven: Proven | None = None) -> Outcome:
    mine = {p.name: Published(p.digest, result.platforms_of(p.index)) for p in publications}
    published = {t.ref: {name: held for name, held in mine.items() if found.plan.publishes(name, t.ref)} for t in targets}
    events = [*(proven.events if proven else ()), *shipped.events]
    return Outcome(events, {p.name: p.digest for p in publications}, found,
                   result.document(found.plan, published, shipped.decisions), proven.made.made_with if proven else None)


@dataclass(frozen=True)
class Proven:
    """Every image made and smoke-tested."""

    made: Made
    smoked: list[SmokeTested]

    @property
    def events(self) -> list[Event]:
        return [*self.made.events, *self.smoked]


def _made_and_proven(run: Run, found: Resolved, binaries: dict, bases, engine) -> Proven:
    with Smoking(run, found.plan) as smoking:
        made = make_all(run, found, binaries, bases, engine, smoking.ready)
        with run.progress.phase("smoke-test", len(made.in_engine())) as tick:
            smoked = smoking.finish(made.engine, made.in_engine(), tick)
    return Proven(made, smoked)


def _pushable(run: Run, found: Resolved, made: Made, binaries: dict) -> dict:
    """(variant, platform) → the Image to push: assembled ones as they are, built ones exported."""
    exported = {}
    if made.built:
        with run.progress.phase("export", len(made.built)) as tick:
            exported = export_all(run, found, made.engine, made.built, binaries, tick)
    return {**{k: a.image for k, a in made.assembled.items()}, **exported}


def _nothing_to_do(run: Run, found: Resolved, targets: list[Repository], states: dict) -> Outcome:
    run.progress.log("every tag already holds what this release would publish, made from the same inputs: nothing to build")
    events = _unchanged(found.plan, targets)
    # the last tag: a floating one when there is one, which a base refresh moved to the newest content
    held = {(t.ref, v.variant.name): t.manifest(states[t.ref][v.tags[-1]].digest)  # read by read_targets already
            for t in targets for v in found.plan.variants_in(t.ref)}
    if run.options.sign_key is not None:  # a signature missing (a key given for the first time): only that is pushed
        for t in targets:
            events += sign.sign_held(run.options.sign_key, t, [held[t.ref, v.variant.name] for v in found.plan.variants_in(t.ref)],
                                     run.network)
    published = {t.ref: {v.variant.name: Published(oci.digest(held[t.ref, v.variant.name]),
                                                    result.platforms_of(held[t.ref, v.variant.name]))
                         for v in found.plan.variants_in(t.ref)} for t in targets}
    return Outcome(events, {v.variant.name: states[found.plan.repositories_of(v)[0]][v.tags[-1]].digest
                            for v in found.plan.variants}, None, result.document(found.plan, published, {}))


def _unchanged(plan: Plan, targets: list[Repository]) -> list[Event]:
    """Every planned tag, read and found holding this release already: nothing written, each one verified."""
    tags = [(t.ref, tag) for t in targets for tag in plan.tags_in(t.ref)]
    return [*(TagWritten(*t, Tagged.UNCHANGED) for t in tags), *(TagVerified(*t) for t in tags)]
