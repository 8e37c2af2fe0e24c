"""Floating tags written so that concurrent publishers converge on the newest release (the rule: release/converge).

Each floating tag is read again just before it is written; once all are written they are settled:
read again with the repository's tag list, and put right until a round changes nothing.
"""

from __future__ import annotations

from collections import defaultdict
from concurrent.futures import Executor
from dataclasses import dataclass

from publisher.image import oci
from publisher.release.converge import NEWER, OURS, RESTORE, WRITE, Meanwhile, standing
from publisher.release.decisions import HELD, MOVES, NEW, Current, Decision, expected
from publisher.release.events import Tagged, TakenMeanwhile, TagWritten
from publisher.release.publication import Publication
from publisher.release.tags import is_floating
from publisher.release.version import Release
from publisher.steps.push import as_decided
from publisher.holdings.repository import Repository

ROUNDS = 4  # each round after the first follows a write of ours or another's: two publishers settle in two


@dataclass(frozen=True)
class Settled:
    """One floating tag after a settling round: whether we wrote it, and the newer release holding it, if one does."""

    wrote: TagWritten | None  # written again, or put back; None: no write
    meanwhile: Meanwhile | None = None


@dataclass(frozen=True)
class Settling:
    """Every floating tag settled: the newer release each of those a newer release took holds, and our writes."""

    meanwhile: dict[tuple[str, str], Meanwhile]  # (repository, tag) → the newer release there
    writes: list[TagWritten]


def write_floating(release: Release, downgrade: bool):
    """The writer of one floating tag (for push_tags): read again first; a newer release's tag stays."""

    def write(repo: Repository, publication: Publication, tag: str, decision: Decision) -> TagWritten:
        if decision.status not in (NEW, MOVES):
            return TagWritten(repo.ref, tag, as_decided(decision))
        now = repo.held(tag)
        action = standing(tag, release, now.digest == publication.digest, now.version, (), downgrade).action
        if action in (NEWER, OURS):
            return TagWritten(repo.ref, tag, Tagged.HELD_BACK if action == NEWER else Tagged.UNCHANGED)
        repo.registry.put_manifest(repo.name.tag(tag), publication.index, oci.INDEX)
        return TagWritten(repo.ref, tag, as_decided(decision))

    return write


def settle(repositories: list[Repository], publications: list[Publication], decisions: dict, release: Release,
           downgrade: bool, pool: Executor) -> Settling:
    """Every floating tag we planned, read again until a round writes nothing."""
    planned = [(repo, p, tag) for repo in repositories for p in publications if p.goes_to(repo.ref) for tag in p.tags
               if is_floating(tag, release) and decisions[repo.ref, tag].status != HELD
               and expected(decisions[repo.ref, tag], p.digest) == p.digest]  # one that stays at other bytes is left
    found: list[Settled] = []
    writes: list[TagWritten] = []
    for _ in range(ROUNDS):
        listed = {repo.ref: frozenset(repo.registry.list_tags(repo.path)) for repo in repositories}
        found = list(pool.map(lambda item: _settle(*item, listed[item[0].ref], release, downgrade), planned))
        writes += [s.wrote for s in found if s.wrote]
        if not any(s.wrote for s in found):
            break
    return Settling({(m.ref, m.tag): m for m in (s.meanwhile for s in found) if m}, writes)


def _settle(repo: Repository, publication: Publication, tag: str, listed: frozenset, release: Release,
            downgrade: bool) -> Settled:
    now = repo.held(tag)
    s = standing(tag, release, now.digest == publication.digest, now.version, listed, downgrade)
    if s.action == WRITE:
        repo.registry.put_manifest(repo.name.tag(tag), publication.index, oci.INDEX)
        return Settled(TagWritten(repo.ref, tag, Tagged.WRITTEN_AGAIN))
    if s.action == RESTORE:  # a newer release wrote it, then our write landed over it: its index goes back
        found = repo.registry.get_manifest(repo.name.tag(s.exact))
        if found is None:  # listed, then gone: nothing to put back
            return Settled(None)
        media_type, body, digest = found
        repo.registry.put_manifest(repo.name.tag(tag), body, media_type)
        return Settled(TagWritten(repo.ref, tag, Tagged.PUT_BACK), Meanwhile(repo.ref, tag, s.release.text, digest))
    if s.action == NEWER:
        return Settled(None, Meanwhile(repo.ref, tag, s.release.text, now.digest))
    return Settled(None)


def newer_at(repo: Repository, tag: str, release: Release) -> Meanwhile | None:
    """For verification: the newer release floating `tag` holds now, if it holds one."""
    now = repo.held(tag)
    s = standing(tag, release, False, now.version)
    return Meanwhile(repo.ref, tag, s.release.text, now.digest) if s.action == NEWER and now.digest else None


def held_meanwhile(decisions: dict, found: dict[tuple[str, str], Meanwhile], notice) -> dict:
    """The decisions with each tag a newer release took held at that release; said once per release and repository."""
    tags = defaultdict(list)
    for m in found.values():
        tags[m.version, m.ref].append(m.tag)
    for (version, ref), names in sorted(tags.items()):
        notice(TakenMeanwhile(version, ref, tuple(names)))
    return {**decisions, **{key: Decision(HELD, Current(m.digest, m.version), f"{m.version} was published meanwhile",
                                          meanwhile=True) for key, m in found.items()}}
