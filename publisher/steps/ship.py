"""Ship a proven release: decide every tag, push content, signatures and tags, then read it all back."""

from __future__ import annotations

from dataclasses import dataclass

from publisher.image.cosign import subjects
from publisher.release.decisions import HELD, Decision, by_digest, decide_all
from publisher.release.events import Event, TagHeld
from publisher.release.publication import Publication
from publisher.release.resolved import Resolved
from publisher.release.tags import is_floating
from publisher.steps import converge, sign
from publisher.steps.push import push_contents, push_tags, refuse_conflicts
from publisher.steps.run import Run
from publisher.holdings.repository import Repository
from publisher.steps.read_back import read_back


@dataclass(frozen=True)
class Shipped:
    decisions: dict[tuple[str, str], Decision]  # as made, with each tag a newer release took meanwhile held
    events: list[Event]  # what became of each blob, manifest, signature and tag


def ship(run: Run, resolved: Resolved, targets: list[Repository], publications: list[Publication], states: dict,
         same=None) -> Shipped:
    """Decide every tag, refuse conflicts, then push content, signatures and tags, and verify. A tag stays where
    it holds its publication's index, or where `same` says it holds what this release publishes (release/rerun)."""
    for p in dict.fromkeys((p.name, p.digest) for p in publications):
        run.progress.log(f"{p[0]}: {p[1]}")
    digests = by_digest({(t.ref, tag): p.digest for t in targets for p in publications if p.goes_to(t.ref) for tag in p.tags})
    rule = digests if same is None else (lambda *tag: same(*tag) or digests(*tag))
    decisions = decide_all(resolved.plan, states, run.options.rules, rule)
    refuse_conflicts(decisions, publications)
    for (ref, tag), d in decisions.items():
        if d.status == HELD:
            run.progress.notice(TagHeld(ref, tag, d.why))
        elif d.why:
            run.progress.log(f"{ref}:{tag}: {d.status}: {d.why}")
    with run.progress.phase("push", 1) as tick:
        events = push_contents(targets, publications, run.network, run.options.cache)
        # Signatures after the content they sign and before any tag: a tag is never unsigned.
        signed, bundled = signatures_of(run, targets, publications), bundles_of(run, targets, publications)
        events += sign.push_signatures(signed, run.network)
        events += sign.push_bundles(bundled, run.network)
        ours, downgrade = resolved.plan.release, run.options.rules.downgrade
        events += push_tags(targets, publications, decisions, lambda tag: is_floating(tag, ours), run.network,
                            converge.write_floating(ours, downgrade))
        # No compare-and-swap on tags: another publisher may have written between our read and our write.
        settled = converge.settle(targets, publications, decisions, ours, downgrade, run.network)
        # ... or may move one while we verify: a newer release's floating tag is right there too.
        back = read_back(targets, publications, decisions, run.network, signed, ours, bundled)
        tick("content, signatures, tags, verification")
    found = {**settled.meanwhile, **{(m.ref, m.tag): m for m in back.meanwhile}}
    return Shipped(converge.held_meanwhile(decisions, found, run.progress.notice), events + settled.writes + back.verified)


def signatures_of(run: Run, targets: list[Repository], publications: list[Publication]) -> list[sign.Signed]:
    """With --sign-key: each index and each platform manifest in it, in every repository it goes to."""
    if run.options.sign_key is None:
        return []
    return [s for t in targets for s in sign.signatures(
        run.options.sign_key, [t], [d for p in publications if p.goes_to(t.ref) for d in subjects(p.index)])]


def bundles_of(run: Run, targets: list[Repository], publications: list[Publication]) -> list[sign.Bundled]:
    """With --sign-key: the Sigstore bundles of each publication, in every repository it goes to."""
    if run.options.sign_key is None:
        return []

    def of(p: Publication) -> list[sign.Bundled]:
        made_here = {a.digest: [layer.data for layer in a.layers] for a in p.attestations}  # a join's: read back
        repos = [t for t in targets if p.goes_to(t.ref)]
        return sign.bundled(run.options.sign_key, p.index, repos, made_here) if repos else []

    return [b for made in run.network.map(of, publications) for b in made]
