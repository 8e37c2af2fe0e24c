"""Layers on disk: digests of files, gzip once per layer, and the canonical layers written into the cache.

Every write goes to a partial file named by the process and thread and is renamed into place:
publishes may share a cache and race here (and so may one publish's threads, exporting both
platforms at once), and a killed one leaves no half-written layer behind.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from publisher.image import canonical
from publisher.image.oci import Blob, stream_digest


@dataclass(frozen=True)
class PayloadFiles:
    """One platform's payload: the folder holding the files, their names, the folder they land in."""

    folder: Path
    names: tuple[str, ...]
    target: str  # without leading or trailing '/', e.g. usr/local/bin


def file_digest(path: Path) -> str:
    """The file's sha256 digest, read once per process while the file stays as it was: a payload
    binary (tens of MB) is hashed for its inputs, its SBOM entry and its provenance."""
    found = path.stat()
    key = (str(path), found.st_dev, found.st_ino, found.st_size, found.st_mtime_ns)  # a freed inode is reused
    if key not in _DIGESTS:
        with path.open("rb") as file:
            _DIGESTS[key] = stream_digest(file)
    return _DIGESTS[key]


_DIGESTS: dict[tuple[str, int, int, int, int], str] = {}  # (path, device, inode, size, mtime) → digest


def compress_layer(layer_tar: Path, cache: Path, diff_id: str | None = None) -> Blob:
    """gzip a layer tar once, byte-reproducibly (no name, mtime 0), keyed by its uncompressed digest.

    `diff_id`: that digest, when the caller has it already.
    """
    diff_id = diff_id or file_digest(layer_tar)
    target = cache / f"{diff_id.split(':')[1]}.tar.gz"
    if not target.exists():
        with layer_tar.open("rb") as src, tempfile.NamedTemporaryFile(dir=cache, suffix=".partial", delete=False) as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0, compresslevel=6) as out:
                shutil.copyfileobj(src, out, 1 << 20)
        os.replace(raw.name, target)
    return Blob(file_digest(target), target.stat().st_size, target)


def payload_tar(payload: PayloadFiles, into: Path) -> Path:
    """The canonical layer's uncompressed tar of the payload's files, written once per content."""
    binaries, names, target = payload.folder, payload.names, payload.target
    key = hashlib.sha256(b"".join(_sha(binaries / name).encode() for name in names) + target.encode()).hexdigest()
    path = into / f"payload-layer-{key}.tar"
    if not path.exists():
        partial = _partial(path)
        streams = [(binaries / name).open("rb") for name in names]
        try:
            files = [canonical.File(name, s, (binaries / name).stat().st_size) for name, s in zip(names, streams)]
            with partial.open("wb") as out:
                canonical.write_payload_tar(out, target, files)
        finally:
            for stream in streams:
                stream.close()
        partial.replace(path)
    return path


def _partial(path: Path) -> Path:
    return path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")


def workdir_layer(name: str, into: Path) -> Path:
    path = into / f"workdir-{name}.tar"
    if not path.exists():
        partial = _partial(path)
        partial.write_bytes(canonical.workdir_tar(name))
        partial.replace(path)
    return path


def canonicalize(config: bytes, layers: list[Path], payload: PayloadFiles | None,
                 workdir: str | None, into: Path, created: str | None) -> tuple[bytes, list[Path]]:
    """Swap the layers publisher knows for canonical ones; set the config's times."""
    layers = list(layers)
    if layers and payload is not None and _holds_payload(layers[-1], payload):
        layers[-1] = payload_tar(payload, into)
    elif layers and workdir and _holds_folder(layers[-1], workdir):
        layers[-1] = workdir_layer(workdir, into)
    return canonical.rewrite_config(config, [file_digest(layer) for layer in layers], created), layers


def _holds_payload(layer: Path, payload: PayloadFiles) -> bool:
    with layer.open("rb") as stream:
        return canonical.only_payload(stream, payload.target, {name: _sha(payload.folder / name) for name in payload.names})


def _holds_folder(layer: Path, name: str) -> bool:
    with layer.open("rb") as stream:
        return canonical.only_folder(stream, name)


def _sha(path: Path) -> str:
    return file_digest(path).split(":")[1]


@dataclass(frozen=True)
class SavedImage:
    """An image saved from the engine, made canonical: its config, and its layers compressed in the cache."""

    config: bytes
    layers: tuple[Blob, ...]


def saved_image(engine, image_id: str, payload: PayloadFiles | None, workdir: str | None, cache: Path,
                created: str | None) -> SavedImage:
    """`engine` (local.engine.Engine) saves the image; its layers are swapped for canonical ones (see `canonicalize`)."""
    blobs = cache / "blobs"
    blobs.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="publisher-save-") as tmp:
        config, tars = engine.save(image_id, Path(tmp))
        config, tars = canonicalize(config, tars, payload, workdir, blobs, created)
        return SavedImage(config, tuple(compress_layer(tar, blobs) for tar in tars))


@dataclass(frozen=True)
class CanonicalLayer:
    """A layer publisher writes itself: the payload's (one per platform and folder) or a WORKDIR's;
    its tar, its diff ID and its compressed blob."""

    tar: Path
    diff_id: str
    blob: Blob


def payload_layer(payload: PayloadFiles, cache: Path) -> CanonicalLayer:
    (cache / "blobs").mkdir(parents=True, exist_ok=True)
    return _canonical(payload_tar(payload, cache / "blobs"), cache)


def folder_layer(name: str, cache: Path) -> CanonicalLayer:
    """The layer of `WORKDIR /<name>`: that one empty folder."""
    (cache / "blobs").mkdir(parents=True, exist_ok=True)
    return _canonical(workdir_layer(name, cache / "blobs"), cache)


def _canonical(tar: Path, cache: Path) -> CanonicalLayer:
    diff_id = file_digest(tar)
    return CanonicalLayer(tar, diff_id, compress_layer(tar, cache / "blobs", diff_id))
