"""Push a built release: content by digest, then tags (exact before floating), then read it all back."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass

from publisher import oci
from publisher.credentials import lookup
from publisher.errors import PublisherError, PublishFailed
from publisher.oci import Image
from publisher.reference import parse_repository
from publisher.registry import Registry
from publisher.retry import Policy
from publisher.tagging import CONFLICT, HELD, MOVES, NEW, Current, Decision

VERSION = "org.opencontainers.image.version"
REVISION = "org.opencontainers.image.revision"


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


def connect(refs, policy: Policy | None = None, timeout: float = 60.0) -> dict[str, Registry]:
    """One client per registry host, with its credentials."""
    hosts = dict.fromkeys(parse_repository(ref).host for ref in refs)
    return {host: Registry(host, lookup(host), timeout=timeout, policy=policy) for host in hosts}


class Repository:
    """One target repository, with what we already know it holds (no repeated round-trips)."""

    def __init__(self, ref: str, registry: Registry, counts: Counter):
        parsed = parse_repository(ref)
        self.ref, self.path, self.registry, self.counts = ref, parsed.path, registry, counts
        self.blobs: set[str] = set()
        self.manifests: set[str] = set()
        self._releases: dict[str, tuple] = {}

    # What it holds now

    def read(self, tags: list[str]) -> dict[str, Current]:
        existing = set(self.registry.list_tags(self.path))
        return {tag: self._current(tag) if tag in existing else Current() for tag in tags}

    def _current(self, tag: str) -> Current:
        digest = self.registry.head_manifest(self.path, tag)
        return Current(digest, *self._release_of(digest)) if digest else Current()

    def _release_of(self, digest: str) -> tuple[str | None, str | None]:
        """(version, revision) from the index's annotations, else from the first image's labels."""
        if digest not in self._releases:
            document = self._json_manifest(digest)
            found = document.get("annotations") or {}
            if VERSION not in found and document.get("manifests"):
                document = self._json_manifest(document["manifests"][0]["digest"])
            if VERSION not in found and "config" in document:
                config = json.loads(self.registry.get_blob(self.path, document["config"]["digest"]))
                found = (config.get("config") or {}).get("Labels") or {}
            self._releases[digest] = (found.get(VERSION), found.get(REVISION))
        return self._releases[digest]

    def _json_manifest(self, digest: str) -> dict:
        found = self.registry.get_manifest(self.path, digest)
        return json.loads(found[1]) if found else {}

    # Content, by digest

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

    # Tags

    def tag(self, tag: str, publication: Publication, decision: Decision) -> None:
        if decision.status in (NEW, MOVES):
            self.registry.put_manifest(self.path, tag, publication.index, oci.INDEX)
        self.counts[{NEW: "tags created", MOVES: "tags moved", HELD: "tags held back"}.get(decision.status, "tags unchanged")] += 1

    def verify(self, publications: list[Publication], decisions: dict) -> list[str]:
        wrong = []
        for publication in publications:
            for tag in publication.tags:
                if decisions[self.ref, tag].status == HELD:
                    continue
                found = self.registry.head_manifest(self.path, tag, expect=publication.digest)
                if found != publication.digest:
                    wrong.append(f"{self.ref}:{tag}: expected {publication.digest}, found {found or 'no such tag'}")
                else:
                    self.counts["tags verified"] += 1
        return wrong


def refuse_conflicts(decisions: dict, publications: list[Publication]) -> None:
    digests = {tag: p.digest for p in publications for tag in p.tags}
    conflicts = [
        f"{ref}:{tag}: holds {d.current.digest} ({d.current.version or 'unknown version'}), this build is {digests[tag]}; "
        "exact tags are immutable: publish a new version, or pass --force to overwrite"
        for (ref, tag), d in decisions.items() if d.status == CONFLICT
    ]
    if conflicts:
        raise PublisherError(*conflicts)


def push(repositories: list[Repository], publications: list[Publication], decisions: dict, is_floating) -> None:
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
                        repo.tag(tag, publication, decisions[repo.ref, tag])
    wrong = [line for repo in repositories for line in repo.verify(publications, decisions)]
    if wrong:
        raise PublishFailed("publisher: the registry does not hold what was planned:", *wrong)
