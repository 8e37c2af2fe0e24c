"""examples/: uv's family as published today and ruff's, each a matrix, a template and its Dockerfiles."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT

EXAMPLES = ROOT / "examples"


def uv_today(v: str) -> dict[str, list[str]]:
    """The issue's list of uv's images, tag for tag: variant → tags for release `v` (X.Y.Z)."""
    xy = v.rsplit(".", 1)[0]
    bases = [["alpine3.23", "alpine"], ["alpine3.22"], ["trixie-slim", "debian-slim"], ["trixie", "debian"]]
    bases += [[f"python3.{x}-alpine3.23", f"python3.{x}-alpine"] for x in range(14, 9, -1)]
    bases += [["python3.9-alpine3.22", "python3.9-alpine"]]
    bases += [[f"python3.{x}-trixie"] for x in range(14, 8, -1)]
    bases += [[f"python3.{x}-trixie-slim"] for x in range(14, 8, -1)]
    expected = {"distroless": ["latest", v, xy]}
    expected.update({ts[0]: [t for tag in ts for t in (f"{v}-{tag}", f"{xy}-{tag}", tag)] for ts in bases})
    return expected


def uv_dhi(v: str) -> dict[str, list[str]]:
    xy = v.rsplit(".", 1)[0]
    bases = [["alpine3.23-dhi", "alpine-dhi"], ["trixie-dhi", "debian-dhi"]]
    bases += [[f"python3.{x}-dhi"] for x in range(14, 9, -1)]
    return {ts[0]: [t for tag in ts for t in (f"{v}-{tag}", f"{xy}-{tag}", tag)] for ts in bases}


def plan(cli, example: str, version: str, *extra: str) -> dict:
    run = cli("publish", "--dry-run", "--offline", "--output", "json", "--version", version,
              "--matrix", str(EXAMPLES / example / "matrix.yaml"), *extra)
    assert run.code == 0, run.err
    return json.loads(run.out)


@pytest.fixture
def no_logins(monkeypatch, tmp_path):
    """No docker config and no PUBLISHER_AUTH_* variables: a release job without credentials."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path))
    for name in [n for n in __import__("os").environ if n.startswith("PUBLISHER_AUTH_")]:
        monkeypatch.delenv(name)


@pytest.mark.parametrize("example", ["uv", "ruff"])
def test_example_dockerfiles_are_rendered_and_committed(cli, example):
    run = cli("render", "--check", "--matrix", str(EXAMPLES / example / "matrix.yaml"))
    assert run.code == 0, run.out + run.err


def test_uv_example_without_dhi_credentials_leaves_the_hardened_images_out_visibly(cli, no_logins):
    found = plan(cli, "uv", "0.9.5")
    assert {v["name"]: v["tags"] for v in found["variants"]} == uv_today("0.9.5")
    assert found["repositories"] == ["ghcr.io/astral-sh/uv", "docker.io/astral/uv"]
    assert [x["name"] for x in found["left_out"]] == list(uv_dhi("0.9.5"))
    assert all("needs a login to dhi.io" in x["why"] and "PUBLISHER_AUTH_DHI_IO" in x["why"] for x in found["left_out"])
    python39 = next(v for v in found["variants"] if v["name"] == "python3.9-alpine3.22")
    assert python39["base"] == "python:3.9-alpine3.22"
    table = cli("publish", "--dry-run", "--offline", "--version", "0.9.5", "--matrix", str(EXAMPLES / "uv" / "matrix.yaml")).out
    assert "left out: python3.10-dhi (dhi.io/python:3.10): its base needs a login to dhi.io" in table


def test_uv_example_with_dhi_credentials_publishes_the_hardened_images(cli, no_logins, monkeypatch):
    monkeypatch.setenv("PUBLISHER_AUTH_DHI_IO", "someone:secret")
    found = plan(cli, "uv", "0.9.5")
    assert {v["name"]: v["tags"] for v in found["variants"]} == {**uv_today("0.9.5"), **uv_dhi("0.9.5")}
    assert "left_out" not in found
    hardened = [v for v in found["variants"] if v["family"] == "hardened"]
    assert {v["base"] for v in hardened} >= {"dhi.io/alpine-base:3.23", "dhi.io/debian-base:trixie-debian13", "dhi.io/python:3.10"}
    assert all(v["made"] == "assembled" for v in found["variants"] if not v["primary"])


