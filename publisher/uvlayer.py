"""One uv layer for every derived image of a platform: byte-identical, so stored and sent once.

BuildKit's COPY layer carries /usr/local/bin's metadata from the base and the build's clock, so it
differs per base and per build. When that layer holds exactly uv and uvx, identical to the staged
binaries, it is swapped for a canonical one (fixed owner, modes and times): same file tree, one
blob. Anything else is left as built.
"""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from publisher import oci

DIRS = ("usr", "usr/local", "usr/local/bin")
TARGET = "usr/local/bin"
BINARIES = ("uv", "uvx")


def canonical_tar(binaries: Path, into: Path) -> Path:
    """The canonical layer's uncompressed tar, written once per set of binaries."""
    key = hashlib.sha256(b"".join(_sha(binaries / name).encode() for name in BINARIES)).hexdigest()
    path = into / f"uv-layer-{key}.tar"
    if not path.exists():
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for name in DIRS:
                tar.addfile(_info(name + "/", tarfile.DIRTYPE, 0o755))
            for name in BINARIES:
                data = (binaries / name).read_bytes()
                tar.addfile(_info(f"{TARGET}/{name}", tarfile.REGTYPE, 0o755, len(data)), io.BytesIO(data))
        partial = path.with_suffix(f".{id(buffer)}.partial")
        partial.write_bytes(buffer.getvalue())
        partial.replace(path)
    return path


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, 0
    return info


def only_uv(layer_tar: Path, binaries: Path) -> bool:
    """True when a layer adds exactly uv and uvx under /usr/local/bin, identical to the binaries."""
    want = {f"{TARGET}/{name}": _sha(binaries / name) for name in BINARIES}
    found = {}
    with tarfile.open(layer_tar) as tar:
        for member in tar:
            name = member.name.removeprefix("./").rstrip("/")
            if member.isdir() and name in DIRS:
                continue
            if not member.isfile() or name not in want or member.mode & 0o777 != 0o755:
                return False
            found[name] = hashlib.sha256(tar.extractfile(member).read()).hexdigest()
    return found == want


def swap_last_layer(config: bytes, layer_tar: Path) -> bytes:
    """The image config with its last layer's diff ID replaced by the given layer's."""
    document = json.loads(config)
    document["rootfs"]["diff_ids"][-1] = oci.file_digest(layer_tar)
    return json.dumps(document, separators=(",", ":")).encode()


def _sha(path: Path) -> str:
    return oci.file_digest(path).split(":")[1]
