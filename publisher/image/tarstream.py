"""A layer's tar entries, read once from a stream (plain or gzip) at the speed of the decompressor.

Pure: bytes in, entries out. `tarfile`'s stream mode skips a member's data 10 KB at a time through
Python and keeps every member it saw (memory grows with the member count); here the data of an entry
nobody asks for is skipped inside the inflated blocks, and nothing is kept. Small inputs (`READ`)
keep the blocks small: asking zlib-ng (or isal) for at most N bytes of output at every call leaves
memory growing with the layer's size (their output buffers fragment the heap), so the bound
(`BLOCK`) is only there for what inflates a thousandfold.
gzip is inflated by zlib-ng where it is installed (about twice the standard zlib), which like zlib
lets other threads run meanwhile, so layers scanned on two threads use two cores.

Headers are read as Go's archive/tar (what the engines use) and `tarfile` read them: ustar (with its
prefix), GNU long names and links, pax extended headers (path, linkpath, size; global ones too). A
link, symlink, directory, device or FIFO has no data whatever its size field says. The archive ends
at its first zero block: what follows is padding, never read (nor the gzip trailer's CRC: a layer's
digest, checked when it was downloaded, covers every byte already).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Iterator

try:  # zlib-ng: the same API as zlib, about twice as fast to inflate
    from zlib_ng import zlib_ng as zlib
except ImportError:  # pragma: no cover - a platform with no zlib-ng wheel
    import zlib

READ = 64 << 10  # compressed bytes inflated at once: a few hundred KB out, for a layer's usual ratios
BLOCK = 8 << 20  # inflated bytes held at once, at most (zeros inflate 1000 times), plus one entry asked for whole
RECORD = 512
HEADER_ONLY = ("1", "2", "3", "4", "5", "6")  # link, symlink, char, block, directory, FIFO: no data
EXTENDED = ("x", "X", "g", "L", "K")  # pax (per entry, old Solaris, global), GNU long name and long link
ERRORS = (zlib.error, EOFError, ValueError)


class TarError(ValueError):
    """Not a readable tar (plain or gzip): truncated, a bad header, a bad gzip stream."""


@dataclass(slots=True)
class Entry:
    name: str  # as the tar says it (not normalised)
    kind: str  # the type flag: "0" file, "1" hard link, "2" symlink, "5" directory ...
    size: int  # bytes of data that follow
    linkname: str

    def isfile(self) -> bool:
        return self.kind in ("0", "7", "\0")

    def issym(self) -> bool:
        return self.kind == "2"

    def islnk(self) -> bool:
        return self.kind == "1"


def blocks(stream: IO[bytes]) -> Iterator[bytes]:
    """The stream's bytes, inflated if it is gzip (any number of members), in blocks of at most BLOCK."""
    pending = stream.read(2)
    if pending != b"\x1f\x8b":
        while pending:
            yield pending
            pending = stream.read(READ)
        return
    inflate = zlib.decompressobj(31)
    while True:
        out = inflate.decompress(pending, BLOCK)
        pending = inflate.unconsumed_tail
        if out:
            yield out
        if inflate.eof:
            pending = inflate.unused_data + pending
            if not pending.startswith(b"\x1f\x8b"):
                pending += stream.read(2 - len(pending)) if len(pending) < 2 else b""
                if not pending.startswith(b"\x1f\x8b"):
                    return  # what follows the last member is not read
            inflate = zlib.decompressobj(31)
        elif not out and not pending:
            pending = stream.read(READ)
            if not pending:
                raise TarError("the gzip stream ends before its end")


