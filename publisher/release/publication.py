"""What one variant publishes: its platform images, its index over them (its resolved annotations, its
attestation entries) and its tags. Pure: the flows build one per variant, steps/push pushes them.

The index is byte for byte the same whether its images were made here or by stages (a stage record's
manifests and attestation entries): one machine and a join publish the same digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from publisher.image import oci
from publisher.image.attestation import AttestationManifest, lists_attestations
from publisher.image.oci import Image
from publisher.release.plan import VariantPlan
from publisher.release.resolved import ResolvedVariant


@dataclass(frozen=True)
class Publication:
    """What one variant publishes: its platform images, its index, and its tags."""

    name: str
    images: tuple[Image, ...]
    index: bytes
    tags: tuple[str, ...]
    repositories: tuple[str, ...] = ()  # only these repositories; () for every one
    attestations: tuple[AttestationManifest, ...] = ()  # one per image, listed in the index
    copied_from: str | None = None  # the repository holding this index, copied from there where it is missing (release/rerun)

    def goes_to(self, ref: str) -> bool:
        return not self.repositories or ref in self.repositories

    @property
    def digest(self) -> str:
        return oci.digest(self.index)

    @property
    def attested(self) -> bool:
        return lists_attestations(json.loads(self.index))


def copied(v: VariantPlan, tags: tuple[str, ...], index: bytes, copied_from: str) -> Publication:
    """An index repository `copied_from` holds, written to `tags` of `v` in every repository of `v`, its content
    copied from there (release/rerun.course): the very bytes, so every repository holds one digest."""
    return Publication(v.variant.name, (), index, tags, v.variant.repositories, (), copied_from)


def publication(v: VariantPlan, resolved: ResolvedVariant, children: dict, images: dict | None = None,
                made: dict | None = None, recorded: dict | None = None, tags: tuple[str, ...] | None = None) -> Publication:
    """One variant's index over `children` ((variant, platform) → Image or Child) at its resolved platforms,
    with its resolved annotations; `images` to push with it; to its `tags` (all of them by default).

    Its attestations, listed in the index after the images: `made`, (variant, platform) → the AttestationManifest
    made here, pushed with it; or `recorded`, → its index entry as a stage record holds it (the stage pushed it)."""
    keys = [(v.variant.name, p) for p in resolved.platforms]
    mine = [children[key] for key in keys]
    pushed = tuple(images[key] for key in keys) if images else ()
    attestations = tuple(made[key] for key in keys if key in made) if made else ()
    entries = [a.index_entry() for a in attestations] + [recorded[key] for key in keys if (recorded or {}).get(key)]
    index = oci.index(mine, dict(resolved.annotations), entries)
    return Publication(v.variant.name, pushed, index, v.tags if tags is None else tags, v.variant.repositories, attestations)
