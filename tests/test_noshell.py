"""Images without a shell (Docker Hardened Images, distroless), published for real on both platforms.

Their stand-in bases (tests/images.py, `shell=False`) have no busybox and no /bin/sh: only os-release,
a non-root user and, on one of them, a package database. Smoke tests run in exec form.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.conftest import ROOT
from tests.engines import on_both_stores
from tests.images import NONROOT, push_base
from tests.test_publish import PLATFORMS, publish, skopeo, tags_in, tree
from tests.test_supply_chain import raw

pytestmark = pytest.mark.docker
HARDENED = "noshell/debian-hardened:13"  # assembled: its Dockerfile only adds the payload
STATIC = "noshell/static:nonroot"  # built by BuildKit: its Dockerfile has a WORKDIR; no package database
UV = """\
      - run: [uv, --version]
        stdout: "^uv {version}( |$)"
      - run: [uvx, --version]
        stdout: "^uv(-tool-uvx)? {version}( |$)"
"""
FAMILIES = f"""\
families:
  scratch:
    config: {{entrypoint: [/uv], cmd: null, workdir: /io}}
    smoke:
      - run: [--version]
        stdout: "^uv {{version}}( |$)"
  static:
    config: {{entrypoint: null, cmd: [/usr/local/bin/uv], workdir: /work}}
    smoke:
{UV}  hardened:
    config: {{entrypoint: null, cmd: [/usr/local/bin/uv], workdir: /home/nonroot}}
    smoke:
{UV}      - run: [/bin/sh, -c, "true"]
        exit: 127
primary:
  name: distroless
  family: scratch
variants:
"""
STATIC_VARIANT = f"  - base: {STATIC}\n    family: static\n    tags: [static]\n"
HARDENED_VARIANT = f"  - base: {HARDENED}\n    family: hardened\n    tags: [debian-hardened]\n"
TAGS = {"latest", "0.5.31", "0.5", "0.5.31-static", "0.5-static", "static",
        "0.5.31-debian-hardened", "0.5-debian-hardened", "debian-hardened"}


def noshell_matrix(tmp_path, cli, variants: str) -> str:
    """The shipped matrix's repositories, labels and payload with these families and variants."""
    head = (ROOT / "matrix.yaml").read_text().split("\nfamilies:\n")[0]
    (tmp_path / "matrix.yaml").write_text(head + "\n" + FAMILIES + variants)
    (tmp_path / "variants").mkdir()
    template = (ROOT / "variants" / "Dockerfile.j2").read_text()
    workdir = 'FROM ${BASE_IMAGE}\n{% if variant.family == "static" %}WORKDIR /work\n{% endif -%}\n'
    (tmp_path / "variants" / "Dockerfile.j2").write_text(template.replace("FROM ${BASE_IMAGE}\n", workdir))
    assert cli("render", "--matrix", str(tmp_path / "matrix.yaml")).code == 0
    return str(tmp_path / "matrix.yaml")


@pytest.fixture
def bases(registry, tmp_path) -> str:
    push_base(tmp_path, registry.host, HARDENED, list(PLATFORMS), shell=False)
    push_base(tmp_path, registry.host, STATIC, list(PLATFORMS), shell=False, packages=False)
    return registry.host


def docker(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["docker", *args], capture_output=True, text=True)


def sbom_packages(host: str, name: str, tag: str) -> dict[str, list[str]]:
    """Per platform, the purls of the SPDX document attesting the image."""
    manifests = json.loads(raw(host, f"{name}/manifests/{tag}"))["manifests"]
    found = {}
    for image, attestation in zip(manifests[:2], manifests[2:]):
        layers = json.loads(raw(host, f"{name}/manifests/{attestation['digest']}"))["layers"]
        spdx = json.loads(raw(host, f"{name}/blobs/{layers[0]['digest']}"))["predicate"]
        found[image["platform"]["architecture"]] = sorted(
            ref["referenceLocator"] for p in spdx["packages"] for ref in p.get("externalRefs", []))
    return found


