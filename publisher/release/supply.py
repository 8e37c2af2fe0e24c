"""What a release carries besides its images: attestations and signatures, as the dry-run shows it. Pure."""

from __future__ import annotations

from publisher.image import predicates
from publisher.release.plan import Plan


def supply_chain(plan: Plan, signed: bool, attested: bool = True) -> dict:
    """Every image gets one attestation manifest (SBOM + provenance) in its variant's index, none
    with --no-attestations (`attested` False); with a key, every index and every image is signed in
    every repository, in both of cosign's formats (a `.sig` and a Sigstore bundle), and each image's
    SBOM and provenance are signed statements too (a bundle each)."""
    signatures = len(plan.variants) + plan.images
    bundles = signatures + (2 * plan.images if attested else 0)
    return {
        "attestations": [
            {"kind": "sbom", "format": "SPDX-2.3", "predicate_type": predicates.SBOM},
            {"kind": "provenance", "format": "SLSA-1.0", "predicate_type": predicates.PROVENANCE},
        ] if attested else [],
        "attestation_manifests": plan.images if attested else 0,
        "signed": signed,
        "signatures_per_repository": signatures if signed else 0,
        "bundles_per_repository": bundles if signed else 0,
    }
