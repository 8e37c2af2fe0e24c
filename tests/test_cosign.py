"""cosign signatures as values, checked by a verifier written here from cosign's published spec
(specs/SIGNATURE_SPEC.md), not from publisher.image.cosign.

Real cosign verifies what publishes push (tests/test_supply_chain.py, through tests/verifiers.py);
this verifier stays for what cosign cannot check: signature values never pushed to a registry (these
offline unit tests) and the payload's docker-reference, which cosign verify does not compare with the
repository it reads."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publisher.image.cosign import (SignatureEntry, payload, sign, signature_manifest,
                                    signature_tag)

REPOSITORY = "ghcr.io/astral-sh/uv"
DIGEST = "sha256:" + "9f" * 32


def verify(manifest: bytes, blobs: dict[str, bytes], public_pem: bytes, repository: str, digest: str) -> int:
    """Tag-based discovery aside, what `cosign verify --key` checks: returns the number of
    layers whose signature verifies and whose payload names `digest`; raises if none does."""
    key = serialization.load_pem_public_key(public_pem)
    doc = json.loads(manifest)
    assert doc["schemaVersion"] == 2
    good = 0
    for layer in doc["layers"]:
        if layer["mediaType"] != "application/vnd.dev.cosign.simplesigning.v1+json":
            continue
        data = blobs[layer["digest"]]
        if "sha256:" + hashlib.sha256(data).hexdigest() != layer["digest"] or len(data) != layer["size"]:
            continue
        signature = base64.b64decode(layer["annotations"]["dev.cosignproject.cosign/signature"])
        try:
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            continue
        claims = json.loads(data)["critical"]
        if (claims["type"] == "cosign container image signature"
                and claims["image"]["docker-manifest-digest"] == digest
                and claims["identity"]["docker-reference"] == repository):
            good += 1
    if not good:
        raise InvalidSignature("no layer verifies")
    return good


def new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def public(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def signed(key, repository=REPOSITORY, digest=DIGEST):
    data = payload(repository, digest)
    made = signature_manifest([SignatureEntry(data, sign(key, data))])
    return made, {layer.digest: layer.data for layer in made.layers}


def test_payload_is_cosigns_exact_bytes():
    assert payload(REPOSITORY, DIGEST) == (
        b'{"critical":{"identity":{"docker-reference":"ghcr.io/astral-sh/uv"},'
        b'"image":{"docker-manifest-digest":"' + DIGEST.encode() + b'"},'
        b'"type":"cosign container image signature"},"optional":null}')


def test_right_key_verifies():
    key = new_key()
    made, blobs = signed(key)
    assert verify(made.manifest, blobs, public(key), REPOSITORY, DIGEST) == 1


def test_another_key_is_refused():
    made, blobs = signed(new_key())
    with pytest.raises(InvalidSignature):
        verify(made.manifest, blobs, public(new_key()), REPOSITORY, DIGEST)


def test_tampered_payload_is_refused():
    key = new_key()
    made, blobs = signed(key)
    layer = made.layers[0]
    forged = layer.data.replace(b"9f9f", b"0000", 1)
    # The forger fixes the descriptor too: only the signature can catch it now.
    doc = json.loads(made.manifest)
    doc["layers"][0]["digest"] = "sha256:" + hashlib.sha256(forged).hexdigest()
    with pytest.raises(InvalidSignature):
        verify(json.dumps(doc).encode(), {doc["layers"][0]["digest"]: forged}, public(key), REPOSITORY,
               "sha256:0000" + "9f" * 30)


def test_signature_of_another_image_or_repository_is_refused():
    key = new_key()
    made, blobs = signed(key)
    with pytest.raises(InvalidSignature):
        verify(made.manifest, blobs, public(key), REPOSITORY, "sha256:" + "11" * 32)
    with pytest.raises(InvalidSignature):
        verify(made.manifest, blobs, public(key), "docker.io/astral/uv", DIGEST)


def test_manifest_layout():
    made, _ = signed(new_key())
    doc = json.loads(made.manifest)
    assert doc["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert doc["config"]["mediaType"] == "application/vnd.oci.image.config.v1+json"
    layer = made.layers[0]
    assert made.config.data == (
        b'{"architecture":"","created":"0001-01-01T00:00:00Z","history":[{"created":"0001-01-01T00:00:00Z"}],'
        b'"os":"","rootfs":{"type":"layers","diff_ids":["' + layer.digest.encode() + b'"]},"config":{}}')
    assert doc["config"]["digest"] == "sha256:" + hashlib.sha256(made.config.data).hexdigest()
    assert made.manifest == json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()
    assert made.digest == "sha256:" + hashlib.sha256(made.manifest).hexdigest()


def test_two_keys_two_layers_both_verify():
    first, second = new_key(), new_key()
    data = payload(REPOSITORY, DIGEST)
    made = signature_manifest([SignatureEntry(data, sign(first, data)), SignatureEntry(data, sign(second, data))])
    blobs = {layer.digest: layer.data for layer in made.layers}
    assert verify(made.manifest, blobs, public(first), REPOSITORY, DIGEST) == 1
    assert verify(made.manifest, blobs, public(second), REPOSITORY, DIGEST) == 1
    assert len(json.loads(made.config.data)["history"]) == 2


def test_deterministic_signatures_and_manifests():
    key = new_key()
    assert sign(key, b"payload") == sign(key, b"payload")
    assert signed(key)[0] == signed(key)[0]
    assert signed(key)[0].manifest == signed(key)[0].manifest


def test_signature_tag():
    assert signature_tag(DIGEST) == "sha256-" + "9f" * 32 + ".sig"
    with pytest.raises(ValueError):
        signature_tag("sha256:abc")


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="without tag"):
        payload("ghcr.io/astral-sh/uv:latest", DIGEST)
    with pytest.raises(ValueError, match="digest"):
        payload(REPOSITORY, "latest")
    with pytest.raises(ValueError, match="P-256"):
        sign(ec.generate_private_key(ec.SECP384R1()), b"x")
    with pytest.raises(ValueError):
        signature_manifest([])
