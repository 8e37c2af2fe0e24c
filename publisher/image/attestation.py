"""in-toto statements and the attestation manifest BuildKit attaches next to a platform image.

Layout (BuildKit's docs/attestations/attestation-storage.md): the image index lists, after the
platform manifests, one manifest per platform with `platform: unknown/unknown` and annotations
`vnd.docker.reference.type: attestation-manifest`, `vnd.docker.reference.digest: <platform
manifest>`. Its layers are in-toto statements (`application/vnd.in-toto+json`, annotation
`in-toto.io/predicate-type`) whose subject is that platform manifest; its config is a small image
config. `docker buildx imagetools inspect` finds the SBOM and provenance through exactly these
annotations; it reads only each statement's `predicate`.

Statement version: `https://in-toto.io/Statement/v0.1`, the one BuildKit writes. Every consumer
of this layout (buildx imagetools, Docker Scout, scanners reading Docker attestations) is built and
tested against BuildKit's output, and in-toto's v1 spec asks v1 parsers to keep accepting v0.1;
the v1 statement has no field we would need. Pure: bytes in, bytes out, all canonical JSON.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field

STATEMENT_TYPE = "https://in-toto.io/Statement/v0.1"
IN_TOTO = "application/vnd.in-toto+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
PREDICATE_ANNOTATION = "in-toto.io/predicate-type"
REFERENCE_TYPE = "vnd.docker.reference.type"
REFERENCE_DIGEST = "vnd.docker.reference.digest"


def canonical_json(value) -> bytes:
    """Sorted keys, no spaces, UTF-8: one value, one byte string, one digest."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def lists_attestations(index: Mapping) -> bool:
    """The index (as a JSON document) lists at least one attestation manifest."""
    return any((m.get("annotations") or {}).get(REFERENCE_TYPE) == "attestation-manifest"
               for m in index.get("manifests") or [])


@dataclass(frozen=True)
class DataBlob:
    """A blob to upload and the descriptor that points at it."""

    data: bytes
    media_type: str
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def digest(self) -> str:
        return digest_of(self.data)

    @property
    def size(self) -> int:
        return len(self.data)

    def descriptor(self) -> dict:
        out = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        return out


def statement(subject_name: str, subject_digest: str, predicate_type: str, predicate) -> bytes:
    """An in-toto v0.1 statement about one manifest. `predicate` is a dict, or JSON bytes (the
    SBOM as `sbom.build_sbom` returns it). `subject_name` is free text: BuildKit writes
    `pkg:docker/<repository>@<tag>?platform=…`; only the digest binds the statement."""
    algorithm, _, hex_ = subject_digest.partition(":")
    if algorithm != "sha256" or len(hex_) != 64:
        raise ValueError(f"subject digest must be sha256:<64 hex>, not {subject_digest!r}")
    if isinstance(predicate, (bytes, str)):
        predicate = json.loads(predicate)
    return canonical_json({"_type": STATEMENT_TYPE, "subject": [{"name": subject_name, "digest": {algorithm: hex_}}],
                      "predicateType": predicate_type, "predicate": predicate})


@dataclass(frozen=True)
class AttestationManifest:
    subject_digest: str  # the platform manifest the statements are about
    config: DataBlob
    layers: tuple[DataBlob, ...]
    manifest: bytes  # canonical JSON of the OCI image manifest

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)

    def index_entry(self) -> dict:
        """The descriptor to add to the image index, after every platform manifest."""
        return {
            "mediaType": OCI_MANIFEST, "digest": self.digest, "size": len(self.manifest),
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {REFERENCE_TYPE: "attestation-manifest", REFERENCE_DIGEST: self.subject_digest},
        }


def attestation_manifest(subject_digest: str, layers: list[tuple[bytes, str]]) -> AttestationManifest:
    """`layers`: (statement bytes, its predicate type), in the order they should appear. Each
    statement must be about `subject_digest` and of that type: consumers trust the annotation."""
    for data, kind in layers:
        _check(data, subject_digest, kind)
    blobs = tuple(DataBlob(data, IN_TOTO, {PREDICATE_ANNOTATION: kind}) for data, kind in layers)
    # BuildKit's config: unknown platform, the statements as uncompressed layers; no history.
    config = DataBlob(canonical_json({"architecture": "unknown", "os": "unknown", "config": {},
                             "rootfs": {"type": "layers", "diff_ids": [b.digest for b in blobs]}}),
                  OCI_CONFIG)
    manifest = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
                          "layers": [b.descriptor() for b in blobs]})
    return AttestationManifest(subject_digest, config, blobs, manifest)


def _check(statement: bytes, subject_digest: str, kind: str) -> None:
    found, digests = about(statement)
    if found != kind or subject_digest not in digests:
        raise ValueError(f"statement of type {found!r} about {digests} filed as {kind!r} about {subject_digest}")


def about(statement: bytes) -> tuple[str, list[str]]:
    """An in-toto statement's predicate type and the sha256 digests of its subjects."""
    document = json.loads(statement)
    digests = ["sha256:" + s["digest"]["sha256"] for s in document.get("subject") or []
               if isinstance(s, dict) and "sha256" in (s.get("digest") or {})]
    return document.get("predicateType") or "", digests
