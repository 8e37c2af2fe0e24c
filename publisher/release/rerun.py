"""What a publish does with each variant, from what the registries record it was made of (release/inputs).

A tag holds what this release publishes when its index records the same inputs (`holds`). A variant whose
every tag holds it is kept; one whose tags of a kind (exact, floating) need writing gets the index another
tag of that kind holds, copied from where it is; otherwise it is made (`course`). A conflict (an exact tag
holding an index made from other inputs) says which part changed (`why`). None of this needs a build:
the flow knows it right after reading the repositories, the payload and the bases.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from publisher.image.attest import NO_ATTESTATIONS
from publisher.release import inputs
from publisher.release.decisions import CONFLICT, MOVES, NEW, Current, Decision
from publisher.release.plan import Plan, VariantPlan
from publisher.release.resolved import Resolved
from publisher.release.tags import is_floating


def holds(resolved: Resolved, v: VariantPlan, current: Current, exact: bool) -> bool:
    """`current`, a tag of `v`, holds what this flow publishes of it: an index made from the same inputs; or,
    `exact` (an exact tag, or any tag of a join replayed), this release made from the same parts on the base
    its index records (a base refresh moved only the floating tags)."""
    mine = resolved[v.variant.name]
    if not current.inputs or mine.parts is None:
        return False
    if mine.inputs and current.inputs == mine.inputs:
        return True
    then = inputs.recorded(current.annotations)
    if then is not None:
        return not mine.parts.differing(then, base=not exact)
    return _format_4(resolved, v, current, exact)


def _format_4(resolved: Resolved, v: VariantPlan, current: Current, exact: bool) -> bool:
    """An index of inputs format 4, which records no parts: the digest that format gives these inputs made
    on its base (`exact`) or ours, with the time and revision it records. A dry-run, without the payload,
    compares what the index does record: its labels, its base and whether it is attested."""
    mine = resolved[v.variant.name]
    base = current.base_digest if exact else mine.base_digest
    if mine.parts.payload is None:
        attested = mine.parts.attestations != NO_ATTESTATIONS
        return (inputs.labels_digest(_recorded_labels(current)) == mine.parts.labels
                and base in (current.base_digest, inputs.NOT_READ) and current.attested in (None, attested))
    if resolved.format_4 is None:  # a join: what the stages' attestations shared is a digest, not its fields
        return False
    return current.inputs == inputs.format_4(v, current.annotations, base, resolved.format_4, mine.platforms)


def _recorded_labels(current: Current) -> dict[str, str]:
    """The labels an index records: its annotations but what publisher adds."""
    return {k: x for k, x in current.annotations.items() if not k.startswith(inputs.INPUTS) and k != inputs.BASE_DIGEST}


def same_content(resolved: Resolved):
    """The `same` of decisions.decide_all: a tag stays where it holds what this flow publishes (`holds`)."""
    release = resolved.plan.release
    return lambda ref, v, tag, current: holds(resolved, v, current, not is_floating(tag, release))


def up_to_date(resolved: Resolved, states: dict, replay: bool = False) -> bool:
    """Every tag of every repository holds what this flow publishes, each kind (exact, floating) one index.
    With `replay` (a join of stage records made before), floating tags may hold this release on the base
    their index records: a rerun of a join does not undo a refresh."""
    plan = resolved.plan
    for ref, current in states.items():
        for v in plan.variants_in(ref):
            for floating in (False, True):
                held = [current[tag] for tag in v.tags if is_floating(tag, plan.release) == floating]
                if held and (held[0].digest is None or any(c.digest != held[0].digest for c in held)
                             or not all(holds(resolved, v, c, replay or not floating) for c in held)):
                    return False
    return True


@dataclass(frozen=True)
class Holder:
    """An index a repository holds, to be written to the tags that need it."""

    ref: str
    digest: str


@dataclass(frozen=True)
class Course:
    """What a publish does with each variant. `writes`: (variant, floating) → where the index its tags of that
    kind get is (`Holder`), or None: the variant is made. A variant with nothing to write is kept."""

    writes: Mapping[tuple[str, bool], Holder | None]

    @property
    def made(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(name for (name, _), source in self.writes.items() if source is None))

    def copied(self, name: str) -> bool:
        return any(n == name and source is not None for (n, _), source in self.writes.items())

    def kept(self, name: str) -> bool:
        return not any(n == name for n, _ in self.writes)


def course(resolved: Resolved, states: dict, decisions: dict[tuple[str, str], Decision]) -> Course:
    """From `decisions` (decide_all with `same_content`): each kind of tags of each variant that some tag
    `new` or `moves` needs, with the index it gets: one a tag holds that is right for that kind (a tag of
    that kind first, in the first repository that has one), else the variant's made index."""
    plan = resolved.plan
    writes = {}
    for v in plan.variants:
        refs = [ref for ref in plan.repositories_of(v) if ref in states]
        for floating in (False, True):
            tags = [t for t in v.tags if is_floating(t, plan.release) == floating]
            if any(decisions[ref, t].status in (NEW, MOVES) for ref in refs for t in tags):
                others = [t for t in v.tags if t not in tags]  # a release stopped between its exact and floating tags
                writes[v.variant.name, floating] = next(
                    (Holder(ref, states[ref][t].digest) for t in tags + others for ref in refs
                     if states[ref][t].digest and holds(resolved, v, states[ref][t], not floating)), None)
    return Course(writes)


