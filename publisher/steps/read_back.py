"""Read every tag back from every repository and compare it with what was published."""

from __future__ import annotations

from concurrent.futures import Executor

from publisher.errors import PublishFailed
from publisher.image.cosign import signature_tag
from publisher.release.decisions import HELD
from publisher.steps.push import Publication
from publisher.steps.sign import Signed, missing
from publisher.registries.repository import Repository


def read_back(repositories: list[Repository], publications: list[Publication], decisions: dict, pool: Executor,
           signed: list[Signed] = ()) -> None:
    """Every tag not held back holds its publication's index, its attestation manifests are there,
    and every signature is under its `.sig` tag, in every repository."""
    checked = [(repo, p, tag) for repo in repositories for p in publications if p.goes_to(repo.ref) for tag in p.tags
               if decisions[repo.ref, tag].status != HELD]
    wrong = [line for line in pool.map(lambda item: _tag_holds(*item), checked) if line]
    if repositories:
        repositories[0].counts["tags verified"] += len(checked) - len(wrong)
    attested = [(repo, a.digest) for repo in repositories for p in publications if p.goes_to(repo.ref)
                for a in p.attestations]
    wrong += [line for line in pool.map(lambda item: _attestation(*item), attested) if line]
    wrong += [f"{s.repo.ref}:{signature_tag(s.digest)}: does not hold this release's signature of {s.digest}"
              for s in missing(list(signed), pool)]
    if wrong:
        raise PublishFailed("publisher: the registry does not hold what was planned:", *wrong)


def _tag_holds(repo: Repository, publication: Publication, tag: str) -> str | None:
    """None if the tag holds the publication, else what is wrong."""
    found = repo.registry.head_manifest(repo.path, tag, expect=publication.digest)
    if found == publication.digest:
        return None
    return f"{repo.ref}:{tag}: expected {publication.digest}, found {found or 'no such tag'}"


def _attestation(repo: Repository, digest: str) -> str | None:
    if repo.registry.head_manifest(repo.path, digest, expect=digest) == digest:
        return None
    return f"{repo.ref}@{digest}: attestation manifest missing"
