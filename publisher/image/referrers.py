"""OCI 1.1 referrers as values: an artifact manifest about another manifest, and the referrers tag schema.

A referrer is an OCI image manifest whose `subject` is the manifest it is about. A registry with the
referrers API (`GET /v2/NAME/referrers/DIGEST`) lists it by itself once it is pushed. On one without
(distribution 2.8, GHCR, `crane registry serve`), whoever adds a referrer keeps the list: the tag
`sha256-<hex of the subject>` holds an OCI index whose `manifests` are the referrers' descriptors,
each with its `artifactType` and annotations (image-spec 1.1, distribution-spec 1.1 "referrers tag
schema"). The list is shared: a GitHub attestation, a second signer or cosign itself may have added
to it, and what they added stays (`with_referrers`). Pure: bytes in, bytes out.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from publisher.image import oci
from publisher.image.attestation import DataBlob, canonical_json
from publisher.image.reference import DIGEST

EMPTY = "application/vnd.oci.empty.v1+json"
EMPTY_CONFIG = DataBlob(b"{}", EMPTY)  # the OCI empty descriptor's blob: 2 bytes


@dataclass(frozen=True)
class Referrer:
    """An artifact manifest about `subject`: its blobs to upload, its manifest bytes (canonical JSON)."""

    subject: str  # the digest of the manifest it is about
    artifact_type: str
    annotations: Mapping[str, str]
    config: DataBlob
    layers: tuple[DataBlob, ...]
    manifest: bytes

    @property
    def digest(self) -> str:
        return oci.digest(self.manifest)

    def descriptor(self) -> dict:
        """Its entry in the referrers list, as the spec asks: artifactType and annotations included."""
        return {"mediaType": oci.MANIFEST, "digest": self.digest, "size": len(self.manifest),
                "artifactType": self.artifact_type, "annotations": dict(self.annotations)}


def referrer(subject: Mapping, artifact_type: str, layers: Sequence[DataBlob],
             annotations: Mapping[str, str]) -> Referrer:
    """`subject`: the descriptor (mediaType, digest, size) of the manifest it is about. The config is
    the empty descriptor carrying the artifact type too, as cosign writes it."""
    config = {**EMPTY_CONFIG.descriptor(), "artifactType": artifact_type}
    document = {"schemaVersion": 2, "mediaType": oci.MANIFEST, "artifactType": artifact_type, "config": config,
                "layers": [layer.descriptor() for layer in layers], "annotations": dict(annotations),
                "subject": {k: subject[k] for k in ("mediaType", "digest", "size")}}
    return Referrer(subject["digest"], artifact_type, dict(annotations), EMPTY_CONFIG, tuple(layers),
                    canonical_json(document))


def referrers_tag(digest: str) -> str:
    """`sha256:ab…` → `sha256-ab…`: the tag holding the referrers of `digest` where there is no API."""
    if not DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 manifest digest: {digest!r}")
    return digest.replace(":", "-", 1)


def listed(index: bytes | None) -> tuple[dict, ...]:
    """The descriptors a referrers index (the API's answer, or the tag schema's) lists."""
    if index is None:
        return ()
    document = _index(index)
    return tuple(m for m in document.get("manifests") or [] if isinstance(m, dict) and "digest" in m)


def with_referrers(index: bytes | None, added: Sequence[Mapping]) -> bytes | None:
    """The tag schema's index with `added` listed after what it lists already (others' referrers
    kept as they are); None when every one is listed already: nothing to write."""
    document = _index(index) if index is not None else {"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": []}
    known = {m.get("digest") for m in document.get("manifests") or []}
    new = [dict(d) for d in added if d["digest"] not in known]
    if not new:
        return None
    return canonical_json({**document, "manifests": [*(document.get("manifests") or []), *new]})


def _index(index: bytes) -> dict:
    """The index a referrers tag holds; anything else there is not ours to overwrite."""
    try:
        document = json.loads(index)
    except ValueError:
        document = None
    if not isinstance(document, dict) or document.get("mediaType", oci.INDEX) != oci.INDEX \
            or not isinstance(document.get("manifests", []), list):
        raise ValueError("not an OCI image index")
    return document
