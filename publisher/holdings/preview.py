"""For the dry-run and `publisher verify`: what the registries say now, read without refusing anything.

`compare`: what each planned tag would do; `preview`: the platforms each `platforms: from-base`
variant's base has; `base_digests`: the digest each base resolves to now. An unreachable host is one note, found by a TCP connect before any HTTP client is made.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from publisher.errors import PublisherError
from publisher.image.platform import Platform
from publisher.image.reference import parse_repository
from publisher.release import rerun, resolved
from publisher.release.decisions import Rules, decide_all
from publisher.release.inputs import NOT_READ
from publisher.release.plan import Plan
from publisher.holdings.bases import Bases, platforms_found
from publisher.holdings.repository import Repository, read_all, retired_all
from publisher.remote.hosts import Hosts
from publisher.remote.policy import Policy
from publisher.remote.probe import reachable


def compare(plan: Plan, rules: Rules, from_base: dict[str, tuple[Platform, ...]], bases: dict[str, str | None],
            context: str) -> tuple[dict | None, str | None]:
    """For the dry-run: repository → tag → Decision, planned tags then retired ones; or None and why the
    comparison could not be made. A tag stays where its index records what this release is made of, as the
    publish decides it (release/rerun), from every part but the payload, which a dry-run does not fetch:
    the platforms `preview` found (`from_base`), `bases` (`base_digests`) and `context`, the attestation
    context's digest."""
    hosts = {parse_repository(r).host for r in plan.repositories}
    unreachable = sorted(h for h in hosts if not reachable(h))
    if unreachable:
        return None, f"could not compare with the registries: {', '.join(unreachable)} not reachable"
    with Hosts(Policy(attempts=2), timeout=10) as registries, ThreadPoolExecutor(8) as pool:
        repositories = [Repository(ref, registries[parse_repository(ref).host]) for ref in plan.repositories]
        try:
            states = read_all(repositories, plan, pool)
            retired = retired_all(repositories, plan, pool)
        except PublisherError as e:
            return None, f"could not compare with the registries: {e.lines[0]}"
    found = resolved.foreseen(plan, from_base, bases, context)
    decisions = rerun.explained(found, decide_all(plan, states, rules, rerun.same_content(found)))
    return {ref: {**{tag: decisions[ref, tag] for tag in plan.tags_in(ref)}, **retired[ref]} for ref in states}, None


@dataclass(frozen=True)
class Preview:
    """For the dry-run: each from-base variant's platforms as its base's index has them now, or why not read."""

    platforms: dict[str, tuple[Platform, ...]]  # from-base variant → those of its platforms its base has; {} when not read
    note: str | None = None


def preview(plan: Plan, mirror: str | None, cache: Path) -> Preview:
    """The from-base variants' bases read as a publish reads them (through the mirror), without refusing any."""
    chosen = [v.variant for v in plan.variants if v.variant.platforms_from_base]
    if not chosen:
        return Preview({})
    with Hosts(Policy(attempts=2), timeout=10) as hosts, ThreadPoolExecutor(8) as pool:
        bases = Bases({v.base for v in chosen}, mirror, cache, hosts)
        unreachable = sorted(h for h in {bases.looked_up(v.base).host for v in chosen} if not reachable(h))
        if unreachable:
            return Preview({}, f"platforms from base not read: {', '.join(unreachable)} not reachable")
        try:
            bases.resolve(pool)
            found = platforms_found(bases, plan, pool)
        except PublisherError as e:
            return Preview({}, f"platforms from base not read: {e.lines[0]}")
    return Preview({name: f.has for name, f in found.items()})


def base_digests(plan: Plan, mirror: str | None, cache: Path) -> dict[str, str | None]:
    """For the dry-run's comparison: variant → the digest its base resolves to now, read as a publish reads it
    (through the mirror); inputs.NOT_READ where it cannot be read (the comparison then leaves the base out);
    None for FROM scratch."""
    declared = {v.variant.base for v in plan.variants if v.variant.base}
    with Hosts(Policy(attempts=2), timeout=10) as hosts, ThreadPoolExecutor(8) as pool:
        bases = Bases(declared, mirror, cache, hosts)
        hosts_up = {host: reachable(host) for host in {bases.looked_up(b).host for b in declared}}
        found = dict(zip(declared, pool.map(lambda b: _digest_now(bases, b) if hosts_up[bases.looked_up(b).host] else None,
                                            declared)))
    return {v.variant.name: (found[v.variant.base] or NOT_READ) if v.variant.base else None for v in plan.variants}


def _digest_now(bases: Bases, base) -> str | None:
    try:
        return bases.digest_now(base)
    except PublisherError:
        return None
