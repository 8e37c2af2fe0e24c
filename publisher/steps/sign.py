"""Sign every index and every platform manifest in it, in every repository, as cosign stores it.

A signature lives in the repository it vouches for, under the tag `sha256-<hex>.sig`, and names that
repository in its payload. Signing is deterministic, so a rerun computes the very signature already
there and pushes nothing. A `.sig` tag holding other signatures (another key, cosign's own) keeps
them: ours is added next to them, as `cosign sign` does.
"""

from __future__ import annotations

import json
from concurrent.futures import Executor
from dataclasses import dataclass

from publisher.image import oci
from publisher.image.cosign import (SIGNATURE_ANNOTATION, SignatureEntry, payload, sign, signature_manifest,
                                    signature_tag)
from publisher.release.events import Sent, SignatureSent
from publisher.holdings.repository import Repository


@dataclass(frozen=True)
class Signed:
    """In `repo`, the `.sig` tag of `digest` must carry `entry`."""

    repo: Repository
    digest: str
    entry: SignatureEntry


def signatures(key, repositories: list[Repository], digests: list[str]) -> list[Signed]:
    """One signature per repository and digest (each repository names itself in the payload)."""
    out = []
    for repo in repositories:
        for digest in digests:
            data = payload(repo.ref, digest)
            out.append(Signed(repo, digest, SignatureEntry(data, sign(key, data))))
    return out


def push_signatures(signed: list[Signed], pool: Executor) -> list[SignatureSent]:
    return list(pool.map(lambda s: SignatureSent(s.repo.ref, s.digest, _push(s)), signed))


def missing(signed: list[Signed], pool: Executor) -> list[Signed]:
    """The signatures a repository does not hold."""
    held = list(pool.map(lambda s: _holds(s, _layers(s)), signed))
    return [s for s, ok in zip(signed, held) if not ok]


def _push(s: Signed) -> Sent:
    layers = _layers(s)
    if _holds(s, layers):
        return Sent.THERE
    registry, path = s.repo.registry, s.repo.path
    others = [SignatureEntry(registry.get_blob(path, layer["digest"]), layer["annotations"][SIGNATURE_ANNOTATION])
              for layer in layers if SIGNATURE_ANNOTATION in (layer.get("annotations") or {})]
    made = signature_manifest([*others, s.entry])
    for blob in (made.config, *made.layers):
        registry.upload_blob(path, blob.digest, blob.data, ask_first=bool(layers))  # another key's may share it
    registry.put_manifest(s.repo.name.tag(signature_tag(s.digest)), made.manifest, oci.MANIFEST)
    return Sent.PUSHED


def _layers(s: Signed) -> list[dict]:
    found = s.repo.registry.get_manifest(s.repo.name.tag(signature_tag(s.digest)))
    return json.loads(found[1]).get("layers") or [] if found else []


def _holds(s: Signed, layers: list[dict]) -> bool:
    return any(layer.get("digest") == oci.digest(s.entry.payload)
               and (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION) == s.entry.signature
               for layer in layers)
