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
from publisher.errors import PublisherError
from publisher.release import refresh, rerun, resolved, result
from publisher.release.decisions import decide_all, expected
from publisher.release.events import (CallsRecovered, Event, ManifestSent, Sent, SmokeTested, Tagged, TagVerified,
                                      TagWritten)
from publisher.release.publication import Publication, copied, publication
from publisher.release.rerun import up_to_date
from publisher.release.tags import is_floating
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
from publisher.holdings.bases import Bases
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
    found = resolved.one_machine(plan, from_base, bases.of_variants(plan), files, context)
    course = _course(run, found, targets, states)
    if targets and found.variants and not course.writes:
        return _nothing_to_do(run, found, targets, states)
    return _released(run, found, targets, states, Making(binaries, bases, context), course)


def _course(run: Run, found: Resolved, targets: list[Repository], states: dict) -> rerun.Course:
    """What this publish does with each variant, from what the registries record (release/rerun): a conflict
    that follows from it is refused here, before anything is made. --no-build-cache trusts no record: every
    variant is made, and compared by digest."""
    if not targets or not run.options.build_cache:
        return rerun.every_variant_made(found)
    decisions = decide_all(found.plan, states, run.options.rules, rerun.same_content(found))
    refused = rerun.conflicts(found, decisions)
    if refused:
        raise PublisherError(*refused)
    course = rerun.course(found, states, decisions)
    names = [v.variant.name for v in found.plan.variants]
    if any(course.kept(n) or course.copied(n) for n in names) and course.writes:  # a rerun, a backfill: say what
        for name in names:
            if not course.kept(name):
                sources = {s.ref for (n, _), s in course.writes.items() if n == name and s}
                run.progress.log(f"{name}: " + ", ".join([*(["made"] if name in course.made else []),
                                                          *(f"copied from {ref}" for ref in sorted(sources))]))
        kept = [n for n in names if course.kept(n)]
        run.progress.log(f"kept, every tag holding what this release publishes: {', '.join(kept) or 'none'}")
    return course


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
    found = resolved.one_machine(cut, from_base, bases.of_variants(cut), files, context)
    return _released(run, found, targets, states, Making(binaries, bases, context), rerun.every_variant_made(found))


@dataclass(frozen=True)
class Making:
    """What the images are made of: the payload's files, the bases, what the attestations share."""

    binaries: dict  # platform → the folder of the payload's files
    bases: Bases
    context: Context | None  # None: no attestations


def _released(run: Run, found: Resolved, targets: list[Repository], states: dict, making: Making,
              course: rerun.Course) -> Outcome:
    """The variants `course` makes made, smoke-tested and attested; then, with those it copies, pushed,
    signed, tagged and verified (with targets)."""
    made, proven, images, attested = resolved.cut(found, course.made), None, {}, {}
    if made.plan.variants:
        with engine_for(run) as engine:
            proven = _made_and_proven(run, made, making.binaries, making.bases, engine)
            if not targets:
                return Outcome(proven.events, {}, made_with=proven.made.made_with)
            images = _pushable(run, made, proven.made, making.binaries)
        attested = _attested(run, made, making.context, images)
    publications = _publications(found, course, targets, images, attested)
    same = rerun.same_content(found) if run.options.build_cache and not run.options.refresh else None
    shipped = ship(run, found, targets, publications, states, same)
    return _outcome(run, found, targets, publications, shipped, states, proven)


def _publications(found: Resolved, course: rerun.Course, targets: list[Repository], images: dict,
                  attested: dict) -> list[Publication]:
    """One per variant and index its tags get: its made index, or the one another of its tags holds (copied
    from that repository), each to the tags of the kinds (exact, floating) that need it."""
    held = {t.ref: t for t in targets}
    plan, out = found.plan, []
    for v in plan.variants:
        by_source: dict = {}
        for (name, floating), source in course.writes.items():
            if name == v.variant.name:
                by_source.setdefault(source, []).extend(t for t in v.tags if is_floating(t, plan.release) == floating)
        for source, tags in by_source.items():
            tags = tuple(t for t in v.tags if t in tags)
            out.append(publication(v, found[v.variant.name], images, images, made=attested, tags=tags) if source is None
                       else copied(v, tags, held[source.ref].manifest(source.digest), source.ref))
    return out


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
    return _outcome(run, found, targets, publications, ship(run, found, targets, publications, states), states)


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
             states: dict, proven: Proven | None = None) -> Outcome:
    published = _published(found, targets, publications, shipped.decisions, states)
    written = {(t.ref, tag) for t in targets for p in publications if p.goes_to(t.ref) for tag in p.tags}
    kept = {v.variant.name for v in found.plan.variants} - {p.name for p in publications}
    events = [*(proven.events if proven else ()), *shipped.events,
              *_unchanged(found.plan, targets, lambda ref, tag: (ref, tag) not in written),
              *_held_signed(run, found, targets, published, kept)]
    return Outcome(events, _digests(found, published), found, result.document(found.plan, published, shipped.decisions),
                   proven.made.made_with if proven else None)


