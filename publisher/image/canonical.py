"""Layers that are the same bytes however, wherever and whenever they are built: streams in, streams out.

BuildKit stamps the build's clock on directories it creates and on the config, so a cold build on
another machine gave other digests (and a CI retry met its own exact tags as conflicts). Two layers
publisher knows fully are swapped for canonical ones (fixed owner, modes and times; same file tree):
a derived image's COPY of the payload, which then is one blob for every derived image of a
platform, and the primary's WORKDIR. Config times are set to the release's creation time. Anything
else is left as built. Writing these layers into the cache is local.layers' job.
"""

from __future__ import annotations

import io
import json
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from publisher.image.oci import sha256_hex, stream_digest


@dataclass(frozen=True)
class File:
    """One file for a canonical layer: its name, its bytes as a stream, and its size."""

    name: str
    stream: BinaryIO
    size: int


def write_payload_tar(out: BinaryIO, target: str, files: list[File]) -> None:
    """The canonical layer's tar: each file under folder `target` ('' for the root), mode 755, owner 0, time 0."""
    parts = target.split("/") if target else []
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for depth in range(1, len(parts) + 1):
            tar.addfile(_info("/".join(parts[:depth]) + "/", tarfile.DIRTYPE, 0o755))
        for file in files:
            tar.addfile(_info(f"{target}/{file.name}".lstrip("/"), tarfile.REGTYPE, 0o755, file.size), file.stream)


def only_payload(layer: BinaryIO, target: str, want: dict[str, str]) -> bool:
    """True when a layer tar adds exactly the files `want` (name → sha256 hex) under `target`, mode 755."""
    folders = {"/".join(target.split("/")[:depth]) for depth in range(1, target.count("/") + 2)}
    want = {f"{target}/{name}": sha for name, sha in want.items()}
    found = {}
    with tarfile.open(fileobj=layer, mode="r|*") as tar:
        for member in tar:
            name = member.name.removeprefix("./").rstrip("/")
            if member.isdir() and name in folders:
                continue
            if not member.isfile() or name not in want or member.mode & 0o777 != 0o755:
                return False
            found[name] = sha256_hex(stream_digest(tar.extractfile(member)))  # read in blocks: a file may be large
    return found == want


def workdir_tar(name: str) -> bytes:
    """The canonical layer of `WORKDIR /<name>` where it creates that one empty folder."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(_info(name + "/", tarfile.DIRTYPE, 0o755))
    return buffer.getvalue()


def only_folder(layer: BinaryIO, name: str) -> bool:
    """True when a layer tar holds just one empty folder `name`, mode 755."""
    with tarfile.open(fileobj=layer, mode="r|*") as tar:
        members = [m for m in tar]
    return (len(members) == 1 and members[0].isdir() and members[0].name.removeprefix("./").rstrip("/") == name
            and members[0].mode & 0o777 == 0o755)


def rewrite_config(config: bytes, diff_ids: list[str], created: str | None) -> bytes:
    """The image config with these diff IDs and, when known, the release's time."""
    document = json.loads(config)
    document["rootfs"]["diff_ids"] = list(diff_ids)
    if created:
        document["created"] = created
        for entry in document.get("history") or []:
            entry["created"] = created
    return json.dumps(document, separators=(",", ":")).encode()


def _info(name: str, kind: bytes, mode: int, size: int = 0) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.size, info.mtime = kind, mode, size, 0
    return info
