"""Publishing for real: a Docker engine, BuildKit, qemu for arm64, loopback registries, skopeo."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import urllib.request

import pytest

from publisher.release.inputs import BASE_DIGEST, INPUTS
from publisher.release.plan import VERSION
from tests.conftest import ROOT
from tests.engines import on_both_stores

pytestmark = pytest.mark.docker
PLATFORMS = ("linux/amd64", "linux/arm64")
REDUCED = """\
variants:
  - base: alpine:3.20
    family: alpine
    tags: [alpine3.20, alpine]
  - base: debian:bookworm-slim
    family: debian
    tags: [bookworm-slim, debian-slim]
"""
REDUCED_TAGS = {
    "distroless": ["latest", "0.5.31", "0.5"],
    "alpine3.20": ["0.5.31-alpine3.20", "0.5-alpine3.20", "alpine3.20", "0.5.31-alpine", "0.5-alpine", "alpine"],
    "bookworm-slim": ["0.5.31-bookworm-slim", "0.5-bookworm-slim", "bookworm-slim",
                      "0.5.31-debian-slim", "0.5-debian-slim", "debian-slim"],
}


def reduced_matrix(tmp_path, cli, smoke_extra: str = "") -> str:
    """The shipped matrix cut to one variant per family, rendered in tmp_path."""
    shipped = (ROOT / "matrix.yaml").read_text()
    text = shipped.split("\nvariants:\n")[0] + "\n" + REDUCED + smoke_extra
    (tmp_path / "variants").mkdir()
    shutil.copy(ROOT / "variants" / "Dockerfile.j2", tmp_path / "variants")
    (tmp_path / "matrix.yaml").write_text(text)
    assert cli("render", "--matrix", str(tmp_path / "matrix.yaml")).code == 0
    return str(tmp_path / "matrix.yaml")


def skopeo(*args: str, creds: str | None = None) -> str:
    auth = ["--creds", creds] if creds else []
    return subprocess.run(["skopeo", *args[:1], "--tls-verify=false", *auth, *args[1:]],
                          check=True, capture_output=True, text=True).stdout


def tags_in(repo: str, creds: str | None = None) -> set[str]:
    return set(json.loads(skopeo("list-tags", f"docker://{repo}", creds=creds))["Tags"])


OWN = re.compile(r"publisher-build:[0-9a-f]{64}-[0-9a-f]{8}")  # what a publish names its images in the engine


def own_images(client) -> set[str]:
    """publisher's own names in an engine (another helper's publishes on it name theirs otherwise)."""
    return {tag for image in client.images.list(name="publisher-build") for tag in image.tags if OWN.fullmatch(tag)}


def publish(cli, matrix, mirror, cache, *repositories, extra=()):
    args = ["publish", "--version", "0.5.31", "--matrix", matrix, "--base-mirror", mirror, "--cache", str(cache),
            "--created", "1732100000", "--revision", "0123abc"]
    for repo in repositories:
        args += ["--repository", repo]
    return cli(*args, *extra)


@on_both_stores
def test_reduced_matrix_published_verified_and_idempotent(cli, tmp_path, store, registry, auth_registry, mirror, cache, monkeypatch):
    auth_key = "PUBLISHER_AUTH_" + auth_registry.host.replace(".", "_").replace(":", "_")
    monkeypatch.setenv(auth_key, f"{auth_registry.username}:{auth_registry.password}")
    creds = f"{auth_registry.username}:{auth_registry.password}"
    repos = [f"{registry.host}/{store.name}/acme/uv", f"{registry.host}/{store.name}/mirror/uv", f"{auth_registry.host}/{store.name}/acme/uv"]
    matrix = reduced_matrix(tmp_path, cli)
    step_summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))

    before = own_images(store.client)
    run = publish(cli, matrix, mirror, cache, *repos)
    assert run.code == 0, run.err
    assert own_images(store.client) == before  # the engine left as a pull leaves it: bases only
    # Every image is assembled: the primary from its payload and WORKDIR layers, the derived ones from
    # base + shared uv layer. No BuildKit build, nothing to export.
    for phase in ("read: 3 in", "assemble: 6 in", "smoke-test: 6 in", "push: 1 in"):
        assert phase in run.out
    assert "build: " not in run.out and "export: " not in run.out
    digests = dict(line.split(": ", 1) for line in run.out.splitlines() if line.split(": ")[0] in REDUCED_TAGS)
    table = step_summary.read_text()
    assert table.startswith("### publisher: 0.5.31: published;")
    assert f"| alpine3.20 | linux/amd64, linux/arm64 | `{digests['alpine3.20']}` | {' '.join(REDUCED_TAGS['alpine3.20'])} |" in table
    engine_line = next(line for line in run.out.splitlines() if line.startswith("engine: Docker "))
    assert engine_line.endswith("; builder: none, every image is assembled"), engine_line
    assert " image store (" in engine_line
    assert f"Made on {engine_line.removeprefix('engine: ')}." in table
    assert auth_registry.password not in run.out + run.err
    assert run.out.rstrip().splitlines()[-1].startswith("0.5.31: published;")

    expected = {tag for tags in REDUCED_TAGS.values() for tag in tags}
    for repo in repos:
        c = creds if repo.startswith(auth_registry.host) else None
        assert tags_in(repo, c) == expected  # exactly the plan: nothing missing, no staging tag
        for variant, tags in REDUCED_TAGS.items():
            raw = {tag: skopeo("inspect", "--raw", f"docker://{repo}:{tag}", creds=c) for tag in tags}
            assert len(set(raw.values())) == 1, f"{repo} {variant}: tags point at different manifests"
            index = json.loads(next(iter(raw.values())))
            assert index["mediaType"] == "application/vnd.oci.image.index.v1+json"
            # The platform manifests, then one attestation manifest for each (BuildKit's order).
            assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64", "unknown", "unknown"]
            assert index["annotations"]["org.opencontainers.image.version"] == "0.5.31"
            assert index["annotations"]["org.opencontainers.image.revision"] == "0123abc"
            assert index["annotations"]["dev.publisher.inputs"].startswith("sha256:")
            base_digest = index["annotations"].get("org.opencontainers.image.base.digest")
            assert (base_digest is None) == (variant == "distroless")

    # The pushed images run, on both platforms, pulled back from the registry.
    for platform in PLATFORMS:
        out = subprocess.run(["docker", "run", "--rm", "--platform", platform, f"{repos[1]}:0.5-debian-slim", "uv", "--version"],
                             capture_output=True, text=True)
        assert out.stdout.startswith("uv 0.5.31"), out.stderr
        arch = subprocess.run(["docker", "run", "--rm", "--platform", platform, f"{repos[1]}:alpine", "uname", "-m"],
                              capture_output=True, text=True).stdout.strip()
        assert arch == {"linux/amd64": "x86_64", "linux/arm64": "aarch64"}[platform]

    # The dry-run reads the repositories: the same release stays; the next one moves floating tags.
    same = json.loads(publish(cli, matrix, mirror, cache, *repos, extra=["--dry-run", "--output", "json"]).out)
    assert same["registry_note"] is None
    assert {s["status"] for tags in same["registry_state"].values() for s in tags.values()} == {"stays"}
    # uv 0.5.32 has no wheels on the index (the online dry-run asks it): its files from --artifacts.
    nxt = publish(cli, matrix, mirror, cache, repos[0], extra=["--dry-run", "--output", "json", "--version", "0.5.32",
                                                               "--artifacts", str(tmp_path)])
    state = json.loads(nxt.out)["registry_state"][repos[0]]
    assert state["0.5.32-alpine"] == {"status": "new", "digest": None, "version": None, "why": ""}
    assert state["alpine"]["status"] == "moves" and state["alpine"]["version"] == "0.5.31"
    assert sorted(t for t, s in state.items() if s["status"] == "moves") == sorted(
        ["latest", "0.5", "0.5-alpine3.20", "alpine3.20", "0.5-alpine", "alpine",
         "0.5-bookworm-slim", "bookworm-slim", "0.5-debian-slim", "debian-slim"])

    again = publish(cli, matrix, mirror, cache, *repos)
    assert again.code == 0, again.err
    last = again.out.rstrip().splitlines()[-1]
    assert last.startswith("0.5.31: nothing to do: no blob uploaded, no tag moved;"), last
    assert "tags unchanged" in last and "blobs uploaded" not in last and "tags moved" not in last
    assert "nothing to build" in again.out and "build: " not in again.out  # no build, no smoke test


def test_failing_smoke_test_pushes_nothing(cli, tmp_path, engine, registry, mirror, cache):
    broken = "    smoke:\n      - run: [uv, --version]\n        stdout: '^uv 9\\.9\\.9$'\n"
    matrix = reduced_matrix(tmp_path, cli, smoke_extra=broken)
    repo = f"{registry.host}/broken/uv"
    before = own_images(engine)
    run = publish(cli, matrix, mirror, cache, repo, extra=["--platform", "linux/arm64"])
    assert run.code == 1
    assert own_images(engine) == before  # failed: nothing of publisher's left in the engine either
    lines = run.err.splitlines()
    assert lines[0] == "publisher: smoke tests failed; nothing was pushed:"
    assert lines[1] == "bookworm-slim linux/arm64: uv --version: expected stdout matching '^uv 9\\\\.9\\\\.9$', got 'uv 0.5.31'"
    assert len(lines) == 2
    with urllib.request.urlopen(f"http://{registry.host}/v2/_catalog") as response:
        assert "broken/uv" not in json.load(response)["repositories"]


def test_shipped_matrix_on_both_platforms(cli, engine, registry, mirror, cache):
    repo = f"{registry.host}/full/uv"
    run = cli("publish", "--version", "0.5.31", "--base-mirror", mirror, "--cache", str(cache), "--repository", repo)
    assert run.code == 0, run.err
    from tests.test_tags import EXPECTED_0_5_31

    expected = {tag for tags in EXPECTED_0_5_31.values() for tag in tags.split()}
    assert len(expected) == sum(len(tags.split()) for tags in EXPECTED_0_5_31.values())  # no tag named twice
    assert tags_in(repo) == expected
    index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:0.5-python3.12-bookworm-slim"))
    assert index["annotations"]["org.opencontainers.image.base.name"] == "docker.io/library/python:3.12-slim-bookworm"
    assert [m["platform"]["os"] for m in index["manifests"]] == ["linux", "linux", "unknown", "unknown"]


def tree(image: str, platform: str) -> dict:
    """An image's files as (type, mode, owner, size, content hash, link): all but times."""
    import hashlib
    import io
    import tarfile

    container = subprocess.run(["docker", "create", "--platform", platform, image, "x"], check=True,
                               capture_output=True, text=True).stdout.strip()
    try:
        exported = subprocess.run(["docker", "export", container], check=True, capture_output=True).stdout
    finally:
        subprocess.run(["docker", "rm", container], capture_output=True)
    files = {}
    with tarfile.open(fileobj=io.BytesIO(exported)) as tar:
        for m in tar:
            if m.name.rstrip("/") in (".dockerenv", "etc/hostname", "etc/hosts", "etc/resolv.conf", "dev", "proc", "sys"):
                continue
            content = tar.extractfile(m).read() if m.isfile() else b""
            files[m.name.rstrip("/")] = (m.type, m.mode, m.uid, m.gid, m.size, hashlib.sha256(content).hexdigest(), m.linkname)
    return files


