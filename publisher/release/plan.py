"""The Plan: everything a release will publish, computed from the Matrix without Docker or network."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cached_property

from publisher.image import recipe as recipes
from publisher.image.oci import CREATED, OCI, REVISION, VERSION
from publisher.image.platform import Platform
from publisher.errors import Problems
from publisher.matrix.schema import Matrix, Variant
from publisher.release.selection import Selection
from publisher.matrix.payload import Payload
from publisher.matrix.schema import TAG
from publisher.release.tags import retired, tags_for
from publisher.release.version import Release


@dataclass(frozen=True)
class Provenance:
    created: str | None = None  # RFC 3339, UTC
    revision: str | None = None  # the source commit


@dataclass(frozen=True)
class VariantPlan:
    variant: Variant
    tags: tuple[str, ...]  # in publishing order
    labels: dict[str, str]
    dockerfile: str  # path relative to the matrix's folder
    dockerfile_text: str
    recipe: recipes.Recipe | None = None  # how it is assembled from its base without a build; None: BuildKit builds it


@dataclass(frozen=True)
class Plan:
    release: Release
    repositories: tuple[str, ...]
    variants: tuple[VariantPlan, ...]  # what is published; --only may leave the primary out
    primary: VariantPlan  # always built: derived images copy from it
    payload: Payload  # the files every image carries
    source: str = "matrix.yaml"  # the matrix file as the user named it, for messages
    selection: Selection = Selection()  # --only/--skip, when given
    left_out: tuple = ()  # release.gate.LeftOut: variants of the matrix not published, each with why
    base_tags: tuple[str, ...] = ()  # every base tag of the matrix, selected or not: what is not retired
    checked: str | None = None  # the payload's version, when not the release's (the dev channel); "" unknown

    @property
    def payload_version(self) -> str:
        """What `{version}` stands for in payload checks and smoke tests; "" matches any version."""
        return self.release.text if self.checked is None else self.checked

    def retired(self, existing) -> list[str]:
        """Tags of `existing` (a repository's) that this matrix no longer updates (see tags.retired)."""
        return retired(existing, self.release, self.tags, self.base_tags)
    template: str = "variants/Dockerfile.j2"  # the matrix's template, relative to its folder
    home: str = ""  # the matrix's first repository, whatever --repository says: the images' name in attestations

    @property
    def tags(self) -> list[str]:
        return [t for v in self.variants for t in v.tags]

    def repositories_of(self, v: VariantPlan) -> tuple[str, ...]:
        """Where a variant is published: its own `repositories:` (a subset), else every repository."""
        return v.variant.repositories or self.repositories

    def publishes(self, name: str, ref: str) -> bool:
        """Whether variant `name` goes to repository `ref`."""
        return ref in self._destinations.get(name, ())

    @cached_property
    def _destinations(self) -> dict[str, tuple[str, ...]]:
        """Variant name → its repositories: `publishes` is asked once per image and repository."""
        return {v.variant.name: self.repositories_of(v) for v in self.variants}

    @property
    def platforms(self) -> list[Platform]:
        """Every platform some variant is published for; each needs the primary image."""
        return sorted({p for v in self.variants for p in v.variant.platforms})

    @property
    def made(self) -> tuple[VariantPlan, ...]:
        """What may be made: the variants published, and the primary, which derived images copy from even
        when --only leaves it out."""
        return tuple({v.variant.name: v for v in (self.primary, *self.variants)}.values())

    def variants_in(self, ref: str) -> list[VariantPlan]:
        return [v for v in self.variants if ref in self.repositories_of(v)]

    def tags_in(self, ref: str) -> list[str]:
        """The planned tags of one repository, in publishing order."""
        return [t for v in self.variants_in(ref) for t in v.tags]

    @property
    def images(self) -> int:
        return sum(len(v.variant.platforms) for v in self.variants)

    def to_json(self, resolved: dict[str, tuple[Platform, ...]] | None = None) -> dict:
        """`resolved`: from-base variant → the platforms its base has, when the dry-run read the bases."""
        resolved = resolved or {}
        document = {
            "version": self.release.text,
            "prerelease": self.release.prerelease,
            "repositories": list(self.repositories),
            "variants": [
                {
                    "name": v.variant.name,
                    "base": str(v.variant.base) if v.variant.base else None,
                    "family": v.variant.family,
                    "primary": v.variant.primary,
                    "platforms": [str(p) for p in v.variant.platforms],
                    # only for platforms: from-base: those of `platforms` its base has, found at publish time
                    **({"platforms_from": "base"} if v.variant.platforms_from_base else {}),
                    # only for those, when the dry-run could read their bases: the platforms a publish would make now
                    **({"platforms_resolved": [str(p) for p in resolved[v.variant.name]]} if v.variant.name in resolved else {}),
                    "dockerfile": v.dockerfile,
                    "made": "assembled" if v.recipe else "built",
                    "tags": list(v.tags),
                    "labels": v.labels,
                    # only for a variant published to some of the repositories: the document is otherwise unchanged
                    **({"repositories": list(v.variant.repositories)} if v.variant.repositories else {}),
                }
                for v in self.variants
            ],
            "totals": {"variants": len(self.variants), "images": self.images, "tags_per_repository": len(self.tags)},
        }
        if self.left_out:  # only when a variant is left out: the document is otherwise unchanged
            document["left_out"] = [{**vars(x), "base": str(x.base)} for x in self.left_out]
        if self.selection:  # only with --only/--skip: the document is otherwise unchanged
            document["selection"] = {"only": list(self.selection.only), "skip": list(self.selection.skip),
                                     "selected": [v.variant.name for v in self.variants], "of": self.selection.of}
        return document


def make_plan(matrix: Matrix, release: Release, provenance: Mapping[str, Provenance], dockerfiles: dict[str, str],
              version: str | None = None) -> Plan:
    """Tags and labels for every variant; refuses a tag set that is invalid or ambiguous. `provenance`:
    variant name → the commit it names (local/git); none for a variant it leaves out."""
    problems = Problems()
    owners: dict[str, str] = {}
    variants = []
    for variant in matrix.variants:
        tags = tags_for(release, variant.base_tags, variant.primary)
        for tag in tags:
            line = _line_of(variant, tag)
            if not TAG.fullmatch(tag):
                problems.add(f"{matrix.name}:{line}: tag '{tag}' is invalid for {release.text} (at most 128 of A-Z a-z 0-9 _ . -); shorten the base tag")
            elif tag in owners:
                problems.add(f"{matrix.name}:{line}: tag '{tag}' is claimed by both '{owners[tag]}' and '{variant.name}'; rename one base tag")
            owners.setdefault(tag, variant.name)
        path = matrix.dockerfile(variant)
        text = dockerfiles[path]
        variants.append(VariantPlan(variant, tuple(tags), labels(matrix, variant, release, provenance.get(variant.name, Provenance()), version), path, text,
                                    _recipe(variant, text, matrix.payload)))
    problems.raise_if_any()
    return Plan(release, matrix.repositories, tuple(variants), variants[0], matrix.payload, matrix.name,
                base_tags=tuple(t for v in matrix.variants for t in v.base_tags), template=matrix.template,
                home=matrix.repositories[0] if matrix.repositories else "")


def _recipe(variant: Variant, text: str, payload: Payload) -> recipes.Recipe | None:
    """How the variant is assembled, when its Dockerfile is FROM the base the matrix declares (or scratch)."""
    if variant.primary:
        found = recipes.read_primary(text, payload.files, payload.primary)
    else:
        found = recipes.read(text, payload.sources)
    return found if found is not None and found.base == variant.base else None


def _line_of(variant: Variant, tag: str) -> int:
    for base_tag, line in zip(variant.base_tags, variant.tag_lines):
        if tag == base_tag or tag.endswith("-" + base_tag):
            return line
    return variant.line


def labels(matrix: Matrix, variant: Variant, release: Release, provenance: Provenance,
           version: str | None = None) -> dict[str, str]:
    """`version`: the label's version when it is not the release's (the dev channel)."""
    result = {OCI + key: value for key, value in matrix.labels.items()}
    result[VERSION] = version or release.text
    if provenance.created:
        result[CREATED] = provenance.created
    if provenance.revision:
        result[REVISION] = provenance.revision
    if variant.base:
        result[OCI + "base.name"] = variant.base.name
    return dict(sorted(result.items()))


def select(plan: Plan, selection: Selection, platforms: list[Platform], staged: bool = False) -> Plan:
    """The plan restricted to some variants and platforms (patterns and names checked by the caller).

    A variant with none of `platforms` is left out, as it has no image to index; with `staged` (a
    stage) it is kept with no platform, as every stage's plan must be the join's (records.plan_identity).
    """
    kept = []
    for v in plan.variants:
        if not selection.keeps(v.variant.name):
            continue
        chosen = tuple(p for p in v.variant.platforms if not platforms or p in platforms)
        if chosen == v.variant.platforms:  # most often: no copy (a plan may have thousands of variants)
            kept.append(v)
        elif chosen or staged:
            kept.append(replace(v, variant=replace(v.variant, platforms=chosen)))
    primary = plan.primary.variant
    chosen = tuple(p for p in primary.platforms if not platforms or p in platforms)
    selection = replace(selection, of=len(plan.variants))
    return replace(plan, variants=tuple(kept), primary=replace(plan.primary, variant=replace(primary, platforms=chosen)),
                   selection=selection)
