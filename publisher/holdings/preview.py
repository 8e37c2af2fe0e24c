"""For the dry-run and `publisher verify`: what the registries say now, read without refusing anything.

One `Survey` serves a whole dry-run: one client per host, one `Bases` over every base, each host probed
once, each base's digest read once. `compare`: what each planned tag would do; `preview`: the platforms
each `platforms: from-base` variant's base has; `base_digests`: the digest each base resolves to now. An
unreachable host is one note, found by a TCP connect before any HTTP client is made.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from publisher.errors import PublisherError
from publisher.image.platform import Platform
from publisher.image.reference import Mirror, Reference, parse_repository
from publisher.release import rerun, resolved
from publisher.release.decisions import Rules, decide_all
from publisher.release.inputs import NOT_READ
from publisher.release.plan import Plan
from publisher.holdings.bases import Bases, platforms_found
from publisher.holdings.repository import Repository, read_all, retired_all
from publisher.remote.hosts import Hosts
from publisher.remote.policy import Policy
from publisher.remote.probe import reachable


class Survey:
    """What one dry-run (or verify's preview) reads of the registries, through one client per host: the
    bases as a publish reads them (through the mirror), each host probed once, each base's digest read once."""

    def __init__(self, plan: Plan, mirror: Mirror | None, cache: Path):
        self.plan = plan
        self.hosts = Hosts(Policy(attempts=2), timeout=10)
        self.pool = ThreadPoolExecutor(8)
        self.bases = Bases({v.variant.base for v in plan.variants if v.variant.base}, mirror, cache, self.hosts)
        self._up: dict[str, bool] = {}
        self._now: dict[Reference, str | PublisherError | None] = {}

    def down(self, hosts: set[str]) -> list[str]:
        """Those of `hosts` a TCP connect does not reach, sorted; each host probed once."""
        for host in sorted(hosts - self._up.keys()):
            self._up[host] = reachable(host)
        return sorted(h for h in hosts if not self._up[h])

    def digests_now(self, bases: set[Reference]) -> dict[Reference, str | PublisherError | None]:
        """Each base's digest now, read once (a HEAD where it is looked up): None where it is not there or its
        host is not reachable, the error where reading it failed."""
        down = set(self.down({self.bases.looked_up(b).host for b in bases}))
        unread = sorted((b for b in bases if b not in self._now), key=str)
        self._now.update(zip(unread, self.pool.map(lambda b: None if self.bases.looked_up(b).host in down
                                                   else _digest_now(self.bases, b), unread)))
        return {b: self._now[b] for b in bases}

    def __enter__(self) -> Survey:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown()
        self.hosts.close()


def _digest_now(bases: Bases, base: Reference) -> str | PublisherError | None:
    try:
        return bases.digest_now(base)
    except PublisherError as e:
        return e


def compare(survey: Survey, rules: Rules, from_base: dict[str, tuple[Platform, ...]], bases: dict[str, str | None],
            context: str) -> tuple[dict | None, str | None]:
    """For the dry-run: repository → tag → Decision, planned tags then retired ones; or None and why the
    comparison could not be made. A tag stays where its index records what this release is made of, as the
    publish decides it (release/rerun), from every part but the payload, which a dry-run does not fetch:
    the platforms `preview` found (`from_base`), `bases` (`base_digests`) and `context`, the attestation
    context's digest."""
    plan = survey.plan
    unreachable = survey.down({parse_repository(r).host for r in plan.repositories})
    if unreachable:
        return None, f"could not compare with the registries: {', '.join(unreachable)} not reachable"
    repositories = [Repository(ref, survey.hosts[parse_repository(ref).host]) for ref in plan.repositories]
    try:
        states = read_all(repositories, plan, survey.pool)
        retired = retired_all(repositories, plan, survey.pool)
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


def preview(survey: Survey) -> Preview:
    """The from-base variants' bases read as a publish reads them (through the mirror), at the digests
    `Survey.digests_now` read, without refusing any."""
    chosen = {v.variant.base for v in survey.plan.variants if v.variant.platforms_from_base}
    if not chosen:
        return Preview({})
    unreachable = survey.down({survey.bases.looked_up(b).host for b in chosen})
    if unreachable:
        return Preview({}, f"platforms from base not read: {', '.join(unreachable)} not reachable")
    try:
        survey.bases.pin(_read_or_raise(survey.digests_now(chosen)))
        found = platforms_found(survey.bases, survey.plan, survey.pool)
    except PublisherError as e:
        return Preview({}, f"platforms from base not read: {e.lines[0]}")
    return Preview({name: f.has for name, f in found.items()})


def _read_or_raise(now: dict[Reference, str | PublisherError | None]) -> dict[Reference, str | None]:
    """The digests read, each base's error raised as reading it would have (the first, bases in order)."""
    for base in sorted(now, key=str):
        if isinstance(now[base], PublisherError):
            raise now[base]
    return now


def base_digests(survey: Survey) -> dict[str, str | None]:
    """For the dry-run's comparison: variant → the digest its base resolves to now, read as a publish reads it
    (through the mirror); inputs.NOT_READ where it cannot be read (the comparison then leaves the base out);
    None for FROM scratch."""
    found = survey.digests_now(set(survey.bases.refs))
    return {v.variant.name: _or_not_read(found[v.variant.base]) if v.variant.base else None for v in survey.plan.variants}


def _or_not_read(digest: str | PublisherError | None) -> str:
    return digest if isinstance(digest, str) else NOT_READ
