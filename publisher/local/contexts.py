"""Build contexts on disk: the payload's files staged for BuildKit, each context removed after the builds."""

from __future__ import annotations

import os
import shutil
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from publisher.image.platform import Platform

# Fixed mtime for the binaries in the build context: the same release builds the same layer.
MTIME = 0


@dataclass(frozen=True)
class Contexts:
    payload: dict[Platform, Path]  # platform → a context holding that platform's payload files
    empty: Path  # for the derived images, which copy from the primary image


@contextmanager
def build_contexts(binaries: dict[Platform, Path], files: tuple[str, ...], platforms: list[Platform]) -> Iterator[Contexts]:
    """`binaries`: platform → the folder holding its payload files."""
    with tempfile.TemporaryDirectory(prefix="publisher-") as tmp:
        payload = {p: _copied(binaries[p], files, Path(tmp) / p.text("-")) for p in platforms}
        empty = Path(tmp) / "empty"
        empty.mkdir()
        yield Contexts(payload, empty)


def _copied(folder: Path, files: tuple[str, ...], context: Path) -> Path:
    context.mkdir(parents=True)
    for name in files:
        target = context / name
        shutil.copyfile(folder / name, target)
        target.chmod(0o755)
        os.utime(target, (MTIME, MTIME))
    return context