def test_uv_example_dev_channel_tags_every_non_dhi_variant_by_commit(cli, no_logins, tmp_path):
    """uv's workflow publishes each commit to ghcr.io/astral-sh/uv-dev as sha-<7 hex> and sha-<7 hex>-T."""
    import re

    revision = "9f1c2d3e4b5a69788796a5b4c3d2e1f009182736"
    run = cli("publish", "--dev", "--dry-run", "--offline", "--output", "json", "--revision", revision,
              "--matrix", str(EXAMPLES / "uv" / "matrix.yaml"), "--artifacts", str(tmp_path))
    assert run.code == 0, run.err
    found = json.loads(run.out)
    assert found["repositories"] == ["ghcr.io/astral-sh/uv-dev"]
    today = uv_today("0.9.5")
    assert [v["name"] for v in found["variants"]] == list(today)  # every non-DHI variant, none more
    for variant in found["variants"]:
        base_tags = [t for t in today[variant["name"]] if not re.match(r"^(latest|0\.9(\.5)?)(-|$)", t)]
        assert variant["tags"] == [f"sha-9f1c2d3-{t}" for t in base_tags] or (variant["primary"] and variant["tags"] == ["sha-9f1c2d3"])
        assert all(re.fullmatch(r"sha-[0-9a-f]{7}(-[a-z0-9.-]+)?", t) for t in variant["tags"])
    assert [x["name"] for x in found["left_out"]] == list(uv_dhi("0.9.5"))


def test_ruff_example_tags(cli):
    found = plan(cli, "ruff", "0.14.0")
    assert found["repositories"] == ["ghcr.io/astral-sh/ruff"]
    assert {v["name"]: v["tags"] for v in found["variants"]} == {
        "scratch": ["latest", "0.14.0", "0.14"],
        "alpine3.23": ["0.14.0-alpine3.23", "0.14-alpine3.23", "alpine3.23", "0.14.0-alpine", "0.14-alpine", "alpine"],
        "trixie-slim": ["0.14.0-trixie-slim", "0.14-trixie-slim", "trixie-slim", "0.14.0-debian-slim", "0.14-debian-slim", "debian-slim"],
        "trixie": ["0.14.0-trixie", "0.14-trixie", "trixie", "0.14.0-debian", "0.14-debian", "debian"],
    }
    # Every image assembled, the primary too (`COPY ruff /ruff`): the same digests on every engine.
    assert {v["name"]: v["made"] for v in found["variants"]} == dict.fromkeys(["scratch", "alpine3.23", "trixie-slim", "trixie"], "assembled")


@pytest.mark.docker
def test_ruff_example_published_for_real(cli, engine, registry, cache, tmp_path):
    """ruff's real musllinux wheels, fetched as its payload declares; the primary and one derived image."""
    from tests.images import push_base
    from tests.test_publish import skopeo, tree

    push_base(tmp_path, registry.host, "alpine:3.23", ["linux/amd64", "linux/arm64"])
    repo = f"{registry.host}/astral/ruff"
    run = cli("publish", "--version", "0.14.0", "--matrix", str(EXAMPLES / "ruff" / "matrix.yaml"), "--repository", repo,
              "--base-mirror", registry.host, "--cache", str(cache), "--only", "scratch", "--only", "alpine3.23",
              "--created", "1732100000", "--revision", "0123abc")
    assert run.code == 0, run.err
    assert run.out.rstrip().splitlines()[-1].startswith("0.14.0: published;")
    for tag in ("0.14.0", "0.14.0-alpine3.23"):
        index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:{tag}"))
        # The platform manifests, then one attestation manifest for each.
        assert [m["platform"]["architecture"] for m in index["manifests"]] == ["amd64", "arm64", "unknown", "unknown"]
    for platform in ("linux/amd64", "linux/arm64"):
        for image, argv in ((f"{repo}:latest", ["--version"]), (f"{repo}:alpine", ["ruff", "--version"])):
            out = subprocess.run(["docker", "run", "--rm", "--platform", platform, image, *argv], capture_output=True, text=True)
            assert out.stdout.strip() == "ruff 0.14.0", out.stderr
            files = tree(image, platform)
            assert not [f for f in files if f.rsplit("/", 1)[-1] in ("uv", "uvx")]
        assert "ruff" in tree(f"{repo}:latest", platform) and "usr/local/bin/ruff" in tree(f"{repo}:alpine", platform)


def test_tag_table_is_rendered_and_checked(cli, tmp_path):
    import shutil

    shutil.copytree(EXAMPLES / "ruff", tmp_path / "ruff")
    matrix = str(tmp_path / "ruff" / "matrix.yaml")
    table = (tmp_path / "ruff" / "tags.md").read_text()
    assert "| alpine3.23 | `alpine:3.23` | linux/amd64, linux/arm64 | `X.Y.Z-alpine3.23`, `X.Y-alpine3.23`, `alpine3.23`, " in table
    assert "| scratch | `scratch` | linux/amd64, linux/arm64 | `latest`, `X.Y.Z`, `X.Y` |" in table
    (tmp_path / "ruff" / "tags.md").write_text(table.replace("| trixie |", "| bookworm |"))
    check = cli("render", "--check", "--matrix", matrix)
    assert check.code == 1 and check.out.splitlines() == ["tags.md: differs from what the matrix and template render"]
    assert cli("render", "--matrix", matrix).out == "wrote tags.md\n"
    assert (tmp_path / "ruff" / "tags.md").read_text() == table
    uv = (EXAMPLES / "uv" / "tags.md").read_text()
    assert "| python3.10-dhi | `dhi.io/python:3.10` (only where the release job can log in to pull it) |" in uv
