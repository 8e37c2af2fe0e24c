"""Registries shaped like ghcr.io and Docker Hub: short-lived tokens, pull-only grants, bases that lack
a platform, registries without cross-repository mounts or OCI indexes. Real docker-registry processes
throughout; the proxy in front only reshapes what such registries would answer."""

from __future__ import annotations

import json
import secrets

import pytest

from publisher.image.oci import INDEX
from publisher.image.reference import Name
from publisher.image.oci import digest as sha256_digest
from publisher.remote.credentials import Credentials
from publisher.remote.errors import RegistryError
from publisher.remote.registry import Registry
from tests.images import push_base
from tests.test_publish import reduced_matrix, skopeo

pytestmark = pytest.mark.docker
CREATED, REVISION = "1732100000", "0123abc"


def publish(cli, matrix, mirror, cache, repos, *extra):
    args = ["publish", "--version", "0.5.31", "--matrix", matrix, "--base-mirror", mirror, "--cache", str(cache),
            "--created", CREATED, "--revision", REVISION, "--retry-delay", "0.01", *extra]
    for repo in repos:
        args += ["--repository", repo]
    return cli(*args)


def login(monkeypatch, token_registry, user: str, password: str | None = None) -> None:
    for name, value in token_registry.auth_env(user).items():
        monkeypatch.setenv(name, value if password is None else f"{user}:{password}")


def test_a_401_on_a_streamed_upload_put_gets_a_fresh_token_and_the_body_again(token_registry, tmp_path):
    writer = Credentials("writer", token_registry.users["writer"])
    data = secrets.token_bytes(3 << 20)
    layer = tmp_path / "layer.tar.gz"
    layer.write_bytes(data)
    repo = f"up/{secrets.token_hex(3)}"
    token_registry.expire_next_upload_put()
    with Registry(token_registry.host, writer) as reg:
        assert reg.upload_blob(repo, sha256_digest(data), layer) is True
        assert reg.get_blob(repo, sha256_digest(data)) == data
    (method, path, status), = token_registry.expired
    assert (method, status) == ("PUT", 401) and "digest=" in path  # the real registry refused the old token


def test_publish_through_expiring_tokens_fetches_each_token_once(cli, tmp_path, engine, mirror, cache, token_registry,
                                                                  monkeypatch):
    login(monkeypatch, token_registry, "writer")
    repo = f"{token_registry.host}/tok/{secrets.token_hex(3)}"
    token_registry.expire_next_upload_put()
    run = publish(cli, reduced_matrix(tmp_path, cli), mirror, cache, [repo], "--only", "alpine3.20")
    assert run.code == 0, run.err
    assert [status for _, _, status in token_registry.expired] == [401]  # an upload PUT met an expired token
    counts = token_registry.service.counts()
    fetched = {key: n for key, n in counts.items() if key[0] == "writer"}
    # One token per set of scopes for the whole publish, whatever the threads; the expired one once more.
    assert sorted(fetched.values())[:-1] == [1] * (len(fetched) - 1) and max(fetched.values()) <= 2, fetched
    # Index entries carry the platform exactly as each image config says it.
    index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:alpine3.20",
                              creds=f"writer:{token_registry.users['writer']}"))
    for entry in index["manifests"]:
        config = json.loads(skopeo("inspect", "--config", "--raw", f"docker://{repo}@{entry['digest']}",
                                   creds=f"writer:{token_registry.users['writer']}"))
        assert entry["platform"] == {k: config[k] for k in ("os", "architecture", "variant") if k in config}
    # The platform manifests, then their attestation manifests (unknown/unknown, as BuildKit lists them).
    assert [e["platform"]["architecture"] for e in index["manifests"]] == ["amd64", "arm64", "unknown", "unknown"]


