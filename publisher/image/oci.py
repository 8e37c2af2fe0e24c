"""OCI content as values: media types, digests, image manifests and indexes. No I/O."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

from publisher.image.platform import Platform

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"  # the same bytes as LAYER
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEXES = (INDEX, DOCKER_LIST)
# A registry must be told every manifest type we read: 2.8 answers 404 for an OCI manifest otherwise.
ACCEPT = ", ".join((INDEX, MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
OCI = "org.opencontainers.image."  # the image spec's pre-defined annotation keys (and label names) begin so
VERSION, CREATED, REVISION = OCI + "version", OCI + "created", OCI + "revision"


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def stream_digest(stream, block: int = 1 << 20) -> str:
    """The digest of a readable binary stream, read to its end in blocks."""
    sha = hashlib.sha256()
    while chunk := stream.read(block):
        sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def canonical(document: dict) -> bytes:
    """The bytes we push for a manifest: fixed key order and spacing, so reruns give one digest."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def layers_of(manifest: bytes | None) -> list[dict]:
    """The layer descriptors of an image manifest's bytes; none for no manifest (None, b"") or one without layers."""
    return _layers_in(json.loads(manifest)) if manifest else []


def blobs_of(manifest: bytes) -> list[dict]:
    """The descriptors of every blob an image manifest's bytes name: its config, then its layers."""
    document = json.loads(manifest)
    return [document["config"], *_layers_in(document)]


def _layers_in(document: dict) -> list[dict]:
    return document.get("layers") or []


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    path: Path  # where its bytes are, for upload
    media_type: str = LAYER


@dataclass(frozen=True)
class Image:
    """One platform's image, ready to push: config and compressed layers, and its manifest."""

    platform: Platform
    config: bytes
    layers: tuple[Blob, ...]

    @property
    def manifest(self) -> bytes:
        return canonical({
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": CONFIG, "digest": digest(self.config), "size": len(self.config)},
            "layers": [{"mediaType": b.media_type, "digest": b.digest, "size": b.size} for b in self.layers],
        })

    @property
    def digest(self) -> str:
        return digest(self.manifest)

    def platform_entry(self) -> dict[str, object]:
        """The index entry's platform, exactly as the image config says it (`variant` included: v8 on arm64)."""
        try:
            config = json.loads(self.config)
        except ValueError:
            config = {}
        found = {"os": config.get("os") or self.platform.os, "architecture": config.get("architecture") or self.platform.architecture}
        if config.get("variant") or self.platform.variant:
            found["variant"] = config.get("variant") or self.platform.variant
        for key in ("os.version", "os.features"):
            if config.get(key):
                found[key] = config[key]
        return found


    def descriptor(self) -> dict:
        """The image's entry in an index."""
        return {"mediaType": MANIFEST, "digest": self.digest, "size": len(self.manifest), "platform": self.platform_entry()}


@dataclass(frozen=True)
class Child:
    """A platform manifest already pushed, known only by its descriptor (what a stage record holds)."""

    digest: str
    size: int
    platform: dict

    def descriptor(self) -> dict:
        return {"mediaType": MANIFEST, "digest": self.digest, "size": self.size, "platform": self.platform}


def index(children: list[Image | Child], annotations: dict[str, str], attestations: list[dict] = ()) -> bytes:
    """One index per variant: every platform's manifest, and the variant's labels as annotations.

    `attestations`: descriptors listed after every platform manifest (BuildKit's order)."""
    manifests = [child.descriptor() for child in children] + list(attestations)
    return canonical({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests, "annotations": annotations})


def sha256_hex(digest: str) -> str:
    """The hex of a sha256 digest, checked: what SBOMs and provenance write as a checksum."""
    hex_ = digest.removeprefix("sha256:")
    if not re.fullmatch(r"[0-9a-f]{64}", hex_):
        raise ValueError(f"not a sha256 digest: {digest!r}")
    return hex_
