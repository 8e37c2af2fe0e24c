"""What the package index holds of a package: its wheels, by release and platform tag, as pip sees them.

pip is asked, so its configuration (index URL, extra indexes, find-links, proxy, certificates) is the
one the wheels are then downloaded with. It lists no files on request; but asked for a wheel of a
platform no wheel has, it logs every wheel it skips, and a wheel's file name says its release and tags.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass

from packaging.utils import InvalidWheelFilename, canonicalize_name, canonicalize_version, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from publisher.errors import PublisherError
from publisher.image.platform import Platform
from publisher.matrix.payload import Payload

NO_PLATFORM = "publisher_lists_wheels"  # a platform tag no wheel has: pip skips, and logs, every one
WHEEL_NAME = re.compile(r"[^/\s\"'<>()]+\.whl")
LINUX_TAGS = re.compile(r"(?:musllinux|manylinux)_\d+_\d+_(?P<arch>\w+)|manylinux(?:1|2010|2014)_(?P<old>\w+)|linux_(?P<plain>\w+)")


@dataclass(frozen=True)
class IndexWheel:
    """One wheel the index has: its release and its platform tags."""

    version: str
    tags: frozenset[str]
    pythons: frozenset[str] = frozenset()  # its interpreter tags: py3, cp312...


@dataclass(frozen=True)
class WheelListing:
    """The wheels the index has of one package."""

    package: str
    wheels: tuple[IndexWheel, ...]
    answered: bool = True  # pip read every index it was told to (else nothing is known of what is missing)

    def has(self, version: str) -> bool:
        return any(_same(w.version, version) for w in self.wheels)

    def newest(self) -> str | None:
        """The newest final release with a wheel, else the newest pre-release; None when there is none."""
        versions = sorted({_version_of(w.version) for w in self.wheels} - {None})
        finals = [v for v in versions if not v.is_prerelease and not v.is_devrelease]
        chosen = (finals or versions or [None])[-1]
        return None if chosen is None else str(chosen)

    def tags(self, version: str, platform: Platform) -> list[str]:
        """The platform tags of `version`'s wheels that run on `platform` (linux/amd64...), musllinux first."""
        found = {t for w in self.wheels if _same(w.version, version) for t in w.tags if fits(t, platform)}
        return sorted(found, key=preference)


    def python(self, version: str, tag: str) -> str | None:
        """pip's --python-version for `version`'s wheel tagged `tag`: None when it is for any Python 3 (py3)."""
        pythons = {p for w in self.wheels if _same(w.version, version) and tag in w.tags for p in w.pythons}
        if not pythons or any(p.startswith("py") for p in pythons):
            return None
        found = sorted((int(m[1]), int(m[2])) for p in pythons if (m := re.fullmatch(r"cp(\d)(\d+)", p)))
        return f"{found[-1][0]}.{found[-1][1]}" if found else None

    def all_tags(self, version: str) -> list[str]:
        """The platform tags of all of `version`'s wheels, for saying what a release has."""
        return sorted({t for w in self.wheels if _same(w.version, version) for t in w.tags})


def fits(tag: str, platform: Platform) -> bool:
    """A wheel platform tag for Linux on `platform`'s architecture."""
    match = LINUX_TAGS.fullmatch(tag)
    machine = match and (match["arch"] or match["old"] or match["plain"])
    return match is not None and platform.machine == machine


def preference(tag: str) -> tuple:
    """musllinux (static builds, most often) before manylinux, the newest of each first; plain linux_ last."""
    kind = 0 if tag.startswith("musllinux") else 1 if tag.startswith("manylinux_") else 2 if tag.startswith("manylinux") else 3
    numbers = tuple(-int(n) for n in re.findall(r"_(\d+)_(\d+)_", tag)[0]) if kind < 2 else ()
    return kind, numbers, tag


def list_wheels(package: str, python_version: str | None = None, python: str = sys.executable) -> WheelListing:
    """Every wheel of `package` the index has, asked through pip (`python -m pip`)."""
    with tempfile.TemporaryDirectory(prefix="publisher-index-") as folder:
        arguments = ["--platform", NO_PLATFORM, "--dest", folder, "-vv", package]
        result = pip_download(python, arguments, python_version, f"cannot ask the package index for {package}")
    log = result.stdout + result.stderr
    return WheelListing(package, tuple(_wheel_files(package, log)), _answered(log))


def pip_download(python: str, arguments: list[str], python_version: str | None, failed: str) -> subprocess.CompletedProcess:
    """`python -m pip download` of wheels alone, without dependencies, with `arguments` (and pip's --python-version);
    `failed`: what could not be done, said when pip cannot be run at all."""
    command = [python, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps", "--only-binary=:all:", *arguments]
    command += ["--python-version", python_version] if python_version else []
    try:
        return subprocess.run(command, capture_output=True, text=True)
    except OSError as error:
        raise PublisherError(f"{failed}: cannot run {python}: {error.strerror}") from None


def _answered(log: str) -> bool:
    """pip asked an index and every index it asked answered (a missing project is a 404, which is an answer)."""
    failed = [line for line in log.splitlines() if line.startswith("Could not fetch URL") and " 404 " not in line]
    return "Fetching project page" in log and not failed


def _wheel_files(package: str, log: str) -> list[IndexWheel]:
    found = {}
    for name in WHEEL_NAME.findall(log):
        try:
            project, version, _, tags = parse_wheel_filename(name.rsplit("/", 1)[-1])
        except InvalidWheelFilename:
            continue
        if project == canonicalize_name(package):
            found[name] = IndexWheel(str(version), frozenset(t.platform for t in tags), frozenset(t.interpreter for t in tags))
    return list(found.values())


def _same(a: str, b: str) -> bool:
    return canonicalize_version(a) == canonicalize_version(b)


def _version_of(version: str) -> Version | None:
    try:
        return Version(version)
    except InvalidVersion:
        return None


def release_problems(listing: WheelListing, payload: Payload, version: str, platforms: list[Platform]) -> list[str]:
    """Why the matrix's wheels of `version` cannot be had, one line each naming the matrix's line; [] if they can."""
    wheels, lines = payload.wheels, payload.lines
    if not listing.answered:
        return []
    if not listing.wheels:
        return [f"{lines.of_package()}: the package index has no wheel of {wheels.package}; "
                "write the package's name as the index spells it, or pass --artifacts DIR"]
    if not listing.has(version):
        return [f"{lines.of_package()}: the package index has no release {version} of {wheels.package} "
                f"(its newest is {listing.newest()}); publish a release it has, e.g. --version {listing.newest()}"]
    return [line for platform in platforms if (line := _tag_problem(listing, payload, version, platform))]


def _tag_problem(listing: WheelListing, payload: Payload, version: str, platform: Platform) -> str | None:
    tag, package = payload.wheels.platforms.get(platform), payload.wheels.package
    has = listing.tags(version, platform)
    if tag is None or tag in has:
        return None
    where = f"{payload.lines.of_platform(platform)}: {package} {version} has no wheel tagged {tag}"
    if not has:
        return f"{where}, and none for {platform}: build its files yourself and pass --artifacts DIR, or drop {platform}"
    return f"{where}; its wheels for {platform} are tagged {', '.join(has)}: write one of them"
