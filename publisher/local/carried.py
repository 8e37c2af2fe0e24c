"""What a package's release carries, as `publisher init` writes it into a starter: the executables its
wheels install, for which platforms and wheel tags, how they are linked, and what `--version` prints."""

from __future__ import annotations

import platform as host
import sys
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

from packaging.utils import canonicalize_name

from publisher.errors import PublisherError
from publisher.image.platform import Platform, machine_platform
from publisher.local import artifacts, executables, index
from publisher.local.executables import Linkage
from publisher.matrix.payload import Payload, Wheels

LIBCS = ("none", "musl", "glibc")  # what an executable needs, least first
LICENSES = {"MIT License": "MIT", "Apache Software License": "Apache-2.0", "ISC License (ISCL)": "ISC",
            "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0"}  # trove classifier → SPDX, for wheels without License-Expression


@dataclass(frozen=True)
class Carried:
    """One release of a package, as its wheels carry it."""

    package: str
    version: str
    wheels: Wheels  # the wheel platform tag of each platform it has (musllinux first), pip's --python-version
    files: dict[str, Linkage]  # each executable its wheels install on every platform, linked as on the least static one
    checks: dict[str, str | None]  # file → the matrix's check of its --version (None: prints no version)
    licenses: str | None
    summary: str | None

    @property
    def libc(self) -> str:
        """What the executables need, together: none (all static), musl or glibc."""
        return max((f.libc for f in self.files.values()), key=LIBCS.index)


@dataclass(frozen=True)
class Opened:
    """One platform's wheel, its scripts extracted and read, and its metadata."""

    wheel: Path
    folder: Path  # its scripts, extracted
    linked: dict[str, Linkage | None]  # script → how it is linked; None: no ELF executable (a script)
    metadata: Message | None  # its METADATA, None if it has none


def carried(package: str, version: str | None, platforms: list[Platform], cache: Path, python: str = sys.executable) -> Carried:
    """Ask the index for `package` (its newest release unless `version`), fetch its wheels, read them."""
    listing = index.list_wheels(package, None, python)
    version = _chosen_release(listing, version)
    tags = {p: found[0] for p in platforms if (found := listing.tags(version, p))}
    if not tags:
        raise PublisherError(_nothing_to_carry(package, version, f"its wheels are tagged {', '.join(listing.all_tags(version))}"))
    wheels = Wheels(package, tags, listing.python(version, next(iter(tags.values()))))
    opened = {p: _opened(wheels, version, p, cache, python) for p in tags}
    names = [n for n in _ordered(package, opened) if all(w.linked.get(n) for w in opened.values())]
    if not names:
        raise PublisherError(_nothing_to_carry(package, version, "they install no executable"))
    mine = opened.get(machine_platform(host.machine()))  # this machine's: its files run here
    checks = {n: executables.version_check(mine.folder / n, version) if mine else None for n in names}
    files = {n: max((w.linked[n] for w in opened.values()), key=lambda linked: LIBCS.index(linked.libc)) for n in names}
    return Carried(package, version, wheels, files, checks, *_about(next(iter(opened.values())).metadata))


def _chosen_release(listing: index.WheelListing, version: str | None) -> str:
    if not listing.answered and not listing.wheels:
        raise PublisherError(f"publisher init: cannot read the package index for {listing.package}; check pip's "
                             "configuration and network (pip download works for it), or pass --artifacts later")
    newest = listing.newest()
    if newest is None:
        raise PublisherError(_nothing_to_carry(listing.package, None, "the package index has no wheel of it"))
    if version is not None and not listing.has(version):
        raise PublisherError(f"publisher init: the package index has no release {version} of {listing.package} "
                             f"(its newest is {newest}); pass --version {newest}, or leave --version out")
    return version or newest


def _nothing_to_carry(package: str, version: str | None, why: str) -> str:
    release = f"{package} {version}" if version else package
    return (f"publisher init: no Linux wheel of {release} carries an executable ({why}); images of files you build "
            "yourself take a payload without wheels and `publisher publish --artifacts DIR`: see docs/matrix.md, "
            "'A payload from your own builds'")


def _opened(wheels: Wheels, version: str, platform: Platform, cache: Path, python: str) -> Opened:
    """The platform's wheel, from the cache or the index, opened once: every script extracted and its linkage
    read, and its metadata."""
    tag = wheels.platforms[platform]
    wheel = artifacts.cached_wheel(wheels.package, version, tag, cache) or artifacts.download_wheel(wheels, version, tag, cache, python)
    folder = artifacts.binaries_folder(cache, wheels.package, version, platform)
    with artifacts.opened_wheel(wheel) as opened:
        names = tuple(opened.scripts())
        artifacts.extracted(opened, Payload(names, {}, "/", "/usr/local/bin/"), folder)
        metadata = opened.metadata()
    return Opened(wheel, folder, {name: executables.linkage(folder / name) for name in names}, metadata)


def _ordered(package: str, opened: dict[Platform, Opened]) -> list[str]:
    """The scripts' names, the one named like the package first: it is the images' entrypoint."""
    names = sorted({n for w in opened.values() for n in w.linked})
    return sorted(names, key=lambda n: canonicalize_name(n) != canonicalize_name(package))


def _about(meta: Message | None) -> tuple[str | None, str | None]:
    """The release's licence (an SPDX expression, when its metadata says one) and summary."""
    if meta is None:
        return None, None
    classifiers = [c.rsplit(" :: ", 1)[-1] for c in meta.get_all("Classifier") or [] if c.startswith("License :: ")]
    named = meta.get("License", "")
    licenses = meta.get("License-Expression") or (named if named and "\n" not in named and len(named) < 60 else None)
    licenses = licenses or " OR ".join(LICENSES[c] for c in classifiers if c in LICENSES) or None
    return licenses, (meta.get("Summary") or "").strip() or None
