"""A family's life after its first release, on a family that is not uv (tests/family.py), published from a
git repository the test makes, for amd64 and arm64, with the engine and registries of the integration tests:
a docs-only commit, a rerun from a shallow clone, a second registry backfilled, a base added, a content
change foreseen and refused before any build, `git revert`, a release that stopped half way, and Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

from pathlib import Path

import pytest

from publisher.release.inputs import INPUTS
from tests.conftest import ROOT
from tests.family import TAGS, VARIANTS, add_base, commit, git, make_family, payload, render
from tests.test_cosign import new_key
from tests.test_publish import own_images, reduced_matrix, skopeo, tags_in
from tests.test_reliability import EXPECTED, digests, kill_when
from tests.test_supply_chain import write_key

pytestmark = pytest.mark.docker
EVERY = [tag for name in VARIANTS for tag in TAGS[name]]
ADDED_UV = "  - base: buildpack-deps:bookworm\n    family: debian\n    tags: [bookworm]\n"


@pytest.fixture
def box(tmp_path, cli, engine, mirror, cache):
    """The family in git, its payload, a signing key, and how to publish it (in this process, or another)."""
    root = tmp_path / "box"
    make_family(root, cli)
    artifacts, key = payload(tmp_path), write_key(tmp_path / "key.pem", new_key())

    def argv(*repositories, matrix=root / "matrix.yaml", extra=()) -> list[str]:
        return ["publish", "--version", "1.2.3", "--matrix", str(matrix), "--artifacts", str(artifacts),
                "--base-mirror", mirror, "--cache", str(cache), "--sign-key", key,
                *(f"--repository={r}" for r in repositories), *extra]

    return root, argv


def made(out: str) -> bool:
    """Whether the publish made any image: the engine and builder are named when making starts."""
    return any(line.startswith("engine: Docker") for line in out.splitlines())


def index(repo: str, tag: str) -> dict:
    return json.loads(skopeo("inspect", "--raw", f"docker://{repo}:{tag}"))


def test_reruns_backfills_and_conflicts_of_a_published_family(box, cli, tmp_path, engine, registry, crane_registry):
    root, argv = box
    first, second = f"{registry.host}/family/box", f"{crane_registry.host}/family/box"
    before = own_images(engine)
    published = cli(*argv(first))
    assert published.code == 0, published.err
    assert own_images(engine) == before  # the engine left as a pull leaves it
    released = digests(first, EVERY)
    commit_one = git(root, "rev-parse", "HEAD").strip()
    assert index(first, "1.2.3-alpine")["annotations"]["org.opencontainers.image.revision"] == commit_one
    assert index(first, "1.2.3-alpine")["annotations"][INPUTS + ".platforms"] == "linux/amd64,linux/arm64"

    # A docs-only commit changes nothing of any variant: nothing to do, nothing uploaded.
    (root / "README.md").write_text("# box\n\nHow to use it.\n")
    commit(root, "docs")
    rerun = cli(*argv(first))
    assert rerun.code == 0, rerun.err
    assert rerun.out.rstrip().splitlines()[-1].startswith("1.2.3: nothing to do: no blob uploaded, no tag moved;")
    assert not made(rerun.out) and digests(first, EVERY) == released

    # From a shallow clone: refused before any registry is read when it does not reach back, fine when it does.
    shallow, deep = tmp_path / "shallow", tmp_path / "deep"
    git(tmp_path, "clone", "-q", "--depth", "1", f"file://{root}", str(shallow))
    refused = cli(*argv("127.0.0.1:9/nothing/listens", matrix=shallow / "matrix.yaml"))
    assert (refused.code, refused.out) == (2, "")
    assert refused.err.splitlines()[0].startswith("publisher: this clone's history is shallow (depth 1)")
    assert "fetch-depth: 0" in refused.err
    git(tmp_path, "clone", "-q", "--depth", "3", f"file://{root}", str(deep))  # reaches the first commit
    from_deep = cli(*argv(first, matrix=deep / "matrix.yaml"))
    assert from_deep.code == 0, from_deep.err
    assert "nothing to do" in from_deep.out.splitlines()[-1]

    # A second registry, never reached: filled with the very digests the first holds; the first as it is.
    preview = cli(*argv(first, second, extra=["--dry-run", "--output", "json"]))
    assert preview.code == 0, preview.err
    state = json.loads(preview.out)["registry_state"]
    assert {s["status"] for s in state[first].values()} == {"stays"}
    assert {s["status"] for s in state[second].values()} == {"new"}
    filled = cli(*argv(first, second))
    assert filled.code == 0, filled.err
    assert not made(filled.out)
    assert digests(second, EVERY) == released and digests(first, EVERY) == released
    assert f"static: copied from {first}" in filled.out
    signatures = {t for t in tags_in(second) if t.endswith(".sig")}
    assert len(signatures) == len(set(released.values())) + 6  # each index, and each of its 2 platform manifests

    # A base added to the published release: only the new variant is made, both platforms, and pushed.
    add_base(root, cli)
    planned = cli(*argv(first, second, extra=["--dry-run", "--output", "json"]))
    assert planned.code == 0, planned.err
    for repo, tags in json.loads(planned.out)["registry_state"].items():
        assert {t for t, s in tags.items() if s["status"] == "new"} == set(TAGS["bookworm"]), repo
        assert {s["status"] for t, s in tags.items() if t not in TAGS["bookworm"]} == {"stays"}
    added = cli(*argv(first, second))
    assert added.code == 0, added.err
    assert "assemble: 2 in" in added.out and "smoke-test: 2 in" in added.out and "build: " not in added.out
    assert "bookworm: made" in added.out
    for repo in (first, second):
        assert digests(repo, EVERY) == released
        held = index(repo, "1.2.3-bookworm")
        assert [m["platform"]["architecture"] for m in held["manifests"]] == ["amd64", "arm64", "unknown", "unknown"]
        assert f"sha256-{digests(repo, ['bookworm'])['bookworm'].split(':')[1]}.sig" in tags_in(repo)
    with_base = {**released, **digests(first, TAGS["bookworm"])}
    every = list(with_base)

    # A content change: foreseen by the dry-run, refused by the publish before anything is made.
    template = root / "variants" / "Dockerfile.j2"
    template.write_text(template.read_text().replace("WORKDIR /work\n", "WORKDIR /work\nENV BOX=1\n"))
    render(cli, root)
    commit(root, "debian family: ENV BOX")
    line = (f"{first}:1.2.3-bookworm-slim: holds {released['1.2.3-bookworm-slim']} (1.2.3), made from another Dockerfile "
            f"(variants/bookworm-slim/Dockerfile); exact tags are immutable: publish a new version, leave the variant "
            f"out (--skip bookworm-slim), or pass --force to overwrite")
    foreseen = cli(*argv(first, extra=["--dry-run"]))
    assert foreseen.code == 2 and line in foreseen.err.splitlines(), foreseen.err
    assert len(foreseen.err.splitlines()) == 2  # 1.2.3-bookworm-slim and 1.2.3-debian
    refused = cli(*argv(first))
    assert refused.code == 2 and line in refused.err.splitlines(), refused.err
    assert not made(refused.out) and digests(first, every) == with_base

    # Reverted: the variant is what it was, and the release holds it: nothing to do.
    git(root, "revert", "--no-edit", "HEAD")
    reverted = cli(*argv(first, second))
    assert reverted.code == 0, reverted.err
    assert "nothing to do" in reverted.out.splitlines()[-1] and not made(reverted.out)
    assert digests(first, every) == with_base == digests(second, every)


def test_a_release_stopped_half_way_is_finished_from_a_newer_commit(box, tmp_path, engine, proxies):
    root, argv = box
    watcher = proxies()
    repo = f"{watcher.host}/half/box"
    command = [sys.executable, "-m", "publisher", *argv(repo)]
    killed: dict = {}  # the runner dies after its third tag write
    watcher.hook, fired = kill_when(killed, lambda m, p: m == "PUT" and "/manifests/" in p and "sha256" not in p
                                    and len(watcher.tag_writes) >= 3)
    killed["proc"] = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    killed["proc"].communicate(timeout=600)
    assert killed["proc"].returncode == -signal.SIGKILL and fired
    watcher.hook = None
    (root / ".github").mkdir()
    (root / ".github" / "release.yml").write_text("# the fix of the release workflow\n")
    commit(root, "release workflow: fixed")
    finished = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr
    assert f"copied from {repo}" in finished.stdout  # what its tags were written for is not made again
    upstream = repo.replace(watcher.host, watcher.upstream)
    held = digests(upstream, EVERY)
    assert all(len({held[t] for t in TAGS[name]}) == 1 for name in VARIANTS)  # each variant: one index, every tag


def test_ctrl_c_leaves_the_engine_as_a_pull_leaves_it(box, engine, registry):
    root, argv = box
    before = own_images(engine)
    process = subprocess.Popen([sys.executable, "-m", "publisher", *argv(f"{registry.host}/interrupted/box")],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    for line in process.stdout:
        if line.startswith("engine: Docker"):  # making has started
            process.send_signal(signal.SIGINT)
            break
    out, err = process.communicate(timeout=600)
    assert process.returncode == 130, err
    assert err.strip().splitlines()[-1] == "publisher: interrupted"
    assert own_images(engine) == before


def format_4_publisher(tmp_path) -> Path:
    """publisher as it was before inputs format 5 (the parent of the commit that bumped it), from this
    repository's own history: what published the indexes a rerun must recognise."""
    found = subprocess.run(["git", "-C", str(ROOT), "log", "--format=%H", "-S", "FORMAT = 5", "--",
                            "publisher/release/inputs.py"], capture_output=True, text=True).stdout.split()
    assert found, "the history of publisher/release/inputs.py is needed (a clone with its history)"
    old = tmp_path / "format-4"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", f"{found[-1]}^", "publisher"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
    return old


