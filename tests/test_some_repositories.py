"""A variant published to only some of the matrix's repositories: plan, dry-run, push, verify, result."""

from __future__ import annotations

import json

import pytest

from tests.test_publish import REDUCED_TAGS, reduced_matrix, tags_in

pytestmark = pytest.mark.docker


def two_repositories(tmp_path, cli, a: str, b: str) -> str:
    """The reduced matrix to repositories a and b, its alpine variant to a only."""
    path = reduced_matrix(tmp_path, cli)
    text = (tmp_path / "matrix.yaml").read_text()
    text = text.replace("  - ghcr.io/astral-sh/uv\n  - docker.io/astral/uv\n", f"  - {a}\n  - {b}\n")
    text = text.replace("    tags: [alpine3.20, alpine]\n", f"    tags: [alpine3.20, alpine]\n    repositories: [{a}]\n")
    (tmp_path / "matrix.yaml").write_text(text)
    return path


def run(cli, matrix, mirror, cache, *extra):
    return cli("publish", "--version", "0.5.31", "--matrix", matrix, "--base-mirror", mirror, "--cache", str(cache),
               "--created", "1732100000", "--revision", "0123abc", "--platform", "linux/amd64", *extra)


def test_variant_goes_only_to_its_repositories(cli, tmp_path, engine, registry, mirror, cache):
    a, b = f"{registry.host}/some-a/uv", f"{registry.host}/some-b/uv"
    matrix = two_repositories(tmp_path, cli, a, b)
    everything = {t for tags in REDUCED_TAGS.values() for t in tags}
    without_alpine = everything - set(REDUCED_TAGS["alpine3.20"])

    plan = run(cli, matrix, mirror, cache, "--dry-run", "--offline")
    assert f"3 variants, 3 images, 15 tags per repository, 24 tags in 2 repositories." in plan.out
    assert f"alpine3.20: only to {a}" in plan.out.splitlines()
    document = json.loads(run(cli, matrix, mirror, cache, "--dry-run", "--offline", "--output", "json").out)
    assert [v.get("repositories") for v in document["variants"]] == [None, [a], None]

    result = tmp_path / "result.json"
    published = run(cli, matrix, mirror, cache, "--result", str(result))
    assert published.code == 0, published.err
    assert tags_in(a) == everything
    assert tags_in(b) == without_alpine
    assert "tags verified" in published.out.splitlines()[-1]
    digests = json.loads(result.read_text())["repositories"]
    assert set(digests[a]) == everything and set(digests[b]) == without_alpine

    # The dry-run reads each repository for its own tags: everything stays, nothing is retired.
    state = json.loads(run(cli, matrix, mirror, cache, "--dry-run", "--output", "json").out)["registry_state"]
    assert set(state[a]) == everything and set(state[b]) == without_alpine
    assert {s["status"] for tags in state.values() for s in tags.values()} == {"stays"}

    again = run(cli, matrix, mirror, cache)
    assert again.code == 0, again.err
    assert again.out.rstrip().splitlines()[-1].startswith("0.5.31: nothing to do:"), again.out

    # --repository replaces the matrix's repositories for every variant.
    c = f"{registry.host}/some-c/uv"
    moved = json.loads(run(cli, matrix, mirror, cache, "--dry-run", "--offline", "--output", "json", "--repository", c).out)
    assert moved["repositories"] == [c] and all("repositories" not in v for v in moved["variants"])