def config_of(image: str) -> dict:
    """What a container of the image starts with, and what the image says it is."""
    attrs = json.loads(subprocess.run(["docker", "image", "inspect", image], check=True, capture_output=True, text=True).stdout)[0]
    keys = ("Entrypoint", "Cmd", "Env", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal", "Shell")
    return {**{k: attrs["Config"].get(k) or None for k in keys}, **{k: attrs.get(k) for k in ("Os", "Architecture", "Variant")}}


def test_derived_images_share_one_uv_layer_with_the_tree_their_dockerfile_builds(cli, tmp_path, engine, registry, mirror, cache):
    from publisher.local.engine import find_builder

    matrix = reduced_matrix(tmp_path, cli)
    repo = f"{registry.host}/shared/uv"
    run = publish(cli, matrix, mirror, cache, repo)
    assert run.code == 0, run.err

    for arch in ("amd64", "arm64"):
        last = {}
        for variant, tags in REDUCED_TAGS.items():
            index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:{tags[0]}"))
            child = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == arch)
            last[variant] = json.loads(skopeo("inspect", "--raw", f"docker://{repo}@{child}"))["layers"][-1]["digest"]
        # One uv layer for every derived image of the platform (the stand-in bases differ in
        # /usr/local/bin's metadata, as real bases do), and another for the primary.
        assert last["alpine3.20"] == last["bookworm-slim"] != last["distroless"]

    # Each pushed (assembled) image has the file tree and config its committed Dockerfile builds.
    builder = find_builder()
    empty = tmp_path / "empty"
    empty.mkdir()
    for variant, platform, base in (("alpine3.20", "linux/amd64", "alpine:3.20"), ("bookworm-slim", "linux/arm64", "debian:bookworm-slim")):
        arch = platform.split("/")[1]
        index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:0.5.31"))
        primary = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == arch)
        pushed = f"{repo}:0.5.31-{variant}"
        annotations = json.loads(skopeo("inspect", "--raw", f"docker://{pushed}"))["annotations"]
        labels = [f"--label={k}={v}" for k, v in annotations.items() if not k.startswith(INPUTS) and k != BASE_DIGEST]
        built = f"publisher-test/dockerfile-build:{variant}"
        subprocess.run([*builder.argv, "--platform", platform, "-f", str(tmp_path / f"variants/{variant}/Dockerfile"),
                        "--build-arg", f"PRIMARY_IMAGE={repo}@{primary}", "--build-arg", f"BASE_IMAGE={mirror}/library/{base}",
                        *labels, "-t", built, str(empty)],
                       check=True, capture_output=True, env={**os.environ, **builder.env})
        subprocess.run(["docker", "pull", "--platform", platform, pushed], check=True, capture_output=True)
        assert tree(pushed, platform) == tree(built, platform)
        assert config_of(pushed) == config_of(built)
        assert config_of(pushed)["Architecture"] == arch and config_of(pushed)["Labels"][VERSION] == "0.5.31"


