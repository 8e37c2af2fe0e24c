"""`platforms: from-base`: of the matrix's platforms, those the base's index has, found at publish time."""

from __future__ import annotations

import json

import pytest

from tests.images import push_base
from tests.registry_server import RegistryServer
from tests.test_publish import PLATFORMS, publish, reduced_matrix, skopeo
from tests.test_refusals import free_port


def from_base_matrix(tmp_path, cli) -> str:
    matrix = reduced_matrix(tmp_path, cli)
    text = (tmp_path / "matrix.yaml").read_text()
    marked = text.replace("    tags: [alpine3.20, alpine]\n", "    tags: [alpine3.20, alpine]\n    platforms: from-base\n")
    assert marked != text
    (tmp_path / "matrix.yaml").write_text(marked)
    return matrix


def test_the_plan_says_from_the_base(cli, tmp_path):
    matrix = from_base_matrix(tmp_path, cli)
    args = ("publish", "--dry-run", "--offline", "--version", "0.5.31", "--matrix", matrix)
    table = cli(*args)
    assert table.code == 0, table.err
    assert [line.split()[:6] for line in table.out.splitlines() if line.startswith("alpine3.20 ")] == [
        ["alpine3.20", "alpine:3.20", "from", "base,", "of", "amd64,arm64"]]
    variants = {v["name"]: v for v in json.loads(cli(*args, "--output", "json").out)["variants"]}
    assert variants["alpine3.20"]["platforms_from"] == "base"
    assert "platforms_from" not in variants["bookworm-slim"] and "platforms_from" not in variants["distroless"]


def test_a_dry_run_that_reads_the_registries_shows_the_platforms_its_base_has(cli, tmp_path, registry):
    """No engine: the base is read as a publish reads it, and offline the plan stays as it was."""
    push_base(tmp_path / "bases", registry.host, "alpine:3.20", ["linux/amd64"])
    matrix = from_base_matrix(tmp_path, cli)
    args = ("publish", "--dry-run", "--version", "0.5.31", "--matrix", matrix, "--repository", f"{registry.host}/preview/uv")
    table = cli(*args, "--base-mirror", registry.host)
    assert table.code == 0, table.err
    assert [line.split()[:7] for line in table.out.splitlines() if line.startswith("alpine3.20 ")] == [
        ["alpine3.20", "alpine:3.20", "from", "base:", "amd64", "(of", "amd64,arm64)"]]
    assert "platforms from base not read" not in table.out
    document = json.loads(cli(*args, "--base-mirror", registry.host, "--output", "json").out)
    variants = {v["name"]: v for v in document["variants"]}
    assert variants["alpine3.20"]["platforms_resolved"] == ["linux/amd64"]
    assert variants["alpine3.20"]["platforms"] == ["linux/amd64", "linux/arm64"]  # the candidates, as before
    assert "platforms_resolved" not in variants["bookworm-slim"] and "base_note" not in document

    port = free_port()  # a mirror nobody serves: the plan as offline, and why
    unread = cli(*args, "--base-mirror", f"127.0.0.1:{port}")
    assert unread.code == 0, unread.err
    assert [line.split()[:6] for line in unread.out.splitlines() if line.startswith("alpine3.20 ")] == [
        ["alpine3.20", "alpine:3.20", "from", "base,", "of", "amd64,arm64"]]
    assert f"platforms from base not read: 127.0.0.1:{port} not reachable" in unread.out.splitlines()
    document = json.loads(cli(*args, "--base-mirror", f"127.0.0.1:{port}", "--output", "json").out)
    assert document["base_note"] == f"platforms from base not read: 127.0.0.1:{port} not reachable"
    assert "platforms_resolved" not in document["variants"][1]


@pytest.mark.docker
def test_a_variant_is_published_for_the_platforms_its_base_has(cli, tmp_path, engine, registry, cache):
    (tmp_path / "mirror").mkdir()
    own = RegistryServer(tmp_path / "mirror").start()
    try:
        push_base(tmp_path / "bases", own.host, "alpine:3.20", ["linux/amd64"])  # this base has amd64 only
        push_base(tmp_path / "bases", own.host, "debian:bookworm-slim", list(PLATFORMS))
        matrix = from_base_matrix(tmp_path, cli)
        repo = f"{registry.host}/from-base/uv"

        line = (tmp_path / "matrix.yaml").read_text().splitlines().index("  - base: alpine:3.20") + 1
        none = publish(cli, matrix, own.host, cache, repo, extra=("--platform", "linux/arm64"))
        assert (none.code, none.err.splitlines()) == (2, [
            f"{matrix}:{line}: variant 'alpine3.20': platforms: from-base, and base alpine:3.20 has none of linux/arm64 "
            f"(looked up at {own.host}/library/alpine:3.20); list its platforms or choose another base"])

        run = publish(cli, matrix, own.host, cache, repo)
        assert run.code == 0, run.err
        assert "alpine3.20: platforms from base alpine:3.20: linux/amd64\n" in run.out
        assert "assemble: 3 in" in run.out  # alpine3.20 amd64, bookworm-slim amd64 and arm64
        platforms = lambda tag: sorted(f"{m['platform']['os']}/{m['platform']['architecture']}" for m in
                                       json.loads(skopeo("inspect", "--raw", f"docker://{repo}:{tag}"))["manifests"]
                                       if m.get("platform", {}).get("os") != "unknown")
        assert platforms("alpine") == ["linux/amd64"]
        assert platforms("debian-slim") == ["linux/amd64", "linux/arm64"]
    finally:
        own.stop()
