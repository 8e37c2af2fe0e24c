"""The dev channel: this revision, to the matrix's dev repositories, as sha-<commit>[-T] tags only."""

from __future__ import annotations

import json

import pytest

from publisher.errors import PublisherError
from publisher.release.tags import dev_release, is_floating, tags_for
from tests.test_publish import reduced_matrix, skopeo, tags_in

REVISION = "0123abcdef4567890123abcdef4567890123abcd"


def test_dev_tags_name_the_commit_and_nothing_else():
    release = dev_release(REVISION)
    assert tags_for(release, ()) == ["sha-0123abc"]
    assert tags_for(release, ("alpine3.20", "alpine")) == ["sha-0123abc-alpine3.20", "sha-0123abc-alpine"]
    assert not any(is_floating(t, release) for t in ["sha-0123abc", "sha-0123abc-alpine"])  # immutable, like X.Y.Z
    assert dev_release("0123ABCDEF").text == "sha-0123abc"
    for bad in ("0123ab", "main", "v0.5.31", "0123abg"):
        with pytest.raises(PublisherError, match="is not a git commit"):
            dev_release(bad)


def dev_matrix(tmp_path, cli, repo: str = "ghcr.io/acme/uv-dev") -> str:
    path = reduced_matrix(tmp_path, cli)
    text = (tmp_path / "matrix.yaml").read_text()
    (tmp_path / "matrix.yaml").write_text(text.replace("repositories:\n", f"dev_repositories: [{repo}]\nrepositories:\n", 1))
    return path


def test_dev_dry_run_plans_sha_tags_in_the_dev_repositories(cli, tmp_path):
    matrix = dev_matrix(tmp_path, cli)
    out = cli("publish", "--dev", "--dry-run", "--offline", "--output", "json", "--matrix", matrix,
              "--revision", REVISION, "--created", "1732100000", "--artifacts", str(tmp_path))
    assert out.code == 0, out.err
    plan = json.loads(out.out)
    assert plan["repositories"] == ["ghcr.io/acme/uv-dev"]
    assert {v["name"]: v["tags"] for v in plan["variants"]} == {
        "distroless": ["sha-0123abc"],
        "alpine3.20": ["sha-0123abc-alpine3.20", "sha-0123abc-alpine"],
        "bookworm-slim": ["sha-0123abc-bookworm-slim", "sha-0123abc-debian-slim"]}
    assert {v["labels"]["org.opencontainers.image.version"] for v in plan["variants"]} == {REVISION}
    with_version = json.loads(cli("publish", "--dev", "--dry-run", "--offline", "--output", "json", "--matrix", matrix,
                                  "--revision", REVISION, "--version", "0.5.31").out)
    assert with_version["variants"][0]["tags"] == ["sha-0123abc"]
    assert with_version["variants"][0]["labels"]["org.opencontainers.image.version"] == "0.5.31"


def test_dev_refusals(cli, tmp_path):
    matrix = reduced_matrix(tmp_path, cli)
    no_dev = cli("publish", "--dev", "--dry-run", "--offline", "--matrix", matrix, "--revision", REVISION, "--artifacts", ".")
    assert (no_dev.code, no_dev.err.splitlines()) == (2, [
        f"{matrix}:1: --dev publishes to the matrix's dev_repositories:, and it has none; add e.g. dev_repositories: [ghcr.io/org/image-dev]"])
    no_payload = cli("publish", "--dev", "--dry-run", "--offline", "--matrix", matrix, "--revision", REVISION)
    assert (no_payload.code, no_payload.err.splitlines()) == (2, [
        "publisher publish --dev: no payload: pass --artifacts DIR (this revision's build), or --version V to take V's wheels"])
    (tmp_path / "matrix.yaml").write_text((tmp_path / "matrix.yaml").read_text().replace("repositories:\n", "dev_repositories: [ghcr.io/acme/dev]\nrepositories:\n", 1))
    bad = cli("publish", "--dev", "--dry-run", "--offline", "--matrix", matrix, "--revision", "main", "--artifacts", ".")
    assert (bad.code, bad.err.splitlines()) == (2, [
        "publisher: --dev: revision 'main' is not a git commit (7 to 64 hex digits); pass --revision with the commit's hash"])


@pytest.mark.docker
def test_dev_publish_of_artifacts_tags_the_commit_only(cli, tmp_path, engine, registry, mirror, cache):
    from publisher.image.platform import parse_platform
    from publisher.local.artifacts import fetch_wheels
    from publisher.matrix.schema import load_matrix
    from tests.conftest import ROOT

    payload = load_matrix(ROOT / "matrix.yaml").payload
    artifacts = next(iter(fetch_wheels(payload, "0.5.31", [parse_platform("linux/amd64")], cache).values())).parent
    repo = f"{registry.host}/dev/uv"
    matrix = dev_matrix(tmp_path, cli, repo)
    run = cli("publish", "--dev", "--matrix", matrix, "--artifacts", str(artifacts), "--revision", REVISION,
              "--created", "1732100000", "--base-mirror", mirror, "--cache", str(cache),
              "--only", "distroless alpine3.20", "--platform", "linux/amd64")
    assert run.code == 0, run.err
    assert tags_in(repo) == {"sha-0123abc", "sha-0123abc-alpine3.20", "sha-0123abc-alpine"}
    index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:sha-0123abc-alpine"))
    assert index["annotations"]["org.opencontainers.image.version"] == REVISION
    assert index["annotations"]["org.opencontainers.image.revision"] == REVISION
