"""Loading the signing key: every accepted format, one clear line for every failure, no secrets."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from publisher.errors import PublisherError
from publisher.local.keys import load_signing_key, public_pem

PASSWORD = "canary-Pa55w0rd-7f3a91"
ENV = {"PUBLISHER_SIGN_PASSWORD": PASSWORD}
P256 = ec.generate_private_key(ec.SECP256R1())
PKCS8, SEC1 = serialization.PrivateFormat.PKCS8, serialization.PrivateFormat.TraditionalOpenSSL


def pem(key, fmt=PKCS8, password: str | None = None) -> bytes:
    encryption = (serialization.BestAvailableEncryption(password.encode()) if password
                  else serialization.NoEncryption())
    return key.private_bytes(serialization.Encoding.PEM, fmt, encryption)


def write(tmp_path, data: bytes, name="signing-key.pem"):
    path = tmp_path / name
    path.write_bytes(data)
    return path


def secrets_of(data: bytes) -> list[str]:
    """The canaries: the password and every base64 line of the PEM."""
    lines = [line for line in data.decode(errors="replace").splitlines() if line and not line.startswith("-----")]
    return [PASSWORD, *[line for line in lines if len(line) > 16]]


def refused(path, env, data: bytes = b"") -> PublisherError:
    with pytest.raises(PublisherError) as caught:
        load_signing_key(path, env)
    error = caught.value
    assert len(error.lines) == 1 and str(path) in error.lines[0]
    assert error.__cause__ is None and error.__context__ is None
    chain, seen = [error], error
    while seen is not None:
        seen = seen.__cause__ or seen.__context__
        if seen is not None:
            chain.append(seen)
    for secret in secrets_of(data):
        for exc in chain:
            assert secret not in str(exc) and secret not in repr(exc.args)
    return error


def same_key(a, b) -> bool:
    return public_pem(a) == public_pem(b)


@pytest.mark.parametrize("fmt", [PKCS8, SEC1])
def test_plain_pem_keys_load(tmp_path, fmt):
    assert same_key(load_signing_key(write(tmp_path, pem(P256, fmt)), {}), P256)


@pytest.mark.parametrize("fmt", [PKCS8, SEC1])
def test_encrypted_keys_take_the_password_from_the_environment(tmp_path, fmt):
    path = write(tmp_path, pem(P256, fmt, PASSWORD))
    assert same_key(load_signing_key(path, ENV), P256)
    assert same_key(load_signing_key(str(path), ENV), P256)


def test_password_set_for_a_plain_key_is_ignored(tmp_path):
    assert same_key(load_signing_key(write(tmp_path, pem(P256)), ENV), P256)


def test_missing_file(tmp_path):
    assert "no such signing key file" in str(refused(tmp_path / "nope.pem", ENV))


def test_directory_is_unreadable(tmp_path):
    assert "cannot read" in str(refused(tmp_path, ENV))


def test_not_a_pem(tmp_path):
    data = pem(P256)[40:-30]  # the base64 body without its BEGIN/END lines
    error = refused(write(tmp_path, data), ENV, data)
    assert "not a PEM file" in str(error) and "openssl" in str(error)


@pytest.mark.parametrize("fmt", [PKCS8, SEC1])
def test_encrypted_without_password(tmp_path, fmt):
    data = pem(P256, fmt, PASSWORD)
    error = refused(write(tmp_path, data), {}, data)
    assert "PUBLISHER_SIGN_PASSWORD is not set" in str(error)
    assert "PUBLISHER_SIGN_PASSWORD is not set" in str(refused(write(tmp_path, data), {"PUBLISHER_SIGN_PASSWORD": ""}, data))


@pytest.mark.parametrize("fmt", [PKCS8, SEC1])
def test_wrong_password(tmp_path, fmt):
    data = pem(P256, fmt, "another-password-entirely")
    error = refused(write(tmp_path, data), ENV, data)
    assert "wrong password" in str(error)


def test_wrong_curve(tmp_path):
    data = pem(ec.generate_private_key(ec.SECP384R1()), PKCS8, PASSWORD)
    error = refused(write(tmp_path, data), ENV, data)
    assert "secp384r1" in str(error) and "P-256" in str(error)


def test_rsa_key(tmp_path):
    data = pem(rsa.generate_private_key(public_exponent=65537, key_size=2048))
    assert "not an EC key" in str(refused(write(tmp_path, data), ENV, data))


def test_public_key_instead_of_private(tmp_path):
    data = public_pem(P256)
    assert "PUBLIC KEY, not an EC private key" in str(refused(write(tmp_path, data), ENV, data))


def test_cosign_key_format_is_named(tmp_path):
    data = (b"-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\neyJrZGYiOnsibmFtZSI6InNjcnlwdCJ9fQ==\n"
            b"-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n")
    error = refused(write(tmp_path, data), ENV, data)
    assert "cosign's own key format is not supported" in str(error) and "import-key-pair" in str(error)


def test_corrupt_pem_body(tmp_path):
    good = pem(P256).decode().splitlines()
    data = "\n".join([good[0], good[1][::-1], *good[2:]]).encode() + b"\n"
    assert "does not hold a readable private key" in str(refused(write(tmp_path, data), ENV, data))


def test_public_pem_is_subject_public_key_info():
    assert public_pem(P256).startswith(b"-----BEGIN PUBLIC KEY-----\n")
    loaded = serialization.load_pem_public_key(public_pem(P256))
    assert loaded.public_numbers() == P256.public_key().public_numbers()


def test_a_missing_public_key_asks_for_a_public_key(tmp_path):
    from publisher.local.keys import load_public_key

    with pytest.raises(PublisherError) as refused_key:
        load_public_key(tmp_path / "key.pub")
    assert str(refused_key.value).endswith("key.pub: no such public key file; pass the path of a PEM EC P-256 public key")
