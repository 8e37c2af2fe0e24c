"""Bases read through the registry client, and images loaded into a real engine from their parts."""

from __future__ import annotations

import gzip
import json
import secrets
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from publisher.image import oci
from publisher.image.platform import parse_platform
from publisher.image.reference import Name, Reference, parse, parse_mirror
from publisher.local.layers import file_digest
from publisher.holdings.bases import Bases
from publisher.local.engine import Engine
from publisher.errors import PublisherError
from publisher.remote.hosts import Hosts
from publisher.remote.retry import Policy
from publisher.steps.assemble import _load_base
from tests.images import Layout, _busybox_layer, _tar

pytestmark = pytest.mark.docker
AMD64, ARM64 = parse_platform("linux/amd64"), parse_platform("linux/arm64")


def test_the_engine_loads_an_image_whose_base_it_does_not_hold(engine, tmp_path):
    """Told the base is there when it is not, the classic store is sent every layer and the image runs.
    (The containerd store takes an OCI layout missing blobs it lacks and fails only when the image runs:
    publisher tells it a base is there only when it loaded it or the engine has that image.)"""
    token = secrets.token_hex(8).encode()
    tars = [_busybox_layer("linux/amd64"), _tar([("marker", token, None, 0o644)]), _tar([("top", b"top\n", None, 0o644)])]
    blobs = []
    for i, data in enumerate(tars):
        path = tmp_path / f"{i}.tar.gz"
        path.write_bytes(gzip.compress(data, mtime=0))  # gzip, as a base's registry holds layers
        blobs.append(oci.Blob(file_digest(path), path.stat().st_size, path))
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["cat", "/marker", "/top"],
                         "Env": ["PATH=/bin"]}, "rootfs": {"type": "layers", "diff_ids": [oci.digest(t) for t in tars]}}).encode()
    base = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers",
                       "diff_ids": [oci.digest(t) for t in tars[:2]]}}).encode()
    e = Engine(lambda line: None)
    name = e.local_name(oci.digest(config))
    try:
        e.remember(oci.Image(AMD64, base, tuple(blobs[:2])))  # the marker layer is new: the engine has no such base
        e.load(name, oci.Image(AMD64, config, tuple(blobs)))
        assert e.has(name)
        out = subprocess.run(["docker", "run", "--rm", "--platform", "linux/amd64", str(name)], capture_output=True)
        assert out.stdout == token + b"top\n", out.stderr
    finally:
        subprocess.run(["docker", "rmi", "-f", str(name)], capture_output=True)


def push_docker_format(tmp_path, host: str, path: str, platforms: list[str]) -> None:
    layout = Layout(tmp_path / path.replace("/", "_"))
    images = [layout.image(p, [_busybox_layer(p)]) for p in platforms]
    layout.index("1", images)
    subprocess.run(["skopeo", "copy", "--quiet", "--all", "--format", "v2s2", "--dest-tls-verify=false",
                    f"oci:{layout.path}:1", f"docker://{host}/{path}:1"], check=True, capture_output=True)


def test_a_docker_format_base_is_read_as_oci_layers(engine, registry, tmp_path):
    path = f"bases/docker-{secrets.token_hex(3)}"
    push_docker_format(tmp_path, registry.host, path, ["linux/amd64", "linux/arm64"])
    base = parse(f"{path}:1")  # read through the test's registry as a mirror
    bases = Bases({base}, parse_mirror(registry.host), tmp_path / "cache", hosts := Hosts(Policy(), 10))
    try:
        with ThreadPoolExecutor(2) as pool:
            (digest,) = bases.resolve(pool).values()
        raw = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/{path}:1"],
                             check=True, capture_output=True, text=True).stdout
        assert json.loads(raw)["mediaType"] == "application/vnd.docker.distribution.manifest.list.v2+json"
        arm = bases.image(base, ARM64)
        bases.download(base, arm)
    finally:
        hosts.close()
    assert digest == oci.digest(raw.encode())
    assert json.loads(arm.config)["architecture"] == "arm64"
    (layer,) = arm.layers
    assert layer.media_type == oci.LAYER  # docker's gzip layer type: the same bytes, named the OCI way
    assert file_digest(layer.path) == layer.digest and layer.size == layer.path.stat().st_size
    assert gzip.decompress(layer.path.read_bytes()) == _busybox_layer("linux/arm64")


