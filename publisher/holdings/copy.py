"""An index a repository holds, written into another with everything it refers to: a backfill copies the
very bytes, so both repositories hold one digest.

Blobs are mounted from the repository holding them where both are on one registry, else read once into
the cache (by digest) and uploaded; then the platform and attestation manifests, by digest, before the
index (steps/push puts the index with the others). Nothing is tagged here.
"""

from __future__ import annotations

import json
from concurrent.futures import Executor
from pathlib import Path

from publisher.holdings.repository import Repository
from publisher.image import oci
from publisher.release.events import BlobSent, ManifestSent, Sent


def copy_children(source: Repository, target: Repository, index: bytes, cache: Path, pool: Executor) -> list:
    """The manifests `index` lists, and their blobs, from `source` into `target` (what is there already is left)."""
    children = [(entry["digest"], entry.get("mediaType", oci.MANIFEST)) for entry in json.loads(index)["manifests"]]
    todo = [(d, kind) for d, kind in children if d not in target.manifests]
    bodies = list(pool.map(lambda item: source.manifest(item[0]), todo))
    blobs = {b["digest"]: b for body in bodies for b in oci.blobs_of(body)}
    mount = source.path if source.registry.host == target.registry.host else None
    sent = list(pool.map(lambda digest: BlobSent(target.ref, digest, _copy_blob(source, target, digest, mount, cache)),
                         [d for d in blobs if d not in target.blobs]))
    target.blobs.update(blobs)
    sent += list(pool.map(lambda child, body: ManifestSent(target.ref, child[0], target.send_manifest(child[0], body, child[1])),
                          todo, bodies))
    target.manifests.update(d for d, _ in todo)
    return sent


def _copy_blob(source: Repository, target: Repository, digest: str, mount: str | None, cache: Path) -> Sent:
    registry = target.registry
    if registry.blob_exists(target.path, digest):
        return Sent.THERE
    session = registry.mount_or_session(target.path, digest, mount) if mount else None
    if mount and session is None:
        return Sent.MOUNTED
    held = cache / "copies" / digest.replace(":", "-")
    if not held.exists():
        held.parent.mkdir(parents=True, exist_ok=True)
        source.registry.download_blob(source.path, digest, held)
    registry.upload_blob(target.path, digest, held, session=session)
    return Sent.PUSHED
