"""What one flow publishes, resolved once: each variant's final platforms, base digest and index annotations.

The matrix's Variant stays as declared (`platforms: from-base` keeps the platforms it lists); a flow
reads its bases, records or registry states, then builds one `Resolved` with one of the functions
here, and every step reads the platforms, bases and annotations of that value. Nothing rewrites it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from types import MappingProxyType

from publisher.image.attest import Context, context_digest
from publisher.image.platform import Platform
from publisher.release import inputs
from publisher.release.inputs import Format4, Parts
from publisher.release.plan import Plan, VariantPlan


@dataclass(frozen=True)
class ResolvedVariant:
    platforms: tuple[Platform, ...]  # what this flow makes of it: its own, or for from-base, those its base has
    base_digest: str | None  # its base's digest as this flow resolved it (None: FROM scratch, or a base not read)
    annotations: MappingProxyType  # its index's annotations; empty for a stage, which writes no index
    parts: Parts | None = None  # what it is made of (release/inputs); None for a stage

    @property
    def inputs(self) -> str | None:
        """The digest of what its content depends on (release/inputs), as its index records it."""
        return self.annotations.get(inputs.INPUTS)


@dataclass(frozen=True)
class Resolved:
    plan: Plan  # the variants and tags this flow publishes: the selected Plan, or a refresh's cut of it
    variants: MappingProxyType  # variant name → ResolvedVariant, in plan order
    payload: MappingProxyType  # Platform → the digest of the payload's files its images carry (inputs.payload_digest)
    context: MappingProxyType  # Platform → the digest of its images' attestation context (image/attest.context_digest)
    format_4: Format4 | None = None  # to recognise an index of inputs format 4 (release/inputs); None: not known here

    def __getitem__(self, name: str) -> ResolvedVariant:
        return self.variants[name]

    def platforms_of(self, v: VariantPlan) -> tuple[Platform, ...]:
        return self.variants[v.variant.name].platforms

    @property
    def platforms(self) -> list[Platform]:
        """Every platform some variant is made for; each needs the primary image."""
        return sorted({p for r in self.variants.values() for p in r.platforms})


def final_platforms(plan: Plan, from_base: dict[str, tuple[Platform, ...]]) -> dict[str, tuple[Platform, ...]]:
    """Variant → its platforms: its own, or (a from-base variant in `from_base`) those its base has."""
    return {v.variant.name: from_base.get(v.variant.name, v.variant.platforms) for v in plan.variants}


def one_machine(plan: Plan, from_base: dict[str, tuple[Platform, ...]], bases: dict[str, str | None],
                files: dict[Platform, dict[str, str]], context: Context | None) -> Resolved:
    """One machine and a refresh (`plan` already cut to its variants): platforms from the bases read,
    annotations from the bases' digests, the payload's files (Platform → file name → digest) and what the
    attestations share (None: no attestations): its digest, and its fields to recognise an index of inputs format 4."""
    platforms = final_platforms(plan, from_base)
    payload = {p: inputs.payload_digest(f) for p, f in files.items()}
    contexts = {p: context_digest(context) for p in files}
    was = Format4(context.shared() if context else None, MappingProxyType(payload))
    return _resolved(plan, {v.variant.name: _variant(v, platforms[v.variant.name], bases.get(v.variant.name),
                                                     payload, contexts)
                            for v in plan.variants}, payload, contexts, was)


def foreseen(plan: Plan, from_base: dict[str, tuple[Platform, ...]], bases: dict[str, str | None], context: str) -> Resolved:
    """For a dry-run, which fetches no payload: every part but the payload, from the bases read (those not
    read: None) and the attestation context's digest; no annotations."""
    platforms = final_platforms(plan, from_base)
    contexts = {p: context for p in plan.platforms}
    found = {v.variant.name: ResolvedVariant(platforms[v.variant.name], bases.get(v.variant.name), MappingProxyType({}),
                                             inputs.parts(v, bases.get(v.variant.name), None, contexts, platforms[v.variant.name]))
             for v in plan.variants}
    return _resolved(plan, found, {}, contexts)


def cut(found: Resolved, names: Iterable[str]) -> Resolved:
    """What a flow makes of what it resolved: the variants `names` only (the rest are kept or copied:
    release/rerun.course), each as resolved."""
    keep = set(names)
    plan = replace(found.plan, variants=tuple(v for v in found.plan.variants if v.variant.name in keep))
    return replace(found, plan=plan, variants=MappingProxyType({n: r for n, r in found.variants.items() if n in keep}))


def stage(plan: Plan, from_base: dict[str, tuple[Platform, ...]], bases: dict[str, str | None],
          files: dict[Platform, dict[str, str]], context: str) -> Resolved:
    """A stage: this stage's platforms of each variant (a from-base one whose base has none: no platform);
    no annotations, the join writes the indexes."""
    platforms = final_platforms(plan, from_base)
    return _resolved(plan, {v.variant.name: ResolvedVariant(platforms[v.variant.name], bases.get(v.variant.name),
                                                            MappingProxyType({})) for v in plan.variants},
                     {p: inputs.payload_digest(f) for p, f in files.items()}, {p: context for p in files})


def join(plan: Plan, platforms: dict[str, tuple[Platform, ...]], staged: dict) -> Resolved:
    """The join: the platforms the records found (`records.joined_platforms`), and each variant's base,
    payload and attestation context as its stages made it (`staged`: (variant, platform) → StagedImage)."""
    payload = {platform: i.payload for (_, platform), i in staged.items()}
    contexts = {platform: i.context for (_, platform), i in staged.items()}
    found = {}
    for v in plan.variants:
        mine = [staged[v.variant.name, p] for p in platforms[v.variant.name]]
        found[v.variant.name] = _variant(v, platforms[v.variant.name], mine[0].base_digest,
                                         {i.platform: i.payload for i in mine}, {i.platform: i.context for i in mine})
    return _resolved(plan, found, payload, contexts)


def _variant(v: VariantPlan, platforms: tuple[Platform, ...], base_digest: str | None, payload: dict[Platform, str],
             context: dict[Platform, str]) -> ResolvedVariant:
    made_of = inputs.parts(v, base_digest, payload, context, platforms)
    return ResolvedVariant(platforms, base_digest, MappingProxyType(inputs.annotations(v, made_of)), made_of)


def _resolved(plan: Plan, variants: dict[str, ResolvedVariant], payload: dict[Platform, str],
              context: dict[Platform, str], format_4: Format4 | None = None) -> Resolved:
    return Resolved(plan, MappingProxyType(variants), MappingProxyType(dict(payload)), MappingProxyType(dict(context)),
                    format_4)
