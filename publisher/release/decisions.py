"""What to do with each tag, given what the repository holds now: the rules, as a pure function.

Exact tags (X.Y.Z, X.Y.Z-T) are immutable: other content there is a conflict unless forced.
Floating tags never move backwards: one pointing at a newer release is held.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from publisher.errors import PublisherError
from publisher.release.plan import Plan, VariantPlan
from publisher.release.tags import is_floating
from publisher.release.version import Release, parse_release

NEW, STAYS, MOVES, HELD, CONFLICT = "new", "stays", "moves", "held", "conflict"
RETIRED = "retired"  # in the repository, but no variant of the matrix updates it any more


@dataclass(frozen=True)
class Current:
    """What a tag points at now."""

    digest: str | None = None
    version: str | None = None  # its release, from the index's annotations or the image's labels
    revision: str | None = None
    inputs: str | None = None  # what its content was made from (see inputs.py), when publisher made it
    base_digest: str | None = None  # its base's digest when it was made (see inputs.BASE_DIGEST), when recorded
    attested: bool | None = None  # its index lists attestation manifests; None when it is not an index
    annotations: Mapping[str, str] = field(default_factory=dict, compare=False)  # its index's: what it records it was made of (release/inputs)


@dataclass(frozen=True)
class Rules:
    """What the user allowed beyond the defaults."""

    force: bool = False  # overwrite exact tags holding other content
    downgrade: bool = False  # move floating tags that point at a newer release


@dataclass(frozen=True)
class Decision:
    status: str  # new, stays, moves, held or conflict
    current: Current
    why: str = ""
    meanwhile: bool = False  # held because a newer release took the tag while this publish ran (release/converge)


def decide(floating: bool, current: Current, same: bool, release: Release, force: bool = False,
           downgrade: bool = False) -> Decision:
    """`same`: the tag already holds this release's content for it."""
    if current.digest is None:
        return Decision(NEW, current)
    if same:
        return Decision(STAYS, current)
    if not floating:
        if force:
            return Decision(MOVES, current, "overwritten: --force")
        return Decision(CONFLICT, current, "exact tags are immutable")
    newer = _newer(current.version, release)
    if newer and not downgrade:
        return Decision(HELD, current, f"points at {current.version}, newer than {release.text}")
    return Decision(MOVES, current, f"over newer {current.version}: --allow-downgrade" if newer else "")


def _newer(version: str | None, release: Release) -> bool:
    if not version:
        return False
    try:
        return parse_release(version).key > release.key
    except PublisherError:
        return False


def expected(d: Decision, digest: str) -> str:
    """What a tag holds once its decision is carried out: `digest` (its publication's), or where it stays, what
    it held (an index made from the same inputs, which need not be those very bytes: release/rerun.holds)."""
    return d.current.digest if d.status == STAYS and d.current.digest else digest


def retire(current: Current) -> Decision:
    """A tag the plan no longer updates: it stays where it is, frozen at its last release."""
    return Decision(RETIRED, current, f"retired: last {current.version or 'unknown release'}")


def decide_all(plan: Plan, states: dict[str, dict[str, Current]], rules: Rules,
               same: Callable[[str, VariantPlan, str, Current], bool]) -> dict[tuple[str, str], Decision]:
    """(repository, tag) → Decision for every planned tag. `same(ref, v, tag, current)`: the tag already holds
    this release's content for variant `v` (release/rerun.same_content: what its index records it was made of;
    after a build, or with --no-build-cache, `by_digest`)."""
    decisions = {}
    for ref, current in states.items():
        for v in plan.variants_in(ref):
            for tag in v.tags:
                now = current[tag]
                decisions[ref, tag] = decide(is_floating(tag, plan.release), now, now.digest is not None and same(ref, v, tag, now),
                                             plan.release, rules.force, rules.downgrade)
    return decisions


def by_digest(digests: Mapping[tuple[str, str], str]):
    """The `same` of decide_all once the indexes are made: (repository, tag) → the index digest it gets."""
    return lambda ref, v, tag, current: current.digest == digests.get((ref, tag))
