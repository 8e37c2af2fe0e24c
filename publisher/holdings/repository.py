"""What the target repositories hold now: the one owner of repository state.

`Repository` reads tags and remembers what it saw and pushed (no repeated round-trips); what each
planned tag will do about it is decided by release/decisions.decide_all, for the publish and the dry-run alike.
"""

from __future__ import annotations

import json
from types import MappingProxyType
from concurrent.futures import Executor

from publisher.image.attestation import lists_attestations
from publisher.image.reference import parse_repository
from publisher.release.decisions import Current, Decision, retire
from publisher.release.events import Sent
from publisher.release.inputs import BASE_DIGEST, INPUTS
from publisher.release.plan import REVISION, VERSION, Plan
from publisher.remote.registry import Registry


class Repository:
    """One target repository, with what we already know it holds (no repeated round-trips)."""

    def __init__(self, ref: str, registry: Registry):
        self.ref, self.name, self.registry = ref, parse_repository(ref), registry
        self.path = self.name.path
        self.blobs: set[str] = set()
        self.manifests: set[str] = set()
        self.existing: set[str] = set()  # every tag the repository listed when read
        self.releases: dict[str, Current] = {}  # manifest digest → what a tag holding it holds, read once
        self.read_manifests: dict[str, bytes] = {}  # digest → the manifest as read (b"" when absent), read once

    def read(self, tags: list[str], pool: Executor) -> dict[str, Current]:
        """What each tag points at now: a HEAD per existing tag, then one read per distinct index."""
        self.existing = set(self.registry.list_tags(self.path))
        return self._current(tags, pool)

    def _current(self, tags: list[str], pool: Executor) -> dict[str, Current]:
        present = [tag for tag in tags if tag in self.existing]
        digests = dict(zip(present, pool.map(lambda tag: self.registry.head_manifest(self.name.tag(tag)), present)))
        distinct = sorted({d for d in digests.values() if d} - set(self.releases))
        self.releases.update(zip(distinct, pool.map(self._release_of, distinct)))
        return {tag: self.releases[digests[tag]] if digests.get(tag) else Current() for tag in tags}

    def held(self, tag: str) -> Current:
        """What `tag` holds now, read again (its release read once per digest): for a tag another publisher may move."""
        digest = self.registry.head_manifest(self.name.tag(tag))
        if digest and digest not in self.releases:
            self.releases[digest] = self._release_of(digest)
        return self.releases[digest] if digest else Current()

    def retired(self, plan: Plan, pool: Executor) -> dict[str, Decision]:
        """Tags listed at the last read that the plan no longer updates, each with its last release."""
        names = plan.retired(self.existing)
        return {tag: retire(current) for tag, current in self._current(names, pool).items() if current.digest}

    def prove_push(self) -> None:
        """Open an upload session and cancel it: refused push permission fails now, not after the builds."""
        session = self.registry.start_upload(self.path)
        self.registry.cancel_upload(self.path, session)

    def _release_of(self, digest: str) -> Current:
        """What a tag holding `digest` holds: its version and revision from the index's annotations, else from the
        first image's labels; its inputs and base digest, whether it lists attestation manifests, and its annotations
        (what it records it was made of)."""
        document = self._json_manifest(digest)
        found = document.get("annotations") or {}
        inputs, base, recorded = found.get(INPUTS), found.get(BASE_DIGEST), MappingProxyType(dict(found))
        attested = lists_attestations(document) if "manifests" in document else None
        if VERSION not in found and document.get("manifests"):
            document = self._json_manifest(document["manifests"][0]["digest"])
        if VERSION not in found and "config" in document:
            config = json.loads(self.registry.get_blob(self.path, document["config"]["digest"]))
            found = (config.get("config") or {}).get("Labels") or {}
        return Current(digest, found.get(VERSION), found.get(REVISION), inputs, base, attested, recorded)

    def manifest(self, digest: str) -> bytes:
        """The manifest at `digest` (b"" when the repository has none), fetched once: the read step has the indexes."""
        if digest not in self.read_manifests:
            found = self.registry.get_manifest(self.name.digest(digest))
            self.read_manifests[digest] = found[1] if found else b""
        return self.read_manifests[digest]

    def send_manifest(self, digest: str, body: bytes, media_type: str) -> Sent:
        """The manifest `body` put by its digest, unless the repository holds it already."""
        if self.registry.head_manifest(self.name.digest(digest)) == digest:
            return Sent.THERE
        self.registry.put_manifest(self.name.digest(digest), body, media_type)
        return Sent.PUSHED

    def _json_manifest(self, digest: str) -> dict:
        found = self.manifest(digest)
        return json.loads(found) if found else {}


def read_all(repositories: list[Repository], plan: Plan, pool: Executor, tick=lambda item: None,
             push: bool = False) -> dict:
    """repository → tag → Current, for every planned tag; with `push`, push permission proven too."""
    states = {}
    for repo in repositories:
        states[repo.ref] = repo.read(plan.tags_in(repo.ref), pool)
        if push:
            repo.prove_push()
        tick(repo.ref)
    return states


def retired_all(repositories: list[Repository], plan: Plan, pool: Executor) -> dict[str, dict[str, Decision]]:
    """repository → retired tag → Decision, after `read_all`: no second listing of the tags."""
    return {repo.ref: repo.retired(plan, pool) for repo in repositories}
