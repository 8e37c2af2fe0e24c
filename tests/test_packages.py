"""OS packages from base layers: tiny in-memory layers with real-looking package databases."""

from __future__ import annotations

import gzip
import io
import tarfile

import pytest

from publisher.errors import PublisherError
from publisher.image.packages import LayerPackages, OsRelease, merge, scan_layer

DEBIAN_OS_RELEASE = """\
PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"
NAME="Debian GNU/Linux"
VERSION_ID="12"
VERSION="12 (bookworm)"
VERSION_CODENAME=bookworm
ID=debian
HOME_URL="https://www.debian.org/"
"""

ALPINE_OS_RELEASE = """\
NAME="Alpine Linux"
ID=alpine
VERSION_ID=3.20.3
PRETTY_NAME="Alpine Linux v3.20"
HOME_URL="https://alpinelinux.org/"
"""

BASE_FILES = """\
Package: base-files
Essential: yes
Status: install ok installed
Priority: required
Section: admin
Installed-Size: 340
Maintainer: Santiago Vila <sanvila@debian.org>
Architecture: amd64
Multi-Arch: foreign
Version: 12.4+deb12u5
Replaces: base, dpkg (<= 1.15.0), miscutils
Provides: base
Conffiles:
 /etc/debian_version 3e3dd2a9a5b2c2c4b5e6ad7d5a7b6f0b
 /etc/dpkg/origins/debian c47b6815f67ad1aeccb0d4529bd0b990
Description: Debian base system miscellaneous files
 This package contains the basic filesystem hierarchy of a Debian system, and
 several important miscellaneous files, such as /etc/debian_version,
 /etc/host.conf, /etc/issue, /etc/motd, /etc/profile, and others,
 .
 and the text of several common licenses in use on Debian systems.
"""

LIBC6 = """\
Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 12985
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u7
Depends: libgcc-s1
Recommends: libidn2-0 (>= 2.0.5~)
Description: GNU C Library: Shared libraries
 Contains the standard libraries that are used by nearly all programs on
 the system. This package includes shared versions of the standard C library
 and the standard math library, as well as many others.
"""

LIBGMP = """\
Package: libgmp10
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 855
Maintainer: Debian Science Maintainers <debian-science-maintainers@lists.alioth.debian.org>
Architecture: amd64
Multi-Arch: same
Source: gmp
Version: 2:6.2.1+dfsg1-1.1
Depends: libc6 (>= 2.14)
Description: Multiprecision arithmetic library
 GNU MP is a programmer's library for arbitrary precision
 arithmetic (ie, a bignum package).
"""

LIBSTDCXX = """\
Package: libstdc++6
Status: install ok installed
Architecture: amd64
Multi-Arch: same
Source: gcc-12 (12.2.0-14)
Version: 12.2.0-14
Description: GNU Standard C++ Library v3
"""

OLD_PAM = """\
Package: libpam-old
Status: deinstall ok config-files
Architecture: amd64
Version: 1.4.0-9
Description: removed, only its configuration files remain
"""

NEVER_INSTALLED = """\
Package: libnotthere
Status: install ok not-installed
Architecture: amd64
Version: 1.0-1
"""

TZDATA = """\
Package: tzdata
Status: install ok installed
Architecture: all
Version: 2024a-0+deb12u1
Description: time zone and daylight-saving time data
"""

APK_INSTALLED = """\
C:Q1x8f2n0wQn3MZJr0m6lMk7sJlsSM=
P:musl
V:1.2.5-r0
A:x86_64
S:411306
I:647168
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Natanael Copa <ncopa@alpinelinux.org>
t:1712253567
c:fe1d1a8f4e6c4ea7a5c8f5a8d2e9b1bfe0ff0b6e
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1lB5Ld5K1O5lP2yLhRZkJ2mXnQzQ=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1pL7lq5ymtcMO8XHEXpiVuGpGxuE=
P:libcrypto3
V:3.3.2-r0
A:x86_64
S:1736433
I:4718592
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
D:so:libc.musl-x86_64.so.1
F:usr/lib
R:libcrypto.so.3

C:Q1B9v7zJ5Q2QmMZFh0S8o6LGJcM2Q=
P:tzdata
V:2024b-r0
A:x86_64
T:Timezone data
L:Public-Domain
o:tzdata

C:Q1ZlDbdbS4Uq8KVQPK6hjmNMeMhMI=
P:ca-certificates-bundle
V:20240705-r0
A:x86_64
T:Pre generated bundle of Mozilla certificates
L:MPL-2.0 AND MIT
o:ca-certificates
"""


