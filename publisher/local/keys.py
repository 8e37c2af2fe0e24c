"""The signing key: a PEM file on this machine, its password from the environment.

Accepted: an EC P-256 private key in PEM, PKCS#8 (`BEGIN PRIVATE KEY`, or `BEGIN ENCRYPTED PRIVATE
KEY` with a password) or SEC1 (`BEGIN EC PRIVATE KEY`, optionally `Proc-Type: 4,ENCRYPTED`). Not
accepted: cosign's own `ENCRYPTED SIGSTORE PRIVATE KEY` (scrypt + secretbox); make a PEM key with
openssl instead and, to use the same key with cosign, `cosign import-key-pair --key key.pem`.

Every failure is one PublisherError line naming the file and the fix. None carries key material or
the password, in its text or in its exception chain: errors are raised outside `except` blocks,
so neither `__cause__` nor `__context__` holds the library's exception.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from publisher.errors import PublisherError

PASSWORD_ENV = "PUBLISHER_SIGN_PASSWORD"
MAKE_KEY = ("openssl ecparam -name prime256v1 -genkey -noout | "
            "openssl pkcs8 -topk8 -nocrypt -out signing-key.pem")
_LABEL = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----")
_PRIVATE = {"PRIVATE KEY", "EC PRIVATE KEY", "ENCRYPTED PRIVATE KEY"}


def load_signing_key(path: str | os.PathLike, env: Mapping[str, str] = os.environ) -> ec.EllipticCurvePrivateKey:
    """The P-256 private key in `path`; an encrypted one is opened with $PUBLISHER_SIGN_PASSWORD."""
    data, problem = _read_key(Path(path))
    if problem is None:
        problem = _kind_problem(data)
    if problem is None:
        key, problem = _load(data, env.get(PASSWORD_ENV) or None)
    if problem is None:
        problem = _curve_problem(key)
    if problem is not None:
        raise PublisherError(f"{path}: {problem}")
    return key


def public_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The public half as `BEGIN PUBLIC KEY` PEM: what `cosign verify --key` takes."""
    return key.public_key().public_bytes(serialization.Encoding.PEM,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)


def _read_key(path: Path, what: str = "signing key", kind: str = "private key") -> tuple[bytes, str | None]:
    try:
        return path.read_bytes(), None
    except FileNotFoundError:
        return b"", f"no such {what} file; pass the path of a PEM EC P-256 {kind}"
    except OSError as exc:
        return b"", f"cannot read the {what} ({exc.strerror or type(exc).__name__}); fix its path or permissions"


def _kind_problem(data: bytes) -> str | None:
    labels = [m.decode() for m in _LABEL.findall(data)]
    if not labels:
        return f"not a PEM file (no -----BEGIN line); make a key with: {MAKE_KEY}"
    if "ENCRYPTED SIGSTORE PRIVATE KEY" in labels:
        return ("cosign's own key format is not supported; make a PEM key with: "
                f"{MAKE_KEY} (then `cosign import-key-pair --key` if cosign should use it too)")
    if not _PRIVATE.intersection(labels):
        return (f"holds {', '.join(labels)}, not an EC private key; "
                f"pass the private key (PKCS#8 or SEC1 PEM), e.g. made with: {MAKE_KEY}")
    return None


def _encrypted(data: bytes) -> bool:
    return b"ENCRYPTED PRIVATE KEY" in data or b"Proc-Type: 4,ENCRYPTED" in data


def _load(data: bytes, password: str | None) -> tuple[object, str | None]:
    """Decide what went wrong from what we know (encrypted? password given?), never from the
    library's message, and leave the except block before raising anything."""
    encrypted = _encrypted(data)
    if encrypted and password is None:
        return None, f"the key is encrypted and ${PASSWORD_ENV} is not set; set it to the key's password"
    failed = False
    try:
        key = serialization.load_pem_private_key(data, password.encode() if encrypted else None)
    except Exception:  # noqa: BLE001 - ValueError, TypeError, UnsupportedAlgorithm: one answer
        failed = True
    if not failed:
        return key, None
    if encrypted:
        return None, f"cannot decrypt the key: wrong password in ${PASSWORD_ENV}; set the key's password"
    return None, f"the PEM does not hold a readable private key; make one with: {MAKE_KEY}"


def _curve_problem(key: object) -> str | None:
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        return f"a {type(key).__name__.lstrip('_')}, not an EC key; cosign signs with ECDSA P-256: {MAKE_KEY}"
    if key.curve.name != "secp256r1":
        return f"an EC key on {key.curve.name}, not P-256 (secp256r1); make one with: {MAKE_KEY}"
    return None


def load_public_key(path: str | os.PathLike) -> ec.EllipticCurvePublicKey:
    """The P-256 public key in `path` (`BEGIN PUBLIC KEY` PEM, as `cosign verify --key` takes)."""
    data, problem = _read_key(Path(path), "public key", "public key")
    key = None
    if problem is None:
        try:
            key = serialization.load_pem_public_key(data)
        except Exception:  # noqa: BLE001 - any unreadable PEM: one answer
            problem = "not a PEM public key; pass the public half, e.g. `openssl ec -in key.pem -pubout`"
    if problem is None and not (isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name == "secp256r1"):
        problem = "not an EC P-256 public key; cosign signatures are ECDSA P-256"
    if problem is not None:
        raise PublisherError(f"{path}: {problem}")
    return key
