"""`publisher init`: a new project's starter files, which render and dry-run cleanly as written."""

from __future__ import annotations

import json

import yaml

from publisher.starter import DEFAULT_ACTION
from tests.conftest import ROOT


def test_a_new_project_renders_and_dry_runs_out_of_the_box(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run = cli("init", "--image", "docker.io/acme/tool", "--action", "acme/publisher@v1")
    assert run.code == 0, run.err
    assert run.out.splitlines()[:7] == [f"wrote {p}" for p in (
        "matrix.yaml", "variants/Dockerfile.j2", ".github/workflows/release.yml", "variants/distroless/Dockerfile",
        "variants/alpine3.23/Dockerfile", "variants/trixie-slim/Dockerfile", "variants/python3.14-trixie-slim/Dockerfile")]
    assert cli("render", "--check").code == 0
    plan = json.loads(cli("publish", "--dry-run", "--offline", "--version", "0.5.31", "--output", "json").out)
    assert plan["repositories"] == ["docker.io/acme/tool"]
    assert [(v["name"], v["base"], v["made"]) for v in plan["variants"]] == [
        ("distroless", None, "assembled"), ("alpine3.23", "alpine:3.23", "assembled"),
        ("trixie-slim", "debian:trixie-slim", "assembled"), ("python3.14-trixie-slim", "python:3.14-slim-trixie", "assembled")]
    assert plan["variants"][0]["labels"]["org.opencontainers.image.title"] == "tool"
    steps = yaml.safe_load((tmp_path / ".github/workflows/release.yml").read_text())["jobs"]["images"]["steps"]
    publish = next(s for s in steps if s.get("id") == "publish")
    assert publish["uses"] == "acme/publisher@v1" and set(publish["with"]) == {"version", "push"}
    login = next(s for s in steps if str(s.get("uses", "")).startswith("docker/login-action"))
    assert login["with"] == {"registry": "docker.io", "username": "${{ secrets.REGISTRY_USERNAME }}",
                             "password": "${{ secrets.REGISTRY_PASSWORD }}"}


def test_ghcr_logs_in_with_the_job_token_and_the_action_is_named_to_replace(cli, tmp_path):
    run = cli("init", "--image", "ghcr.io/acme/tool", "--dir", str(tmp_path))
    assert run.code == 0, run.err
    assert f"replace {DEFAULT_ACTION}" in run.out
    workflow = (tmp_path / ".github/workflows/release.yml").read_text()
    assert "password: ${{ secrets.GITHUB_TOKEN }}" in workflow and f"uses: {DEFAULT_ACTION}" in workflow


def test_existing_files_are_kept_unless_forced(cli, tmp_path):
    (tmp_path / "matrix.yaml").write_text("# mine\n")
    run = cli("init", "--image", "ghcr.io/acme/tool", "--dir", str(tmp_path))
    assert (run.code, run.err) == (2, f"publisher init: matrix.yaml already exists in {tmp_path}; pass --force to overwrite\n")
    assert (tmp_path / "matrix.yaml").read_text() == "# mine\n"
    assert not (tmp_path / "variants").exists()  # nothing written
    assert cli("init", "--image", "ghcr.io/acme/tool", "--dir", str(tmp_path), "--force").code == 0
    assert "ghcr.io/acme/tool" in (tmp_path / "matrix.yaml").read_text()


def test_bad_init_flags_are_one_line(cli, tmp_path):
    run = cli("init", "--image", "ghcr.io/acme/tool:1.0", "--dir", str(tmp_path))
    assert (run.code, run.err) == (2, "publisher init: --image 'ghcr.io/acme/tool:1.0': a repository takes no tag or digest; "
                                      "write host/path, e.g. ghcr.io/org/tool\n")
    assert cli("init", "--dir", str(tmp_path)).err == "publisher init: the following arguments are required: --image; see 'publisher init --help'\n"
    assert not any(tmp_path.iterdir())


def test_the_packaged_template_renders_the_shipped_dockerfiles(tmp_path):
    """The starter's template names no payload, and with uv's matrix it writes this repository's Dockerfiles, byte for byte."""
    import shutil

    from publisher import render
    from publisher.matrix.schema import load_matrix

    (tmp_path / "variants").mkdir()
    shutil.copy(ROOT / "matrix.yaml", tmp_path)
    shutil.copy(ROOT / "publisher/templates/Dockerfile.j2", tmp_path / "variants")
    assert "uv" not in (tmp_path / "variants/Dockerfile.j2").read_text()
    matrix = load_matrix(tmp_path / "matrix.yaml", "matrix.yaml")
    rendered = render.render_all(matrix)
    assert set(rendered) == {matrix.dockerfile(v) for v in matrix.variants}  # the primary and every derived image
    assert {path: (ROOT / path).read_text() for path in rendered} == rendered


def test_init_with_ruff_payload_publishes_ruff(cli, tmp_path, monkeypatch):
    """A second payload is an entry of templates/payloads.yaml: ruff's wheel, its one binary, its smoke tests."""
    monkeypatch.chdir(tmp_path)
    run = cli("init", "--image", "ghcr.io/acme/ruff", "--payload", "ruff")
    assert run.code == 0, run.err
    assert run.out.splitlines()[-1] == "then: publisher render --check && publisher publish --dry-run --offline --version 0.8.0"
    assert cli("render", "--check").code == 0
    matrix = yaml.safe_load((tmp_path / "matrix.yaml").read_text())
    assert matrix["payload"] == yaml.safe_load((ROOT / "examples/ruff/matrix.yaml").read_text())["payload"]
    assert matrix["families"]["alpine"] == {"config": {"entrypoint": None, "cmd": ["/usr/local/bin/ruff"]},
                                            "smoke": [{"run": ["ruff", "--version"], "stdout": "^ruff {version}$"}]}
    assert matrix["families"]["scratch"]["smoke"] == [{"run": ["--version"], "stdout": "^ruff {version}$"}]
    dockerfiles = "".join(p.read_text() for p in sorted(tmp_path.glob("variants/*/Dockerfile")))
    assert "COPY --from=ruff /ruff /usr/local/bin/" in dockerfiles and "uv" not in dockerfiles
    assert "version: ${{ github.event_name == 'push' && github.ref_name || '0.8.0' }}" in (
        tmp_path / ".github/workflows/release.yml").read_text()

    dry = cli("publish", "--dry-run", "--offline", "--version", "0.8.0", "--output", "json", "--matrix", "matrix.yaml")
    assert dry.code == 0, dry.err
    plan = json.loads(dry.out)
    assert {v["name"]: v["tags"] for v in plan["variants"]} == {
        "distroless": ["latest", "0.8.0", "0.8"],
        "alpine3.23": ["0.8.0-alpine3.23", "0.8-alpine3.23", "alpine3.23", "0.8.0-alpine", "0.8-alpine", "alpine"],
        "trixie-slim": ["0.8.0-trixie-slim", "0.8-trixie-slim", "trixie-slim", "0.8.0-debian-slim", "0.8-debian-slim", "debian-slim"],
        "python3.14-trixie-slim": ["0.8.0-python3.14-trixie-slim", "0.8-python3.14-trixie-slim", "python3.14-trixie-slim"]}
    assert [v["made"] for v in plan["variants"]] == ["assembled"] * 4
    assert plan["variants"][0]["labels"]["org.opencontainers.image.licenses"] == "MIT"


def test_executables_linked_against_glibc_get_a_primary_on_debian_and_no_scratch_image(cli, tmp_path, monkeypatch):
    """What init writes once it has found (local/carried) that the executables need glibc: no FROM scratch image
    (it could not run them), no alpine image; the primary, tagged latest, is the Debian image, and init says why."""
    from dataclasses import replace

    from publisher import starter

    ruff = starter.known_payloads()["ruff"]
    monkeypatch.setattr(starter, "_payload", lambda _: replace(ruff, libc="glibc"))
    monkeypatch.chdir(tmp_path)
    run = cli("init", "--image", "ghcr.io/acme/tool", "--payload", "tool", "--version", "0.8.0")
    assert run.code == 0, run.err
    assert [line for line in run.out.splitlines() if line.startswith("note: ")] == [
        "note: ruff's executables are linked against glibc: no FROM scratch image and no alpine image (musl); "
        "the primary image (latest, X.Y.Z, X.Y) is on debian:trixie-slim"]
    matrix = yaml.safe_load((tmp_path / "matrix.yaml").read_text())
    assert matrix["primary"] == {"base": "debian:trixie-slim", "family": "debian", "tags": ["trixie-slim", "debian-slim"]}
    assert [v["base"] for v in matrix["variants"]] == ["python:3.14-slim-trixie"]
    assert set(matrix["families"]) == {"debian"} and matrix["payload"]["primary"] == matrix["payload"]["derived"]
    where = matrix["payload"]["primary"]
    assert matrix["families"]["debian"]["config"] == {"entrypoint": None, "cmd": [f"{where}ruff"]}
    assert (tmp_path / "variants/trixie-slim/Dockerfile").read_text().splitlines()[-5:] == [
        "ARG BASE_IMAGE=debian:trixie-slim", "FROM ${BASE_IMAGE}", f"COPY ruff {where}", "ENTRYPOINT []", f'CMD ["{where}ruff"]']
    assert f"COPY --from=ruff {where}ruff /usr/local/bin/" in (tmp_path / "variants/python3.14-trixie-slim/Dockerfile").read_text()
    assert not any("FROM scratch" in p.read_text() for p in tmp_path.glob("variants/*/Dockerfile"))
    assert cli("render", "--check").code == 0
    plan = json.loads(cli("publish", "--dry-run", "--offline", "--version", "0.8.0", "--output", "json").out)
    assert [(v["name"], v["base"], v["primary"], v["made"]) for v in plan["variants"]] == [
        ("trixie-slim", "debian:trixie-slim", True, "assembled"),
        ("python3.14-trixie-slim", "python:3.14-slim-trixie", False, "assembled")]
    assert plan["variants"][0]["tags"] == ["latest", "0.8.0", "0.8", "0.8.0-trixie-slim", "0.8-trixie-slim", "trixie-slim",
                                           "0.8.0-debian-slim", "0.8-debian-slim", "debian-slim"]
    table = cli("publish", "--dry-run", "--offline", "--version", "0.8.0").out
    assert "scratch" not in table and "trixie-slim             debian:trixie-slim" in table


def test_a_payload_init_knows_takes_the_release_given(cli, tmp_path):
    """--payload ruff stays as the examples have it (nothing asked of the index); --version is the release it names."""
    run = cli("init", "--image", "ghcr.io/acme/ruff", "--payload", "ruff", "--version", "0.14.0", "--dir", str(tmp_path))
    assert run.code == 0, run.err
    assert run.out.splitlines()[-1].endswith("--version 0.14.0")
    assert "|| '0.14.0'" in (tmp_path / ".github/workflows/release.yml").read_text()
    assert yaml.safe_load((tmp_path / "matrix.yaml").read_text())["payload"] == yaml.safe_load(
        (ROOT / "examples/ruff/matrix.yaml").read_text())["payload"]
