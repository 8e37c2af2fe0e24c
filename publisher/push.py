"""Push a built release: content by digest, then tags (exact before floating), then read it all back."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import Executor
from dataclasses import dataclass

from publisher import oci
from publisher.credentials import lookup
from publisher.errors import PublisherError, PublishFailed
from publisher.inputs import INPUTS
from publisher.oci import Image
from publisher.plan import REVISION, VERSION
from publisher.reference import parse_repository
from publisher.registry import Registry
from publisher.retry import Policy
from publisher.tagging import CONFLICT, HELD, MOVES, NEW, Current, Decision



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

    # What it holds now

    def read(self, tags: list[str], pool: Executor) -> dict[str, Current]:
        """What each tag points at now: a HEAD per existing tag, then one read per distinct index."""
        existing = set(self.registry.list_tags(self.path))
        present = [tag for tag in tags if tag in existing]
        digests = dict(zip(present, pool.map(lambda tag: self.registry.head_manifest(self.path, tag), present)))
        distinct = sorted({d for d in digests.values() if d})
        releases = dict(zip(distinct, pool.map(self._release_of, distinct)))
        return {tag: Current(digests[tag], *releases[digests[tag]]) if digests.get(tag) else Current() for tag in tags}

    def _release_of(self, digest: str) -> tuple[str | None, str | None, str | None]:
        """(version, revision, inputs) from the index's annotations, else from the first image's labels."""
        document = self._json_manifest(digest)
        found = document.get("annotations") or {}
        inputs = found.get(INPUTS)
        if VERSION not in found and document.get("manifests"):
            document = self._json_manifest(document["manifests"][0]["digest"])
        if VERSION not in found and "config" in document:
            config = json.loads(self.registry.get_blob(self.path, document["config"]["digest"]))
            found = (config.get("config") or {}).get("Labels") or {}
        return found.get(VERSION), found.get(REVISION), inputs

    def _json_manifest(self, digest: str) -> dict:
        found = self.registry.get_manifest(self.path, digest)
        return json.loads(found[1]) if found else {}

    # Content, by digest

    def push_content(self, publications: list[Publication], mount_from: str | None, pool: Executor) -> None:
        """Blobs, then platform manifests, then indexes: each stage at once, each only when all before it landed."""
        blobs = {}
        for p in publications:
            for image in p.images:
                blobs.setdefault(oci.digest(image.config), image.config)
                blobs.update((layer.digest, layer.path) for layer in image.layers if layer.digest not in blobs)
        todo = [(d, data) for d, data in blobs.items() if d not in self.blobs]
        self.counts.update(pool.map(lambda item: self._blob(*item, mount_from), todo))
        self.blobs.update(blobs)
        images = {image.digest: image.manifest for p in publications for image in p.images}
        self._manifests(images, oci.MANIFEST, pool)
        self._manifests({p.digest: p.index for p in publications}, oci.INDEX, pool)

    def _blob(self, digest: str, data, mount_from: str | None) -> str:
        # upload_blob asks the registry first; a mount must not be tried for a blob already there.
        if mount_from is not None and self.registry.blob_exists(self.path, digest):
            return "blobs already there"
        if mount_from and self.registry.mount_blob(self.path, digest, mount_from):
            return "blobs mounted"
        return "blobs uploaded" if self.registry.upload_blob(self.path, digest, data) else "blobs already there"

    def _manifests(self, bodies: dict[str, bytes], media_type: str, pool: Executor) -> None:
        todo = {d: body for d, body in bodies.items() if d not in self.manifests}
        self.counts.update(pool.map(lambda item: self._manifest(*item, media_type), todo.items()))
        self.manifests.update(todo)

    def _manifest(self, digest: str, body: bytes, media_type: str) -> str:
        if self.registry.head_manifest(self.path, digest) == digest:
            return "manifests already there"
        self.registry.put_manifest(self.path, digest, body, media_type)
        return "manifests pushed"

    # Tags

    def tag(self, tag: str, publication: Publication, decision: Decision) -> str:
        if decision.status in (NEW, MOVES):
            self.registry.put_manifest(self.path, tag, publication.index, oci.INDEX)
        return {NEW: "tags created", MOVES: "tags moved", HELD: "tags held back"}.get(decision.status, "tags unchanged")

    def check(self, tag: str, publication: Publication) -> str | None:
        """None if the tag holds the publication, else what is wrong."""
        found = self.registry.head_manifest(self.path, tag, expect=publication.digest)
        return None if found == publication.digest else f"{self.ref}:{tag}: expected {publication.digest}, found {found or 'no such tag'}"


def refuse_conflicts(decisions: dict, publications: list[Publication]) -> None:
    digests = {tag: p.digest for p in publications for tag in p.tags}
    conflicts = [
        f"{ref}:{tag}: holds {d.current.digest} ({d.current.version or 'unknown version'}), this build is {digests[tag]}; "
        "exact tags are immutable: publish a new version, or pass --force to overwrite"
        for (ref, tag), d in decisions.items() if d.status == CONFLICT
    ]
    if conflicts:
        raise PublisherError(*conflicts)


def push(repositories: list[Repository], publications: list[Publication], decisions: dict, is_floating, pool: Executor) -> None:
    """Content everywhere first; then exact tags everywhere; floating tags last; then verify."""
    seen_on: dict[str, str] = {}  # registry host → a repository there that holds our blobs
    for repo in repositories:
        repo.push_content(publications, seen_on.get(repo.registry.host), pool)
        seen_on.setdefault(repo.registry.host, repo.path)
    counts = repositories[0].counts if repositories else Counter()
    every = [(repo, p, tag) for repo in repositories for p in publications for tag in p.tags]
    for floating in (False, True):
        phase = [(repo, p, tag) for repo, p, tag in every if is_floating(tag) == floating]
        counts.update(pool.map(lambda item: item[0].tag(item[2], item[1], decisions[item[0].ref, item[2]]), phase))
    checked = [(repo, p, tag) for repo, p, tag in every if decisions[repo.ref, tag].status != HELD]
    wrong = [line for line in pool.map(lambda item: item[0].check(item[2], item[1]), checked) if line]
    counts["tags verified"] += len(checked) - len(wrong)
    if wrong:
        raise PublishFailed("publisher: the registry does not hold what was planned:", *wrong)
