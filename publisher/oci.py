"""OCI content as values: digests, compressed layers, image manifests and indexes. No I/O but files."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST = "application/vnd.oci.image.manifest.v1+json"
CONFIG = "application/vnd.oci.image.config.v1+json"
LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"  # the same bytes as LAYER


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def file_digest(path: Path) -> str:
    sha = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            sha.update(chunk)
    return "sha256:" + sha.hexdigest()


def canonical(document: dict) -> bytes:
    """The bytes we push for a manifest: fixed key order and spacing, so reruns give one digest."""
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


@dataclass(frozen=True)
class Blob:
    digest: str
    size: int
    path: Path  # where its bytes are, for upload
    media_type: str = LAYER


def compress_layer(layer_tar: Path, cache: Path, diff_id: str | None = None) -> Blob:
    """gzip a layer tar once, byte-reproducibly (no name, mtime 0), keyed by its uncompressed digest.

    `diff_id`: that digest, when the caller has it already.
    """
    diff_id = diff_id or file_digest(layer_tar)
    target = cache / f"{diff_id.split(':')[1]}.tar.gz"
    if not target.exists():
        # A unique partial name and an atomic replace: publishes sharing a cache may race here.
        with layer_tar.open("rb") as src, tempfile.NamedTemporaryFile(dir=cache, suffix=".partial", delete=False) as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as out:
                shutil.copyfileobj(src, out, 1 << 20)
        os.replace(raw.name, target)
    return Blob(file_digest(target), target.stat().st_size, target)


@dataclass(frozen=True)
class Image:
    """One platform's image, ready to push: config and compressed layers, and its manifest."""

    platform: str
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


def index(images: list[Image], annotations: dict[str, str]) -> bytes:
    """One index per variant: every platform's manifest, and the variant's labels as annotations."""
    manifests = []
    for image in images:
        os_name, arch, *variant = image.platform.split("/")
        platform = {"architecture": arch, "os": os_name}
        if variant:
            platform["variant"] = variant[0]
        manifests.append({"mediaType": MANIFEST, "digest": image.digest, "size": len(image.manifest), "platform": platform})
    return canonical({"schemaVersion": 2, "mediaType": INDEX, "manifests": manifests, "annotations": annotations})
