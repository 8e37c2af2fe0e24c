"""The release proper, once every image is proven: decide every tag, push content and tags, verify."""

from __future__ import annotations

from publisher.image import oci
from publisher.release.decisions import HELD
from publisher.release.plan import VariantPlan
from publisher.release.tags import is_floating
from publisher.steps.push import Publication, push, refuse_conflicts
from publisher.steps.run import Run
from publisher.steps.state import Repository, decide_all
from publisher.steps.verify import verify


def publication(v: VariantPlan, children: dict, annotations: dict, images: dict | None = None) -> Publication:
    """One variant's index over `children` ((variant, platform) → Image or Child); `images` to push with it."""
    mine = [children[v.variant.name, p] for p in v.variant.platforms]
    pushed = tuple(images[v.variant.name, p] for p in v.variant.platforms) if images else ()
    return Publication(v.variant.name, pushed, oci.index(mine, annotations), v.tags, v.variant.repositories)


def release(run: Run, targets: list[Repository], publications: list[Publication], states: dict) -> None:
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
