"""Images that are the same bytes however, wherever and whenever they are built.

BuildKit stamps the build's clock on directories it creates and on the config, so a cold build on
another machine gave other digests (and a CI retry met its own exact tags as conflicts). Two layers
publisher knows fully are swapped for canonical ones (fixed owner, modes and times; same file tree):
a derived image's COPY of uv and uvx, which then is one blob for every derived image of a platform,
and the primary's WORKDIR /io. Config times are set to the release's creation time. Anything else
is left as built.
"""

from __future__ import annotations

import hashlib
import io
import os
import json
import tarfile
from pathlib import Path

from publisher import oci

DIRS = ("usr", "usr/local", "usr/local/bin")
TARGET = "usr/local/bin"
BINARIES = ("uv", "uvx")


def canonical_tar(binaries: Path, into: Path, target: str = TARGET) -> Path:
    """The canonical layer's uncompressed tar (uv and uvx in folder `target`), written once per set of binaries."""
    key = hashlib.sha256(b"".join(_sha(binaries / name).encode() for name in BINARIES) + target.encode()).hexdigest()
    path = into / f"uv-layer-{key}.tar"
    if not path.exists():
        parts = target.split("/")
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # publishes may share the cache
        with tarfile.open(partial, mode="w", format=tarfile.PAX_FORMAT) as tar:
            for depth in range(1, len(parts) + 1):
                tar.addfile(_info("/".join(parts[:depth]) + "/", tarfile.DIRTYPE, 0o755))
            for name in BINARIES:
                with (binaries / name).open("rb") as data:
                    size = (binaries / name).stat().st_size
                    tar.addfile(_info(f"{target}/{name}", tarfile.REGTYPE, 0o755, size), data)
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


def workdir_tar(name: str, into: Path) -> Path:
    """The canonical layer of `WORKDIR /<name>` where it creates that one empty folder."""
    path = into / f"workdir-{name}.tar"
    if not path.exists():
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
            tar.addfile(_info(name + "/", tarfile.DIRTYPE, 0o755))
        partial = path.with_name(f"{path.name}.{os.getpid()}.partial")  # publishes may share the cache
        partial.write_bytes(buffer.getvalue())
        partial.replace(path)
    return path


def only_folder(layer_tar: Path, name: str) -> bool:
    """True when a layer holds just one empty folder `name`, mode 755."""
    with tarfile.open(layer_tar) as tar:
        members = [m for m in tar]
    return (len(members) == 1 and members[0].isdir() and members[0].name.removeprefix("./").rstrip("/") == name
            and members[0].mode & 0o777 == 0o755)


def rewrite_config(config: bytes, layers: list[Path], created: str | None) -> bytes:
    """The image config with the diff IDs of `layers` and, when known, the release's time."""
    document = json.loads(config)
    document["rootfs"]["diff_ids"] = [oci.file_digest(layer) for layer in layers]
    if created:
        document["created"] = created
        for entry in document.get("history") or []:
            entry["created"] = created
    return json.dumps(document, separators=(",", ":")).encode()


def canonicalize(config: bytes, layers: list[Path], uv: Path | None, workdir: str | None, into: Path,
                 created: str | None) -> tuple[bytes, list[Path]]:
    """Swap the layers publisher knows for canonical ones; set the config's times."""
    layers = list(layers)
    if layers and uv is not None and only_uv(layers[-1], uv):
        layers[-1] = canonical_tar(uv, into)
    elif layers and workdir and only_folder(layers[-1], workdir):
        layers[-1] = workdir_tar(workdir, into)
    return rewrite_config(config, layers, created), layers


def _sha(path: Path) -> str:
    return oci.file_digest(path).split(":")[1]
