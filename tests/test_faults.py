"""Registry faults, injected by a proxy in front of a real registry: each kind is retried and survived."""

from __future__ import annotations

import json

import pytest

from publisher.image import oci
from publisher.image.platform import parse_platform
from publisher.image.reference import Name
from publisher.local.layers import file_digest
from publisher.remote.errors import RegistryError
from publisher.remote.registry import Registry
from publisher.remote.retry import Policy
from tests.fault_proxy import ALL_FAULTS, REFUSALS


def fast(attempts: int = 20) -> Policy:
    return Policy(attempts=attempts, total=60, delay=0.001, cap=0.01)


def push_image(reg: Registry, repo: str, tmp_path, salt: str) -> tuple[str, bytes]:
    """Blobs (one sent in chunks), a manifest, an index, two tags; as publisher does."""
    config = json.dumps({"architecture": "amd64", "os": "linux", "salt": salt}).encode()
    big = tmp_path / f"{salt}.layer"
    big.write_bytes(salt.encode() * 40000)
    layer = oci.Blob(file_digest(big), big.stat().st_size, big)
    image = oci.Image(parse_platform("linux/amd64"), config, (layer,))
    reg.upload_blob(repo, oci.digest(config), config)
    reg.upload_blob(repo, layer.digest, big)
    reg.put_manifest(Name(reg.host, repo).digest(image.digest), image.manifest, oci.MANIFEST)
    index = oci.index([image], {"org.opencontainers.image.version": salt})
    reg.put_manifest(Name(reg.host, repo).digest(oci.digest(index)), index, oci.INDEX)
    for tag in ("1.2.3", "latest"):
        reg.put_manifest(Name(reg.host, repo).tag(tag), index, oci.INDEX)
        assert reg.head_manifest(Name(reg.host, repo).tag(tag), expect=oci.digest(index)) == oci.digest(index)
    return oci.digest(index), index


@pytest.mark.parametrize("kind", ALL_FAULTS)
def test_each_fault_kind_is_retried_and_survived(kind, proxies, registry, tmp_path):
    proxy = proxies(fraction=0.3, kinds=[kind], seed=7, hang=1.0)
    with Registry(proxy.host, timeout=0.5, policy=fast()) as reg:
        digest, _ = push_image(reg, f"faults/{kind}", tmp_path, kind)
    assert any(f[0] == kind for f in proxy.faults), "the fault was never injected"
    with Registry(registry.host) as direct:  # read back past the proxy
        assert direct.head_manifest(Name(direct.host, f"faults/{kind}").tag("latest")) == digest
        assert direct.head_manifest(Name(direct.host, f"faults/{kind}").tag("1.2.3")) == digest


def test_retries_are_bounded(proxies, tmp_path):
    proxy = proxies(fraction=1.0, kinds=["503"])
    with Registry(proxy.host, policy=fast(attempts=4)) as reg:
        with pytest.raises(RegistryError) as caught:
            reg.blob_exists("faults/bounded", oci.digest(b""))
    assert len(proxy.faults) == 4
    assert "HTTP 503" in str(caught.value)


@pytest.mark.parametrize("code", sorted(REFUSALS))
def test_refusals_fail_at_once_with_the_registrys_code(code, proxies):
    proxy = proxies(fraction=1.0, kinds=[code])
    with Registry(proxy.host, policy=fast()) as reg:
        with pytest.raises(RegistryError) as caught:
            reg.put_manifest(Name(reg.host, "faults/refused").tag("1.2.3"), b"{}", oci.INDEX)
    assert len(proxy.faults) == 1  # one request, no retry
    assert caught.value.code == code or (code == "UNAUTHORIZED" and caught.value.status == 401)
    assert str(caught.value).count("\n") == 0


def test_retry_after_date_and_seconds_are_obeyed():
    from publisher.remote.retry import retry_after
    from email.utils import formatdate
    import time

    assert retry_after("7") == 7.0
    assert 9 <= retry_after(formatdate(time.time() + 10, usegmt=True)) <= 10
    assert retry_after(None) is None and retry_after("soon") is None


def test_a_long_tag_list_comes_through_the_proxy(proxies, registry, tmp_path):
    """The registry chunks a tag list beyond 2 KB; the proxy (bench/publish.py reads every registry
    through it) forwards it whole with its length, or a client on a kept-alive connection waits forever."""
    proxy = proxies()
    with Registry(registry.host) as direct:
        _, index = push_image(direct, "faults/long-list", tmp_path, "long")
        names = [f"0.5.{n}-python3.13-bookworm-slim" for n in range(120)]  # about 4 KB of JSON
        for tag in names:
            direct.put_manifest(Name(direct.host, "faults/long-list").tag(tag), index, oci.INDEX)
    with Registry(proxy.host, timeout=5, policy=fast(attempts=1)) as through:
        assert set(through.list_tags("faults/long-list")) == {"1.2.3", "latest", *names}
        assert through.head_manifest(Name(through.host, "faults/long-list").tag("latest")) == oci.digest(index)  # the same connection, still usable
