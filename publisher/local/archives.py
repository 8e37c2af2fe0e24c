"""The archives `docker load` reads, made as they are sent: no copy of the layers on disk.

The classic store loads a docker-archive (manifest.json) and finds a layer it has by its chain, so
the layers it holds already need not be in the archive. The containerd store loads an OCI layout and
finds blobs in its content store by digest, so the blobs it holds need not be there either.
"""

from __future__ import annotations

import json
import tarfile
from pathlib import Path

from publisher.image import oci
from publisher.image.oci import Image
from publisher.local.names import OwnName

Member = tuple[str, bytes | Path]


def docker_archive(name: OwnName, image: Image, held: int, plain: dict[str, Path]) -> list[Member]:
    """`held`: how many of the first layers the engine has already; they are left out. `plain`: layer
    digest → the layer's uncompressed tar, sent instead."""
    names = [f"{i}/layer.tar" for i in range(len(image.layers))]
    manifest = json.dumps([{"Config": "config.json", "RepoTags": [str(name)], "Layers": names}]).encode()
    layers = [(n, plain.get(b.digest, b.path)) for n, b in zip(names, image.layers)]
    return [("config.json", image.config), ("manifest.json", manifest), *layers[held:]]


def oci_layout(name: OwnName, image: Image, present: set[str]) -> list[Member]:
    """`present`: digests of layers the engine's content store has already; they are left out."""
    entry = {"mediaType": oci.MANIFEST, "digest": image.digest, "size": len(image.manifest),
             "annotations": {"io.containerd.image.name": name.in_full, "org.opencontainers.image.ref.name": name.tag}}
    index = json.dumps({"schemaVersion": 2, "mediaType": oci.INDEX, "manifests": [entry]}).encode()
    blobs = [(_blob_name(oci.digest(image.config)), image.config), (_blob_name(image.digest), image.manifest)]
    blobs += [(_blob_name(b.digest), b.path) for b in dict.fromkeys(image.layers) if b.digest not in present]
    return [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'), ("index.json", index), *blobs]


def _blob_name(digest: str) -> str:
    return "blobs/" + digest.replace(":", "/", 1)


def stream(members: list[Member]):
    """A tar stream of bytes and files."""
    for name, content in members:
        size = len(content) if isinstance(content, bytes) else content.stat().st_size
        info = tarfile.TarInfo(name)
        info.size = size
        yield info.tobuf(format=tarfile.GNU_FORMAT)
        if isinstance(content, bytes):
            yield content
        else:
            with content.open("rb") as file:
                while chunk := file.read(1 << 20):
                    yield chunk
        yield b"\0" * (-size % tarfile.BLOCKSIZE)
    yield b"\0" * (2 * tarfile.BLOCKSIZE)
