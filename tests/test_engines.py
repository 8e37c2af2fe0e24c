"""The same release on two engines: the same inputs give the same digests on the classic image store
and on the containerd image store (issue 19, point 2), so a release rerun on an upgraded runner finds
its own exact tags as they are.

The primary and one alpine-based and one Debian-based derived variant, both platforms, each engine
into its own repository; every index and platform-manifest digest compared.
"""

from __future__ import annotations

import hashlib
import json
import secrets

import pytest

from tests.engines import CONTAINERD_HOST, STORES
from tests.test_publish import publish, reduced_matrix, skopeo

pytestmark = pytest.mark.docker
EXACT = {"distroless": "0.5.31", "alpine3.20": "0.5.31-alpine3.20", "bookworm-slim": "0.5.31-bookworm-slim"}


def published_digests(repo: str) -> dict[str, str]:
    """'variant' → its index digest, 'variant os/arch' → each platform manifest's, as the registry holds them."""
    found = {}
    for variant, tag in EXACT.items():
        raw = skopeo("inspect", "--raw", f"docker://{repo}:{tag}")
        found[variant] = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
        for entry in json.loads(raw)["manifests"]:
            where = f"{entry['platform']['os']}/{entry['platform']['architecture']}"
            if where != "unknown/unknown":  # attestation manifests: the index digest covers them
                found[f"{variant} {where}"] = entry["digest"]
    return found


def test_the_same_release_has_the_same_digests_on_both_image_stores(cli, tmp_path, engine, containerd_engine, registry,
                                                                     mirror, cache, monkeypatch):
    from publisher.local.artifacts import fetch_wheels
    from publisher.options import Arguments, compute_plan

    matrix = reduced_matrix(tmp_path, cli)
    # One payload folder, and a cache of its own for each engine, as two runners would have.
    payload = compute_plan(Arguments(matrix=matrix, version="0.5.31")).payload
    artifacts = next(iter(fetch_wheels(payload, "0.5.31", list(payload.wheels.platforms), cache).values())).parent
    digests = {}
    for store in STORES:
        if store == "containerd":
            monkeypatch.setenv("DOCKER_HOST", CONTAINERD_HOST)
        repo = f"{registry.host}/engines-{store}/{secrets.token_hex(3)}"
        run = publish(cli, matrix, mirror, tmp_path / f"cache-{store}", repo, extra=["--artifacts", str(artifacts)])
        assert run.code == 0, f"{store}: {run.err}"
        digests[store] = published_digests(repo)
    classic, containerd = digests["classic"], digests["containerd"]
    assert len(classic) == 9 and classic.keys() == containerd.keys()  # 3 indexes, 6 platform manifests
    differ = {key: (classic[key], containerd[key]) for key in classic if classic[key] != containerd[key]}
    assert not differ, "differ between the classic and the containerd store: " + "; ".join(
        f"{key}: {a} != {b}" for key, (a, b) in differ.items())
