"""image.tarstream reads what Python's tarfile reads: names, kinds, link targets and data, in every header
format a layer may use, plain and gzip; and refuses what it refuses."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest

from publisher.image.tarstream import BLOCK, TarError, TarReader


def _tar(fmt: int, entries: list[tuple]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=fmt) as tar:
        for name, kind, data, link in entries:
            info = tarfile.TarInfo(name)
            info.type, info.size, info.linkname = kind, len(data or b""), link or ""
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return out.getvalue()


ENTRIES = [
    ("etc/", tarfile.DIRTYPE, None, None),
    ("etc/os-release", tarfile.REGTYPE, b"ID=debian\n", None),
    ("usr/lib/os-release", tarfile.SYMTYPE, None, "../../etc/os-release"),
    ("var/lib/dpkg/status", tarfile.REGTYPE, b"Package: a\n" * 300, None),
    ("var/lib/dpkg/status-old", tarfile.LNKTYPE, None, "var/lib/dpkg/status"),
    ("deep/" + "d" * 90 + "/" + "n" * 120 + "/file", tarfile.REGTYPE, b"long name", None),
    ("usr/share/" + "x" * 200, tarfile.SYMTYPE, None, "t" * 150),
    ("big.bin", tarfile.REGTYPE, os.urandom(BLOCK + 1234), None),
    ("empty", tarfile.REGTYPE, b"", None),
    ("var/lib/dpkg/.wh.status", tarfile.REGTYPE, b"", None),
]


def _read(data: bytes) -> list[tuple]:
    found = []
    for entry in (reader := TarReader(io.BytesIO(data))):
        body = reader.data() if entry.isfile() and entry.name.endswith(("status", "file", "os-release")) else None
        found.append((entry.name.rstrip("/"), entry.kind, entry.linkname, body))
    return found


def _expected(data: bytes) -> list[tuple]:
    found = []
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tar:
        for m in tar:
            wanted = m.isfile() and m.name.endswith(("status", "file", "os-release"))
            found.append((m.name.rstrip("/"), m.type.decode(), m.linkname, tar.extractfile(m).read() if wanted else None))
    return found


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
@pytest.mark.parametrize("packed", ["plain", "gzip", "two gzip members"])
def test_every_header_format_reads_as_tarfile_reads_it(fmt, packed):
    entries = [e for e in ENTRIES if fmt != tarfile.USTAR_FORMAT or (len(e[0]) < 155 and len(e[3] or "") < 100)]
    data = _tar(fmt, entries)
    if packed == "gzip":
        data = gzip.compress(data)
    elif packed == "two gzip members":
        data = gzip.compress(data[:10240]) + gzip.compress(data[10240:])
    assert _read(data) == _expected(data)
    assert len(_read(data)) == len(entries)


def test_a_global_pax_header_and_a_pax_size_apply():
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "g"}) as tar:
        info = tarfile.TarInfo("a")
        info.size, info.pax_headers = 3, {"path": "var/lib/dpkg/status"}
        tar.addfile(info, io.BytesIO(b"abc"))
    assert _read(out.getvalue()) == [("var/lib/dpkg/status", "0", "", b"abc")]


def _header(name: str, kind: bytes, size: int) -> bytes:
    info = tarfile.TarInfo(name)
    info.type, info.size = kind, size
    return info.tobuf(tarfile.USTAR_FORMAT)


def test_a_link_or_directory_has_no_data_whatever_its_size_says_and_an_old_file_with_a_slash_is_a_folder():
    data = _header("dir", tarfile.DIRTYPE, 4096) + _header("old/", tarfile.AREGTYPE, 0)
    data += _header("var/lib/dpkg/status", tarfile.REGTYPE, 2) + b"ok" + bytes(510) + bytes(1024)
    assert _read(data) == _expected(data) == [("dir", "5", "", None), ("old", "5", "", None),
                                              ("var/lib/dpkg/status", "0", "", b"ok")]


def test_reading_stops_at_the_end_of_archive_marker():
    data = _tar(tarfile.PAX_FORMAT, ENTRIES[:2]) + b"anything at all after the zero blocks"
    assert [e[0] for e in _read(data)] == ["etc", "etc/os-release"]


@pytest.mark.parametrize("broken", ["truncated data", "truncated gzip", "bad checksum", "not a tar", "empty"])
def test_what_tarfile_refuses_is_refused(broken):
    data = _tar(tarfile.PAX_FORMAT, ENTRIES)
    data = {"truncated data": data[:5000], "truncated gzip": gzip.compress(data)[:3000],
            "bad checksum": data[:148] + b"9999999\0" + data[156:], "not a tar": b"hello " * 200, "empty": b""}[broken]
    with pytest.raises(TarError):
        _read(data)
    with pytest.raises((tarfile.TarError, EOFError, OSError)):
        _expected(data)
