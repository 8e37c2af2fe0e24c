"""OS packages installed in an image, read from its base layers' package databases.

Pure: tar streams in, values out. `scan_layer` reads one layer once, start to end (`image.tarstream`:
the data of every other file skipped inside the decompressor's blocks), keeping only the few files
that matter (dpkg and apk databases, os-release) and the whiteouts that touch them; its result is
small and JSON-serialisable so a caller can cache it per layer digest.

A layer is read to its end-of-archive marker, never less: a tar's entries have no order, so any entry
after the databases can still be a whiteout of them (`.wh.status`, an opaque `var/lib/dpkg`), a
whiteout of a folder above them, or a new copy of one; only the marker says none is left.
`merge` stacks the layers the way an overlay filesystem does, then parses the databases.
"""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import IO

from publisher.errors import PublisherError
from publisher.image import purl
from publisher.image.tarstream import Entry, TarError, TarReader

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"  # distroless: one stanza file per package
APK_INSTALLED = "lib/apk/db/installed"
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")  # the first one present wins
WANTED_DIRS = ("var/lib/dpkg/status.d", "var/lib/dpkg", "lib/apk/db", "etc", "usr/lib")
MAX_FILE = 64 << 20  # a dpkg status of a large image is a few MB; refuse anything absurd
CACHE_FORMAT = 1  # bump when LayerPackages changes, so cached scans are not misread


@dataclass(frozen=True)
class LayerPackages:
    """What one layer says about packages: files it adds, symlinks, and what it deletes."""

    files: tuple[tuple[str, str], ...] = ()  # (path, text), sorted
    links: tuple[tuple[str, str], ...] = ()  # (path, symlink target), sorted
    whiteouts: tuple[str, ...] = ()  # paths (files or directories) deleted from lower layers
    opaque: tuple[str, ...] = ()  # directories whose lower-layer content is hidden

    def to_json(self) -> bytes:
        doc = {"format": CACHE_FORMAT, "files": self.files, "links": self.links,
               "whiteouts": self.whiteouts, "opaque": self.opaque}
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, data: bytes | str) -> LayerPackages:
        doc = json.loads(data)
        if doc.get("format") != CACHE_FORMAT:
            raise ValueError(f"cached layer scan has format {doc.get('format')!r}, not {CACHE_FORMAT}")
        return cls(tuple(map(tuple, doc["files"])), tuple(map(tuple, doc["links"])),
                   tuple(doc["whiteouts"]), tuple(doc["opaque"]))


@dataclass(frozen=True)
class OsRelease:
    id: str
    version_id: str | None = None
    codename: str | None = None

    @property
    def distro(self) -> str | None:
        """purl `distro` qualifier: `debian-12`, `alpine-3.20` (package repositories are per X.Y)."""
        version = ".".join(self.version_id.split(".")[:2]) if self.version_id else self.codename
        return f"{self.id}-{version}" if version else None


@dataclass(frozen=True)
class OsPackage:
    type: str  # "deb" or "apk"
    namespace: str  # os-release ID: debian, ubuntu, alpine...
    name: str
    version: str
    arch: str | None
    license: str | None  # as the database says it (apk `L:`); dpkg has none
    source: str | None  # source package (dpkg `Source:`, apk `o:`): `name` or `name@version`
    distro: str | None  # `debian-12`

    @property
    def purl(self) -> str:
        """`upstream` (the source package) is what Debian's and Alpine's security trackers key on."""
        upstream = self.source if self.source and self.source.split("@")[0] != self.name else None
        qualifiers = {"arch": self.arch, "distro": self.distro, "upstream": upstream}
        return purl.build(self.type, self.namespace, self.name.lower(), self.version, qualifiers)


@dataclass(frozen=True)
class OsPackages:
    os: OsRelease | None
    packages: tuple[OsPackage, ...]  # sorted by type, name, arch, version


def _norm(name: str) -> str:
    return posixpath.normpath("/" + name).lstrip("/")


def _wanted(path: str) -> bool:
    return (path in (DPKG_STATUS, APK_INSTALLED) or path in OS_RELEASE
            or (path.startswith(DPKG_STATUS_D) and not path.endswith(".md5sums")
                and "/" not in path[len(DPKG_STATUS_D):]))


def _may_matter(name: str) -> bool:
    """False for a name no normalisation can turn into a wanted file or a whiteout: most of a layer's
    entries, passed over without normalising them (normalising only drops ".", ".." and empty parts)."""
    return ".wh." in name or "dpkg/" in name or "apk/" in name or "os-release" in name


def _touches(deleted: str) -> bool:
    """A whiteout matters if it deletes a wanted file or one of its ancestor directories."""
    return _wanted(deleted) or any(d == deleted or d.startswith(deleted + "/") for d in WANTED_DIRS)