def every_variant_made(resolved: Resolved) -> Course:
    """Nothing read to keep or copy from (--no-push, --no-build-cache): every kind of tags of every variant made."""
    return Course({(v.variant.name, floating): None for v in resolved.plan.variants for floating in (False, True)
                   if any(is_floating(t, resolved.plan.release) == floating for t in v.tags)})


def why(resolved: Resolved, v: VariantPlan, current: Current, exact: bool) -> str:
    """What `current` was made from, beside what this flow publishes of `v`: which parts differ."""
    if not current.inputs:
        return "not made by publisher (its index records no inputs)" if current.attested is not None else "not an index made by publisher"
    mine = resolved[v.variant.name].parts
    then = inputs.recorded(current.annotations)
    if then is None:
        return ("made by an older publisher, whose index records no parts (inputs format 4 or before), from "
                "other inputs than this release's")
    return ", ".join(_part(name, v, mine, then, current) for name in mine.differing(then, base=not exact))


def _part(name: str, v: VariantPlan, mine: inputs.Parts, then: inputs.Parts, current: Current) -> str:
    """How the part `name` of what `current` was made of differs from this release's, as `made ...`."""
    if name == "dockerfile":
        return f"made from another Dockerfile ({v.dockerfile})"
    if name == "labels":
        keys = sorted(k for k in {*v.labels, *_recorded_labels(current)} if k not in inputs.NOT_INPUTS
                      and v.labels.get(k) != _recorded_labels(current).get(k))
        return f"made with other labels ({', '.join(keys)})" if keys else "made with other labels"
    if name == "platforms":
        return f"made for other platforms ({then.platforms}; now {mine.platforms})"
    if name == "attestations":
        if then.attestations == NO_ATTESTATIONS:
            return "made without attestations (this publish makes them: publish with --no-attestations as before)"
        if mine.attestations == NO_ATTESTATIONS:
            return "made with attestations (this publish is --no-attestations: publish without it as before)"
        return "made with attestations that say other things (the source repository, the first repository or the payload's project)"
    return {"payload": "made from other payload files", "base": f"made on another base ({then.base})"}[name]


def conflicts(resolved: Resolved, decisions: dict[tuple[str, str], Decision]) -> list[str]:
    """One line per exact tag that would be overwritten: what it holds, which part changed, the ways out."""
    return conflict_lines(resolved.plan, explained(resolved, decisions))


def conflict_lines(plan: Plan, decisions: Mapping[tuple[str, str], Decision]) -> list[str]:
    """One line per conflict among `decisions` (`explained`), as the publish refuses them and the dry-run
    foresees them."""
    owner = {tag: v.variant.name for v in plan.variants for tag in v.tags}
    return [_conflict_line(ref, tag, d, owner[tag]) for (ref, tag), d in decisions.items() if d.status == CONFLICT]


def _conflict_line(ref: str, tag: str, d: Decision, name: str) -> str:
    return (f"{ref}:{tag}: holds {d.current.digest} ({d.current.version or 'unknown version'}), {d.why}: publish a new "
            f"version, leave the variant out (--skip {name}), or pass --force to overwrite")


def explained(resolved: Resolved, decisions: dict[tuple[str, str], Decision]) -> dict[tuple[str, str], Decision]:
    """The decisions, each tag that holds this release made otherwise (a conflict, or a floating tag that
    moves) saying which parts changed, as the dry-run shows them."""
    owner = {tag: v for v in resolved.plan.variants for tag in v.tags}
    release = resolved.plan.release.text
    return {key: replace(d, why="; ".join(filter(None, (why(resolved, owner[key[1]], d.current, d.status == CONFLICT), d.why))))
            if d.status in (CONFLICT, MOVES) and d.current.version == release and d.current.inputs else d
            for key, d in decisions.items()}
