"""A canary secret, given through each credentials route, never appears anywhere publisher writes."""

from __future__ import annotations

import base64
import json
import os
import secrets
from pathlib import Path

import pytest

from tests.test_publish import reduced_matrix

pytestmark = pytest.mark.docker


def route(kind: str, host: str, user: str, secret: str, tmp: Path, monkeypatch) -> None:
    """Give credentials to publisher one way only."""
    key = "PUBLISHER_AUTH_" + "".join(c if c.isalnum() else "_" for c in host.upper())
    monkeypatch.delenv(key, raising=False)
    config_dir = tmp / f"docker-{kind}"
    config_dir.mkdir()
    monkeypatch.setenv("DOCKER_CONFIG", str(config_dir))
    config: dict = {}
    if kind == "env":
        monkeypatch.setenv(key, f"{user}:{secret}")
    elif kind == "config":
        config = {"auths": {host: {"auth": base64.b64encode(f"{user}:{secret}".encode()).decode()}}}
    elif kind == "helper":
        helper = tmp / "bin" / "docker-credential-canary"
        helper.parent.mkdir(exist_ok=True)
        helper.write_text(f"#!/bin/sh\necho '{json.dumps({'Username': user, 'Secret': secret})}'\n")
        helper.chmod(0o755)
        monkeypatch.setenv("PATH", f"{helper.parent}:{os.environ['PATH']}")
        config = {"credHelpers": {host: "canary"}}
    (config_dir / "config.json").write_text(json.dumps(config))


def leaks(secret: str, texts: list[str], folders: list[Path]) -> list[str]:
    forms = {secret.encode()} | {base64.b64encode(f"{u}:{secret}".encode()) for u in ("publisher", "nobody")}
    found = [f"output {i}" for i, text in enumerate(texts) for form in forms if form in text.encode()]
    for folder in folders:
        for path in folder.rglob("*"):
            if path.is_file() and not path.is_symlink() and "docker-" not in str(path) and "/bin/" not in str(path):
                data = path.read_bytes()
                found += [str(path) for form in forms if form in data]
    return found


@pytest.mark.parametrize("kind", ["env", "config", "helper"])
def test_canary_never_leaks(kind, cli, tmp_path, engine, auth_registry, mirror, cache, monkeypatch):
    (tmp_path / "m").mkdir()
    matrix = reduced_matrix(tmp_path / "m", cli)
    repo = f"{auth_registry.host}/secrets/{kind}"
    common = ["--version", "0.5.31", "--matrix", matrix, "--base-mirror", mirror, "--cache", str(cache),
              "--repository", repo, "--only", "distroless", "--platform", "linux/amd64", "--retries", "2"]

    route(kind, auth_registry.host, auth_registry.username, auth_registry.password, tmp_path, monkeypatch)
    published = cli("publish", *common)
    assert published.code == 0, published.err
    preview = cli("publish", "--dry-run", *common)
    assert "1 stays" in preview.out or "3 stays" in preview.out, preview.out

    canary = "canary-" + secrets.token_hex(12)
    (tmp_path / "wrong").mkdir()
    route(kind, auth_registry.host, "nobody", canary, tmp_path / "wrong", monkeypatch)
    refused = cli("publish", *common)
    assert refused.code == 2 and "HTTP 401" in refused.err, refused.err

    texts = [published.out, published.err, preview.out, preview.err, refused.out, refused.err]
    assert leaks(auth_registry.password, texts, [cache, tmp_path]) == []
    assert leaks(canary, texts, [cache, tmp_path]) == []