def test_pull_only_credentials_are_refused_before_anything_is_built(cli, tmp_path, engine, mirror, cache,
                                                                   token_registry, monkeypatch):
    login(monkeypatch, token_registry, "reader")
    path = f"ro/{secrets.token_hex(3)}"
    run = publish(cli, reduced_matrix(tmp_path, cli), mirror, cache, [f"{token_registry.host}/{path}"])
    host = token_registry.host
    assert (run.code, run.err.splitlines()) == (2, [
        f"{host}/{path}: the credentials for {host} were accepted but do not allow push; "
        "grant write access or log in as another user"])
    assert "build:" not in run.out and "smoke-test:" not in run.out
    with Registry(host, Credentials("writer", token_registry.users["writer"])) as reg:
        assert reg.list_tags(path) == []


def test_a_wrong_password_shows_the_registrys_own_reason(cli, tmp_path, mirror, cache, token_registry, monkeypatch):
    canary = "canary-" + secrets.token_hex(8)
    login(monkeypatch, token_registry, "writer", canary)
    run = publish(cli, reduced_matrix(tmp_path, cli), mirror, cache, [f"{token_registry.host}/pw/x"])
    assert run.code == 2 and len(run.err.splitlines()) == 1, run.err
    assert "incorrect username or password" in run.err and canary not in run.out + run.err


def test_a_base_without_a_planned_platform_is_refused_before_anything_is_built(cli, tmp_path, engine, registry,
                                                                               cache):
    base = f"only/amd{secrets.token_hex(3)}:1"
    mirrored = push_base(tmp_path, registry.host, base, ["linux/amd64"])
    matrix = reduced_matrix(tmp_path, cli).replace("matrix.yaml", "custom.yaml")
    text = (tmp_path / "matrix.yaml").read_text().replace("base: alpine:3.20", f"base: {base}")
    (tmp_path / "custom.yaml").write_text(text)
    assert cli("render", "--matrix", matrix).code == 0
    line = text.splitlines().index(f"  - base: {base}") + 1
    run = publish(cli, matrix, registry.host, cache, [f"{registry.host}/plat/{secrets.token_hex(3)}"])
    assert (run.code, run.err.splitlines()) == (2, [
        f"{matrix}:{line}: variant 'alpine3.20': base {base} has no linux/arm64 image (it has linux/amd64) "
        f"(looked up at {mirrored}); remove the platform from the variant or choose another base"])
    assert "build:" not in run.out


def test_a_mount_answered_with_an_upload_session_uses_that_session(cli, tmp_path, engine, mirror, cache, proxies):
    proxy = proxies()
    proxy.mounts = False  # a registry without cross-repository mounts: 202 and an upload session
    repos = [f"{proxy.host}/nomount/{secrets.token_hex(3)}" for _ in range(2)]
    run = publish(cli, reduced_matrix(tmp_path, cli), mirror, cache, repos, "--only", "alpine3.20",
                  "--platform", "linux/amd64")
    assert run.code == 0, run.err
    counts = proxy.counts()
    # Every upload session opened ends in a blob committed, but the one per repository opened
    # (and cancelled) on purpose to prove push permission.
    assert counts["requests"]["POST"] == counts["blob_uploads"] + len(repos)
    assert counts["requests"].get("DELETE") == len(repos)


def test_a_registry_refusing_oci_indexes_is_told_which_media_type(registry, proxies):
    proxy = proxies()
    proxy.refused_types = {INDEX}
    body = json.dumps({"schemaVersion": 2, "mediaType": INDEX, "manifests": []}).encode()
    with Registry(proxy.host) as reg:
        with pytest.raises(RegistryError) as caught:
            reg.put_manifest(Name(reg.host, "idx/x").tag("latest"), body, INDEX)
    assert str(caught.value) == (
        f"{proxy.host}/idx/x: PUT manifest latest: HTTP 400 MANIFEST_INVALID: manifest invalid; the registry does "
        f"not take the media type {INDEX} (an OCI image index): publish to a registry that supports OCI indexes")


def test_unreachable_registries_are_one_line_before_anything_is_built(cli, tmp_path, mirror, cache):
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        host = f"127.0.0.1:{sock.getsockname()[1]}"
    run = publish(cli, reduced_matrix(tmp_path, cli), mirror, cache, [f"{host}/gone/uv"], "--retries", "2")
    assert run.code == 2 and len(run.err.splitlines()) == 1, run.err
    assert "cannot talk to the registry" in run.err and "build:" not in run.out and "Traceback" not in run.err
