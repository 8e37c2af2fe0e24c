"""An OCI image layout on disk whose layers are made from folders: tarred reproducibly, gzipped once.

A layer's blob is written once and found again by its name in `layers.json` (its recipe's key), so a
second build of the bases compresses nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import threading
from dataclasses import asdict, dataclass
from pathlib import Path

TAR = ["tar", "--sort=name", "--mtime=@0", "--owner=0", "--group=0", "--numeric-owner", "--format=posix",
       "--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime"]
GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Layer:
    digest: str  # of the gzip blob
    size: int
    diff_id: str  # of the tar


class Layout:
    def __init__(self, path: Path):
        self.path = path
        self.blobs = path / "blobs" / "sha256"
        self.blobs.mkdir(parents=True, exist_ok=True)
        (path / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
        self._known = path / "layers.json"
        self._lock = threading.Lock()

    def known(self) -> dict[str, Layer]:
        if not self._known.exists():
            return {}
        found = {key: Layer(**value) for key, value in json.loads(self._known.read_text()).items()}
        return {key: layer for key, layer in found.items() if self.has(layer.digest)}

    def remember(self, key: str, layer: Layer) -> None:
        with self._lock:
            known = {k: asdict(v) for k, v in self.known().items()} | {key: asdict(layer)}
            self._known.write_text(json.dumps(known, indent=1, sort_keys=True))

    def has(self, digest: str) -> bool:
        return (self.blobs / digest.removeprefix("sha256:")).exists()

    def layer(self, tree: Path) -> Layer:
        """tree's content as a reproducible tar (names without ./), gzipped into a blob."""
        names = sorted(os.listdir(tree))
        partial = self.path / f"partial-{os.getpid()}-{threading.get_ident()}.gz"
        tar = subprocess.Popen([*TAR, "-C", str(tree), "-cf", "-", "--", *names], stdout=subprocess.PIPE)
        with partial.open("wb") as out:
            gzip = subprocess.Popen(["gzip", "-6", "-n"], stdin=subprocess.PIPE, stdout=out)
            diff_id = _copy_hashed(tar.stdout, gzip.stdin)
            gzip.stdin.close()
            if tar.wait() or gzip.wait():
                raise RuntimeError(f"tar | gzip of {tree} failed")
        digest = "sha256:" + _file_sha256(partial)
        partial.rename(self.blobs / digest.removeprefix("sha256:"))
        return Layer(digest, (self.blobs / digest.removeprefix("sha256:")).stat().st_size, diff_id)

    def blob(self, data: bytes, media_type: str) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        (self.blobs / digest).write_bytes(data)
        return {"mediaType": media_type, "digest": f"sha256:{digest}", "size": len(data)}

    def write_index(self, refs: dict[str, dict]) -> None:
        """index.json naming each top index by its reference (what `skopeo copy oci:DIR:REF` reads); the
        references already there and not in `refs` (another set's) are kept."""
        index = self.path / "index.json"
        kept = json.loads(index.read_text())["manifests"] if index.exists() else []
        manifests = [m for m in kept if m.get("annotations", {}).get("org.opencontainers.image.ref.name") not in refs]
        manifests += [{**entry, "annotations": {"org.opencontainers.image.ref.name": ref}} for ref, entry in refs.items()]
        (self.path / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": manifests}, indent=1))


def _copy_hashed(source, sink) -> str:
    digest = hashlib.sha256()
    while chunk := source.read(CHUNK):
        digest.update(chunk)
        sink.write(chunk)
    return "sha256:" + digest.hexdigest()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
