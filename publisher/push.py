"""Push a built release: content by digest, then tags (exact before floating), then read it all back."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from publisher import oci
from publisher.errors import PublishFailed
from publisher.oci import Image
from publisher.reference import parse_repository
from publisher.registry import Registry


@dataclass(frozen=True)
class Publication:
    """What one variant publishes: its platform images, its index, and its tags."""

    name: str
    images: tuple[Image, ...]
    index: bytes
    tags: tuple[str, ...]

    @property
    def digest(self) -> str:
        return oci.digest(self.index)


class Repository:
    """One target repository, with what we already know it holds (no repeated round-trips)."""

    def __init__(self, ref: str, registry: Registry, counts: Counter):
        parsed = parse_repository(ref)
        self.ref, self.path, self.registry, self.counts = ref, parsed.path, registry, counts
        self.blobs: set[str] = set()
        self.manifests: set[str] = set()

    def push_content(self, publication: Publication, mount_from: str | None) -> None:
        for image in publication.images:
            self._blob(oci.digest(image.config), image.config, mount_from)
            for layer in image.layers:
                self._blob(layer.digest, layer.path, mount_from)
            self._manifest(image.digest, image.manifest, oci.MANIFEST)
        self._manifest(publication.digest, publication.index, oci.INDEX)

    def _blob(self, digest: str, data, mount_from: str | None) -> None:
        if digest in self.blobs:
            return
        # upload_blob asks the registry first; a mount must not be tried for a blob already there.
        present = mount_from is not None and self.registry.blob_exists(self.path, digest)
        if present:
            self.counts["blobs already there"] += 1
        elif mount_from and self.registry.mount_blob(self.path, digest, mount_from):
            self.counts["blobs mounted"] += 1
        elif self.registry.upload_blob(self.path, digest, data):
            self.counts["blobs uploaded"] += 1
        else:
            self.counts["blobs already there"] += 1
        self.blobs.add(digest)

    def _manifest(self, digest: str, body: bytes, media_type: str) -> None:
        if digest in self.manifests:
            return
        if self.registry.head_manifest(self.path, digest) != digest:
            self.registry.put_manifest(self.path, digest, body, media_type)
            self.counts["manifests pushed"] += 1
        self.manifests.add(digest)

    def move_tag(self, tag: str, publication: Publication) -> None:
        current = self.registry.head_manifest(self.path, tag)
        if current == publication.digest:
            self.counts["tags unchanged"] += 1
            return
        self.registry.put_manifest(self.path, tag, publication.index, oci.INDEX)
        self.counts["tags moved" if current else "tags created"] += 1

    def verify(self, publications: list[Publication]) -> list[str]:
        wrong = []
        for publication in publications:
            for tag in publication.tags:
                found = self.registry.head_manifest(self.path, tag)
                if found != publication.digest:
                    wrong.append(f"{self.ref}:{tag}: expected {publication.digest}, found {found or 'no such tag'}")
        self.counts["tags verified"] += sum(len(r.tags) for r in publications) - len(wrong)
        return wrong


def push(repositories: list[Repository], publications: list[Publication], is_floating) -> None:
    """Content everywhere first; then exact tags everywhere; floating tags last; then verify."""
    seen_on: dict[str, str] = {}  # registry host → a repository there that holds our blobs
    for repo in repositories:
        host = repo.registry.host
        for publication in publications:
            repo.push_content(publication, seen_on.get(host))
        seen_on.setdefault(host, repo.path)
    for floating in (False, True):
        for repo in repositories:
            for publication in publications:
                for tag in publication.tags:
                    if is_floating(tag) == floating:
                        repo.move_tag(tag, publication)
    wrong = [line for repo in repositories for line in repo.verify(publications)]
    if wrong:
        raise PublishFailed("publisher: the registry does not hold what was planned:", *wrong)