class TarReader:
    """Entries one after another; `data()` reads the current one's bytes, else they are skipped."""

    def __init__(self, stream: IO[bytes]):
        self._blocks = blocks(stream)
        self._buffer, self._at = b"", 0
        self._left = 0  # bytes of the current entry's data (and its padding) not read yet

    def _take(self, n: int) -> bytes:
        """The next n bytes; fewer only at the end of the stream."""
        if self._at + n <= len(self._buffer):
            self._at += n
            return self._buffer[self._at - n:self._at]
        parts, wanted = [self._buffer[self._at:]], n - (len(self._buffer) - self._at)
        while wanted > 0:
            block = next(self._blocks, b"")
            if not block:
                self._buffer, self._at = b"", 0
                return b"".join(parts)
            parts.append(block[:wanted])
            self._buffer, self._at = block, min(wanted, len(block))
            wanted -= len(block)
        return b"".join(parts)

    def _skip(self, n: int) -> None:
        while n > 0:
            held = len(self._buffer) - self._at
            if n <= held:
                self._at += n
                return
            n -= held
            self._buffer, self._at = next(self._blocks, b""), 0
            if not self._buffer:
                raise TarError("unexpected end of data")

    def _exact(self, n: int) -> bytes:
        found = self._take(n)
        if len(found) != n:
            raise TarError("unexpected end of data")
        return found

    def data(self) -> bytes:
        """The current entry's data, whole; call before moving to the next entry."""
        size, padded = (self._current.size, self._left) if self._left else (0, 0)
        found = self._exact(size)
        self._skip(padded - size)
        self._left = 0
        return found

    def __iter__(self) -> Iterator[Entry]:
        try:
            yield from self._entries()
        except ERRORS as error:
            raise TarError(str(error) or type(error).__name__) from None

    def _entries(self) -> Iterator[Entry]:
        overrides: dict[str, str] = {}  # from a pax header or GNU long name/link, for the next entry only
        shared: dict[str, str] = {}  # from global pax headers, for every entry after them
        started = False
        while True:
            self._skip(self._left)
            self._left = 0
            header = self._take(RECORD)
            if not header and started:  # ends at an entry's end without its zero blocks: as Go and tarfile read it
                return
            if len(header) < RECORD:
                raise TarError("unexpected end of data" if header else "empty file")
            if header.count(0) == RECORD:
                return
            started = True
            entry = self._current = _parsed_header(header, {**shared, **overrides})
            self._left = 0 if entry.kind in HEADER_ONLY else _padded(entry.size)
            if entry.kind in EXTENDED:
                found = self.data()
                if entry.kind == "g":
                    shared.update(_pax(found))
                elif entry.kind in "xX":
                    overrides.update(_pax(found))
                else:
                    overrides["path" if entry.kind == "L" else "linkpath"] = _decoded(found.split(b"\0", 1)[0])
                continue
            overrides = {}
            if entry.kind == "S" and header[482]:
                self._sparse_extensions()
            yield entry

    def _sparse_extensions(self) -> None:
        """An old GNU sparse file's extension headers, each 512 bytes, before its data."""
        while self._exact(RECORD)[504]:
            pass


def _padded(size: int) -> int:
    return size + (-size % RECORD)


def _parsed_header(header: bytes, pax: dict[str, str]) -> Entry:
    stored = _octal(header[148:156])
    if stored != sum(header) - sum(header[148:156]) + 256 and stored != _signed_sum(header):
        raise TarError("bad checksum in a tar header")
    name, linkname = _decoded(header[0:100].split(b"\0", 1)[0]), _decoded(header[157:257].split(b"\0", 1)[0])
    if header[257:265] == b"ustar\x0000" and header[345] != 0:
        name = _decoded(header[345:500].split(b"\0", 1)[0]) + "/" + name
    kind = chr(header[156]) if header[156] else "\0"
    size = int(pax["size"]) if "size" in pax else _number(header[124:136])
    name, linkname = pax.get("path", name), pax.get("linkpath", linkname)
    if kind == "\0" and name.endswith("/"):
        kind = "5"
    return Entry(name, kind, size, linkname)


def _signed_sum(header: bytes) -> int:
    signed = sum(b - 256 if b > 127 else b for b in header)
    return signed - sum(b - 256 if b > 127 else b for b in header[148:156]) + 256


def _decoded(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogateescape")


def _octal(raw: bytes) -> int:
    text = raw.split(b"\0", 1)[0].strip(b" ")
    return int(text, 8) if text else 0


def _number(raw: bytes) -> int:
    """A size: octal, or base-256 (GNU, for sizes of 8 GiB and more) when its first byte has the high bit."""
    if raw[0] & 0x80:
        if raw[0] == 0xFF:
            raise TarError("negative size in a tar header")
        return int.from_bytes(bytes([raw[0] & 0x7F]) + raw[1:], "big")
    return _octal(raw)


def _pax(data: bytes) -> dict[str, str]:
    """`LENGTH KEY=VALUE\\n` records."""
    found, at = {}, 0
    while at < len(data) and data[at] != 0:
        length = int(data[at:data.index(b" ", at)])
        if length <= 0:
            raise TarError("bad pax record")
        key, _, value = data[data.index(b" ", at) + 1:at + length - 1].partition(b"=")
        found[_decoded(key)] = _decoded(value)
        at += length
    return found