@on_both_stores
def test_images_without_a_shell_are_published_on_both_platforms(cli, tmp_path, store, registry, bases, cache):
    matrix = noshell_matrix(tmp_path, cli, STATIC_VARIANT + HARDENED_VARIANT)
    name = f"noshell-{store.name}/uv"
    repo = f"{registry.host}/{name}"
    run = publish(cli, matrix, bases, cache, repo)
    assert run.code == 0, run.err
    for phase in ("build: 2 in", "assemble: 4 in", "smoke-test: 6 in"):  # the shell-less smoke test ran and passed
        assert phase in run.out
    assert tags_in(repo) == TAGS

    for tag, workdir in (("debian-hardened", "/home/nonroot"), ("static", "/work")):
        image = f"{repo}:{tag}"
        for platform in PLATFORMS:
            arch = platform.split("/")[1]
            config = json.loads(skopeo("inspect", "--config", "--override-arch", arch, f"docker://{image}"))
            assert config["architecture"] == arch
            assert config["config"]["User"] == f"{NONROOT}:{NONROOT}" and config["config"]["WorkingDir"] == workdir
            assert docker("pull", "-q", "--platform", platform, image).returncode == 0
            ran = docker("run", "--rm", "--platform", platform, image, "uv", "--version")
            assert ran.stdout.startswith("uv 0.5.31"), ran.stderr
            shell = docker("run", "--rm", "--platform", platform, "--entrypoint", "/bin/sh", image, "-c", "true")
            assert shell.returncode == 127 and "/bin/sh" in shell.stderr and "no such file" in shell.stderr, shell.stderr
            files = tree(image, platform)
            assert "usr/local/bin/uv" in files and "etc/passwd" in files
            assert not [f for f in files if f.rsplit("/", 1)[-1] in ("sh", "busybox", "bash")], sorted(files)

    # Built on one base, assembled on the other: the same canonical payload layer on each platform.
    for arch in ("amd64", "arm64"):
        last = set()
        for tag in ("static", "debian-hardened"):
            index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:{tag}"))
            child = next(m["digest"] for m in index["manifests"] if m["platform"]["architecture"] == arch)
            last.add(json.loads(skopeo("inspect", "--raw", f"docker://{repo}@{child}"))["layers"][-1]["digest"])
        assert len(last) == 1, last

    # The SBOM lists the hardened base's packages (one stanza file each); the other base has none.
    for arch, purls in sbom_packages(registry.host, name, "0.5.31-debian-hardened").items():
        assert f"pkg:deb/debian/libc6@2.41-12?arch={arch}&distro=debian-13&upstream=glibc" in purls
        assert f"pkg:deb/debian/base-files@13.8?arch={arch}&distro=debian-13" in purls
    for purls in sbom_packages(registry.host, name, "0.5.31-static").values():
        assert not [p for p in purls if p.startswith("pkg:deb/")] and "pkg:pypi/uv@0.5.31" in purls


def test_a_smoke_test_that_needs_a_shell_fails_on_an_image_without_one(cli, tmp_path, engine, registry, bases, cache):
    needs_shell = '    smoke:\n      - run: [sh, -c, "uv --version"]\n'
    matrix = noshell_matrix(tmp_path, cli, HARDENED_VARIANT + needs_shell)
    repo = f"{registry.host}/noshell-broken/uv"
    run = publish(cli, matrix, bases, cache, repo)
    assert run.code == 1
    missing = """'exec: "sh": executable file not found in $PATH'"""
    assert run.err.splitlines() == [
        "publisher: smoke tests failed; nothing was pushed:",
        *(f"debian-hardened {p}: sh -c 'uv --version': did not start: {missing}" for p in PLATFORMS)]
    for tag in ("latest", "0.5.31-debian-hardened", "debian-hardened"):
        absent = subprocess.run(["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{repo}:{tag}"],
                                capture_output=True, text=True)
        assert absent.returncode != 0 and "unknown" in absent.stderr, absent.stderr
