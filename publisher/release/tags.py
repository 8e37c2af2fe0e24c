"""Tag policy, all of it: which tags a variant gets for a release, and what a valid tag is."""

from __future__ import annotations

import re

from publisher.release.version import Release

TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
# A base tag must not be mistaken for a version or the primary's `latest`.
RESERVED = re.compile(r"latest|v?\d+(\.\d+)*([._+-].*)?")


def tags_for(release: Release, base_tags: list[str] | tuple[str, ...]) -> list[str]:
    """The tags of one variant, in publishing order: exact before floating for each base tag.

    The primary image (no base tags) gets `latest`, `x.y.z`, `x.y`; a derived image gets
    `x.y.z-T`, `x.y-T`, `T` for each of its base tags T. A prerelease gets exact tags only.
    """
    exact, series = release.text, release.series
    if not base_tags:
        return [exact] if release.prerelease else ["latest", exact, series]
    if release.prerelease:
        return [f"{exact}-{t}" for t in base_tags]
    return [tag for t in base_tags for tag in (f"{exact}-{t}", f"{series}-{t}", t)]


def is_floating(tag: str, release: Release) -> bool:
    """A floating tag moves from release to release; exact tags name one release."""
    return not (tag == release.text or tag.startswith(release.text + "-"))
