"""`publisher verify`: read every repository and check that it holds release V, attested and signed.

Nothing is built and nothing is written. Each planned tag must hold an index of the planned
platforms (for `platforms: from-base`, those its base's index has, read as the publish reads it)
whose annotations say release V; each platform manifest must have its attestation
manifest with an SBOM and a provenance statement about it, the SBOM naming the payload at V (not
demanded of a release published with --no-attestations); with a key, the index and every platform
manifest must carry a cosign signature verifying with it in both formats (a `.sig` tag, and a
Sigstore bundle among its referrers), and each platform manifest a signed SBOM and provenance.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from publisher.image import predicates
from publisher.image.attestation import PREDICATE_ANNOTATION, REFERENCE_DIGEST
from publisher.image.bundle import BUNDLE, SIGN_PREDICATE, attested, bundle_verifies, signable
from publisher.image.cosign import SIGNATURE_ANNOTATION, signature_tag, verifies
from publisher.image.oci import INDEXES, layers_of
from publisher.image.platform import Platform
from publisher.image.reference import Mirror, parse_repository
from publisher.options import default_cache
from publisher.release.plan import VERSION, Plan, VariantPlan
from publisher.release.result import platforms_of
from publisher.remote.hosts import Hosts
from publisher.remote.policy import Policy
from publisher.image.cosign import subjects
from publisher.holdings.preview import Preview, Survey, preview
from publisher.holdings.repository import Repository
from publisher.words import plural


@dataclass(frozen=True)
class Verification:
    problems: list[str]
    summary: str


@dataclass(frozen=True)
class Demands:
    """What each index must carry beyond its platforms."""

    version: str
    key: object = None  # a public key: every index and image signed with it
    attested: bool = True  # an SBOM and a provenance of every image (False: --no-attestations)


@dataclass(frozen=True)
class Expected:
    """Variant → the platforms its tags must hold; None when not known (a from-base variant's base not read)."""

    platforms: dict[str, tuple[Platform, ...] | None]
    note: str | None = None  # why some are not known, as one problem line


def platforms_to_verify(plan: Plan, base_mirror: Mirror | None, cache: Path) -> Expected:
    """Each variant's own platforms; for `platforms: from-base`, those its base's index has now, never the candidates."""
    from_base = [v.variant.name for v in plan.variants if v.variant.platforms_from_base]
    found = _from_bases(plan, base_mirror, cache) if from_base else Preview({})
    platforms = {v.variant.name: found.platforms.get(v.variant.name) if v.variant.platforms_from_base
                 else v.variant.platforms for v in plan.variants}
    note = f"{found.note}; the platforms of {', '.join(from_base)} not checked" if found.note else None
    return Expected(platforms, note)


def _from_bases(plan: Plan, base_mirror: Mirror | None, cache: Path) -> Preview:
    with Survey(plan, base_mirror, cache) as survey:
        return preview(survey)


def verify_release(plan: Plan, public_key=None, attested: bool = True, base_mirror: Mirror | None = None,
          cache: Path | None = None) -> Verification:
    demands = Demands(plan.release.text, public_key, attested)
    expected = platforms_to_verify(plan, base_mirror, cache or default_cache())
    with Hosts(Policy(attempts=3), timeout=60) as hosts, ThreadPoolExecutor(8) as pool:
        repos = [Repository(ref, hosts[parse_repository(ref).host]) for ref in plan.repositories]
        work = [(repo, v) for repo in repos for v in plan.variants_in(repo.ref)]
        found = [line for lines in pool.map(lambda item: _variant_problems(*item, expected.platforms[item[1].variant.name], demands),
                                            work) for line in lines]
    found = [expected.note, *found] if expected.note else found
    tags = sum(len(plan.tags_in(ref)) for ref in plan.repositories)
    what = _what(demands)
    where = f"{plural(tags, 'tag')} of {plural(len(repos), 'repository')}"
    if found:
        return Verification(found, f"{plan.release.text}: {plural(len(found), 'problem')} in {where}")
    holds = f"the {where} holds" if tags == 1 else f"all {where} hold"
    return Verification([], f"{plan.release.text}: {holds} it, {what}")


def _what(demands: Demands) -> str:
    attested = "attested" if demands.attested else "not attested (--no-attestations)"
    return f"{attested} and signed" if demands.key else f"{attested} (signatures not checked: no --key)"


def _variant_problems(repo: Repository, v: VariantPlan, platforms: tuple[Platform, ...] | None, demands: Demands) -> list[str]:
    held = {tag: repo.registry.head_manifest(repo.name.tag(tag)) for tag in v.tags}
    problems = {d: _index_problems(repo, d, platforms, demands) for d in sorted(set(filter(None, held.values())))}
    good = sorted(d for d, found in problems.items() if not found)
    lines = []
    for tag, digest in held.items():
        if digest is None:
            lines.append(f"{repo.ref}:{tag}: no such tag")
        lines += [f"{repo.ref}:{tag}: {problem}" for problem in problems.get(digest, [])]
        if digest in good and len(good) > 1:
            lines.append(f"{repo.ref}:{tag}: holds {digest}; the other tags of {v.variant.name} hold {', '.join(d for d in good if d != digest)}")
    return lines


def _index_problems(repo: Repository, digest: str, expected: tuple[Platform, ...] | None, demands: Demands) -> list[str]:
    """`expected`: the platforms the index must hold; None: not checked (the verification says why, once)."""
    version, key = demands.version, demands.key
    media_type, body, _ = repo.registry.get_manifest(repo.name.digest(digest)) or (None, b"{}", None)
    document = json.loads(body)
    if media_type not in INDEXES and "manifests" not in document:
        return [f"holds {digest}, not an index (publisher publishes an index per variant)"]
    found = (document.get("annotations") or {}).get(VERSION)
    problems = [] if found == version else [f"holds {digest}, made from release {found or 'unknown'}, not {version}"]
    platforms = platforms_of(body)
    if expected is not None and not _serves(list(platforms), expected):
        problems.append(f"holds {digest}, for {', '.join(map(str, platforms)) or 'no platform'}, "
                        f"not {', '.join(map(str, expected)) or 'no platform'}")
    attested = {(m.get("annotations") or {}).get(REFERENCE_DIGEST): m["digest"] for m in document["manifests"]}
    for platform, manifest in platforms.items() if demands.attested else ():
        problems += [f"{platform}: {p}" for p in _attestation_problems(repo, manifest, attested.get(manifest), version)]
    if key is not None:
        problems += [f"{d}: no signature verifying with the given key under {signature_tag(d)}"
                     for d in subjects(body) if not _signed(repo, d, key)]
        problems += _bundle_problems(repo, body, key, demands.attested)
    return problems


def _bundle_problems(repo: Repository, index: bytes, key, statements: bool) -> list[str]:
    """cosign 3's format: a bundle signing the index and each platform manifest, and with attestations
    a signed SBOM and provenance of each platform manifest the index attests (one it does not is a
    problem already), each verifying with the key."""
    manifests, attests = [m["digest"] for m in signable(index).manifests], set(attested(index).values())
    wanted = [(d, kind) for d in manifests for kind in
              (SIGN_PREDICATE, *((predicates.SBOM, predicates.PROVENANCE) if statements and d in attests else ()))]
    found = {d: _bundles(repo, d) for d in manifests}
    return [f"{d}: no Sigstore bundle of {_BUNDLE_KINDS[kind]} verifying with the given key among its referrers "
            "(cosign 3's format); publish again with --sign-key to add it"
            for d, kind in wanted if not any(bundle_verifies(key, data, d, kind) for data in found[d])]


_BUNDLE_KINDS = {SIGN_PREDICATE: "its signature", predicates.SBOM: "its SBOM", predicates.PROVENANCE: "its provenance"}


def _bundles(repo: Repository, digest: str) -> list[bytes]:
    """The Sigstore bundles among the referrers of `digest` (cosign lists its own with the config's type)."""
    out = []
    for listed in repo.registry.list_referrers(repo.name.digest(digest)).descriptors:
        found = repo.registry.get_manifest(repo.name.digest(listed["digest"]))
        layers = layers_of(found[1] if found else None)
        out += [repo.registry.get_blob(repo.path, layer["digest"]) for layer in layers if layer.get("mediaType") == BUNDLE]
    return out


def _attestation_problems(repo: Repository, subject: str, manifest: str | None, version: str) -> list[str]:
    if manifest is None:
        return ["no attestation manifest (no SBOM, no provenance); if it was published with --no-attestations, verify with it"]
    found = repo.registry.get_manifest(repo.name.digest(manifest))
    kinds = {(layer.get("annotations") or {}).get(PREDICATE_ANNOTATION, ""): layer["digest"]
             for layer in layers_of(found[1] if found else None)}
    spdx = kinds.get(predicates.SBOM)
    provenance = next((d for k, d in kinds.items() if k.startswith(predicates.PROVENANCE.rsplit("/", 1)[0] + "/")), None)
    problems = [f"no {name}" for name, d in (("SBOM", spdx), ("provenance", provenance)) if d is None]
    for name, d in (("SBOM", spdx), ("provenance", provenance)):
        statement = json.loads(repo.registry.get_blob(repo.path, d)) if d else {}
        if d and subject.split(":")[1] not in [s.get("digest", {}).get("sha256") for s in statement.get("subject", [])]:
            problems.append(f"the {name}'s subject is not {subject}")
        if name == "SBOM" and d and not _names_payload(statement.get("predicate") or {}, version):
            problems.append(f"the SBOM does not name the payload at {version}")
    return problems


def _names_payload(document: dict, version: str) -> bool:
    return any(p.get("primaryPackagePurpose") == "APPLICATION" and p.get("versionInfo") == version
               for p in document.get("packages", []))


def _signed(repo: Repository, digest: str, key) -> bool:
    found = repo.registry.get_manifest(repo.name.tag(signature_tag(digest)))
    for layer in layers_of(found[1] if found else None):
        signature = (layer.get("annotations") or {}).get(SIGNATURE_ANNOTATION)
        if signature and verifies(key, repo.ref, digest, repo.registry.get_blob(repo.path, layer["digest"]), signature):
            return True
    return False


def _serves(found: list[Platform], expected: tuple[Platform, ...]) -> bool:
    """Each expected platform has its own image among `found` (an index's), and `found` has no other."""
    left = list(found)
    for spec in expected:
        match = next((p for p in left if p.satisfies(spec)), None)
        if match is None:
            return False
        left.remove(match)
    return not left
