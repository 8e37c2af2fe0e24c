"""The attestations of one platform image, and the index that carries them; what every attestation of a
publish shares (`Context`) and its digest, an input of every variant (release/inputs). Pure.

One attestation manifest per platform image, BuildKit's layout (see `attestation`): its SBOM
(`sbom`, SPDX 2.3) then its provenance (`slsa`, SLSA v1), both about the platform manifest. The
statements name the image by the matrix's first repository, the same bytes for every repository,
so every repository gets the same index digest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, is_dataclass
from collections.abc import Mapping
from datetime import datetime, timezone

from publisher.image import attestation, oci, purl, sbom, slsa
from publisher.image.attestation import AttestationManifest
from publisher.image.platform import Platform
from publisher.image.slsa import SourceFile, full_commit

STABLE_ENV = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "RUNNER_ENVIRONMENT")  # the same on every run
NO_ATTESTATIONS = "no attestations"  # what stands for the context's digest with --no-attestations: an input too


@dataclass(frozen=True)
class Context:
    """What every attestation of one publish shares, as values (made by steps/attest.context)."""

    image: str  # the name the SBOMs give every image: the matrix's first repository
    supplier: str
    matrix: SourceFile
    template: SourceFile | None
    source: str | None  # the source repository's URL, in CI
    env: dict  # stable CI variables only (see stable_env)
    package: str | None  # the payload's PyPI project when it comes from wheels: its files' purl
    folders: tuple[str, str]  # where the payload's files are: in the primary image, in derived images
    payload_version: str  # the files' version: the release's, or --version's on the dev channel ("" unknown)
    files: dict  # Platform → the payload's files → their digests (steps/prepare.payload_files)
    payloads: dict  # Platform → (Dependency, ...): the wheel, or the files given with --artifacts
    components: dict = field(default_factory=dict)  # Platform → (Component, ...): what the files are made of, the wheel's SBOMs say

    @property
    def digest(self) -> str:
        """All but the per-platform payload, which the inputs digest has already (its files; a wheel on
        PyPI never changes; the components its wheel's SBOMs list, the wheel their one source): one value
        for every stage of a release, whatever its platforms. Its field names are hashed: renaming one
        changes every inputs digest. The commit each image names and its time are not in it: they are each
        variant's (its labels), and not inputs (release/inputs)."""
        return oci.digest(json.dumps(self.shared(), sort_keys=True).encode())

    def shared(self) -> dict:
        """The fields the digest hashes, as JSON values."""
        return json.loads(json.dumps({f.name: getattr(self, f.name) for f in fields(self)
                                      if f.name not in ("files", "payloads", "components")}, default=_as_json))


def format_4_digest(shared: Mapping | None, created: str | None, revision: str | None) -> str:
    """The context's digest as inputs format 4 hashed it (release/inputs), when a publish's context held its
    creation time and revision: `shared` (Context.shared; None without attestations) with `created` and
    `revision`, the labels an index of that format records."""
    if shared is None:
        return NO_ATTESTATIONS
    then = {**shared, "created": str(created_time(created)), "revision": revision if full_commit(revision) else None}
    return oci.digest(json.dumps(then, sort_keys=True, default=_as_json).encode())


def created_time(label: str | None) -> datetime:
    """An image's creation time, from its `created` label; the epoch when it has none, never "now"."""
    if not label:
        return datetime.fromtimestamp(0, timezone.utc)
    return datetime.fromisoformat(label.replace("Z", "+00:00"))


def _as_json(value) -> object:
    """How the Context's digest writes a value JSON has no form for: a dataclass as its fields, anything else as text."""
    return asdict(value) if is_dataclass(value) else str(value)


def context_digest(context: Context | None) -> str:
    """What stands for the attestation context in the inputs digest (release/inputs): its digest, or with
    --no-attestations (`context` None) NO_ATTESTATIONS: an input too, so a publish with attestations after
    one without (or the reverse) is never "up to date"."""
    return context.digest if context is not None else NO_ATTESTATIONS


@dataclass(frozen=True)
class Facts:
    """What one platform image's attestations say: its SBOM's and its provenance's inputs."""

    sbom: sbom.SbomInputs  # its subject_digest is the platform manifest
    provenance: slsa.ProvenanceInputs


def attest(facts: Facts) -> AttestationManifest:
    subject = facts.sbom.subject_digest
    name = subject_name(facts.sbom.image, subject, facts.sbom.platform)
    documents = [(sbom.build_sbom(facts.sbom), sbom.PREDICATE_TYPE),
                 (slsa.build_provenance(facts.provenance), slsa.PREDICATE_TYPE)]
    layers = [(attestation.statement(name, subject, kind, predicate), kind) for predicate, kind in documents]
    return attestation.attestation_manifest(subject, layers)


def subject_name(image: str, digest: str, platform: Platform) -> str:
    """As BuildKit names a subject: the image's purl, by digest, with its platform."""
    return purl.docker(image, digest, str(platform))


def stable_env(env) -> dict[str, str]:
    """The CI variables that name the builder and never change between runs of one release:
    a run's id or attempt in the provenance would give every rerun other bytes, another index
    digest, and a conflict on the exact tags a first, interrupted run pushed."""
    return {k: env[k] for k in STABLE_ENV if env.get(k)}


def python_version(config: bytes) -> str | None:
    """PYTHON_VERSION of an image config's Env: the python base's own interpreter."""
    env = (json.loads(config).get("config") or {}).get("Env") or []
    found = [e.split("=", 1)[1] for e in env if e.startswith("PYTHON_VERSION=")]
    return found[-1] if found else None
