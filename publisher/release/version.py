"""The release version: PEP 440 or semver spelling, and whether it is a final release."""

from __future__ import annotations

from dataclasses import dataclass

import semver
from packaging.version import InvalidVersion, Version

from publisher.errors import PublisherError


@dataclass(frozen=True)
class Release:
    text: str  # the exact version tag, as spelled (semver) or normalised (PEP 440)
    major: int
    minor: int
    patch: int
    prerelease: bool  # pre-, dev- or post-release: exact tags only

    @property
    def series(self) -> str:
        return f"{self.major}.{self.minor}"

    @property
    def key(self) -> tuple:
        """Orders releases; semver spelling is compared through its PEP 440 equivalent."""
        try:
            return (Version(self.text),)
        except InvalidVersion:
            return (Version(f"{self.major}.{self.minor}.{self.patch}"),)


def parse_release(text: str, flag: str = "--version") -> Release:
    given = text
    if text[:1] in "vV":
        text = text[1:]
    try:
        return _from_semver(semver.Version.parse(text), given, flag)
    except (ValueError, TypeError):
        pass
    try:
        return _from_pep440(Version(text), given, flag)
    except InvalidVersion:
        raise _bad(given, flag, "not a PEP 440 or semver version; give X.Y.Z, e.g. 0.5.31 or 0.6.0rc1") from None


def _from_semver(v: semver.Version, given: str, flag: str) -> Release:
    if v.build:
        raise _bad(given, flag, f"build metadata '+{v.build}' cannot appear in a tag; drop it")
    return Release(str(v), v.major, v.minor, v.patch, prerelease=v.prerelease is not None)


def _from_pep440(v: Version, given: str, flag: str) -> Release:
    if v.local:
        raise _bad(given, flag, f"local version '+{v.local}' cannot appear in a tag; drop it")
    if v.epoch:
        raise _bad(given, flag, "an epoch ('N!') cannot appear in a tag; drop it")
    if len(v.release) != 3:
        raise _bad(given, flag, "a release needs exactly three numbers; give X.Y.Z, e.g. 0.5.31")
    special = v.is_prerelease or v.is_postrelease or v.is_devrelease
    return Release(str(v), *v.release, prerelease=special)


def _bad(given: str, flag: str, why: str) -> PublisherError:
    return PublisherError(f"publisher: {flag} '{given}': {why}")
