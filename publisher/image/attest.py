"""The attestations of one platform image, and the index that carries them. Pure.

One attestation manifest per platform image, BuildKit's layout (see `attestation`): its SBOM
(`sbom`, SPDX 2.3) then its provenance (`slsa`, SLSA v1), both about the platform manifest. The
statements name the image by the matrix's first repository, the same bytes for every repository,
so every repository gets the same index digest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from publisher.image import attestation, purl, sbom, slsa
from publisher.image.attestation import AttestationManifest
from publisher.image.platform import Platform

STABLE_ENV = ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "RUNNER_ENVIRONMENT")  # the same on every run


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