def _published(found: Resolved, targets: list[Repository], publications: list, decisions: dict,
               states: dict) -> dict[str, dict[str, Published]]:
    """Repository → tag → the index it holds now: its publication's, or what it held where it stays."""
    mine = {(p.name, tag, ref): p.index for p in publications for tag in p.tags for ref in (t.ref for t in targets)
            if p.goes_to(ref)}
    out = {}
    for t in targets:
        tags = {}
        for v in found.plan.variants_in(t.ref):
            for tag in v.tags:
                index = mine.get((v.variant.name, tag, t.ref))
                d = decisions.get((t.ref, tag))
                if index is None or (d is not None and expected(d, oci.digest(index)) != oci.digest(index)):
                    index = t.manifest(states[t.ref][tag].digest)  # read by read_targets already
                tags[tag] = Published(oci.digest(index), result.platforms_of(index)) if index else None
        out[t.ref] = {tag: held for tag, held in tags.items() if held}
    return out


def _digests(found: Resolved, published: dict[str, dict[str, Published]]) -> dict[str, str]:
    """Variant → the index its last tag (a floating one where it has one) holds in its first repository."""
    return {v.variant.name: published[ref][v.tags[-1]].index for v in found.plan.variants
            for ref in found.plan.repositories_of(v)[:1] if v.tags[-1] in published.get(ref, {})}


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
    """(variant, platform) → the Image to push: assembled ones as they are, built ones exported. Only what the
    flow publishes: a primary made for a build to copy from, and not published itself, is not pushed."""
    exported = {}
    if made.built:
        with run.progress.phase("export", len(made.built)) as tick:
            exported = export_all(run, found, made.engine, made.built, binaries, tick)
    return {k: a.image for k, a in made.assembled.items() if k[0] in found.variants} | exported


def _nothing_to_do(run: Run, found: Resolved, targets: list[Repository], states: dict) -> Outcome:
    run.progress.log("every tag already holds what this release would publish, made from the same inputs: nothing to build")
    events = _unchanged(found.plan, targets)
    published = _published(found, targets, [], {}, states)
    events += _held_signed(run, found, targets, published, {v.variant.name for v in found.plan.variants})
    return Outcome(events, _digests(found, published), None, result.document(found.plan, published, {}))


def _held_signed(run: Run, found: Resolved, targets: list[Repository], published: dict, names: set[str]) -> list[Event]:
    """With --sign-key, of the indexes the tags of variants `names` hold (kept: nothing else written for them),
    what is missing of their signatures and bundles (a key given for the first time): only that is pushed."""
    if run.options.sign_key is None or not names:
        return []
    holders: dict[str, list[Repository]] = {}  # index digest → the repositories holding it
    for t in targets:
        held = published[t.ref]
        for index in sorted({held[tag].index for v in found.plan.variants_in(t.ref) if v.variant.name in names
                             for tag in v.tags if tag in held}):
            holders.setdefault(index, []).append(t)
    indexes = [sign.Held(repos[0].manifest(index), tuple(repos)) for index, repos in sorted(holders.items())]
    return sign.sign_held(run.options.sign_key, indexes, run.network)


def _unchanged(plan: Plan, targets: list[Repository], only=lambda ref, tag: True) -> list[Event]:
    """Every planned tag (`only` those), read and found holding this release already: nothing written, each one verified."""
    tags = [(t.ref, tag) for t in targets for tag in plan.tags_in(t.ref) if only(t.ref, tag)]
    return [*(TagWritten(*t, Tagged.UNCHANGED) for t in tags), *(TagVerified(*t) for t in tags)]
