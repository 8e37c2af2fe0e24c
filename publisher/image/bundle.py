"""Sigstore bundles as cosign 3 writes them: a DSSE envelope signed with a key, attached as a referrer.

`cosign sign --key` (3.x, its defaults) signs an in-toto statement about the manifest (predicate type
`SIGN_PREDICATE`, an empty predicate), `cosign attest --key` one with the attestation as predicate.
Each goes in a DSSE envelope (signature over the envelope's PAE, ECDSA P-256/SHA-256, DER, base64)
inside a bundle v0.3 whose verification material is the key's hint (base64 of the SHA-256 of its
DER public key): no certificate, no transparency log entry, as `cosign sign --key` with a signing
config without Rekor writes it. The bundle is the one layer of a referrer of the signed manifest
(`referrers.referrer`), annotated with its content and predicate type and a creation time: the
release's, so a rerun makes the very same bytes (ECDSA with RFC 6979 nonces, canonical JSON).

`cosign verify --key` reads every bundle referrer of the manifest and checks each signature and that
the statement's subject is the manifest; `cosign verify-attestation --type T` also the predicate type.
Pure: keys and bytes in, bytes out.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publisher.image import oci
from publisher.image.attestation import IN_TOTO, REFERENCE_DIGEST, REFERENCE_TYPE, DataBlob, about, canonical_json
from publisher.image.cosign import sign
from publisher.image.referrers import Referrer, referrer

BUNDLE = "application/vnd.dev.sigstore.bundle.v0.3+json"
SIGN_PREDICATE = "https://sigstore.dev/cosign/sign/v1"
STATEMENT_V1 = "https://in-toto.io/Statement/v1"
CONTENT, PREDICATE = "dev.sigstore.bundle.content", "dev.sigstore.bundle.predicateType"
EPOCH = "1970-01-01T00:00:00Z"  # an index without a creation time: a fixed one, never "now"


def sign_statement(digest: str) -> bytes:
    """What `cosign sign` signs of manifest `digest`: an in-toto v1 statement, empty predicate."""
    subject = {"digest": {"sha256": oci.sha256_hex(digest)}, "annotations": {}}
    return canonical_json({"_type": STATEMENT_V1, "subject": [subject], "predicateType": SIGN_PREDICATE,
                           "predicate": {}})


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature is over."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def key_hint(public_key: ec.EllipticCurvePublicKey) -> str:
    """How a bundle names the key that signed it: base64 of the SHA-256 of its DER public key."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def bundle(private_key: ec.EllipticCurvePrivateKey, statement: bytes) -> bytes:
    """A v0.3 bundle: `statement` in a DSSE envelope signed with `private_key`."""
    envelope = {"payload": base64.b64encode(statement).decode(), "payloadType": IN_TOTO,
                "signatures": [{"sig": sign(private_key, pae(IN_TOTO, statement))}]}
    return canonical_json({"mediaType": BUNDLE, "verificationMaterial": {"publicKey": {"hint": key_hint(private_key.public_key())}},
                           "dsseEnvelope": envelope})


def bundle_referrer(subject: Mapping, data: bytes, predicate_type: str, created: str) -> Referrer:
    """The referrer of manifest `subject` (its descriptor) carrying bundle `data`, as cosign attaches it."""
    annotations = {CONTENT: "dsse-envelope", PREDICATE: predicate_type, oci.CREATED: created}
    return referrer(subject, BUNDLE, [DataBlob(data, BUNDLE)], annotations)


@dataclass(frozen=True)
class Signable:
    """What is signed of one index: the manifests themselves and the statements about them."""

    manifests: tuple[dict, ...]  # descriptors: the index, then its platform manifests
    created: str  # the index's creation time


def signable(index: bytes) -> Signable:
    """The index and its platform manifests (not its attestation manifests: the statements in them
    are signed one by one instead), and the creation time the index carries."""
    document = json.loads(index)
    own = {"mediaType": document.get("mediaType") or oci.INDEX, "digest": oci.digest(index), "size": len(index)}
    platforms = [m for m in document.get("manifests") or []
                 if (m.get("annotations") or {}).get(REFERENCE_TYPE) != "attestation-manifest"]
    return Signable((own, *platforms), (document.get("annotations") or {}).get(oci.CREATED) or EPOCH)


def attested(index: bytes) -> dict[str, str]:
    """Attestation manifest digest → the platform manifest it is about, as the index lists them."""
    return {m["digest"]: m["annotations"][REFERENCE_DIGEST] for m in json.loads(index).get("manifests") or []
            if (m.get("annotations") or {}).get(REFERENCE_TYPE) == "attestation-manifest"}


def bundles(private_key: ec.EllipticCurvePrivateKey, index: bytes, statements: Sequence[bytes]) -> list[Referrer]:
    """Every bundle referrer of one index: a signature of the index and of each platform manifest,
    then one per statement (an SBOM, a provenance) about a platform manifest the index lists."""
    found = signable(index)
    by_digest = {m["digest"]: m for m in found.manifests}
    made = [bundle_referrer(m, bundle(private_key, sign_statement(m["digest"])), SIGN_PREDICATE, found.created)
            for m in found.manifests]
    for data in statements:
        kind, subjects = about(data)
        made += [bundle_referrer(by_digest[d], bundle(private_key, data), kind, found.created)
                 for d in subjects if d in by_digest and d != found.manifests[0]["digest"]]
    return made


def bundle_verifies(public_key: ec.EllipticCurvePublicKey, data: bytes, digest: str, predicate_type: str) -> bool:
    """True if `data` is a bundle whose DSSE envelope `public_key` signed, holding an in-toto statement
    of `predicate_type` about `digest`: what `cosign verify(-attestation) --key` checks of it."""
    try:
        envelope = json.loads(data)["dsseEnvelope"]
        statement = base64.b64decode(envelope["payload"], validate=True)
        kind, subjects = about(statement)
        if envelope["payloadType"] != IN_TOTO or kind != predicate_type or digest not in subjects:
            return False
        message = pae(IN_TOTO, statement)
        return any(_dsse_signed(public_key, s.get("sig", ""), message) for s in envelope["signatures"])
    except (ValueError, KeyError, TypeError, AttributeError):
        return False


def _dsse_signed(public_key: ec.EllipticCurvePublicKey, signature: str, message: bytes) -> bool:
    try:
        public_key.verify(base64.b64decode(signature), message, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError):
        return False
    return True
