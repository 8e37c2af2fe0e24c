"""A third project, from nothing: `publisher init` for a package publisher has never heard of, the
errors a new maintainer meets (each one line naming matrix.yaml:LINE), and a real publish of its wheels.

The project is data here, never a code path: ty, a type checker whose musllinux wheels carry one
static binary, at a release pinned so the expectations hold (any such package would do).
"""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from publisher.image.platform import parse_platform
from publisher.local.index import list_wheels

PACKAGE, RELEASE = "ty", "0.0.104"
PLATFORMS = ["linux/amd64", "linux/arm64"]
AMD64 = parse_platform("linux/amd64")
OTHER_PROJECTS = re.compile(r"\buvx?\b|\bruff\b|astral", re.IGNORECASE)


@pytest.fixture(scope="module")
def listing():
    return list_wheels(PACKAGE)


@pytest.fixture
def project(cli, cache, tmp_path, monkeypatch):
    """The starter `publisher init` writes for the package's release, in tmp_path (the current folder)."""
    monkeypatch.chdir(tmp_path)
    run = cli("init", "--image", "registry.example/acme/tool", "--payload", PACKAGE, "--version", RELEASE,
              "--cache", str(cache), "--action", "acme/publisher@v1")
    assert run.code == 0, run.err
    return run


