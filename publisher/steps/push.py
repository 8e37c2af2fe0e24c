"""Push a proven release: content by digest everywhere (signatures next: steps/sign), then exact tags, then floating tags."""

from __future__ import annotations

from concurrent.futures import Executor
from pathlib import Path

from publisher.errors import PublisherError
from publisher.image import oci
from publisher.image.attestation import AttestationManifest
from publisher.image.oci import Image
from publisher.release.decisions import CONFLICT, HELD, MOVES, NEW, Decision
from publisher.release.events import BlobSent, ManifestSent, Sent, Tagged, TagWritten
from publisher.release.publication import Publication
from publisher.holdings.copy import copy_children
from publisher.holdings.repository import Repository


def refuse_conflicts(decisions: dict, publications: list[Publication]) -> None:
    by_tag = {tag: p for p in publications for tag in p.tags}
    conflicts = [_conflict(ref, tag, d, by_tag.get(tag)) for (ref, tag), d in decisions.items() if d.status == CONFLICT]
    if conflicts:
        raise PublisherError(*conflicts)


def _conflict(ref: str, tag: str, d: Decision, p: Publication | None) -> str:
    held = f"{d.current.digest} ({d.current.version or 'unknown version'})"
    if p is None:
        return f"{ref}:{tag}: holds {held}; exact tags are immutable: publish a new version, or pass --force to overwrite"
    if d.current.inputs and d.current.attested is not None and d.current.attested != p.attested:
        before, now, same = (("with", "without", "without --no-attestations") if d.current.attested
                             else ("without", "with", "with --no-attestations"))
        return (f"{ref}:{tag}: holds {held} made {before} attestations, this build is {now} them ({p.digest}); "
                f"exact tags are immutable: publish {same} as before, a new version, or pass --force to overwrite")
    return (f"{ref}:{tag}: holds {held}, this build is {p.digest}; "
            "exact tags are immutable: publish a new version, or pass --force to overwrite")


def push_contents(repositories: list[Repository], publications: list[Publication], pool: Executor,
                  cache: Path | None = None) -> list:
    """Content everywhere, by digest: nothing is tagged yet. What became of each blob and manifest. A
    publication copied from a repository (`copied_from`) brings its content from there (holdings/copy; `cache`)."""
    held = {repo.ref: repo for repo in repositories}
    events = []
    for repo, mount_from in _with_mount_sources(repositories):
        mine = [p for p in publications if p.goes_to(repo.ref)]
        for p in mine:
            if p.copied_from and p.copied_from != repo.ref:
                events += copy_children(held[p.copied_from], repo, p.index, cache, pool)
        events += push_content(repo, mine, mount_from, pool)
    return events


def push_tags(repositories: list[Repository], publications: list[Publication], decisions: dict, is_floating,
              pool: Executor, write_floating=None) -> list[TagWritten]:
    """Exact tags everywhere; floating tags last, each by `write_floating` when given (steps/converge)."""
    every = [(repo, p, tag) for repo in repositories for p in publications if p.goes_to(repo.ref) for tag in p.tags]
    written = []
    for floating in (False, True):
        phase = [(repo, p, tag) for repo, p, tag in every if is_floating(tag) == floating]
        write = write_floating if floating and write_floating else _tag
        written += pool.map(lambda item: write(*item, decisions[item[0].ref, item[2]]), phase)
    return written


def push_staged(repositories: list[Repository], images: dict[str, list[Image]], pool: Executor,
                attestations: dict[str, list[AttestationManifest]] | None = None) -> list:
    """A stage's images and their attestation manifests by digest (repository → its own), no index, no tag."""
    return [event for repo, mount_from in _with_mount_sources(repositories)
            for event in push_images(repo, images[repo.ref], mount_from, pool, (attestations or {}).get(repo.ref, ()))]


def _with_mount_sources(repositories: list[Repository]):
    """Each repository, with a repository on its registry that already holds our blobs (None for the first)."""
    seen_on: dict[str, str] = {}
    for repo in repositories:
        yield repo, seen_on.get(repo.registry.host)
        seen_on.setdefault(repo.registry.host, repo.path)


def push_content(repo: Repository, publications: list[Publication], mount_from: str | None, pool: Executor) -> list:
    """Blobs, then platform manifests, then indexes: each stage at once, each only when all before it landed."""
    sent = push_images(repo, [image for p in publications for image in p.images], mount_from, pool,
                       [made for p in publications for made in p.attestations])
    return sent + _manifests(repo, {p.digest: p.index for p in publications}, oci.INDEX, pool)


def push_images(repo: Repository, images: list[Image], mount_from: str | None, pool: Executor,
                attestations: list[AttestationManifest] = ()) -> list[BlobSent | ManifestSent]:
    """Platform images and attestation manifests by digest: their blobs, then their manifests. No index, no tag."""
    blobs = {}
    for image in images:
        blobs.setdefault(oci.digest(image.config), image.config)
        blobs.update((layer.digest, layer.path) for layer in image.layers if layer.digest not in blobs)
    for made in attestations:
        blobs.update((blob.digest, blob.data) for blob in (made.config, *made.layers))
    todo = [(d, data) for d, data in blobs.items() if d not in repo.blobs]
    sent = list(pool.map(lambda item: BlobSent(repo.ref, item[0], _blob(repo, *item, mount_from)), todo))
    repo.blobs.update(blobs)
    manifests = {image.digest: image.manifest for image in images}
    manifests.update((made.digest, made.manifest) for made in attestations)
    return sent + _manifests(repo, manifests, oci.MANIFEST, pool)


def _blob(repo: Repository, digest: str, data, mount_from: str | None) -> Sent:
    registry = repo.registry
    if mount_from is None:  # upload_blob asks the registry first
        return Sent.PUSHED if registry.upload_blob(repo.path, digest, data) else Sent.THERE
    if registry.blob_exists(repo.path, digest):  # a mount must not be tried for a blob already there
        return Sent.THERE
    session = registry.mount_or_session(repo.path, digest, mount_from)
    if session is None:
        return Sent.MOUNTED
    # Not mounted: the registry opened an upload session instead (202). Use it rather than open another.
    registry.upload_blob(repo.path, digest, data, session=session)
    return Sent.PUSHED


def _manifests(repo: Repository, bodies: dict[str, bytes], media_type: str, pool: Executor) -> list[ManifestSent]:
    todo = {d: body for d, body in bodies.items() if d not in repo.manifests}
    sent = list(pool.map(lambda item: ManifestSent(repo.ref, item[0], repo.send_manifest(*item, media_type)), todo.items()))
    repo.manifests.update(todo)
    return sent


def _tag(repo: Repository, publication: Publication, tag: str, decision: Decision) -> TagWritten:
    if decision.status in (NEW, MOVES):
        repo.registry.put_manifest(repo.name.tag(tag), publication.index, oci.INDEX)
    return TagWritten(repo.ref, tag, as_decided(decision))


def as_decided(decision: Decision) -> Tagged:
    """What writing a tag as decided does (new and moves are written; held and stays are not)."""
    return {NEW: Tagged.CREATED, MOVES: Tagged.MOVED, HELD: Tagged.HELD_BACK}.get(decision.status, Tagged.UNCHANGED)