def test_a_release_published_by_inputs_format_4_stays(cli, tmp_path, engine, registry, crane_registry, mirror, cache):
    """The uv matrix published by the publisher before format 5, then run again by this one, from a newer
    commit: nothing to do; a base added is the only variant made; a second registry gets the same digests."""
    root = tmp_path / "uv"
    root.mkdir()
    matrix = reduced_matrix(root, cli)
    git(root, "init", "-q", "-b", "main")
    commit(root, "uv, reduced")
    first, second = f"{registry.host}/format-4/uv", f"{crane_registry.host}/format-4/uv"
    argv = ["publish", "--version", "0.5.31", "--matrix", matrix, "--base-mirror", mirror, "--cache", str(cache)]
    old = subprocess.run([sys.executable, "-m", "publisher", *argv, "--repository", first], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(format_4_publisher(tmp_path))}, cwd=root)
    assert old.returncode == 0, old.stderr
    published = digests(first, EXPECTED)
    assert INPUTS + ".dockerfile" not in index(first, "0.5.31")["annotations"]  # format 4: the digest alone

    (root / "README.md").write_text("uv's images\n")
    commit(root, "docs")
    foreseen = cli(*argv, "--repository", first, "--dry-run", "--output", "json")
    assert foreseen.code == 0, foreseen.err
    assert {s["status"] for s in json.loads(foreseen.out)["registry_state"][first].values()} == {"stays"}
    again = cli(*argv, "--repository", first)
    assert again.code == 0, again.err
    assert "nothing to do" in again.out.splitlines()[-1] and not made(again.out)

    (root / "matrix.yaml").write_text((root / "matrix.yaml").read_text() + ADDED_UV)
    render(cli, root)
    commit(root, "add bookworm")
    added = cli(*argv, "--repository", first, "--repository", second)
    assert added.code == 0, added.err
    assert "bookworm: made" in added.out and "assemble: 2 in" in added.out
    assert digests(first, EXPECTED) == published == digests(second, EXPECTED)