def matrix_line(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def test_init_writes_a_starter_for_a_package_it_has_never_heard_of(cli, project, tmp_path, listing):
    assert project.out.splitlines()[-1] == f"then: publisher render --check && publisher publish --dry-run --offline --version {RELEASE}"
    matrix = yaml.safe_load((tmp_path / "matrix.yaml").read_text())
    tags = {p: listing.tags(RELEASE, parse_platform(p)) for p in PLATFORMS}
    assert all(found[0].startswith("musllinux_") for found in tags.values())  # static builds, preferred
    assert f"note: {PACKAGE} {RELEASE}'s wheels (linux/amd64: {tags['linux/amd64'][0]}, linux/arm64: {tags['linux/arm64'][0]}) " \
           "install ty (static)" in project.out.splitlines()
    assert matrix["payload"] == {"wheels": {"package": PACKAGE, "platforms": {p: found[0] for p, found in tags.items()}},
                                 "files": {"ty": "^ty {version}( |$)"}, "primary": "/", "derived": "/usr/local/bin/"}
    assert matrix["families"]["scratch"] == {"config": {"entrypoint": ["/ty"], "cmd": None, "workdir": "/io"},
                                             "smoke": [{"run": ["--version"], "stdout": "^ty {version}( |$)"}]}
    assert [v["base"] for v in matrix["variants"]] == ["alpine:3.23", "debian:trixie-slim", "python:3.14-slim-trixie"]
    assert matrix["labels"]["licenses"] == "MIT"
    # Nothing of another project: no uv, ruff or astral, no other project's release.
    written = {p: p.read_text() for p in [tmp_path / "matrix.yaml", *tmp_path.glob("variants/**/*"), *tmp_path.glob(".github/**/*")]
               if p.is_file()}
    assert len(written) == 7
    assert {str(p): OTHER_PROJECTS.findall(t) for p, t in written.items() if OTHER_PROJECTS.search(t)} == {}
    versions = {v for t in written.values() for v in re.findall(r"\b\d+\.\d+\.\d+\b", t)}
    assert versions == {RELEASE}, versions
    workflow = (tmp_path / ".github/workflows/release.yml").read_text()
    assert f"github.ref_name || '{RELEASE}'" in workflow
    assert cli("render", "--check").code == 0
    plan = json.loads(cli("publish", "--dry-run", "--offline", "--version", RELEASE, "--output", "json").out)
    assert [(v["name"], v["made"]) for v in plan["variants"]] == [
        ("distroless", "assembled"), ("alpine3.23", "assembled"), ("trixie-slim", "assembled"),
        ("python3.14-trixie-slim", "assembled")]


def test_init_takes_the_newest_release_unless_told(cli, cache, tmp_path, listing):
    run = cli("init", "--image", "ghcr.io/acme/tool", "--payload", PACKAGE, "--dir", str(tmp_path), "--cache", str(cache))
    assert run.code == 0, run.err
    newest = run.out.splitlines()[-1].rsplit(" ", 1)[-1]
    assert newest == listing.newest() and listing.has(newest)
    assert f"|| '{newest}'" in (tmp_path / ".github/workflows/release.yml").read_text()


def test_init_refuses_a_package_whose_wheels_carry_no_executable(cli, cache, tmp_path):
    run = cli("init", "--image", "ghcr.io/acme/tool", "--payload", "packaging", "--version", "24.2", "--dir", str(tmp_path),
              "--cache", str(cache))
    assert (run.code, run.err) == (2, "publisher init: no Linux wheel of packaging 24.2 carries an executable (its wheels "
                                      "are tagged any); images of files you build yourself take a payload without wheels "
                                      "and `publisher publish --artifacts DIR`: see docs/matrix.md, 'A payload from your own builds'\n")
    assert not any(tmp_path.iterdir())


def test_init_refuses_a_release_the_index_does_not_have(cli, cache, tmp_path, listing):
    run = cli("init", "--image", "ghcr.io/acme/tool", "--payload", PACKAGE, "--version", "0.0.999", "--dir", str(tmp_path),
              "--cache", str(cache))
    assert (run.code, run.err) == (2, f"publisher init: the package index has no release 0.0.999 of {PACKAGE} (its newest is "
                                      f"{listing.newest()}); pass --version {listing.newest()}, or leave --version out\n")


def test_a_wheel_tag_the_release_lacks_is_one_line_at_its_matrix_line(cli, project, tmp_path, listing):
    text = (tmp_path / "matrix.yaml").read_text()
    wrong = listing.tags(RELEASE, AMD64)[0].replace("_1_2_", "_1_1_")  # uv's, copied
    assert wrong not in listing.tags(RELEASE, AMD64)
    (tmp_path / "matrix.yaml").write_text(text.replace(listing.tags(RELEASE, AMD64)[0], wrong))
    line = matrix_line(text, "linux/amd64: musllinux")
    expected = (f"matrix.yaml:{line}: {PACKAGE} {RELEASE} has no wheel tagged {wrong}; its wheels for linux/amd64 are "
                f"tagged {', '.join(listing.tags(RELEASE, AMD64))}: write one of them\n")
    dry = cli("publish", "--dry-run", "--version", RELEASE)  # online: the index is read too
    assert (dry.code, dry.err) == (2, expected)
    run = cli("publish", "--no-push", "--version", RELEASE, "--cache", str(tmp_path / "cache"))
    assert (run.code, run.err) == (2, expected)
    assert "assemble" not in run.out and "smoke-test" not in run.out  # refused before anything is made


def test_a_release_the_index_does_not_have_is_its_own_line(cli, project, tmp_path, listing):
    line = matrix_line((tmp_path / "matrix.yaml").read_text(), f"package: {PACKAGE}")
    expected = (f"matrix.yaml:{line}: the package index has no release 0.0.999 of {PACKAGE} (its newest is {listing.newest()}); "
                f"publish a release it has, e.g. --version {listing.newest()}\n")
    dry = cli("publish", "--dry-run", "--version", "0.0.999")
    assert (dry.code, dry.err) == (2, expected)
    assert cli("publish", "--dry-run", "--offline", "--version", "0.0.999").code == 0  # offline reads no index
    run = cli("publish", "--no-push", "--version", "0.0.999", "--cache", str(tmp_path / "cache"))
    assert (run.code, run.err) == (2, expected)
    assert "assemble" not in run.out


def test_a_check_that_does_not_match_shows_the_pattern_as_written_and_what_was_printed(cli, cache, project, tmp_path):
    text = (tmp_path / "matrix.yaml").read_text()
    (tmp_path / "matrix.yaml").write_text(text.replace('    ty: "^ty {version}( |$)"', '    ty: "^ty {version} [(]\\\\d"'))
    line = matrix_line(text, '    ty: "^ty')
    run = cli("publish", "--no-push", "--version", RELEASE, "--cache", str(cache))
    assert run.code == 2
    assert run.err.splitlines() == [
        f"matrix.yaml:{line}: payload.files.ty: {platform}: `ty --version` printed 'ty {RELEASE}', which does not match "
        f'"^ty {{version}} [(]\\d" ({{version}}: {RELEASE})' for platform in PLATFORMS]
    assert "assemble" not in run.out


def test_a_file_no_wheel_holds_names_the_files_they_hold(cli, cache, project, tmp_path, listing):
    text = (tmp_path / "matrix.yaml").read_text().replace('    ty: "^ty {version}( |$)"', '    ty: "^ty {version}( |$)"\n    tyserver: null')
    (tmp_path / "matrix.yaml").write_text(text)
    assert cli("render").code == 0
    run = cli("publish", "--no-push", "--version", RELEASE, "--cache", str(cache))
    wheel = f"{PACKAGE}-{RELEASE}-py3-none-{listing.tags(RELEASE, AMD64)[0]}.whl"
    assert (run.code, run.err) == (2, f"matrix.yaml:{matrix_line(text, 'tyserver')}: payload.files.tyserver: no file tyserver in "
                                      f"{wheel}, which holds ty; name one of them\n")


def published_on_both_stores(cli, tmp_path, registry, monkeypatch, name: str, tags: list[str],
                             check) -> dict[str, dict[str, str]]:
    """The starter in tmp_path published as written on each image store (its bases stand-ins pushed first), every
    image assembled and smoke-tested; `check(repo)` after each publish. Store → tag → its manifest as pushed
    (to `<name>-<store>/tool`)."""
    from tests.engines import CONTAINERD_HOST
    from tests.images import push_base
    from tests.test_publish import skopeo

    matrix = yaml.safe_load((tmp_path / "matrix.yaml").read_text())
    images = [matrix["primary"], *matrix["variants"]]
    for v in (v for v in images if "base" in v):
        push_base(tmp_path, registry.host, v["base"], PLATFORMS, "3.14" if v["base"].startswith("python:") else None)
    digests = {}
    for store in ("classic", "containerd"):
        if store == "containerd":
            monkeypatch.setenv("DOCKER_HOST", CONTAINERD_HOST)
        repo = f"{registry.host}/{name}-{store}/tool"
        run = cli("publish", "--version", RELEASE, "--repository", repo, "--base-mirror", registry.host, "--cache",
                  str(tmp_path / f"cache-{store}"), "--created", "1732100000", "--revision", "0123abc")
        assert run.code == 0, f"{store}: {run.err}"
        assert "builder: none, every image is assembled" in run.out and "build: " not in run.out
        assert f"smoke-test: {len(images) * len(PLATFORMS)} in" in run.out
        assert run.out.rstrip().splitlines()[-1].startswith(f"{RELEASE}: published;")
        digests[store] = {tag: skopeo("inspect", "--raw", f"docker://{repo}:{tag}") for tag in tags}
        check(repo)
        verified = cli("verify", "--version", RELEASE, "--repository", repo, "--base-mirror", registry.host)
        assert verified.code == 0, verified.out + verified.err
    return digests


def ran(platform: str, image: str, *argv: str) -> str:
    out = subprocess.run(["docker", "run", "--rm", "--platform", platform, image, *argv], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


@pytest.mark.docker
def test_the_starter_publishes_as_written_on_both_platforms_and_both_stores(cli, project, tmp_path, cache, registry, monkeypatch):
    """init, then publish: every image assembled, run on both platforms, the same digests on both image stores."""
    def check(repo: str) -> None:
        for platform in PLATFORMS:
            assert ran(platform, f"{repo}:latest", "--version") == f"ty {RELEASE}"
            assert ran(platform, f"{repo}:alpine", "ty", "--version") == f"ty {RELEASE}"

    tags = [RELEASE, f"{RELEASE}-alpine3.23", f"{RELEASE}-trixie-slim", f"{RELEASE}-python3.14-trixie-slim"]
    digests = published_on_both_stores(cli, tmp_path, registry, monkeypatch, "any", tags, check)
    assert digests["classic"] == digests["containerd"]


@pytest.fixture
def as_if_linked_against_glibc(monkeypatch):
    """What init finds of the package's executables, said to be linked against glibc: they are static, and so run on
    the tests' stand-in bases (busybox), but init writes what it writes for glibc."""
    from dataclasses import replace

    from publisher.local import carried
    from publisher.local.executables import Linkage

    real = carried.carried

    def linked(*args, **kwargs):
        found = real(*args, **kwargs)
        return replace(found, files={name: Linkage("/lib/ld-linux-x86-64.so.2") for name in found.files})

    monkeypatch.setattr(carried, "carried", linked)


@pytest.mark.docker
def test_a_primary_on_a_base_publishes_on_both_platforms_and_both_stores(cli, cache, tmp_path, registry, monkeypatch,
                                                                         as_if_linked_against_glibc):
    """The starter for executables linked against glibc: no FROM scratch image; `latest` is the primary on Debian,
    assembled from its base and the payload, smoke-tested on both platforms, the same digests on both stores."""
    monkeypatch.chdir(tmp_path)
    init = cli("init", "--image", "registry.example/acme/tool", "--payload", PACKAGE, "--version", RELEASE,
               "--cache", str(cache), "--action", "acme/publisher@v1")
    assert init.code == 0, init.err
    assert f"note: {PACKAGE}'s executables are linked against glibc: no FROM scratch image and no alpine image (musl); " \
           "the primary image (latest, X.Y.Z, X.Y) is on debian:trixie-slim" in init.out.splitlines()
    matrix = yaml.safe_load((tmp_path / "matrix.yaml").read_text())
    assert matrix["primary"]["base"] == "debian:trixie-slim" and "scratch" not in matrix["families"]
    where = matrix["payload"]["primary"]
    from tests.test_publish import skopeo

    def check(repo: str) -> None:
        for platform in PLATFORMS:
            assert ran(platform, f"{repo}:latest", "ty", "--version") == f"ty {RELEASE}"
            assert ran(platform, f"{repo}:latest", "ls", f"{where}ty", "/bin/busybox") == f"/bin/busybox\n{where}ty"
            assert ran(platform, f"{repo}:python3.14-trixie-slim", "ty", "--version") == f"ty {RELEASE}"
        index = json.loads(skopeo("inspect", "--raw", f"docker://{repo}:latest"))
        assert index["annotations"]["org.opencontainers.image.base.digest"].startswith("sha256:")

    tags = ["latest", RELEASE, "trixie-slim", f"{RELEASE}-debian-slim", f"{RELEASE}-python3.14-trixie-slim"]
    digests = published_on_both_stores(cli, tmp_path, registry, monkeypatch, "on-a-base", tags, check)
    assert digests["classic"] == digests["containerd"]
    assert len({digests["classic"][t] for t in tags[:4]}) == 1  # one primary, tagged latest and as the Debian image


@pytest.mark.docker
def test_a_primary_on_a_base_that_runs_a_command_is_built_by_buildkit_on_its_base(cli, cache, tmp_path, registry,
                                                                                  monkeypatch, as_if_linked_against_glibc):
    """A primary on a base whose Dockerfile does more than copy the payload: BuildKit builds it FROM its base (read
    through --base-mirror), for both platforms; the derived image is still assembled; both are smoke-tested."""
    from tests.images import push_base

    monkeypatch.chdir(tmp_path)
    assert cli("init", "--image", "registry.example/acme/tool", "--payload", PACKAGE, "--version", RELEASE,
               "--cache", str(cache)).code == 0
    template = tmp_path / "variants/Dockerfile.j2"
    primary_cmd = 'CMD ["{{ payload.primary }}{{ main }}"]'
    template.write_text(template.read_text().replace(primary_cmd, 'RUN ["/bin/sh", "-c", "echo buildkit > /made-by"]\n' + primary_cmd))
    assert cli("render").code == 0
    plan = json.loads(cli("publish", "--dry-run", "--offline", "--version", RELEASE, "--output", "json").out)
    assert [v["made"] for v in plan["variants"]] == ["built", "assembled"]
    for base in ("debian:trixie-slim", "python:3.14-slim-trixie"):
        push_base(tmp_path, registry.host, base, PLATFORMS, "3.14" if base.startswith("python:") else None)
    run = cli("publish", "--no-push", "--version", RELEASE, "--base-mirror", registry.host, "--cache", str(tmp_path / "c"))
    assert run.code == 0, run.err
    assert f"build: {len(PLATFORMS)} in" in run.out and f"assemble: {len(PLATFORMS)} in" in run.out
    assert f"smoke-test: {2 * len(PLATFORMS)} in" in run.out
