"""Which commit each variant names (its `revision` and `created` labels, its provenance's source): the
newest commit that changed what the variant is made of in the source. Pure: local/git reads the commits.

As docker-library's `GitCommit` is the last commit that touched an entry's directory, a variant's is
the last commit that touched `variants/<name>/` (its rendered Dockerfile), or that touched the matrix
file and changed what the matrix says of this variant (`share`). A commit elsewhere, or one that adds
another variant to the shared matrix file, changes nothing of it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from publisher.image import oci
from publisher.matrix.schema import Matrix, Variant


SHARES = 1  # bump when what `share` hashes changes: shares kept from earlier runs (local/git) are then read again


@dataclass(frozen=True)
class Commit:
    """One commit that touched a variant folder or the matrix file, as git lists them (newest first)."""

    sha: str
    time: str  # its committer time, in seconds since 1970
    folders: frozenset[str]  # the variants whose folder (variants/<name>/) it touched
    matrix: bool  # it touched the matrix file
    boundary: bool = False  # a shallow clone's oldest commit: git lists it as adding every file


@dataclass(frozen=True)
class Found:
    """Variant name → the commit that last changed it; `unknown`: those whose change the history does not reach."""

    commits: dict[str, Commit]
    unknown: tuple[str, ...] = ()


def share(matrix: Matrix, variant: Variant) -> str:
    """A digest of what the matrix says of `variant` that its images are made of beyond its Dockerfile: its
    labels, platforms, base and tags, the first repository (the name its attestations give it) and the
    payload's declaration. Not its smoke tests, nor another variant's entry."""
    payload = matrix.payload
    return oci.digest(oci.canonical({
        "labels": matrix.labels,
        "platforms": [str(p) for p in variant.platforms],
        "from_base": variant.platforms_from_base,
        "base": str(variant.base) if variant.base else None,
        "tags": list(variant.base_tags),
        "home": list(matrix.repositories[:1]),
        "payload": {"files": list(payload.files), "primary": payload.primary, "derived": payload.derived,
                    "package": payload.wheels.package if payload.wheels else None},
    }))


def shares(matrix: Matrix) -> dict[str, str]:
    """Variant name → its `share` of the matrix."""
    return {v.name: share(matrix, v) for v in matrix.variants}


def changed_last(now: Mapping[str, str], commits: Iterable[Commit],
                 before: Callable[[Commit], Mapping[str, str] | None]) -> Found:
    """For each variant of `now` (name → its share today), the newest of `commits` (newest first) that
    touched its folder, or touched the matrix file when the matrix before it (`before(commit)`: name →
    share, None when it cannot be read) said something else of it. Reads `commits` only until each
    variant has one; a shallow clone's boundary commit is no answer: its variants are `unknown`."""
    found: dict[str, Commit] = {}
    for commit in commits:
        open_ = [name for name in now if name not in found]
        if not open_:
            break
        earlier = before(commit) if commit.matrix and any(n not in commit.folders for n in open_) else {}
        for name in open_:
            if name in commit.folders or (commit.matrix and (earlier is None or earlier.get(name) != now[name])):
                found[name] = commit
    unknown = tuple(name for name, c in found.items() if c.boundary)
    return Found({name: c for name, c in found.items() if not c.boundary}, unknown)
