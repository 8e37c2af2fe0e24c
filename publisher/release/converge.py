"""Floating tags of concurrent publishers converge on the newest release: what one tag should hold now. Pure.

Registries have no compare-and-swap on tags, so a publisher cannot trust the order it read: another
may write a tag between our read and our write. Each publisher therefore re-reads a floating tag
just before writing it, and after all its floating tags are written it settles them: each is read
again and, with the repository's tag list, put right. Two facts make that converge:

- A release writes every exact tag (X.Y.Z, X.Y.Z-T) before any floating tag. So once a newer
  release has written a floating tag, its exact tag for it is listed: an older publisher that wrote
  over it (its read came before that write) finds the newer release's exact tag when it settles, and
  puts that release's index back (`RESTORE`).
- A newer publisher that finds its floating tag holding an older release writes its own again (`WRITE`).

A tag holding a newer release than ours is left where it is (`NEWER`): never an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from publisher.errors import PublisherError
from publisher.release.version import Release, parse_release

OURS, WRITE, NEWER, RESTORE = "ours", "write", "newer", "restore"


@dataclass(frozen=True)
class Standing:
    """What to do with one floating tag: keep it (ours, newer), write ours, or restore `release`'s exact index."""

    action: str  # OURS, WRITE, NEWER or RESTORE
    release: Release | None = None  # NEWER: the release it holds; RESTORE: the release whose index it must hold
    exact: str | None = None  # RESTORE: the exact tag holding that index


@dataclass(frozen=True)
class Meanwhile:
    """A floating tag this publish planned to move, which a newer release took while it ran."""

    ref: str
    tag: str
    version: str
    digest: str


def standing(tag: str, ours: Release, mine: bool, held: str | None, listed=(), downgrade: bool = False) -> Standing:
    """`mine`: the tag holds our index now; `held`: the version of what it holds (None: none or unknown);
    `listed`: the repository's tags, where a newer release's exact tag for this one shows it was published."""
    if downgrade:  # --allow-downgrade: the user asked to move it whatever it holds
        return Standing(OURS if mine else WRITE)
    claimant = newest_claimant(tag, ours, listed)
    now = None if mine else _release(held)
    if claimant and (now is None or claimant.key > now.key):
        return Standing(RESTORE, claimant, exact_tag(tag, ours, claimant))
    if now is not None and now.key > ours.key:
        return Standing(NEWER, now)
    return Standing(OURS if mine else WRITE)


def newest_claimant(tag: str, ours: Release, listed) -> Release | None:
    """The newest final release newer than ours whose exact tag for floating `tag` is in `listed`."""
    found = [r for r in map(_release, {_version_part(t, tag, ours) for t in listed} - {None})
             if r and not r.prerelease and r.key > ours.key and _claims(r, tag, ours)]
    return max(found, key=lambda r: r.key, default=None)


def exact_tag(tag: str, ours: Release, release: Release) -> str:
    """`release`'s exact tag that floating `tag` (one of ours) points with: X.Y.Z for latest and X.Y, X.Y.Z-T for X.Y-T and T."""
    suffix = _suffix(tag, ours)
    return release.text + suffix


def line(version: str, ref: str, tags: list[str]) -> str:
    """One line for the log: which of our floating tags a newer release took."""
    return f"{version} was published meanwhile: {ref}: {', '.join(tags)} {'stays' if len(tags) == 1 else 'stay'} at {version}"


def _suffix(tag: str, ours: Release) -> str:
    """"" for the primary's floating tags (latest, X.Y); "-T" for a derived image's (X.Y-T, T)."""
    if tag in ("latest", ours.series):
        return ""
    return "-" + tag[len(ours.series) + 1:] if tag.startswith(ours.series + "-") else "-" + tag


def _version_part(listed: str, tag: str, ours: Release) -> str | None:
    suffix = _suffix(tag, ours)
    if suffix and not listed.endswith(suffix):
        return None
    return listed[:len(listed) - len(suffix)] if suffix else listed


def _claims(release: Release, tag: str, ours: Release) -> bool:
    """A series tag (X.Y, X.Y-T) is claimed by releases of its series only; latest and T by any."""
    series = tag == ours.series or tag.startswith(ours.series + "-")
    return not series or release.series == ours.series


@lru_cache(maxsize=4096)  # every listed tag is parsed for each floating tag
def _release(version: str | None) -> Release | None:
    if not version:
        return None
    try:
        return parse_release(version)
    except PublisherError:
        return None
