"""The in-toto predicate types publisher attests with, by name: the dry-run says them without loading
the SBOM and provenance builders."""

SBOM = "https://spdx.dev/Document"  # SPDX 2.3 JSON, as BuildKit's SBOM attestations
PROVENANCE = "https://slsa.dev/provenance/v1"  # SLSA provenance v1