def test_a_base_without_the_platform_is_one_clear_error(engine, registry, tmp_path):
    path = f"bases/amd64-only-{secrets.token_hex(3)}"
    push_docker_format(tmp_path, registry.host, path, ["linux/amd64"])
    base = parse(f"{path}:1")  # read through the test's registry as a mirror
    bases = Bases({base}, parse_mirror(registry.host), tmp_path / "cache", hosts := Hosts(Policy(), 10))
    try:
        with ThreadPoolExecutor(2) as pool:
            bases.resolve(pool)
        with pytest.raises(PublisherError) as caught:
            bases.image(base, ARM64)
    finally:
        hosts.close()
    assert caught.value.lines == [f"publisher: base image {path}:1 has no linux/arm64 image (it has linux/amd64); "
                                  "remove the platform from the variant or choose another base"]


def _pushed_base(tmp_path, registry) -> tuple[Bases, Hosts, str, Reference]:
    path = f"bases/pull-{secrets.token_hex(3)}"
    push_docker_format(tmp_path, registry.host, path, ["linux/amd64", "linux/arm64"])
    base = parse(f"{path}:1")  # read through the test's registry as a mirror
    bases = Bases({base}, parse_mirror(registry.host), tmp_path / "cache", hosts := Hosts(Policy(), 10))
    with ThreadPoolExecutor(2) as pool:
        bases.resolve(pool)
    return bases, hosts, path, base


class _Logged:
    def __init__(self):
        self.lines = []
        self.progress = self

    def log(self, line: str) -> None:
        self.lines.append(line)


def test_the_engine_pulls_a_base_itself_by_its_platform_manifest_digest(engine, registry, tmp_path):
    """What the engine pulls is exactly the image publisher read: the same config, under publisher's name."""
    bases, hosts, path, base = _pushed_base(tmp_path, registry)
    try:
        arm = bases.image(base, ARM64)
        logged, e = _Logged(), Engine(lambda line: None)
        name = e.local_name(oci.digest(arm.config))
        assert arm.source.context == Name(registry.host, path) and arm.source.digest.startswith("sha256:")
        with ThreadPoolExecutor(1) as pool:
            _load_base(logged, e, arm, ARM64, pool.submit(bases.download, base, arm))
        assert logged.lines == [] and e.has(name)
        found = e.inspect(str(name))
        assert found["Architecture"] == "arm64"
        assert found["RootFS"]["Layers"] == json.loads(arm.config)["rootfs"]["diff_ids"]
    finally:
        hosts.close()
        subprocess.run(["docker", "rmi", "-f", str(name), arm.source.name], capture_output=True)


def test_a_base_the_engine_cannot_pull_is_loaded_from_the_cache(engine, registry, tmp_path):
    bases, hosts, path, base = _pushed_base(tmp_path, registry)
    try:
        amd = bases.image(base, AMD64)
        unreachable = replace(amd, source=Name("127.0.0.1:9", path).digest(amd.source.digest))  # nothing listens on port 9
        logged, e = _Logged(), Engine(lambda line: None)
        name = e.local_name(oci.digest(amd.config))
        with ThreadPoolExecutor(1) as pool:
            _load_base(logged, e, unreachable, AMD64, pool.submit(bases.download, base, amd))
        assert e.has(name)
        (line,) = logged.lines
        assert line.startswith(f"the engine did not pull {unreachable.source} (") and line.endswith("loading it from publisher's cache instead")
    finally:
        hosts.close()
        subprocess.run(["docker", "rmi", "-f", str(name)], capture_output=True)