def layer(entries: dict[str, object], compress: bool = True) -> bytes:
    """A layer tar: str content is a file, ("sym", target) a symlink, None a directory."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, content in entries.items():
            info = tarfile.TarInfo(name)
            info.mtime = 0
            if content is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif isinstance(content, tuple):
                info.type, info.linkname = tarfile.SYMTYPE, content[1]
                tar.addfile(info)
            else:
                data = content.encode()
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0) if compress else raw.getvalue()


class OneWay(io.RawIOBase):
    """A stream that can only be read forward, like a registry download."""

    def __init__(self, data: bytes):
        self._inner = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._inner.read(len(buffer))
        buffer[: len(chunk)] = chunk
        return len(chunk)


def scan(entries: dict[str, object], compress: bool = True) -> LayerPackages:
    return scan_layer(OneWay(layer(entries, compress)))


DEBIAN = {
    "etc/": None,
    "etc/os-release": ("sym", "../usr/lib/os-release"),
    "usr/lib/os-release": DEBIAN_OS_RELEASE,
    "usr/bin/bash": "#!binary, not read",
    "var/lib/dpkg/status": "\n".join([BASE_FILES, LIBC6, LIBGMP, LIBSTDCXX, OLD_PAM, NEVER_INSTALLED, TZDATA]),
    "var/lib/dpkg/status-old": "Package: stale\nVersion: 1\n",
    "var/lib/dpkg/info/libc6.list": "/lib/x86_64-linux-gnu/libc.so.6\n",
}


def test_debian_status_gives_installed_packages_with_purls():
    found = merge([scan(DEBIAN)])
    assert found.os == OsRelease("debian", "12", "bookworm")
    purls = [p.purl for p in found.packages]
    assert purls == [
        "pkg:deb/debian/base-files@12.4%2Bdeb12u5?arch=amd64&distro=debian-12",
        "pkg:deb/debian/libc6@2.36-9%2Bdeb12u7?arch=amd64&distro=debian-12&upstream=glibc",
        "pkg:deb/debian/libgmp10@2:6.2.1%2Bdfsg1-1.1?arch=amd64&distro=debian-12&upstream=gmp",
        "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14?arch=amd64&distro=debian-12&upstream=gcc-12",
        "pkg:deb/debian/tzdata@2024a-0%2Bdeb12u1?arch=all&distro=debian-12",
    ]
    libc = found.packages[1]
    assert (libc.name, libc.version, libc.arch, libc.license, libc.source) == (
        "libc6", "2.36-9+deb12u7", "amd64", None, "glibc")


def test_only_the_databases_and_os_release_are_kept():
    scanned = scan(DEBIAN)
    assert [path for path, _ in scanned.files] == ["usr/lib/os-release", "var/lib/dpkg/status"]
    assert scanned.links == (("etc/os-release", "../usr/lib/os-release"),)


def test_distroless_status_d_one_file_per_package():
    distroless = {
        "./etc/os-release": DEBIAN_OS_RELEASE,
        "./var/lib/dpkg/status.d/": None,
        "./var/lib/dpkg/status.d/base-files": BASE_FILES,
        "./var/lib/dpkg/status.d/base-files.md5sums": "3e3dd2a9  etc/debian_version\n",
        "./var/lib/dpkg/status.d/libc6": LIBC6,
        "./var/lib/dpkg/status.d/libc6.md5sums": "0123abcd  lib/x86_64-linux-gnu/libc.so.6\n",
    }
    scanned = scan(distroless)
    assert [path for path, _ in scanned.files] == [
        "etc/os-release", "var/lib/dpkg/status.d/base-files", "var/lib/dpkg/status.d/libc6"]
    found = merge([scanned])
    assert [(p.name, p.version) for p in found.packages] == [
        ("base-files", "12.4+deb12u5"), ("libc6", "2.36-9+deb12u7")]
    assert found.packages[1].purl.endswith("distro=debian-12&upstream=glibc")


def test_alpine_installed_db():
    alpine = {"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": APK_INSTALLED}
    found = merge([scan(alpine)])
    assert found.os.distro == "alpine-3.20"
    assert [(p.name, p.version, p.arch, p.license, p.source) for p in found.packages] == [
        ("ca-certificates-bundle", "20240705-r0", "x86_64", "MPL-2.0 AND MIT", "ca-certificates"),
        ("libcrypto3", "3.3.2-r0", "x86_64", "Apache-2.0", "openssl"),
        ("musl", "1.2.5-r0", "x86_64", "MIT", "musl"),
        ("tzdata", "2024b-r0", "x86_64", "Public-Domain", "tzdata"),
    ]
    assert found.packages[1].purl == (
        "pkg:apk/alpine/libcrypto3@3.3.2-r0?arch=x86_64&distro=alpine-3.20&upstream=openssl")
    assert found.packages[2].purl == "pkg:apk/alpine/musl@1.2.5-r0?arch=x86_64&distro=alpine-3.20"


def test_later_layers_replace_and_whiteouts_delete():
    base = scan(DEBIAN)
    # `apt-get install libssl3`: the whole status file is rewritten in the next layer.
    installed = scan({"var/lib/dpkg/status": "\n".join([BASE_FILES, LIBC6, TZDATA,
                      LIBC6.replace("libc6", "libssl3").replace("Source: glibc", "Source: openssl")])})
    assert {p.name for p in merge([base, installed]).packages} == {"base-files", "libc6", "tzdata", "libssl3"}
    # A later layer deletes the database: no packages remain, the OS is still known.
    removed = scan({"var/lib/dpkg/.wh.status": ""})
    assert removed.whiteouts == ("var/lib/dpkg/status",)
    found = merge([base, installed, removed])
    assert found.packages == () and found.os.id == "debian"
    # Deleting an ancestor directory deletes the database too.
    assert merge([base, scan({"var/lib/.wh.dpkg": ""})]).packages == ()


def test_status_d_whiteout_and_opaque_directory():
    lower = scan({"etc/os-release": DEBIAN_OS_RELEASE, "var/lib/dpkg/status.d/base-files": BASE_FILES,
                  "var/lib/dpkg/status.d/libc6": LIBC6, "var/lib/dpkg/status.d/tzdata": TZDATA})
    one_gone = scan({"var/lib/dpkg/status.d/.wh.tzdata": ""})
    assert {p.name for p in merge([lower, one_gone]).packages} == {"base-files", "libc6"}
    # An opaque directory hides the lower layers' files but keeps its own layer's.
    opaque = scan({"var/lib/dpkg/status.d/.wh..wh..opq": "", "var/lib/dpkg/status.d/libgmp10": LIBGMP})
    assert opaque.opaque == ("var/lib/dpkg/status.d",)
    assert [p.name for p in merge([lower, opaque]).packages] == ["libgmp10"]
    # Whiteouts elsewhere are not recorded.
    assert scan({"usr/share/doc/.wh.tzdata": "", "tmp/.wh..wh..opq": ""}) == LayerPackages()


def test_plain_and_gzip_layers_read_the_same_and_cache_round_trips():
    plain, gzipped = scan(DEBIAN, compress=False), scan(DEBIAN)
    assert plain == gzipped
    cached = gzipped.to_json()
    assert cached == scan(DEBIAN).to_json()  # deterministic bytes
    assert LayerPackages.from_json(cached) == gzipped
    assert LayerPackages.from_json(cached.decode()) == gzipped
    assert merge([LayerPackages.from_json(cached)]) == merge([gzipped])


def test_cache_of_another_format_is_refused():
    with pytest.raises(ValueError, match="format"):
        LayerPackages.from_json(b'{"format":0,"files":[],"links":[],"whiteouts":[],"opaque":[]}')


def test_merge_is_deterministic_and_empty_without_databases():
    assert merge([scan(DEBIAN)]) == merge([scan(DEBIAN)])
    empty = merge([scan({"usr/bin/uv": "binary"})])
    assert empty.os is None and empty.packages == ()


def test_not_a_tar_is_one_publisher_error():
    with pytest.raises(PublisherError, match="not a readable tar"):
        scan_layer(io.BytesIO(b"\x28\xb5\x2f\xfd" + b"zstd is not read" * 40))
    with pytest.raises(PublisherError, match="not a readable tar"):
        scan_layer(io.BytesIO(gzip.compress(b"x" * 1000)[:-20]))
