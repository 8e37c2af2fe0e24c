"""The Plan shown to people: one table row per variant, with totals."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable

from publisher.image.platform import Platform
from publisher.release.events import (BlobSent, BundleSent, CallsRecovered, Event, ImageMade, ManifestSent, Sent,
                                      SignatureSent, SmokeTested, Tagged, TagRetired, TagVerified, TagWritten)
from publisher.release.plan import Plan
from publisher.remote.policy import RECOVERED
from publisher.words import counted, plural

# The summary's words for each event, in the plural (words.counted says "1 blob uploaded").
BLOBS = {Sent.PUSHED: "blobs uploaded", Sent.MOUNTED: "blobs mounted", Sent.THERE: "blobs already there"}
MANIFESTS = {Sent.PUSHED: "manifests pushed", Sent.THERE: "manifests already there"}
SIGNATURES = {Sent.PUSHED: "signatures pushed", Sent.THERE: "signatures already there"}
BUNDLES = {Sent.PUSHED: "bundles pushed", Sent.THERE: "bundles already there"}
TAGS = {Tagged.CREATED: "tags created", Tagged.MOVED: "tags moved", Tagged.HELD_BACK: "tags held back",
        Tagged.UNCHANGED: "tags unchanged", Tagged.WRITTEN_AGAIN: "tags written again", Tagged.PUT_BACK: "tags put back"}
VERIFIED = "tags verified"
# What a registry holds anew: any of these, and the release was published.
CHANGES = (BLOBS[Sent.PUSHED], BLOBS[Sent.MOUNTED], TAGS[Tagged.CREATED], TAGS[Tagged.MOVED], SIGNATURES[Sent.PUSHED],
           BUNDLES[Sent.PUSHED])


def plan_table(plan: Plan, resolved: dict[str, tuple[Platform, ...]] | None = None) -> str:
    """`resolved`: from-base variant → the platforms its base has, when the dry-run read the bases."""
    release = plan.release
    kind = "prerelease: exact tags only" if release.prerelease else "final release"
    rows = [("VARIANT", "BASE", "PLATFORMS", "TAGS")]
    for v in plan.variants:
        arches = _arches(v.variant.platforms)
        if v.variant.platforms_from_base and v.variant.name in (resolved or {}):
            arches = f"from base: {_arches(resolved[v.variant.name]) or 'none'} (of {arches})"
        elif v.variant.platforms_from_base:
            arches = f"from base, of {arches}"
        rows.append((v.variant.name, str(v.variant.base or "scratch"), arches, " ".join(v.tags)))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines = [f"Release {release.text} ({kind}) to {', '.join(plan.repositories)}", ""]
    lines += ["  ".join(cell.ljust(w) for cell, w in zip(row[:3], widths)) + "  " + row[3] for row in rows]
    tags = len(plan.tags)
    repos = len(plan.repositories)
    lines += [
        "",
        f"{plural(len(plan.variants), 'variant')}, {plural(plan.images, 'image')}, {plural(tags, 'tag')} per repository, "
        f"{plural(sum(len(plan.tags_in(r)) for r in plan.repositories), 'tag')} in {plural(repos, 'repository')}.",
    ]
    lines += [f"{v.variant.name}: only to {', '.join(v.variant.repositories)}" for v in plan.variants if v.variant.repositories]
    if plan.selection:
        lines.append(plan.selection.describe(len(plan.variants)))
    lines += [x.line() for x in plan.left_out]
    return "\n".join(lines)


def _arches(platforms: tuple[Platform, ...]) -> str:
    return ",".join(p.text(os=False) for p in platforms)


def tally(events: Iterable[Event]) -> Counter:
    """What a publish did, counted under the summary's words: the one place its events are counted."""
    counts = Counter()
    for event in events:
        words, n = _counted(event)
        counts[words] += n
    return counts


def _counted(event: Event) -> tuple[str, int]:
    match event:
        case BlobSent(sent=sent):
            return BLOBS[sent], 1
        case ManifestSent(sent=sent):
            return MANIFESTS[sent], 1
        case SignatureSent(sent=sent):
            return SIGNATURES[sent], 1
        case BundleSent(sent=sent):
            return BUNDLES[sent], 1
        case TagWritten(tagged=tagged):
            return TAGS[tagged], 1
        case TagVerified():
            return VERIFIED, 1
        case ImageMade(assembled=assembled):
            return "images assembled" if assembled else "images built", 1
        case SmokeTested(tests=tests):
            return "smoke tests run", tests
        case CallsRecovered(calls=calls):
            return RECOVERED, calls
    raise TypeError(f"not an event of a publish: {event!r}")