def scan_layer(fileobj: IO[bytes]) -> LayerPackages:
    """Read one layer tar (plain or gzip; zstd is not supported) once, start to end."""
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    whiteouts: set[str] = set()
    opaque: set[str] = set()
    try:
        tar = TarReader(fileobj)
        for member in tar:
            if not _may_matter(member.name):
                continue
            path = _norm(member.name)
            parent, base = posixpath.split(path)
            if base == ".wh..wh..opq":
                if _touches(parent):
                    opaque.add(parent)
            elif base.startswith(".wh."):
                if _touches(posixpath.join(parent, base[4:])):
                    whiteouts.add(posixpath.join(parent, base[4:]))
            elif not _wanted(path):
                continue
            elif member.issym():
                links[path] = member.linkname
            elif member.islnk() and _norm(member.linkname) in files:
                files[path] = files[_norm(member.linkname)]
            elif member.isfile():
                files[path] = _member_text(tar, member)
    except (TarError, OSError) as exc:
        raise PublisherError(f"layer is not a readable tar (plain or gzip): {exc}") from None
    return LayerPackages(tuple(sorted(files.items())), tuple(sorted(links.items())),
                         tuple(sorted(whiteouts)), tuple(sorted(opaque)))


def _member_text(tar: TarReader, member: Entry) -> str:
    if member.size > MAX_FILE:
        raise PublisherError(f"{member.name} in a layer is {member.size} bytes, over {MAX_FILE}")
    return tar.data().decode("utf-8", errors="replace")


def _stack(layers: list[LayerPackages]) -> tuple[dict[str, str], dict[str, str]]:
    """Overlay semantics: a layer's deletions hit lower layers, then its own entries land."""
    files: dict[str, str] = {}
    links: dict[str, str] = {}
    for layer in layers:
        gone = [*layer.whiteouts, *layer.opaque]
        for table in (files, links):
            for path in [p for p in table if any(p == g or p.startswith(g + "/") for g in gone)]:
                del table[path]
        for path, text in layer.files:
            files[path] = text
            links.pop(path, None)
        for path, target in layer.links:
            links[path] = target
            files.pop(path, None)
    return files, links


def _os_release(files: dict[str, str], links: dict[str, str]) -> OsRelease | None:
    for path in OS_RELEASE:
        if path in links:  # Debian: etc/os-release -> ../usr/lib/os-release
            path = _norm(posixpath.join(posixpath.dirname(path), links[path]))
        pairs = (line.partition("=") for line in files.get(path, "").splitlines())
        fields = {key.strip(): value.strip().strip("\"'") for key, eq, value in pairs if eq}
        if fields.get("ID"):
            return OsRelease(fields["ID"], fields.get("VERSION_ID"), fields.get("VERSION_CODENAME"))
    return None


def merge(layers: list[LayerPackages]) -> OsPackages:
    """Stack the layers (bottom first) and list the packages the top of the stack has installed."""
    files, links = _stack(layers)
    release = _os_release(files, links)
    dpkg = "\n\n".join(files[p] for p in sorted(files) if p == DPKG_STATUS or p.startswith(DPKG_STATUS_D))
    found = [_deb(fields, release) for fields in _paragraphs(dpkg, _dpkg_fields)]
    found += [_apk(fields, release) for fields in _paragraphs(files.get(APK_INSTALLED, ""), _apk_fields)]
    unique = {(p.type, p.name, p.arch): p for p in found if p}  # a later stanza replaces one
    ordered = sorted(unique.values(), key=lambda p: (p.type, p.name, p.arch or "", p.version))
    return OsPackages(release, tuple(ordered))


def _paragraphs(text: str, parse) -> list[dict[str, str]]:
    """Both databases separate packages by blank lines."""
    blocks = [[ln for ln in block.split("\n") if ln.strip()] for block in text.replace("\r\n", "\n").split("\n\n")]
    return [parse(block) for block in blocks if block]


def _dpkg_fields(lines: list[str]) -> dict[str, str]:
    """RFC 822: `Field: value`; continuation lines (leading blank) only extend Description."""
    pairs = (line.partition(":") for line in lines if line[0] not in " \t" and ":" in line)
    return {key.strip().lower(): value.strip() for key, _, value in pairs}


def _apk_fields(lines: list[str]) -> dict[str, str]:
    """`X:value` lines; the first value of a key wins (per-file `R:`/`Z:` lines repeat)."""
    fields: dict[str, str] = {}
    for line in (line for line in lines if len(line) > 1 and line[1] == ":"):
        fields.setdefault(line[0], line[2:])
    return fields


def _deb(fields: dict[str, str], release: OsRelease | None) -> OsPackage | None:
    """Installed only: Status `install ok installed` (not `deinstall ok config-files` etc.)."""
    name, version = fields.get("package"), fields.get("version")
    status = fields.get("status", "install ok installed").split()
    if not name or not version or not status or status[-1] != "installed":
        return None
    source, _, source_version = fields.get("source", "").partition(" ")  # `glibc (2.36-9)`
    source_version = source_version.strip().strip("()") or version
    if source and source_version != version:
        source = f"{source}@{source_version}"
    return OsPackage("deb", release.id if release else "debian", name, version,
                     fields.get("architecture"), fields.get("license"), source or None,
                     release.distro if release else None)


def _apk(fields: dict[str, str], release: OsRelease | None) -> OsPackage | None:
    if not fields.get("P") or not fields.get("V"):
        return None
    return OsPackage("apk", release.id if release else "alpine", fields["P"], fields["V"],
                     fields.get("A"), fields.get("L") or None, fields.get("o"),
                     release.distro if release else None)
