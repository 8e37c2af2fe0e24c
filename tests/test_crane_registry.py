"""A second registry implementation: go-containerregistry's `crane registry serve`, beside distribution.

It ignores blob mounts, keeps one blob store for every repository and its manifests in memory. The
end-to-end tests publish into it beside distribution, in the same runs (no publish of their own):
tests/test_supply_chain.py (a signed publish, its rerun, `publisher verify --key`, cosign) and
tests/test_stage.py (stages then a join, equal to a one-machine publish). Its quirks are tested here.
"""

from __future__ import annotations

import pytest


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
