"""Read every tag back from every repository and compare it with what was published."""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass

from publisher.errors import PublishFailed
from publisher.image.cosign import signature_tag
from publisher.release.converge import Meanwhile
from publisher.release.decisions import HELD, expected
from publisher.release.events import TagVerified
from publisher.release.publication import Publication
from publisher.release.tags import is_floating
from publisher.release.version import Release
from publisher.steps.converge import newer_at
from publisher.steps.sign import Bundled, Signed, missing, missing_bundles
from publisher.holdings.repository import Repository


@dataclass(frozen=True)
class ReadBack:
    verified: list[TagVerified]  # each tag that holds its publication's index
    meanwhile: list[Meanwhile]  # each floating tag that holds a newer release's instead


def read_back(repositories: list[Repository], publications: list[Publication], decisions: dict, pool: Executor,
              signed: list[Signed] = (), release: Release | None = None, bundled: list[Bundled] = ()) -> ReadBack:
    """Every tag not held back holds its publication's index, its attestation manifests are there,
    every signature is under its `.sig` tag and every bundle listed as a referrer, in every repository.

    With `release`, a floating tag holding a newer release than it is right (another publisher's, while
    this one ran): returned, not an error. Exact tags are read first, floating ones last."""
    checked = sorted(((repo, p, tag) for repo in repositories for p in publications if p.goes_to(repo.ref)
                      for tag in p.tags if decisions[repo.ref, tag].status != HELD),
                     key=lambda item: release is not None and is_floating(item[2], release))
    found = list(pool.map(lambda item: _tag_holds(item[0], item[2], expected(decisions[item[0].ref, item[2]], item[1].digest),
                                                  release), checked))
    wrong = [f for f in found if isinstance(f, str)]
    attested = [(repo, a.digest) for repo in repositories for p in publications if p.goes_to(repo.ref)
                for a in p.attestations]
    wrong += [line for line in pool.map(lambda item: _attestation(*item), attested) if line]
    wrong += [f"{s.repo.ref}:{signature_tag(s.digest)}: does not hold this release's signature of {s.digest}"
              for s in missing(list(signed), pool)]
    wrong += missing_bundles(list(bundled), pool)
    if wrong:
        raise PublishFailed("publisher: the registry does not hold what was planned:", *wrong)
    return ReadBack([TagVerified(repo.ref, tag) for (repo, _, tag), f in zip(checked, found) if not isinstance(f, str)],
                    [f for f in found if isinstance(f, Meanwhile)])


def _tag_holds(repo: Repository, tag: str, digest: str, release: Release | None) -> str | Meanwhile | None:
    """None if the tag holds `digest` (its publication's, or what it held where it stays); the newer release a
    floating tag holds instead; else what is wrong."""
    found = repo.registry.head_manifest(repo.name.tag(tag), expect=digest)
    if found == digest:
        return None
    newer = newer_at(repo, tag, release) if found and release and is_floating(tag, release) else None
    return newer or f"{repo.ref}:{tag}: expected {digest}, found {found or 'no such tag'}"


def _attestation(repo: Repository, digest: str) -> str | None:
    if repo.registry.head_manifest(repo.name.digest(digest), expect=digest) == digest:
        return None
    return f"{repo.ref}@{digest}: attestation manifest missing"
