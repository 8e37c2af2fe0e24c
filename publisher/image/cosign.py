"""cosign signatures ("simple signing", sigstore/cosign specs/SIGNATURE_SPEC.md), made without cosign.

A signature of manifest D in repository R is an OCI image manifest tagged `sha256-<hex of D>.sig`
in R. Each layer is a payload blob naming D (media type `SIMPLESIGNING`), its descriptor carries
the base64 ECDSA P-256/SHA-256 signature of the payload bytes in `SIGNATURE_ANNOTATION`. Verifiers
(cosign, containers' `sigstoreSigned` policy) check the key against the signature, and the payload's
digest against the manifest they pulled: sign the index AND every platform manifest, because a
client pulling one platform checks that platform's manifest.

Signing is deterministic (RFC 6979), so a rerun of a release produces the very same manifest.
Pure: keys and bytes in, bytes out.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from publisher.errors import PublisherError
from publisher.image import oci
from publisher.image.attestation import OCI_CONFIG, OCI_MANIFEST, REFERENCE_TYPE, DataBlob, canonical_json, digest_of

SIMPLESIGNING = "application/vnd.dev.cosign.simplesigning.v1+json"
SIGNATURE_ANNOTATION = "dev.cosignproject.cosign/signature"
SIGNATURE_TYPE = "cosign container image signature"
_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")


def payload(repository: str, digest: str) -> bytes:
    """The simple-signing payload, byte for byte as cosign marshals it (Go field order, compact).
    `repository` has no tag or digest: `ghcr.io/acme/tool`, `docker.io/acme/tool`."""
    if "@" in repository or ":" in repository.rsplit("/", 1)[-1]:
        raise ValueError(f"docker-reference must be a repository without tag or digest: {repository!r}")
    if not _DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 manifest digest: {digest!r}")
    critical = {"identity": {"docker-reference": repository},
                "image": {"docker-manifest-digest": digest}, "type": SIGNATURE_TYPE}
    return json.dumps({"critical": critical, "optional": None}, separators=(",", ":")).encode()


def sign(private_key: ec.EllipticCurvePrivateKey, data: bytes) -> str:
    """base64 of the DER ECDSA P-256/SHA-256 signature; RFC 6979, so the same every time."""
    if not isinstance(private_key, ec.EllipticCurvePrivateKey) or private_key.curve.name != "secp256r1":
        raise ValueError("cosign signatures need an ECDSA P-256 private key")
    try:
        der = private_key.sign(data, ec.ECDSA(hashes.SHA256(), deterministic_signing=True))
    except UnsupportedAlgorithm:
        raise PublisherError("this cryptography's OpenSSL has no deterministic ECDSA (needs 3.2+); "
                             "install cryptography>=44 from its wheels") from None
    return base64.b64encode(der).decode()


@dataclass(frozen=True)
class SignatureEntry:
    payload: bytes
    signature: str  # base64, as `sign` returns it


@dataclass(frozen=True)
class SignatureManifest:
    config: DataBlob
    layers: tuple[DataBlob, ...]
    manifest: bytes  # canonical JSON

    @property
    def digest(self) -> str:
        return digest_of(self.manifest)


def signature_manifest(entries: Sequence[SignatureEntry]) -> SignatureManifest:
    """All signatures of one manifest (one per key) in one OCI manifest, as cosign stores them."""
    if not entries:
        raise ValueError("a signature manifest needs at least one signature")
    layers = tuple(DataBlob(e.payload, SIMPLESIGNING, {SIGNATURE_ANNOTATION: e.signature}) for e in entries)
    config = DataBlob(_signature_config([layer.digest for layer in layers]), OCI_CONFIG)
    manifest = canonical_json({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config.descriptor(),
                          "layers": [layer.descriptor() for layer in layers]})
    return SignatureManifest(config, layers, manifest)


def _signature_config(diff_ids: list[str]) -> bytes:
    """go-containerregistry's config of cosign's signature image: Go struct field order (not
    sorted), the zero time instead of "now", one history entry per payload layer."""
    zero = "0001-01-01T00:00:00Z"
    config = {"architecture": "", "created": zero, "history": [{"created": zero} for _ in diff_ids],
              "os": "", "rootfs": {"type": "layers", "diff_ids": diff_ids}, "config": {}}
    return json.dumps(config, separators=(",", ":")).encode()


def signature_tag(digest: str) -> str:
    """`sha256:ab…` → `sha256-ab….sig`, the tag cosign looks the signatures up by."""
    if not _DIGEST.fullmatch(digest):
        raise ValueError(f"not a sha256 manifest digest: {digest!r}")
    return digest.replace(":", "-", 1) + ".sig"


def verifies(public_key: ec.EllipticCurvePublicKey, repository: str, digest: str, data: bytes, signature: str) -> bool:
    """True if `data` is a simple-signing payload for `digest` in `repository` and `signature`
    (base64 DER) is ECDSA P-256/SHA-256 over exactly those bytes by `public_key`.

    `publisher verify --key` checks with this rather than running cosign: it needs no cosign where
    it runs, and it checks the payload's docker-reference, which `cosign verify` does not (a `.sig`
    copied to another repository verifies there with cosign; tests/test_supply_chain.py shows it)."""
    try:
        critical = json.loads(data)["critical"]
        if (critical["type"] != SIGNATURE_TYPE or critical["image"]["docker-manifest-digest"] != digest
                or critical["identity"]["docker-reference"] != repository):
            return False
        public_key.verify(base64.b64decode(signature), data, ec.ECDSA(hashes.SHA256()))
        return True
    except (ValueError, KeyError, TypeError, InvalidSignature):
        return False


def subjects(index: bytes) -> list[str]:
    """What is signed of one index: the index and its platform manifests (not its attestations,
    which the index digest covers)."""
    document = json.loads(index)
    return [oci.digest(index)] + [m["digest"] for m in document.get("manifests", [])
                                  if (m.get("annotations") or {}).get(REFERENCE_TYPE) != "attestation-manifest"]
