"""Tag policy: which tags a variant gets for a release, which tags are floating, which are retired.

What a valid tag is, the matrix says (matrix/schema: TAG, RESERVED).
"""

from __future__ import annotations

import re

from publisher.errors import PublisherError
from publisher.matrix.schema import RESERVED
from publisher.release.version import Release

HEX = re.compile(r"[0-9a-f]{7,64}")

# Tags in a repository that are not publisher's release tags: cosign's signatures, attestations and
# SBOMs (sha256-<hex>.sig, .att, .sbom) and the dev channel's sha-<commit>[-T].
FOREIGN = re.compile(r"sha256-.*|sha-[0-9a-f]{7,}(-.*)?|.*\.(sig|att|sbom)")


def tags_for(release: Release, base_tags: list[str] | tuple[str, ...], primary: bool = False) -> list[str]:
    """The tags of one variant, in publishing order: exact before floating for each base tag.

    The primary image gets `latest`, `x.y.z`, `x.y` (then, on a base with base tags, those of a derived
    image); a derived image gets `x.y.z-T`, `x.y-T`, `T` for each of its base tags T. A prerelease gets
    exact tags only.
    """
    exact, series = release.text, release.series
    own = ([exact] if release.prerelease else ["latest", exact, series]) if primary or not base_tags else []
    if release.prerelease:
        return own + [f"{exact}-{t}" for t in base_tags]
    return own + [tag for t in base_tags for tag in (f"{exact}-{t}", f"{series}-{t}", t)]


def dev_release(revision: str) -> Release:
    """The dev channel's release of a commit: `sha-<first 7 hex>`, exact tags only.

    Through `tags_for` it gives the primary `sha-<7 hex>` and a derived image `sha-<7 hex>-T` for each
    base tag T: never a floating or version tag, and each tag names one commit (immutable, like X.Y.Z).
    """
    if not HEX.fullmatch(revision.lower()):
        raise PublisherError(f"publisher: --dev: revision '{revision}' is not a git commit (7 to 64 hex digits); "
                             "pass --revision with the commit's hash")
    return Release(f"sha-{revision.lower()[:7]}", 0, 0, 0, prerelease=True)


def is_floating(tag: str, release: Release) -> bool:
    """A floating tag moves from release to release; exact tags name one release."""
    return not (tag == release.text or tag.startswith(release.text + "-"))


def retired(existing, release: Release, planned, base_tags) -> list[str]:
    """Tags a repository holds that this release would update if the matrix still had their base tag.

    For a base tag T the matrix no longer has: `T`, `X.Y-T` and `X.Y.Z-T` of this release's series
    and version. Older releases' tags (`0.4-alpine`, `0.5.30`) are frozen by design, not retired;
    FOREIGN tags (signatures, dev tags) are not publisher's release tags. `planned` and `base_tags`
    are the whole matrix's, whatever --only, --skip or a missing login left out.
    """
    keep, known = set(planned), set(base_tags)
    found = []
    for tag in sorted(existing):
        if tag in keep or FOREIGN.fullmatch(tag):
            continue
        rest = tag
        for prefix in (release.text + "-", release.series + "-"):
            if tag.startswith(prefix):
                rest = tag[len(prefix):]
                break
        if rest not in known and not RESERVED.fullmatch(rest):
            found.append(tag)
    return found