def summary(plan: Plan, counts: Counter) -> str:
    """The last lines of a publish: what it did (`tally`), and plainly whether anything changed."""
    done = ", ".join(counted(n, what) for what, n in sorted(counts.items()) if n)
    changed = sum(counts[words] for words in CHANGES)
    staged = sum(counts[words] for words in MANIFESTS.values())
    if not counts[VERIFIED]:
        verdict = "staged: platform images pushed by digest, no index, no tag" if staged else "built and smoke-tested, not pushed"
    elif changed:
        verdict = "published"
    else:
        verdict = "nothing to do: no blob uploaded, no tag moved"
    return "\n".join([*(x.line() for x in plan.left_out), f"{plan.release.text}: {verdict}; {done}."])


def state_table(states: dict | None, note: str | None) -> str:
    """For every tag of every repository: new, stays, moves, held or conflict, and from what."""
    if states is None:
        return note or ""
    lines = []
    for repo, tags in states.items():
        counts = Counter(d.status for d in tags.values())
        shown = ("new", "stays", "moves", "held", "conflict") + (("retired",) if counts["retired"] else ())
        lines.append(f"{repo}: " + ", ".join(f"{counts[s]} {s}" for s in shown))
        for tag, d in tags.items():
            was = f"  from {d.current.version or 'unknown version'} ({d.current.digest[:19]})" if d.current.digest else ""
            lines.append(f"  {d.status:<8}  {tag}{was}{'  ' + d.why if d.why else ''}")
    return "\n".join(lines)


def retired_lines(states: dict | None) -> list[str]:
    """`repo:tag: retired: last V` for each tag the plan no longer updates: a visible decision."""
    return [str(TagRetired(repo, tag, d.why)) for repo, tags in (states or {}).items()
            for tag, d in tags.items() if d.status == "retired"]


def step_summary(plan: Plan, outcome) -> str:
    """Markdown for a CI run's page: what was published, where, under which digest."""
    lines = [f"### publisher: {summary(plan, tally(outcome.events)).splitlines()[-1]}", *(f"- {x.line()}" for x in plan.left_out), "", "| variant | platforms | index digest | tags |", "|---|---|---|---|"]
    resolved = getattr(outcome, "resolved", None)  # the platforms as published (from-base: its base's)
    for v in plan.variants:
        digest = outcome.digests.get(v.variant.name, "not pushed")
        platforms = resolved.platforms_of(v) if resolved else v.variant.platforms
        lines.append(f"| {v.variant.name} | {', '.join(map(str, platforms))} | `{digest}` | {' '.join(v.tags)} |")
    lines += ["", "Repositories: " + ", ".join(plan.repositories)]
    if getattr(outcome, "made_with", None):
        lines += ["", f"Made on {outcome.made_with}."]
    return "\n".join(lines) + "\n"


def write_step_summary(plan: Plan, outcome) -> None:
    """Appended to $GITHUB_STEP_SUMMARY when set, as GitHub Actions asks."""
    path = os.environ.get("GITHUB_STEP_SUMMARY")
    if path:
        with open(path, "a", encoding="utf-8") as f:
            f.write(step_summary(plan, outcome))


def supply_chain_line(carries: dict) -> str:
    """One line of the plan: what each image is attested with, and what is signed."""
    kinds = " and ".join(f"{a['kind']} ({a['format']})" for a in carries["attestations"])
    signed = _signed_words(carries)
    if not carries["attestations"]:
        return f"Attestations: none (--no-attestations): no SBOM, no provenance, no unknown/unknown index entries; {signed}."
    return f"Attestations: {kinds} on each of {plural(carries['attestation_manifests'], 'image')}; {signed}."


def _signed_words(carries: dict) -> str:
    """Each signature twice (a `.sig`, a Sigstore bundle); the SBOM and provenance signed too, when there are some."""
    if not carries["signed"]:
        return "no signatures (no --sign-key)"
    what = "the signatures, and the SBOM and provenance of each image, signed" if carries["attestations"] else "the signatures"
    return (f"{plural(carries['signatures_per_repository'], 'signature')} per repository (cosign, --sign-key), "
            f"{plural(carries['bundles_per_repository'], 'Sigstore bundle')} ({what})")
