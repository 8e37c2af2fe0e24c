"""A second registry implementation: go-containerregistry's `crane registry serve`, beside distribution.

It ignores blob mounts, keeps one blob store for every repository and its manifests in memory. A
signed publish, its rerun, `publisher verify`, and the same release staged per platform then joined
must all hold there as on distribution. The primary and one derived variant keep it short.
"""

from __future__ import annotations

import json

import pytest

from tests.test_cosign import new_key, public
from tests.test_publish import REDUCED_TAGS, publish, reduced_matrix, skopeo, tags_in
from tests.test_supply_chain import write_key
from tests.verifiers import Verifiers

ONLY = ["--only", "distroless", "--only", "alpine3.20"]
TAGS = {tag for variant in ("distroless", "alpine3.20") for tag in REDUCED_TAGS[variant]}


def index_digests(tools: Verifiers, repo: str) -> dict[str, str]:
    return {tag: tools.crane("digest", f"{repo}:{tag}").strip() for tag in sorted(TAGS)}


def test_a_chunked_upload_goes_through_though_each_patch_is_answered_204(crane_registry, tmp_path):
    """crane's registry answers a PATCH of an upload session 204 No Content, where the distribution spec
    (and distribution) say 202 Accepted: layers over the chunk size (128 MB: real python and
    buildpack-deps bases) were refused there. remote/blobs.py takes both."""
    import secrets

    from publisher.image.oci import digest as sha256_digest
    from publisher.remote.registry import Registry

    data = secrets.token_bytes(2500)
    path = tmp_path / "layer.tar"
    path.write_bytes(data)
    with Registry(crane_registry.host) as client:
        client.chunk_size = 1024
        assert client.upload_blob("chunked/uv", sha256_digest(data), path) is True
        assert client.stats["requests"] == 6  # HEAD, POST, three PATCHes (each answered 204), the closing PUT
        assert client.get_blob("chunked/uv", sha256_digest(data)) == data


@pytest.mark.docker
def test_publish_rerun_verify_stage_and_join_on_cranes_registry(cli, tmp_path, engine, mirror, cache, crane_registry):
    key = new_key()
    (tmp_path / "key.pub").write_bytes(public(key))
    (tmp_path / "other.pub").write_bytes(public(new_key()))
    signing = ["--sign-key", write_key(tmp_path / "key.pem", key)]
    matrix = reduced_matrix(tmp_path, cli)
    repo = f"{crane_registry.host}/acme/uv"
    tools = Verifiers(tmp_path / "docker-config")

    run = publish(cli, matrix, mirror, cache, repo, extra=[*ONLY, *signing])
    assert run.code == 0, run.err
    assert run.out.rstrip().splitlines()[-1].startswith("0.5.31: published;"), run.out
    tags = {t for t in tools.crane_tags(repo) if not t.endswith(".sig")}
    assert tags == {t for t in tags_in(repo) if not t.endswith(".sig")} == TAGS
    index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:0.5.31-alpine3.20"))
    assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64", "unknown", "unknown"]

    again = publish(cli, matrix, mirror, cache, repo, extra=[*ONLY, *signing])
    assert again.code == 0, again.err
    assert again.out.rstrip().splitlines()[-1].startswith("0.5.31: nothing to do: no blob uploaded, no tag moved;"), again.out

    check = ["verify", "--version", "0.5.31", "--matrix", matrix, "--repository", repo, *ONLY]
    good = cli(*check, "--key", str(tmp_path / "key.pub"))
    assert good.code == 0 and good.out.strip().endswith("hold it, attested and signed"), good.out + good.err
    assert cli(*check, "--key", str(tmp_path / "other.pub")).code == 1
    signed = tools.cosign_verify(tmp_path / "key.pub", f"{repo}@{index_digests(tools, repo)['alpine']}")
    assert signed.returncode == 0, signed.stderr

    # The same release staged per platform, then joined, into another repository of the same registry.
    joined_repo = f"{crane_registry.host}/staged/uv"
    stages = [tmp_path / "stage-amd64", tmp_path / "stage-arm64"]
    for platform, folder in zip(("linux/amd64", "linux/arm64"), stages):
        staged = publish(cli, matrix, mirror, cache, joined_repo, extra=[*ONLY, "--platform", platform, "--stage", str(folder)])
        assert staged.code == 0, staged.err
        assert "staged: platform images pushed by digest" in staged.out.splitlines()[-1]
    assert tools.crane_tags(joined_repo) == set()
    join = publish(cli, matrix, mirror, cache, joined_repo, extra=[*ONLY, *signing, "--join", *map(str, stages)])
    assert join.code == 0, join.err
    assert "build:" not in join.out and "blobs uploaded" not in join.out.splitlines()[-1]
    assert index_digests(tools, joined_repo) == index_digests(tools, repo)  # as on one machine, byte for byte
    assert cli("verify", "--version", "0.5.31", "--matrix", matrix, "--repository", joined_repo, *ONLY,
               "--key", str(tmp_path / "key.pub")).code == 0
