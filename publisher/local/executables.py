"""What a payload file is: an executable and how it is linked (read from its ELF header), and what its
`--version` prints, turned into the matrix's check. For `publisher init`, which writes a project's payload."""

from __future__ import annotations

import re
import struct
import subprocess
from dataclasses import dataclass
from pathlib import Path

ELF = b"\x7fELF"
PT_INTERP = 3
SPECIAL = re.compile(r"([.^$*+?{}\[\]\\|()])")


@dataclass(frozen=True)
class Linkage:
    """An ELF executable: static, or loaded by `interpreter` (the C library's dynamic loader)."""

    interpreter: str | None

    @property
    def static(self) -> bool:
        return self.interpreter is None

    @property
    def libc(self) -> str:
        """Which C library it needs: none (static), musl or glibc."""
        return "none" if self.static else "musl" if "musl" in self.interpreter else "glibc"


def linkage(path: Path) -> Linkage | None:
    """How the file at `path` is linked; None when it is no ELF executable (a script, a library)."""
    with path.open("rb") as file:
        head = file.read(64)
        if len(head) < 64 or not head.startswith(ELF) or head[4] not in (1, 2) or head[5] not in (1, 2):
            return None
        wide, order = head[4] == 2, "<" if head[5] == 1 else ">"
        kind = struct.unpack_from(order + "H", head, 16)[0]
        if kind not in (2, 3):  # ET_EXEC or ET_DYN (a position-independent executable)
            return None
        (offset,) = struct.unpack_from(order + ("Q" if wide else "I"), head, 32 if wide else 28)
        size, count = struct.unpack_from(order + "HH", head, 54 if wide else 42)
        return Linkage(_interpreter(file, order, wide, offset, size, count))


def _interpreter(file, order: str, wide: bool, offset: int, size: int, count: int) -> str | None:
    """The PT_INTERP program header's path, if the executable has one."""
    for i in range(count):
        file.seek(offset + i * size)
        header = file.read(size)
        if len(header) < size or struct.unpack_from(order + "I", header, 0)[0] != PT_INTERP:
            continue
        where, length = struct.unpack_from(order + ("QxxxxxxxxxxxxxxxxQ" if wide else "IxxxxxxxxI"), header, 8 if wide else 4)
        file.seek(where)
        return file.read(length).rstrip(b"\0").decode(errors="replace")
    return None


def version_check(path: Path, version: str, timeout: float = 30) -> str | None:
    """The matrix's check of `path --version`: the first line naming `version`, up to it, with `{version}`
    in its place; None when the file prints no such line (then the matrix does not run it)."""
    try:
        done = subprocess.run([str(path), "--version"], capture_output=True, text=True, timeout=timeout)
    except (OSError, subprocess.TimeoutExpired):
        return None
    line = next((line for line in done.stdout.splitlines() if version in line), None) if done.returncode == 0 else None
    if line is None:
        return None
    before = SPECIAL.sub(r"\\\1", line[:line.index(version)])
    return "^" + before + "{version}( |$)"