def test_a_dockerfile_that_runs_commands_is_built_by_buildkit(cli, tmp_path, engine, registry, mirror, cache):
    matrix = reduced_matrix(tmp_path, cli)
    template = tmp_path / "variants" / "Dockerfile.j2"
    template.write_text(template.read_text().replace('CMD ["/usr/local/bin/uv"]', 'RUN echo buildkit > /made-by\nCMD ["/usr/local/bin/uv"]'))
    assert cli("render", "--matrix", matrix).code == 0
    repo = f"{registry.host}/built/uv"
    run = publish(cli, matrix, mirror, cache, repo, extra=["--platform", "linux/amd64"])
    assert run.code == 0, run.err
    # The primary is assembled (it only copies the payload); BuildKit builds the two that RUN a command.
    assert "assemble: 1 in" in run.out and "build: 2 in" in run.out and "export: 2 in" in run.out
    assert "; builder: docker buildx build (builder default, driver docker)" in run.out
    made_by = subprocess.run(["docker", "run", "--rm", "--platform", "linux/amd64", f"{repo}:0.5.31-alpine3.20",
                              "sh", "-c", "cat /made-by; stat -c %Y /made-by"], capture_output=True, text=True)
    content, mtime = made_by.stdout.splitlines()
    assert content == "buildkit", made_by.stderr
    # SOURCE_DATE_EPOCH is the release's time; where the builder can rewrite-timestamp (the docker driver on
    # the containerd store), the RUN's files are clamped to it. The classic store's exporter can't.
    containerd = "containerd" in json.dumps(engine.info().get("DriverStatus"))
    assert (int(mtime) == 1732100000) == containerd, mtime


def test_a_builder_that_does_not_exist_is_one_line(cli, tmp_path, engine, registry, mirror, cache):
    matrix = reduced_matrix(tmp_path, cli)
    template = tmp_path / "variants" / "Dockerfile.j2"
    template.write_text(template.read_text().replace('CMD ["/usr/local/bin/uv"]', 'RUN true\nCMD ["/usr/local/bin/uv"]'))
    assert cli("render", "--matrix", matrix).code == 0
    run = publish(cli, matrix, mirror, cache, f"{registry.host}/nobuilder/uv",
                  extra=["--platform", "linux/amd64", "--builder", "no-such-builder"])
    assert run.code == 2
    assert run.err.strip() == ("publisher: --builder no-such-builder: no such buildx builder (`docker buildx ls` lists them); "
                               "create it with `docker buildx create --name no-such-builder`, or leave --builder out")
    assert tags_in_or_none(f"{registry.host}/nobuilder/uv") is None  # nothing pushed


def tags_in_or_none(repo: str) -> set[str] | None:
    found = subprocess.run(["skopeo", "list-tags", "--tls-verify=false", f"docker://{repo}"], capture_output=True, text=True)
    return set(json.loads(found.stdout)["Tags"]) if found.returncode == 0 else None
